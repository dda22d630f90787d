//! The FMA loop that measures a core's floating-point limit: 12 independent accumulator chains
//! of `acc ← acc·m + a` in the widest registers the CPU has, enough to hide the FMA latency on
//! two FMA units. Used by [`crate::bench::fma_peak`].
//!
//! Compilers merge chains they can prove equal (a C loop with identical starting values
//! "reached" 3× the hardware here), so the starting values are run-time data, all different, and
//! the caller checks every lane's final value exactly: with `m = 1` and `a = 2⁻²⁰`, each step adds
//! `a` without rounding while values stay below 16, so a lane that did not run all its steps
//! shows.

/// Independent chains per loop (`lanes_body` names each one).
pub(crate) const CHAINS: usize = 12;

/// Runs `iters` steps on `x` (12 chains of `lanes` values each, chain-major), with the kernel of
/// `level` for the element type of `x`; returns the lanes per chain used (the vector width).
/// `x.len()` must be `CHAINS × lanes_for(level)`.
pub(crate) trait FmaLoop: Copy {
    /// Lanes per register at `level`.
    fn lanes(level: super::Level) -> usize;
    /// The loop; `x` holds the starting values and gets the final ones.
    fn run(level: super::Level, x: &mut [Self], m: Self, a: Self, iters: u64);
}

/// The portable loop (other levels and architectures): the same chains, one value per chain.
fn portable<T: Copy + std::ops::Mul<Output = T> + std::ops::Add<Output = T>>(
    x: &mut [T],
    m: T,
    a: T,
    iters: u64,
    fma: impl Fn(T, T, T) -> T,
) {
    let mut acc = [x[0]; CHAINS];
    acc.copy_from_slice(&x[..CHAINS]);
    for _ in 0..iters {
        for c in acc.iter_mut() {
            *c = fma(*c, m, a);
        }
    }
    x[..CHAINS].copy_from_slice(&acc);
}

/// The chains in registers of `L` lanes: the portable body, compiled per level with that
/// level's target features so that each `[T; L]` becomes one register and each step one FMA
/// instruction (no intrinsics: AVX-512 ones need a newer Rust than this crate's minimum).
#[inline(always)]
fn lanes_body<T: Copy + Default, const L: usize>(
    x: &mut [T],
    m: T,
    a: T,
    iters: u64,
    fma: impl Fn(T, T, T) -> T + Copy,
) {
    assert!(x.len() >= CHAINS * L);
    let load = |c: usize| -> [T; L] {
        let mut v = [T::default(); L];
        v.copy_from_slice(&x[c * L..(c + 1) * L]);
        v
    };
    let step = |mut v: [T; L]| -> [T; L] {
        for e in v.iter_mut() {
            *e = fma(*e, m, a);
        }
        v
    };
    // Twelve separate values, not an array the compiler might keep in memory: each becomes
    // one register.
    let (mut c0, mut c1, mut c2, mut c3) = (load(0), load(1), load(2), load(3));
    let (mut c4, mut c5, mut c6, mut c7) = (load(4), load(5), load(6), load(7));
    let (mut c8, mut c9, mut c10, mut c11) = (load(8), load(9), load(10), load(11));
    for _ in 0..iters {
        c0 = step(c0);
        c1 = step(c1);
        c2 = step(c2);
        c3 = step(c3);
        c4 = step(c4);
        c5 = step(c5);
        c6 = step(c6);
        c7 = step(c7);
        c8 = step(c8);
        c9 = step(c9);
        c10 = step(c10);
        c11 = step(c11);
    }
    for (c, v) in [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11]
        .iter()
        .enumerate()
    {
        x[c * L..(c + 1) * L].copy_from_slice(v);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::lanes_body;

    macro_rules! kernel {
        ($name:ident, $feature:literal, $elem:ty, $lanes:expr) => {
            /// # Safety
            /// The CPU must have the target features.
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn $name(x: &mut [$elem], m: $elem, a: $elem, iters: u64) {
                lanes_body::<$elem, $lanes>(x, m, a, iters, <$elem>::mul_add);
            }
        };
    }

    kernel!(f64_avx512, "avx512f,fma", f64, 8);
    kernel!(f32_avx512, "avx512f,fma", f32, 16);
    kernel!(f64_avx2, "avx2,fma", f64, 4);
    kernel!(f32_avx2, "avx2,fma", f32, 8);
}

macro_rules! fma_loop_for {
    ($elem:ty, $avx512:ident, $lanes512:expr, $avx2:ident, $lanes2:expr) => {
        impl FmaLoop for $elem {
            fn lanes(level: super::Level) -> usize {
                match level {
                    #[cfg(target_arch = "x86_64")]
                    super::Level::Avx512 => $lanes512,
                    #[cfg(target_arch = "x86_64")]
                    super::Level::Avx2 => $lanes2,
                    _ => 1,
                }
            }
            fn run(level: super::Level, x: &mut [Self], m: Self, a: Self, iters: u64) {
                assert!(level.available(), "level checked by the caller");
                match level {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: the CPU has AVX-512F (checked above: the level is available, and
                    // every AVX-512F CPU has FMA); the body checks x's length.
                    super::Level::Avx512 => unsafe { x86::$avx512(x, m, a, iters) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: the CPU has AVX2 and FMA (checked above: the `avx2` level requires
                    // both); the body checks x's length.
                    super::Level::Avx2 => unsafe { x86::$avx2(x, m, a, iters) },
                    _ => portable(x, m, a, iters, <$elem>::mul_add),
                }
            }
        }
    };
}

fma_loop_for!(f64, f64_avx512, 8, f64_avx2, 4);
fma_loop_for!(f32, f32_avx512, 16, f32_avx2, 8);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Level;

    /// Every chain of every level this CPU has runs every step: exact final values.
    #[test]
    fn every_chain_runs_every_step_exactly() {
        fn check<T: FmaLoop + crate::Element>(level: Level) {
            let n = CHAINS * T::lanes(level);
            let mut x: Vec<T> = (0..n)
                .map(|i| T::from_f64(1.0 + i as f64 / 1024.0))
                .collect();
            let start = x.clone();
            T::run(level, &mut x, T::one(), T::from_f64(2f64.powi(-20)), 3000);
            for (v, s) in x.iter().zip(&start) {
                assert_eq!(*v, *s + T::from_f64(3000.0 * 2f64.powi(-20)), "{level}");
            }
        }
        for level in [Level::Scalar, Level::Sse2, Level::Avx2, Level::Avx512] {
            if level.available() {
                check::<f64>(level);
                check::<f32>(level);
            }
        }
    }
}
