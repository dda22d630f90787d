//! Fused product→reduction: each worker computes one call's part of the product into a scratch
//! buffer it reuses, reduces it at once, and keeps only the number. The product is never
//! materialised. A call is one tile, or (under `Calls::Strips`, the default) adjacent narrow
//! tiles of a tile row merged up to 1024 columns, so the rows of A are packed once for them;
//! extra memory stays a few tiles per worker, O(workers × tile²), not O(m·n).
//!
//! Call results are combined in call order through a fixed pairwise tree, so the answer is
//! bitwise the same for any worker count. `gram_reduce` computes only tiles on and below the
//! diagonal; for sums an off-diagonal call counts twice (exactly: ×2 is exact in floating point).
//!
//! A thin product (an output of fewer than 128 rows per core, a long inner dimension) is split
//! over k instead ([`thin`]): its output is small, so it is formed whole and then reduced.
//!
//! Under `Native` the fused ops do what numpy does: one threaded BLAS call for the whole product,
//! then the reduction, which needs the full m×n product in memory. That is the baseline the fused
//! path beats in memory. For `gram_reduce` that call is one syrk, and the lower triangle it fills
//! is reduced as a symmetric matrix (strictly-lower elements twice), never mirrored.

use super::gram::{gram_call_cost, gram_tiling};
use super::reduce::{self, combine_fixed, Reduction};
use super::{
    check_product, collect,
    matmul::{balanced_block, matmul_into},
    thin,
};
use crate::blas;
use crate::element::Element;
use crate::error::Result;
use crate::plan::{gram_work, product_work, Plan, TileSource};
use crate::simd::{kernels_for, Level};
use crate::strategy::Kind;
use crate::tiling::{Cut, Strip, Tiling};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Runs `f` with this thread's scratch buffer (`Element::scratch`) of at least `len` elements.
///
/// The buffer is taken out of the thread-local slot for the duration of `f` and put back after,
/// rather than borrowed in place: `f` makes a BLAS call, and a backend that threads through rayon
/// (pure-rust's gemm under `hybrid`) lets this thread run other rayon work while it waits,
/// including a tile of another concurrent call that needs scratch too. That nested use finds
/// the slot empty and allocates its own buffer; a `RefCell` borrow held across the call panicked
/// there with "already borrowed" (issue 16).
fn with_scratch<T: Element, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let slot = T::scratch();
    let mut buf = slot.take();
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let out = f(&mut buf[..len]);
    // Keep the larger buffer if a nested call left one in the slot meanwhile.
    let other = slot.take();
    slot.set(if other.len() > buf.len() { other } else { buf });
    out
}

/// One product tile `a_i · b_j`, reduced; the tile lives only in scratch memory.
fn tile_reduce<T: Element>(
    ai: ArrayView2<'_, T>,
    bj: ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
    threads: usize,
) -> Result<T> {
    let (rows, cols) = (ai.nrows(), bj.ncols());
    with_scratch::<T, _>(rows * cols, |buf| {
        let cv = ArrayViewMut2::from_shape((rows, cols), buf).expect("buffer sized to the tile");
        blas::gemm(T::one(), ai, bj, T::zero(), cv, threads)?;
        Ok(r.slice(kernels_for::<T>(level), buf, false))
    })
}

/// `r(A·B)` for the small-call path ([`super::small`]): the product in one GEMM at one thread
/// into scratch ([`blas::gemm_small`]), reduced flat, as the general path's one call does
/// ([`matmul_reduce`], [`gram_reduce`]), so the same bits; `None` where `gemm_small` declines.
pub(crate) fn reduce_small<T: Element>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
) -> Option<T> {
    let (rows, cols) = (a.nrows(), b.ncols());
    let v = with_scratch::<T, _>(rows * cols, |buf| {
        blas::gemm_small(a, b, buf).then(|| r.slice(kernels_for::<T>(level), buf, false))
    })?;
    Some(combine_fixed(&[v], r))
}

/// Reduces a full product (under `Native`, or a thin one split over k), on the strategy's
/// threads.
fn reduce_native<T: Element>(plan: &Plan, c: &Array2<T>, r: Reduction) -> T {
    plan.reduction(|parallel| reduce::full(&c.view(), r, plan.level, parallel))
}

pub(crate) fn matmul_reduce<T: Element>(
    plan: &Plan,
    cut: Cut,
    a: &impl TileSource<T>,
    b: &impl TileSource<T>,
    r: Reduction,
) -> Result<T> {
    check_product("matmul_reduce", a.dim(), b.dim())?;
    let (m, n) = (a.dim().0, b.dim().1);
    reduce::defined_over(r, m * n)?;
    let plan = &plan.for_product(product_work(m, n, a.dim().1));
    let level = plan.level;
    if plan.one_call(cut) {
        let gemm = Some((m, n, a.dim().1));
        let v = plan.call_here(gemm, |t| tile_reduce(a.all(), b.all(), r, level, t))?;
        return Ok(combine_fixed(&[v], r));
    }
    let cut = cut.for_product(plan.inline, m, n);
    if plan.strategy.kind == Kind::Native {
        let mut c = crate::alloc::zeros::<T>("product under native", m, n)?;
        // One threaded call: the cut does not apply.
        matmul_into(
            plan,
            Cut::default(),
            T::one(),
            a,
            b,
            T::zero(),
            c.view_mut(),
        )?;
        return Ok(reduce_native(plan, &c, r));
    }
    if let Some(ranges) = thin::k_ranges(m, n, a.dim().1, cut) {
        let c = thin::product(plan, ranges, a, b)?;
        return Ok(reduce_native(plan, &c, r));
    }
    let tiling = Tiling::new(m, n, balanced_block(m, n, cut));
    let (rows, cols) = tiling.grid();
    let runs: Vec<_> = (0..rows).map(|ti| (ti, 0..cols)).collect();
    let per_call = cut.calls.fused_tiles_per_call(tiling.block.cols);
    let strips = tiling.strips_of_at_most(&runs, per_call);
    let parts = plan.tiles_largest_first(
        strips,
        |s| s.span.len() as f64,
        |s, threads| {
            let t = s.span;
            let (ai, bj) = (a.rows(t.row0, t.rows), b.cols(t.col0, t.cols));
            tile_reduce(ai, bj, r, level, threads)
        },
    );
    Ok(combine_fixed(&collect(parts)?, r))
}

pub(crate) fn gram_reduce<T: Element>(
    plan: &Plan,
    cut: Cut,
    x: &impl TileSource<T>,
    r: Reduction,
) -> Result<T> {
    reduce::defined_over(r, x.dim().0)?;
    let (n, k) = x.dim();
    let plan = &plan.for_product(gram_work(n, k));
    let level = plan.level;
    let by_gemm = !blas::gram_by_syrk(n, k);
    if plan.inline && by_gemm && cut.block.is_none() && plan.strategy.kind != Kind::Native {
        // Too small to share, the block rayblas's to choose, small enough for the library's
        // small-matrix GEMM kernels (`blas::gram_by_syrk`): the whole product in one GEMM,
        // reduced flat. `syrk` would halve the flops, but it has no small-matrix kernel and
        // its triangle is reduced row by row: at n=32 that took 3.4 µs, this 1.5 (ndarray's
        // `x.dot(&x.t()).sum()` 2.0). Past that rule, one diagonal tile by `syrk` below (at
        // n=96, 29.9 µs against 39.3 by the whole GEMM; at n=64, 12.0 against 13.1).
        let whole = |t: usize| {
            let xa = x.all();
            tile_reduce(xa.view(), xa.t(), r, level, t)
        };
        let v = if plan.one_call(cut) {
            plan.call_here(Some((n, n, k)), whole)?
        } else {
            collect(plan.tiles(vec![()], |(), t| whole(t)))?[0]
        };
        return Ok(combine_fixed(&[v], r));
    }
    // Native and thin products compute the lower triangle of the whole Gram matrix and reduce
    // it as a symmetric matrix: mirroring it first would write and read the upper half for
    // nothing (0.9 s of 8.6 at n=10000).
    if plan.strategy.kind == Kind::Native {
        let n = x.dim().0;
        let mut g = crate::alloc::zeros::<T>("Gram matrix under native", n, n)?;
        plan.native_call(|t| blas::gram_lower(x.all(), g.view_mut(), t))?;
        return Ok(plan.reduction(|parallel| lower_reduce(g.view(), r, level, parallel)));
    }
    // Too small to share: one diagonal tile over the whole product, as `gram` makes, not the
    // bands evened out for the cores (at n=64 two bands took 12.7 µs, three calls, against
    // 11.9 for one `syrk`).
    let cut = cut.for_product(plan.inline, n, n);
    if let Some(ranges) = thin::k_ranges(x.dim().0, x.dim().0, x.dim().1, cut) {
        // Thin: the whole (small) lower triangle, summed over ranges of k, then reduced.
        let g = thin::gram_lower(plan, ranges, x)?;
        return Ok(plan.reduction(|parallel| lower_reduce(g.view(), r, level, parallel)));
    }
    let calls = gram_reduce_calls(x.dim().0, cut);
    let parts = plan.tiles_largest_first(calls, gram_call_cost, |s, threads| {
        gram_reduce_call(&s, x, r, level, threads)
    });
    Ok(combine_fixed(&collect(parts)?, r))
}

/// The calls of the tiled fused Gram product of an n-row X under `cut`, in the order their
/// results combine.
pub(crate) fn gram_reduce_calls(n: usize, cut: Cut) -> Vec<Strip> {
    let tiling = gram_tiling(n, cut);
    lower_calls(&tiling, cut.calls.fused_tiles_per_call(tiling.block.cols))
}

/// One call of the fused Gram product, reduced: a diagonal tile as a whole symmetric tile, a
/// strip left of the diagonal counted twice for sums (it stands for itself and its mirror).
pub(crate) fn gram_reduce_call<T: Element>(
    s: &Strip,
    x: &impl TileSource<T>,
    r: Reduction,
    level: Level,
    threads: usize,
) -> Result<T> {
    let t = s.span;
    let xi = x.rows(t.row0, t.rows);
    if t.ti == t.tj {
        return diagonal_reduce(xi, r, level, threads);
    }
    let xj = x.rows(t.col0, t.cols);
    let v = tile_reduce(xi, xj.t(), r, level, threads)?;
    // ×2 is exact in floating point.
    let two = T::one() + T::one();
    Ok(match r {
        Reduction::Sum | Reduction::SumOfSquares => v * two,
        _ => v,
    })
}

/// The calls of a fused Gram product in row-major order: in each tile row, the tiles left of
/// the diagonal in strips of at most `per_call` tiles aligned to multiples of it (so a cut of
/// the rows into panels of whole groups of `per_call` tile rows cuts no call, see
/// `ranks/ring.rs`), then the diagonal tile on its own.
fn lower_calls(tiling: &Tiling, per_call: usize) -> Vec<Strip> {
    let (rows, _) = tiling.grid();
    let mut out = Vec::new();
    for ti in 0..rows {
        out.extend(tiling.strips_aligned(&[(ti, 0..ti)], per_call));
        out.push(Strip {
            span: tiling.tile(ti, ti),
            tiles: 1,
        });
    }
    out
}

/// A diagonal tile `Xᵢ·Xᵢᵀ` reduced as the whole symmetric tile, computing only its lower half
/// (`syrk` where the backend has it).
fn diagonal_reduce<T: Element>(
    xi: ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
    threads: usize,
) -> Result<T> {
    let rows = xi.nrows();
    with_scratch::<T, _>(rows * rows, |buf| {
        let mut cv =
            ArrayViewMut2::from_shape((rows, rows), &mut *buf).expect("buffer sized to the tile");
        blas::gram_lower(xi, cv.view_mut(), threads)?;
        Ok(lower_reduce(cv.view(), r, level, false))
    })
}

/// Reduces a symmetric matrix of which only the lower triangle (with the diagonal) is valid:
/// each row's strictly-lower part counts twice for sums, its diagonal element once. The rows'
/// values are combined through the fixed tree, so running rows in parallel changes nothing.
pub(crate) fn lower_reduce<T: Element>(
    g: ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
    parallel: bool,
) -> T {
    let k = kernels_for::<T>(level);
    let two = T::one() + T::one();
    let row_value = |(i, row): (usize, ArrayView1<'_, T>)| {
        let row = row.as_slice().expect("contiguous rows");
        let (strict, d) = (&row[..i], row[i]);
        let s = r.slice(k, strict, false);
        match r {
            Reduction::Sum => s * two + d,
            Reduction::SumOfSquares => s * two + d * d,
            Reduction::Max | Reduction::Min => r.combine(s, d),
        }
    };
    let rows = g.outer_iter().enumerate();
    let per_row: Vec<T> = if parallel {
        g.outer_iter()
            .into_par_iter()
            .enumerate()
            .map(row_value)
            .collect()
    } else {
        rows.map(row_value).collect()
    };
    combine_fixed(&per_row, r)
}
