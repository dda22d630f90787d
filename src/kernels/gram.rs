//! `G = X·Xᵀ` using symmetry: only tiles on and below the diagonal are computed (about half the
//! flops of a general product), then mirrored. Diagonal tiles are mirrored inside too, so the
//! result is exactly symmetric.
//!
//! The tiling of G uses square tiles of the block's row count, so tile `(i, j)` is
//! `X[I, :]·X[J, :]ᵀ` and its mirror is tile `(j, i)`.

use super::collect;
use crate::blas;
use crate::element::Element;
use crate::error::Result;
use crate::strategy::{Kind, Resolved};
use crate::tiling::{BlockShape, Tile, Tiling};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

/// The tiling of the n×n Gram matrix: square tiles of the block's row count.
pub(crate) fn gram_tiling(n: usize, block: Option<BlockShape>, workers: usize) -> Tiling {
    let side = block.map(|b| b.rows).unwrap_or_else(|| BlockShape::auto(n, n, workers).rows);
    Tiling::new(n, n, BlockShape { rows: side, cols: side })
}

/// The row panel of X that tile side `(start, len)` covers.
pub(crate) fn panel<'a, T>(x: &ArrayView2<'a, T>, start: usize, len: usize) -> ArrayView2<'a, T> {
    x.clone().slice_move(s![start..start + len, ..])
}

pub(crate) fn gram<T: Element>(plan: &Resolved, block: Option<BlockShape>, x: &ArrayView2<'_, T>) -> Result<Array2<T>> {
    let n = x.nrows();
    let mut g = Array2::<T>::zeros((n, n));
    if plan.kind == Kind::Native {
        plan.run_native(|t| blas::gemm(T::one(), x.view(), x.t(), T::zero(), g.view_mut(), t))?;
        return Ok(g);
    }
    let tiling = gram_tiling(n, block, plan.workers);
    let mut grid = tiling.split_mut(g.view_mut());
    let lower: Vec<(Tile, ArrayViewMut2<'_, T>)> = tiling
        .lower_tiles()
        .map(|t| (t, grid[t.ti][t.tj].take().expect("each tile once")))
        .collect();
    let computed = plan.run_tiles(lower, |(tile, mut cv), threads| {
        let xi = panel(x, tile.row0, tile.rows);
        let xj = panel(x, tile.col0, tile.cols);
        blas::gemm(T::one(), xi, xj.t(), T::zero(), cv.view_mut(), threads)?;
        if tile.ti == tile.tj {
            mirror_diagonal(&mut cv);
        }
        Ok((tile, cv))
    });
    let computed = collect(computed)?;
    // Pair each strictly-lower tile with its upper mirror.
    let pairs: Vec<_> = computed
        .into_iter()
        .filter(|(t, _)| t.ti != t.tj)
        .map(|(t, lower)| (grid[t.tj][t.ti].take().expect("each mirror once"), lower))
        .collect();
    plan.run_tiles(pairs, |(mut upper, lower), _| upper.assign(&lower.t()));
    Ok(g)
}

/// Copies the lower triangle of a square tile onto its upper triangle.
fn mirror_diagonal<T: Element>(c: &mut ArrayViewMut2<'_, T>) {
    let n = c.nrows();
    for i in 0..n {
        for j in 0..i {
            c[[j, i]] = c[[i, j]];
        }
    }
}
