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
    let side = block
        .map(|b| b.rows)
        .unwrap_or_else(|| BlockShape::auto(n, n, workers).rows);
    Tiling::new(
        n,
        n,
        BlockShape {
            rows: side,
            cols: side,
        },
    )
}

/// The row panel of X that tile side `(start, len)` covers.
pub(crate) fn panel<'a, T>(x: &ArrayView2<'a, T>, start: usize, len: usize) -> ArrayView2<'a, T> {
    (*x).slice_move(s![start..start + len, ..])
}

pub(crate) fn gram<T: Element>(
    plan: &Resolved,
    block: Option<BlockShape>,
    x: &ArrayView2<'_, T>,
) -> Result<Array2<T>> {
    let n = x.nrows();
    let mut g = Array2::<T>::zeros((n, n));
    if plan.kind == Kind::Native {
        plan.run_native(|t| blas::gram_lower(x.view(), g.view_mut(), t))?;
        // Mirror the lower triangle with as many threads as the call had.
        let tiling = gram_tiling(n, None, plan.blas_threads);
        let mirror_plan = Resolved {
            kind: if plan.blas_threads > 1 {
                Kind::Blocked
            } else {
                Kind::Serial
            },
            workers: plan.blas_threads,
            blas_threads: 1,
            pin: false,
        };
        let mut grid = tiling.split_mut(g.view_mut());
        let pairs: Vec<_> = tiling
            .lower_tiles()
            .map(|t| {
                let lower = grid[t.ti][t.tj].take().expect("each tile once");
                let upper = if t.ti == t.tj {
                    None
                } else {
                    grid[t.tj][t.ti].take()
                };
                (lower, upper)
            })
            .collect();
        mirror_plan.run_tiles(pairs, |(mut lower, upper), _| match upper {
            Some(mut u) => u.assign(&lower.t()),
            None => mirror_diagonal(&mut lower),
        });
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
        if tile.ti == tile.tj {
            // A diagonal tile is itself a Gram matrix: syrk computes its lower half.
            blas::gram_lower(xi, cv.view_mut(), threads)?;
            mirror_diagonal(&mut cv);
        } else {
            let xj = panel(x, tile.col0, tile.cols);
            blas::gemm(T::one(), xi, xj.t(), T::zero(), cv.view_mut(), threads)?;
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
pub(crate) fn mirror_diagonal<T: Element>(c: &mut ArrayViewMut2<'_, T>) {
    let n = c.nrows();
    for i in 0..n {
        for j in 0..i {
            c[[j, i]] = c[[i, j]];
        }
    }
}

/// Floating-point operations a Gram product `X·Xᵀ` of an n×k `X` really performs under `plan`:
/// `2·rows·cols·k` for each tile below the diagonal, and for each diagonal tile `r(r+1)k` with
/// `syrk` (OpenBLAS, netlib) or `2r²k` with a full GEMM (BLIS, pure-rust); under `Native` the
/// same for the whole matrix as one diagonal tile.
pub fn gram_flops(plan: &Resolved, block: Option<BlockShape>, n: usize, k: usize) -> f64 {
    if plan.kind == Kind::Native {
        let n = n as f64;
        return if blas::has_syrk() {
            n * (n + 1.0) * k as f64
        } else {
            2.0 * n * n * k as f64
        };
    }
    let diagonal = |r: f64| {
        if blas::has_syrk() {
            r * (r + 1.0)
        } else {
            2.0 * r * r
        }
    };
    gram_tiling(n, block, plan.workers)
        .lower_tiles()
        .map(|t| {
            let (r, c) = (t.rows as f64, t.cols as f64);
            k as f64
                * if t.ti == t.tj {
                    diagonal(r)
                } else {
                    2.0 * r * c
                }
        })
        .sum()
}
