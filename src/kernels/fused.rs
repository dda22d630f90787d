//! Fused product→reduction: each worker computes one tile of the product into a scratch buffer
//! it reuses, reduces it at once, and keeps only the number. The product is never materialised:
//! extra memory is one tile per worker, O(workers × tile²), not O(m·n).
//!
//! Tile results are combined in tile order through a fixed pairwise tree, so the answer is
//! bitwise the same for any worker count. `gram_reduce` computes only tiles on and below the
//! diagonal; for sums an off-diagonal tile counts twice (exactly: ×2 is exact in floating point).
//!
//! Under `Native` the fused ops do what numpy does: one threaded BLAS call for the whole product,
//! then the reduction, which needs the full m×n product in memory. That is the baseline the fused
//! path beats in memory.

use super::gram::{gram, gram_tiling};
use super::reduce::{self, combine_fixed, Reduction};
use super::{check_product, collect, matmul::matmul_into, panel, tile_operands};
use crate::blas;
use crate::element::Element;
use crate::error::Result;
use crate::pool;
use crate::simd::{kernels_for, Level};
use crate::strategy::{Kind, Resolved};
use crate::tiling::{BlockShape, Cut, Tile, Tiling};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::any::Any;
use std::cell::Cell;

thread_local! {
    /// One reusable tile buffer per thread (of whichever element type was used last). Empty
    /// while a call on this thread has it out.
    static SCRATCH: Cell<Option<Box<dyn Any>>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's scratch buffer of at least `len` elements.
///
/// The buffer is taken out of the thread-local slot for the duration of `f` and put back after,
/// rather than borrowed in place: `f` makes a BLAS call, and a backend that threads through rayon
/// (pure-rust's gemm under `hybrid`) lets this thread run other rayon work while it waits,
/// including a tile of another concurrent call that needs scratch too. That nested use finds
/// the slot empty and allocates its own buffer; a `RefCell` borrow held across the call panicked
/// there with "already borrowed" (issue 16).
fn with_scratch<T: Element, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf: Vec<T> = SCRATCH
        .take()
        .and_then(|b| b.downcast::<Vec<T>>().ok())
        .map(|b| *b)
        .unwrap_or_default();
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let out = f(&mut buf[..len]);
    // Keep the larger buffer if a nested call left one in the slot meanwhile.
    let keep = match SCRATCH.take().and_then(|b| b.downcast::<Vec<T>>().ok()) {
        Some(other) if other.len() > buf.len() => *other,
        _ => buf,
    };
    SCRATCH.set(Some(Box::new(keep)));
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

/// Reduces a full product under `Native`: the reduction runs on the same number of threads.
fn reduce_native<T: Element>(plan: &Resolved, c: &Array2<T>, r: Reduction, level: Level) -> T {
    let t = plan.blas_threads;
    let run = || reduce::full(&c.view(), r, level, t > 1);
    if t > 1 {
        pool::get(t, false).install(run)
    } else {
        run()
    }
}

pub(crate) fn matmul_reduce<T: Element>(
    plan: &Resolved,
    block: Option<BlockShape>,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
) -> Result<T> {
    check_product("matmul_reduce", a, b)?;
    let (m, n) = (a.nrows(), b.ncols());
    if plan.kind == Kind::Native {
        let mut c = Array2::<T>::zeros((m, n));
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
        return Ok(reduce_native(plan, &c, r, level));
    }
    let block = block.unwrap_or_else(|| BlockShape::auto(m, n));
    let tiles: Vec<Tile> = Tiling::new(m, n, block).tiles().collect();
    let parts = plan.run_tiles(tiles, |t, threads| {
        let (ai, bj) = tile_operands(&t, a, b);
        tile_reduce(ai, bj, r, level, threads)
    });
    Ok(combine_fixed(&collect(parts)?, r))
}

pub(crate) fn gram_reduce<T: Element>(
    plan: &Resolved,
    block: Option<BlockShape>,
    x: &ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
) -> Result<T> {
    if plan.kind == Kind::Native {
        let g = gram(plan, Cut::default(), x)?;
        return Ok(reduce_native(plan, &g, r, level));
    }
    let tiling = gram_tiling(x.nrows(), block);
    let tiles: Vec<Tile> = tiling.lower_tiles().collect();
    let two = T::one() + T::one();
    let parts = plan.run_tiles(tiles, |t, threads| {
        let xi = panel(x, t.row0, t.rows);
        if t.ti == t.tj {
            return diagonal_reduce(xi, r, level, threads);
        }
        let xj = panel(x, t.col0, t.cols);
        let v = tile_reduce(xi, xj.t(), r, level, threads)?;
        // An off-diagonal tile stands for itself and its mirror.
        Ok(match r {
            Reduction::Sum | Reduction::SumOfSquares if t.ti != t.tj => v * two,
            _ => v,
        })
    });
    Ok(combine_fixed(&collect(parts)?, r))
}

/// A diagonal tile `Xᵢ·Xᵢᵀ` reduced as the whole symmetric tile, computing only its lower half
/// (`syrk` where the backend has it): each row's strictly-lower part counts twice for sums, its
/// diagonal element once. Rows are combined through the fixed tree.
fn diagonal_reduce<T: Element>(
    xi: ArrayView2<'_, T>,
    r: Reduction,
    level: Level,
    threads: usize,
) -> Result<T> {
    let rows = xi.nrows();
    let k = kernels_for::<T>(level);
    with_scratch::<T, _>(rows * rows, |buf| {
        let cv =
            ArrayViewMut2::from_shape((rows, rows), &mut *buf).expect("buffer sized to the tile");
        blas::gram_lower(xi, cv, threads)?;
        let two = T::one() + T::one();
        let per_row: Vec<T> = (0..rows)
            .map(|i| {
                let row = &buf[i * rows..i * rows + i + 1];
                let (strict, d) = (&row[..i], row[i]);
                let s = r.slice(k, strict, false);
                match r {
                    Reduction::Sum => s * two + d,
                    Reduction::SumOfSquares => s * two + d * d,
                    Reduction::Max | Reduction::Min => r.combine(s, d),
                }
            })
            .collect();
        Ok(combine_fixed(&per_row, r))
    })
}
