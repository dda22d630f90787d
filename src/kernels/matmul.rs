//! `C ← α·A·B + β·C`, blocked over tiles of C.
//!
//! Each strip of adjacent tiles `C[I, J]` (or each tile, under [`Calls::Tiles`](crate::Calls::Tiles)) is one BLAS
//! call over the full inner dimension: `C[I, J] ← α·A[I, :]·B[:, J] + β·C[I, J]`. Under
//! [`Calls::Strips`](crate::Calls::Strips), tile rows shorter than 1024 rows are first merged
//! into bands of about 1024 (`call_block`): every call packs the columns of B it reads, so 20
//! calls of 250 rows pack all of B 20 times, and 6 of 834 rows 6 times. Strips are
//! disjoint, so they run in any order with no combine step, and a strip's result does not depend
//! on which worker ran it. Tile rows are evened out so their count divides among the cores
//! (`balanced_block`): 5000 rows in blocks of 1000 on 2 cores become 6 bands of 834, not 3
//! against 2.
//!
//! The exception is a thin product, whose output has too few tiles to keep the cores busy
//! (m and n both small, k long): there the inner dimension is split among the cores instead, and
//! the partial products are added in range order (see `thin`), so the result still does not
//! depend on the worker count.

use super::{check_product, collect, thin};
use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::plan::{product_work, Plan, TileSource};
use crate::strategy::Kind;
use crate::tiling::{balanced_side, BlockShape, Cut, Tiling};
use ndarray::{ArrayViewMut2, Zip};

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
    let plan = &plan.for_product(product_work(m, n, a.dim().1));
    if c.dim() != (m, n) {
        return Err(Error::ShapeMismatch {
            op: "matmul_into",
            expected: format!("c of shape {m}x{n}"),
            got: format!("c of shape {}x{}", c.nrows(), c.ncols()),
        });
    }
    if plan.one_call(cut) {
        let gemm = Some((m, n, a.dim().1));
        return plan.call_here(gemm, |t| blas::gemm(alpha, a.all(), b.all(), beta, c, t));
    }
    let cut = cut.for_product(plan.inline, m, n);
    if plan.strategy.kind == Kind::Native {
        return plan.native_call(|t| blas::gemm(alpha, a.all(), b.all(), beta, c, t));
    }
    if let Some(ranges) = thin::k_ranges(m, n, a.dim().1, cut) {
        let p = thin::product(plan, ranges, a, b)?;
        let mut c = c;
        if beta == T::zero() {
            // As BLAS: with β = 0, C is written, not read (it may hold anything).
            Zip::from(&mut c).and(&p).for_each(|c, &p| *c = alpha * p);
        } else {
            Zip::from(&mut c)
                .and(&p)
                .for_each(|c, &p| *c = alpha * p + beta * *c);
        }
        return Ok(());
    }
    let tiling = Tiling::new(m, n, call_block(m, n, cut));
    let (rows, cols) = tiling.grid();
    let runs: Vec<_> = (0..rows).map(|ti| (ti, 0..cols)).collect();
    let strips = tiling.strips(&runs, cut.calls.strips_wanted(cut.balance()));
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

/// The block whose rows the calls of a stored product cover: [`balanced_block`], its tile rows
/// merged into taller bands where they are short ([`Calls::call_side`](crate::Calls)), so each
/// call packs B's columns for more rows. The fused and distributed products keep
/// [`balanced_block`]: a fused call's scratch is O(tile²).
fn call_block(m: usize, n: usize, cut: Cut) -> BlockShape {
    let block = balanced_block(m, n, cut);
    BlockShape {
        rows: cut.calls.call_side(m, block.rows, cut.balance()),
        cols: block.cols,
    }
}

/// The block of a product's tiles: the given one (or [`BlockShape::auto`]) as the largest tile,
/// with the rows evened out so the tile rows divide among the cores ([`balanced_side`]).
pub(crate) fn balanced_block(m: usize, n: usize, cut: Cut) -> BlockShape {
    let block = cut.block.unwrap_or_else(|| BlockShape::auto(m, n));
    BlockShape {
        rows: balanced_side(m, block.rows, cut.balance()),
        cols: block.cols,
    }
}
