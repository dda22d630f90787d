//! Batched products: `C[i] = A[i]·B[i]` (or the Gram products `G[i] = X[i]·X[i]ᵀ`) for many
//! independent items, the mission's pattern applied to many small GEMMs (what OpenBLAS's users
//! do by hand: BLAS at one thread, a parallel loop over the batch).
//!
//! - `blocked` (and `hybrid`): the items are dealt to the workers, each item one BLAS call at
//!   the strategy's BLAS threads. Consecutive small items are grouped so that each task the
//!   work queue hands out is worth taking ([`GROUP_FLOPS`]); a batch whose whole work is too
//!   small to share runs on the calling thread (as any product, `Plan::for_product`).
//! - `serial`: the items in order on the calling thread, one call each.
//! - `native`: one call of the library's own batched GEMM (`cblas_?gemm_batch_strided`),
//!   threaded by the library, where the linked library has one (a Gram batch as the GEMMs
//!   `X[i]·X[i]ᵀ`: there is no batched `syrk`); elsewhere [`Error::UnsupportedStrategy`].
//!
//! Every item is one call whatever the strategy's worker count or the grouping, so `blocked`
//! and `serial` give the same bits for any worker count.

use super::collect;
use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::strategy::Kind;
use ndarray::{Array3, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3};

/// Items are grouped into tasks of at least this many flops (about 5 µs of one core): a
/// worker takes the next task from the work queue with one uncontended lock, which a task this
/// size pays for many times over, while a batch of 1000 products of 16² still makes 33 tasks
/// to even out between the workers (with tasks of 2 MFLOP, 4 tasks on 2 workers ran at 1.17×
/// serial). Whether the batch goes to the pool at all is the product rule: under
/// [`INLINE_PRODUCT_FLOPS`](crate::plan::INLINE_PRODUCT_FLOPS) in all, it runs on the calling
/// thread.
pub(crate) const GROUP_FLOPS: f64 = 2.5e5;

/// One item of a batch: its operands and its output. Without `b` the item is the Gram product
/// `A·Aᵀ`: the lower triangle by one `syrk` and mirrored, as [`Config::gram`](crate::Config::gram)
/// makes a product small enough to be one call.
pub(crate) struct Item<'a, 'c, T> {
    pub a: ArrayView2<'a, T>,
    pub b: Option<ArrayView2<'a, T>>,
    pub c: ArrayViewMut2<'c, T>,
}

impl<T: Element> Item<'_, '_, T> {
    fn flops(&self) -> f64 {
        let (m, k) = (self.a.nrows() as f64, self.a.ncols() as f64);
        match &self.b {
            Some(b) => 2.0 * m * k * b.ncols() as f64,
            None => m * m * k,
        }
    }

    /// The item's one BLAS call (and a Gram product's mirror copy).
    fn run(self, threads: usize) -> Result<()> {
        match self.b {
            Some(b) => blas::gemm(T::one(), self.a, b, T::zero(), self.c, threads),
            None => {
                let mut c = self.c;
                blas::gram_lower(self.a, c.view_mut(), threads)?;
                super::gram::mirror_diagonal(&mut c);
                Ok(())
            }
        }
    }
}

/// A batch's zeroed output of `count` items of `m × n`. `m·n` saturates: the allocation of
/// count × `usize::MAX` elements then fails as too large.
pub(crate) fn output<T: Element>(count: usize, m: usize, n: usize) -> Result<Array3<T>> {
    let len = m.saturating_mul(n);
    crate::alloc::zeros::<T>("batch output", count, len)?
        .into_shape_with_order((count, m, n))
        .map_err(|_| Error::DimensionTooLarge {
            what: "batch output m·n",
            value: len,
            limit: usize::MAX,
        })
}

/// Checks that item `index` of a batch can be multiplied, naming the item in the error.
pub(crate) fn check_item(
    op: &'static str,
    index: usize,
    (m, k): (usize, usize),
    (k2, n): (usize, usize),
) -> Result<()> {
    if k != k2 {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("item {index}: b with {k} rows (a[{index}] is {m}x{k})"),
            got: format!("b[{index}] of shape {k2}x{n}"),
        });
    }
    Ok(())
}

/// Checks that two batches have as many items.
pub(crate) fn check_counts(op: &'static str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("as many items in b as in a ({a})"),
            got: format!("{b} items in b"),
        });
    }
    Ok(())
}

/// Runs the items under `plan` (not `native`: see [`strided`]), each one BLAS call.
pub(crate) fn items<T: Element>(plan: &Plan, items: Vec<Item<'_, '_, T>>) -> Result<()> {
    let total: f64 = items.iter().map(Item::flops).sum();
    let plan = &plan.for_product(total);
    if plan.inline && !plan.strategy.pin && plan.strategy.kind != Kind::Hybrid {
        return plan.call_here(None, |t| items.into_iter().try_for_each(|item| item.run(t)));
    }
    let groups = group(items);
    collect(plan.tiles(groups, |group, threads| {
        group.into_iter().try_for_each(|item| item.run(threads))
    }))
    .map(|_| ())
}

/// Consecutive items in groups of at least [`GROUP_FLOPS`] (the last may be smaller).
fn group<'a, 'c, T: Element>(items: Vec<Item<'a, 'c, T>>) -> Vec<Vec<Item<'a, 'c, T>>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut flops = 0.0;
    for item in items {
        flops += item.flops();
        current.push(item);
        if flops >= GROUP_FLOPS {
            groups.push(std::mem::take(&mut current));
            flops = 0.0;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// The whole batch in one call of the library's batched GEMM, threaded by the library, under
/// `native`; [`Error::UnsupportedStrategy`] where the linked library has none.
pub(crate) fn strided<T: Element>(
    plan: &Plan,
    strategy: String,
    a: ArrayView3<'_, T>,
    b: ArrayView3<'_, T>,
    c: ArrayViewMut3<'_, T>,
) -> Result<()> {
    let (m, k) = (a.dim().1, a.dim().2);
    if let Some(reason) = blas::gemm_batch_refusal::<T>(m, b.dim().2, k) {
        return Err(Error::UnsupportedStrategy {
            strategy,
            backend: blas::BACKEND,
            reason,
        });
    }
    plan.native_call(|t| blas::gemm_batch(a, b, c, t))
}

/// The error of `native` on a batch given as separate views.
pub(crate) fn no_batch_views(strategy: String) -> Error {
    Error::UnsupportedStrategy {
        strategy,
        backend: blas::BACKEND,
        reason: "native runs a batch as one call of the library's batched GEMM, which takes the \
                 items of one strided 3-D array: use matmul_batch, or blocked or serial"
            .into(),
    }
}
