//! The kernel bodies, written once over `L` independent lanes of accumulators.
//!
//! Each body is `#[inline(always)]` and instantiated inside a `#[target_feature]` function per
//! level (`sse2.rs`, `avx2.rs`, `avx512.rs`), where LLVM maps the `L` lanes onto that level's
//! vector registers: 4 lanes × 8 registers for f64 on AVX-512, and so on. With no target feature
//! the same bodies are the portable path, which compilers vectorise for the baseline of any CPU.
//!
//! Every body processes one leaf of at most [`super::LEAF`] elements; the pairwise tree above the
//! leaves lives in `crate::kernels::reduce`.

use crate::element::Element;

/// Sums `L` lane accumulators pairwise (a fixed tree).
#[inline(always)]
fn combine<T: Element, const L: usize>(mut acc: [T; L]) -> T {
    let mut w = L / 2;
    while w >= 1 {
        for i in 0..w {
            acc[i] = acc[i] + acc[i + w];
        }
        w /= 2;
    }
    acc[0]
}

/// The zero-based sums below (Σ of `term(i)` for i < `len`) for fewer than `L` terms: the
/// lanes loop and [`combine`] with no full chunk, so the same bits, but the lanes filled by a
/// loop of `L` trips (term i in lane i as `+0 + term(i)`, +0 past the length) that LLVM keeps in
/// vector registers. Filled one term at a time by index, as the remainder loop does, the lanes
/// went through memory and their vector loads waited for the scalar stores: summing a 4×4
/// product's 16 elements took 25 ns on AVX-512 (64 lanes for f64), more than the product.
#[inline(always)]
fn short<T: Element, const L: usize>(len: usize, term: impl Fn(usize) -> T) -> T {
    debug_assert!(len < L);
    let mut acc = [T::zero(); L];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = T::zero() + if i < len { term(i) } else { T::zero() };
    }
    combine(acc)
}

/// Σ xᵢ.
#[inline(always)]
pub(crate) fn sum<T: Element, const L: usize>(x: &[T]) -> T {
    if x.len() < L {
        return short::<T, L>(x.len(), |i| x[i]);
    }
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            acc[i] = acc[i] + c[i];
        }
    }
    for (i, &v) in rem.iter().enumerate() {
        acc[i] = acc[i] + v;
    }
    combine(acc)
}

/// Σ xᵢ².
#[inline(always)]
pub(crate) fn sumsq<T: Element, const L: usize>(x: &[T]) -> T {
    if x.len() < L {
        return short::<T, L>(x.len(), |i| x[i] * x[i]);
    }
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            acc[i] = acc[i] + c[i] * c[i];
        }
    }
    for (i, &v) in rem.iter().enumerate() {
        acc[i] = acc[i] + v * v;
    }
    combine(acc)
}

/// Σ (xᵢ·s)², for the scaled 2-norm.
#[inline(always)]
pub(crate) fn sumsq_scaled<T: Element, const L: usize>(x: &[T], s: T) -> T {
    if x.len() < L {
        return short::<T, L>(x.len(), |i| (x[i] * s) * (x[i] * s));
    }
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            let v = c[i] * s;
            acc[i] = acc[i] + v * v;
        }
    }
    for (i, &v) in rem.iter().enumerate() {
        let v = v * s;
        acc[i] = acc[i] + v * v;
    }
    combine(acc)
}

/// Σ xᵢ·yᵢ over equal lengths.
#[inline(always)]
pub(crate) fn dot<T: Element, const L: usize>(x: &[T], y: &[T]) -> T {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    if n < L {
        return short::<T, L>(n, |i| x[i] * y[i]);
    }
    let mut acc = [T::zero(); L];
    let cx = x.chunks_exact(L);
    let cy = y.chunks_exact(L);
    let (rx, ry) = (cx.remainder(), cy.remainder());
    for (a, b) in cx.zip(cy) {
        for i in 0..L {
            acc[i] = acc[i] + a[i] * b[i];
        }
    }
    for (i, (&a, &b)) in rx.iter().zip(ry).enumerate() {
        acc[i] = acc[i] + a * b;
    }
    combine(acc)
}

/// max xᵢ, NaN if any xᵢ is NaN; −∞ for an empty slice.
///
/// `if v > a || v != v { v } else { a }`: once a lane holds NaN no comparison replaces it.
#[inline(always)]
pub(crate) fn max<T: Element, const L: usize>(x: &[T]) -> T {
    extreme::<T, L, true>(x)
}

/// min xᵢ, NaN if any xᵢ is NaN; +∞ for an empty slice.
#[inline(always)]
pub(crate) fn min<T: Element, const L: usize>(x: &[T]) -> T {
    extreme::<T, L, false>(x)
}

#[inline(always)]
#[allow(clippy::eq_op)] // v != v is the NaN test, written so it vectorises
fn extreme<T: Element, const L: usize, const MAX: bool>(x: &[T]) -> T {
    let init = if MAX {
        T::neg_infinity()
    } else {
        T::infinity()
    };
    let better = |v: T, a: T| (if MAX { v > a } else { v < a }) || v != v;
    let mut acc = [init; L];
    let chunks = x.chunks_exact(L);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            acc[i] = if better(c[i], acc[i]) { c[i] } else { acc[i] };
        }
    }
    for (i, &v) in rem.iter().enumerate() {
        acc[i] = if better(v, acc[i]) { v } else { acc[i] };
    }
    let mut r = init;
    for a in acc {
        if better(a, r) {
            r = a;
        }
    }
    r
}

/// max |xᵢ|, NaN if any xᵢ is NaN; 0 for an empty slice.
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn amax<T: Element, const L: usize>(x: &[T]) -> T {
    let mut acc = [T::zero(); L];
    let chunks = x.chunks_exact(L);
    let rem = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            let v = c[i].abs();
            acc[i] = if v > acc[i] || v != v { v } else { acc[i] };
        }
    }
    for (i, &v) in rem.iter().enumerate() {
        let v = v.abs();
        acc[i] = if v > acc[i] || v != v { v } else { acc[i] };
    }
    let mut r = T::zero();
    for a in acc {
        if a > r || a != a {
            r = a;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::{combine, dot, sum, sumsq, sumsq_scaled};

    /// The lanes loop as it runs on a slice shorter than its lanes: each term added to its
    /// lane by index, then the tree.
    fn by_index<const L: usize>(len: usize, term: impl Fn(usize) -> f64) -> f64 {
        let mut acc = [0.0; L];
        for (i, a) in acc.iter_mut().enumerate().take(len) {
            *a += term(i);
        }
        combine(acc)
    }

    /// The short path gives the lanes loop's bits for every length below the lanes, with
    /// −0, infinities, NaN and values whose order of addition matters.
    #[test]
    fn short_slices_keep_the_bits_of_the_lanes_loop() {
        const L: usize = 64;
        let special = [-0.0, 1e308, -1e308, 1e-300, -3.5];
        let mut x: Vec<f64> = (0..L)
            .map(|i| match i % 9 {
                0..=4 => special[i % 9] * if i % 2 == 0 { 1.0 } else { 0.5 },
                _ => (i as f64 * 0.37).sin() * 10f64.powi((i % 7) as i32 * 3),
            })
            .collect();
        // Infinity and NaN late, so the shorter lengths sum finite values.
        (x[50], x[60]) = (f64::INFINITY, f64::NAN);
        let y: Vec<f64> = x.iter().rev().map(|v| v * 0.75 - 1.0).collect();
        for len in 0..L {
            let (x, y) = (&x[..len], &y[..len]);
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                same(sum::<f64, L>(x), by_index::<L>(len, |i| x[i])),
                "sum {len}"
            );
            let sq = by_index::<L>(len, |i| x[i] * x[i]);
            assert!(same(sumsq::<f64, L>(x), sq), "sumsq {len}");
            let sc = by_index::<L>(len, |i| (x[i] * 0.5) * (x[i] * 0.5));
            assert!(
                same(sumsq_scaled::<f64, L>(x, 0.5), sc),
                "sumsq_scaled {len}"
            );
            let d = by_index::<L>(len, |i| x[i] * y[i]);
            assert!(same(dot::<f64, L>(x, y), d), "dot {len}");
        }
        // −0 alone sums to +0, as the lanes loop gives.
        assert_eq!(sum::<f64, L>(&[-0.0]).to_bits(), 0.0f64.to_bits());
    }
}
