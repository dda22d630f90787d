//! `C ← α·A·B + β·C`, blocked over tiles of C.
//!
//! Each strip of adjacent tiles `C[I, J]` (or each tile, under [`Calls::Tiles`](crate::Calls::Tiles)) is one BLAS
//! call over the full inner dimension: `C[I, J] ← α·A[I, :]·B[:, J] + β·C[I, J]`. Strips are
//! disjoint, so they run in any order with no combine step, and a strip's result does not depend
//! on which worker ran it.

use super::{check_product, collect};
use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::plan::{Plan, TileSource};
use crate::strategy::Kind;
use crate::tiling::{BlockShape, Cut, Tiling};
use ndarray::ArrayViewMut2;

pub(crate) fn matmul_into<T: Element>(
    plan: &Plan,
    cut: Cut,
    alpha: T,
    a: &impl TileSource<T>,
    b: &impl TileSource<T>,
    beta: T,
    c: ArrayViewMut2<'_, T>,
) -> Result<()> {
    check_product("matmul", a.dim(), b.dim())?;
    let (m, n) = (a.dim().0, b.dim().1);
    if c.dim() != (m, n) {
        return Err(Error::ShapeMismatch {
            op: "matmul_into",
            expected: format!("c of shape {m}x{n}"),
            got: format!("c of shape {}x{}", c.nrows(), c.ncols()),
        });
    }
    if plan.strategy.kind == Kind::Native {
        return plan.native_call(|t| blas::gemm(alpha, a.all(), b.all(), beta, c, t));
    }
    let block = cut.block.unwrap_or_else(|| BlockShape::auto(m, n));
    let tiling = Tiling::new(m, n, block);
    let (rows, cols) = tiling.grid();
    let runs: Vec<_> = (0..rows).map(|ti| (ti, 0..cols)).collect();
    let strips = tiling.strips(&runs, cut.calls.strips_wanted());
    let views = tiling.split_strips_mut(c, &strips);
    let items: Vec<_> = strips.into_iter().zip(views).collect();
    let results = plan.tiles(items, |(strip, cv), threads| {
        let t = strip.span;
        blas::gemm(
            alpha,
            a.rows(t.row0, t.rows),
            b.cols(t.col0, t.cols),
            beta,
            cv,
            threads,
        )
    });
    collect(results).map(|_| ())
}
