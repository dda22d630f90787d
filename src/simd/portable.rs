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

/// Σ xᵢ.
#[inline(always)]
pub(crate) fn sum<T: Element, const L: usize>(x: &[T]) -> T {
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
