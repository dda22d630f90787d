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
use crate::tiling::Tile;
use ndarray::{s, ArrayView2};

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

/// Rows `start..start + len` of `x`: the panel a tile side covers.
pub(crate) fn panel<'a, T>(x: &ArrayView2<'a, T>, start: usize, len: usize) -> ArrayView2<'a, T> {
    (*x).slice_move(s![start..start + len, ..])
}

/// The operands of tile `t` of the product `A·B`: the rows of A and the columns of B it covers.
pub(crate) fn tile_operands<'a, 'b, T>(
    t: &Tile,
    a: &ArrayView2<'a, T>,
    b: &ArrayView2<'b, T>,
) -> (ArrayView2<'a, T>, ArrayView2<'b, T>) {
    (
        panel(a, t.row0, t.rows),
        (*b).slice_move(s![.., t.col0..t.col0 + t.cols]),
    )
}

/// Runs per-tile results through `?`, keeping the first error.
pub(crate) fn collect<R>(results: Vec<Result<R>>) -> Result<Vec<R>> {
    results.into_iter().collect()
}
