//! The blocked kernels: products (`matmul`, `gram`), fused product→reduction (`fused`) and
//! reductions ([`reduce`]). Each runs under any [`Strategy`](crate::Strategy); the public entry
//! points are the methods of [`Config`](crate::Config).

pub(crate) mod fused;
pub(crate) mod gram;
pub use gram::gram_flops;
pub(crate) mod matmul;
pub mod reduce;

use crate::element::Element;
use crate::error::{Error, Result};
use ndarray::ArrayView2;

/// Checks that `a` (m×k) and `b` (k×n) can be multiplied.
pub(crate) fn check_product<T: Element>(
    op: &'static str,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
) -> Result<()> {
    if a.ncols() != b.nrows() {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!(
                "b with {} rows (a is {}x{})",
                a.ncols(),
                a.nrows(),
                a.ncols()
            ),
            got: format!("b of shape {}x{}", b.nrows(), b.ncols()),
        });
    }
    Ok(())
}

/// Runs per-tile results through `?`, keeping the first error.
pub(crate) fn collect<R>(results: Vec<Result<R>>) -> Result<Vec<R>> {
    results.into_iter().collect()
}
