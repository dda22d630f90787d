//! `C ← α·A·B + β·C`, blocked over tiles of C.
//!
//! Each tile `C[I, J]` is one BLAS call over the full inner dimension:
//! `C[I, J] ← α·A[I, :]·B[:, J] + β·C[I, J]`. The tiles are disjoint, so they run in any order
//! with no combine step, and a tile's result does not depend on which worker ran it.

use super::{check_product, collect, tile_operands};
use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::strategy::{Kind, Resolved};
use crate::tiling::{BlockShape, Tiling};
use ndarray::{ArrayView2, ArrayViewMut2};

pub(crate) fn matmul_into<T: Element>(
    plan: &Resolved,
    block: Option<BlockShape>,
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: ArrayViewMut2<'_, T>,
) -> Result<()> {
    check_product("matmul", a, b)?;
    let (m, n) = (a.nrows(), b.ncols());
    if c.dim() != (m, n) {
        return Err(Error::ShapeMismatch {
            op: "matmul_into",
            expected: format!("c of shape {m}x{n}"),
            got: format!("c of shape {}x{}", c.nrows(), c.ncols()),
        });
    }
    if plan.kind == Kind::Native {
        return plan.run_native(|t| blas::gemm(alpha, a.view(), b.view(), beta, c, t));
    }
    let block = block.unwrap_or_else(|| BlockShape::auto(m, n, plan.workers));
    let tiling = Tiling::new(m, n, block);
    let mut grid = tiling.split_mut(c);
    let items: Vec<_> = tiling
        .tiles()
        .map(|t| (t, grid[t.ti][t.tj].take().expect("each tile once")))
        .collect();
    let results = plan.run_tiles(items, |(tile, cv), threads| {
        let (ai, bj) = tile_operands(&tile, a, b);
        blas::gemm(alpha, ai, bj, beta, cv, threads)
    });
    collect(results).map(|_| ())
}
