//! `G = X·Xᵀ` using symmetry: only tiles on and below the diagonal are computed (about half the
//! flops of a general product), then mirrored. Diagonal tiles are mirrored inside too, so the
//! result is exactly symmetric.
//!
//! The tiling of G uses square tiles of the block's row count, so tile `(i, j)` is
//! `X[I, :]·X[J, :]ᵀ` and its mirror is tile `(j, i)`. Each diagonal tile is one `syrk` call
//! (where the backend has it); the tiles left of it in its tile row are one GEMM call per
//! [`Strip`](crate::Strip), or per tile under [`Calls::Tiles`](crate::Calls::Tiles). The calls
//! start largest first by flops (a diagonal tile counts half, as in the fused product), so the
//! workers finish together. Under [`Calls::Strips`](crate::Calls::Strips), tiles of fewer than
//! 1024 rows are first merged into larger squares (`gram_call_tiling`), as `matmul` merges its
//! tile rows: each call packs the rows of X it multiplies by, once per call.

use super::{collect, thin};
use crate::blas;
use crate::element::Element;
use crate::error::Result;
use crate::plan::{gram_work, Plan, TileSource};
use crate::strategy::{Kind, Resolved};
use crate::tiling::{balanced_side, BlockShape, Cut, Strip, Tiling};
use ndarray::{Array2, ArrayViewMut2};

/// The tiling of the n×n Gram matrix: square tiles of at most the block's row count, evened out
/// so the tile rows divide among the cores ([`balanced_side`]).
pub(crate) fn gram_tiling(n: usize, cut: Cut) -> Tiling {
    let max = cut
        .block
        .map(|b| b.rows)
        .unwrap_or_else(|| BlockShape::auto(n, n).rows);
    let side = balanced_side(n, max, cut.balance());
    Tiling::new(
        n,
        n,
        BlockShape {
            rows: side,
            cols: side,
        },
    )
}

/// The tiling the calls of a stored Gram product follow: [`gram_tiling`], its sides merged into
/// taller bands where they are short ([`Calls::call_side`](crate::Calls)), so each call packs the
/// rows of X it multiplies by for more rows. (A band of tile rows of the lower triangle is
/// again a square tiling: the rectangle left of its diagonal square, and that square.) The fused
/// `gram_reduce` keeps [`gram_tiling`]: its scratch is O(tile²).
pub(crate) fn gram_call_tiling(n: usize, cut: Cut) -> Tiling {
    let tiles = gram_tiling(n, cut);
    let side = cut.calls.call_side(n, tiles.block.rows, cut.balance());
    Tiling::new(
        n,
        n,
        BlockShape {
            rows: side,
            cols: side,
        },
    )
}

pub(crate) fn gram<T: Element>(plan: &Plan, cut: Cut, x: &impl TileSource<T>) -> Result<Array2<T>> {
    let n = x.dim().0;
    let plan = &plan.for_product(gram_work(n, x.dim().1));
    let mut g = crate::alloc::zeros::<T>("Gram matrix", n, n)?;
    if plan.one_call(cut) {
        let (n, k) = x.dim();
        let gemm = (!blas::gram_by_syrk(n, k)).then_some((n, n, k));
        plan.call_here(gemm, |t| blas::gram_lower(x.all(), g.view_mut(), t))?;
        mirror_diagonal(&mut g.view_mut());
        return Ok(g);
    }
    let cut = cut.for_product(plan.inline, n, n);
    if plan.strategy.kind == Kind::Native {
        plan.native_call(|t| blas::gram_lower(x.all(), g.view_mut(), t))?;
        mirror_lower(g.view_mut(), &gram_tiling(n, Cut::default()), plan);
        return Ok(g);
    }
    let tiling = gram_call_tiling(n, cut);
    if let Some(ranges) = thin::k_ranges(n, n, x.dim().1, cut) {
        let g = thin::gram_lower(plan, ranges, x)?;
        let mut g = g;
        mirror_lower(g.view_mut(), &tiling, plan);
        return Ok(g);
    }
    let strips = lower_strips(&tiling, cut);
    let views = tiling.split_strips_mut(g.view_mut(), &strips);
    let items: Vec<_> = strips.into_iter().zip(views).collect();
    // Largest first by flops, as the fused product orders its calls: a diagonal syrk tile does
    // half the work of a GEMM tile of its size, so it goes after it, among the small calls the
    // work queue hands to whoever finishes early.
    let cost = |(s, _): &(Strip, _)| gram_call_cost(s);
    collect(
        plan.tiles_largest_first(items, cost, |(strip, cv), threads| {
            let t = strip.span;
            let xi = x.rows(t.row0, t.rows);
            if t.ti == t.tj {
                // A diagonal tile is itself a Gram matrix: syrk computes its lower half.
                blas::gram_lower(xi, cv, threads)
            } else {
                let xj = x.rows(t.col0, t.cols);
                blas::gemm(T::one(), xi, xj.t(), T::zero(), cv, threads)
            }
        }),
    )?;
    mirror_lower(g.view_mut(), &tiling, plan);
    Ok(g)
}

/// The calls of a blocked Gram product, in row-major order: in each tile row, the strips of the
/// tiles left of the diagonal, then the diagonal tile on its own.
pub(crate) fn lower_strips(tiling: &Tiling, cut: Cut) -> Vec<Strip> {
    let rows = tiling.grid().0;
    let runs: Vec<_> = (1..rows).map(|ti| (ti, 0..ti)).collect();
    let mut left = tiling
        .strips(&runs, cut.calls.strips_wanted(cut.balance()))
        .into_iter()
        .peekable();
    let mut out = Vec::new();
    for ti in 0..rows {
        while let Some(s) = left.next_if(|s| s.span.ti == ti) {
            out.push(s);
        }
        out.push(Strip {
            span: tiling.tile(ti, ti),
            tiles: 1,
        });
    }
    out
}

/// The relative cost of one call of a Gram product, stored ([`lower_strips`]) or fused
/// ([`gram_reduce_calls`](super::fused::gram_reduce_calls)): its area, a diagonal tile's halved
/// (syrk, or half its GEMM's worth of use). Both products, and their shares among MPI ranks,
/// start and share calls by it.
pub(crate) fn gram_call_cost(s: &Strip) -> f64 {
    s.span.len() as f64 / if s.span.ti == s.span.tj { 2.0 } else { 1.0 }
}

/// Copies the lower triangle of the square `g` onto its upper triangle, tile by tile on the
/// plan's workers (a copy: no BLAS lease): each strictly-lower tile onto its mirror, and within
/// each diagonal tile.
pub(crate) fn mirror_lower<T: Element>(g: ArrayViewMut2<'_, T>, tiling: &Tiling, plan: &Plan) {
    // A copy of fewer elements than a reduction worth sharing stays on the calling thread: at
    // n=128 handing the mirror to the pool made `gram` under `blocked` take 132 µs against 72
    // on one thread.
    let plan = &plan.for_reduction(g.len());
    let mut grid = tiling.split_mut(g);
    let pairs: Vec<_> = tiling
        .lower_tiles()
        .map(|t| {
            let lower = grid[t.ti][t.tj].take().expect("each tile once");
            let upper = (t.ti != t.tj).then(|| grid[t.tj][t.ti].take().expect("each mirror once"));
            (lower, upper)
        })
        .collect();
    plan.copies(pairs, |(mut lower, upper)| match upper {
        Some(mut u) => u.assign(&lower.t()),
        None => mirror_diagonal(&mut lower),
    });
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
pub(crate) fn gram_flops(plan: &Resolved, cut: Cut, n: usize, k: usize) -> f64 {
    // A diagonal call of side r over an inner length k.
    let diagonal = |r: usize, k: usize| {
        let (rf, kf) = (r as f64, k as f64);
        if blas::gram_by_syrk(r, k) {
            rf * (rf + 1.0) * kf
        } else {
            2.0 * rf * rf * kf
        }
    };
    if plan.kind == Kind::Native {
        return diagonal(n, k);
    }
    if let Some(ranges) = thin::k_ranges(n, n, k, cut) {
        // One call per range of k over the whole (thin) matrix.
        return ranges.iter().map(|r| diagonal(n, r.len())).sum();
    }
    gram_call_tiling(n, cut)
        .lower_tiles()
        .map(|t| {
            if t.ti == t.tj {
                diagonal(t.rows, k)
            } else {
                2.0 * t.rows as f64 * t.cols as f64 * k as f64
            }
        })
        .sum()
}
