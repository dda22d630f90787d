//! The blocked kernels: products (`matmul`, `gram`), fused product→reduction (`fused`) and
//! reductions ([`reduce`]). Each runs under any [`Strategy`](crate::Strategy); the public entry
//! points are the methods of [`Config`](crate::Config).

pub(crate) mod fused;
pub(crate) mod gram;
pub(crate) use gram::gram_flops;
pub(crate) mod batch;
pub(crate) mod matmul;
pub(crate) mod reduce;
pub(crate) mod small;
pub(crate) mod thin;

use crate::error::{Error, Result};

/// Checks that `a` (m×k) and `b` (k×n), given by their shapes, can be multiplied.
#[inline]
pub(crate) fn check_product(
    op: &'static str,
    (m, k): (usize, usize),
    (k2, n): (usize, usize),
) -> Result<()> {
    if k != k2 {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("b with {k} rows (a is {m}x{k})"),
            got: format!("b of shape {k2}x{n}"),
        });
    }
    Ok(())
}

/// Runs per-tile results through `?`, keeping the first error.
pub(crate) fn collect<R>(results: Vec<Result<R>>) -> Result<Vec<R>> {
    results.into_iter().collect()
}
