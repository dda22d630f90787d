//! Products whose output is too small to share among the cores by tiles: the inner dimension is
//! split instead.
//!
//! A 20×20 product with k = 200000, or `XᵀX` of 200 features over 200000 samples, has one or two
//! output tiles: tiled by rows, one core works while the others wait, or every core reads all of
//! B. Here each of the cores (the count the cut balances for, not the worker count) computes the
//! product over its own range of k into a buffer of the output's size, and the buffers are added
//! in range order. The ranges and the order depend on the shape and that count only, so results
//! stay bitwise identical for any worker count. Memory: one output-sized buffer per range, which
//! is small by definition of thin.

use super::collect;
use crate::blas;
use crate::element::Element;
use crate::error::Result;
use crate::plan::{Plan, TileSource};
use crate::tiling::Cut;
use ndarray::{Array2, Zip};
use std::ops::Range;

/// Output rows below this many per core make a product thin (when k is long enough).
const THIN_ROWS_PER_CORE: usize = 128;

/// The ranges of k to split an m×n output with inner dimension k into, or `None` when tiles of
/// the output share the work well enough: the output has fewer than 128 rows per core and at
/// most 128 columns per core, and k is at least four times the larger side (so each range
/// still carries most of the work).
pub(crate) fn k_ranges(m: usize, n: usize, k: usize, cut: Cut) -> Option<Vec<Range<usize>>> {
    let cores = cut.balance();
    let side = m.max(n);
    let thin = cores > 1
        && m > 0
        && n > 0
        && m < THIN_ROWS_PER_CORE * cores
        && n < THIN_ROWS_PER_CORE * cores
        && k >= 4 * side
        && k >= cores;
    thin.then(|| {
        (0..cores)
            .map(|p| {
                // Near-equal parts: the first k % cores get one more.
                let start = p * (k / cores) + p.min(k % cores);
                start..start + k / cores + usize::from(p < k % cores)
            })
            .collect()
    })
}

/// `Σₚ A[:, Kₚ]·B[Kₚ, :]` over `ranges`, added in range order.
pub(crate) fn product<T: Element>(
    plan: &Plan,
    ranges: Vec<Range<usize>>,
    a: &impl TileSource<T>,
    b: &impl TileSource<T>,
) -> Result<Array2<T>> {
    let (m, n) = (a.dim().0, b.dim().1);
    let parts = collect(plan.tiles(ranges, |r, threads| {
        let mut c = crate::alloc::zeros::<T>("partial product", m, n)?;
        blas::gemm(
            T::one(),
            a.cols(r.start, r.len()),
            b.rows(r.start, r.len()),
            T::zero(),
            c.view_mut(),
            threads,
        )?;
        Ok(c)
    }))?;
    Ok(add_in_order(parts, (m, n)))
}

/// `Σₚ X[:, Kₚ]·X[:, Kₚ]ᵀ` over `ranges`, added in range order; lower triangle and diagonal
/// only (the caller mirrors).
pub(crate) fn gram_lower<T: Element>(
    plan: &Plan,
    ranges: Vec<Range<usize>>,
    x: &impl TileSource<T>,
) -> Result<Array2<T>> {
    let n = x.dim().0;
    let parts = collect(plan.tiles(ranges, |r, threads| {
        let mut g = crate::alloc::zeros::<T>("partial Gram matrix", n, n)?;
        blas::gram_lower(x.cols(r.start, r.len()), g.view_mut(), threads)?;
        Ok(g)
    }))?;
    Ok(add_in_order(parts, (n, n)))
}

/// The parts added left to right (a fixed order).
fn add_in_order<T: Element>(parts: Vec<Array2<T>>, dim: (usize, usize)) -> Array2<T> {
    let mut parts = parts.into_iter();
    let mut sum = parts.next().unwrap_or_else(|| Array2::zeros(dim));
    for p in parts {
        Zip::from(&mut sum).and(&p).for_each(|s, &v| *s = *s + v);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(cores: usize) -> Cut {
        Cut {
            balance: std::num::NonZeroUsize::new(cores),
            ..Cut::default()
        }
    }

    #[test]
    fn only_small_outputs_with_long_inner_dimensions_split_k() {
        let r = k_ranges(20, 20, 200_000, cut(2)).unwrap();
        assert_eq!(r, vec![0..100_000, 100_000..200_000]);
        let r = k_ranges(50, 50, 1001, cut(3)).unwrap();
        assert_eq!(r, vec![0..334, 334..668, 668..1001]);
        assert!(k_ranges(4000, 4000, 4000, cut(2)).is_none());
        assert!(k_ranges(200, 200, 600, cut(2)).is_none(), "k too short");
        assert!(k_ranges(20, 20, 200_000, cut(1)).is_none(), "one core");
        assert!(k_ranges(300, 20, 200_000, cut(2)).is_none(), "enough rows");
        assert!(k_ranges(0, 20, 200_000, cut(2)).is_none());
    }
}
