//! The execution plan of one call: who runs its tiles, with how many BLAS threads each, on which
//! threads, under which BLAS thread lease, in which order. This module is the one place that
//! decides it. A [`Plan`] is built once per call by [`Config`](crate::Config); kernels receive it
//! and never pick pools, read the environment or take leases themselves.
//!
//! | strategy | BLAS calls run on | threads per call | lease | parallel non-BLAS work (reductions, copies) |
//! |---|---|---|---|---|
//! | `serial` | the calling thread, in order | 1 | 1 | the calling thread |
//! | `native:T` | the calling thread, one call | T | T | a pool of T |
//! | `native:T+rayon` (`NativeOnRayon`) | the calling thread, one call whose T jobs run on rayon's pool | T | T | a pool of T |
//! | `blocked:W` | W workers through a work queue; the calling thread for a call too small to share | 1 | 1 | the same W workers |
//! | `hybrid:WxT` | W workers through a work queue | T | T (per call where the backend allows) | W×T workers |
//!
//! Workers are a rayblas pool ([`crate::pool`]), or, when the call comes from inside a rayon pool
//! that is not rayblas's own, that pool: a second pool would oversubscribe the cores, and work
//! that waits on a pool that cannot make progress could deadlock.
//!
//! # Seams for what comes next
//! - **Where tiles come from:** kernels read operands only through [`TileSource`], which hands
//!   out the rows (or columns) a tile needs. An in-memory view is the one source. Memory-mapped
//!   `.npy` files are streamed above the kernels instead ([`crate::mapped`]): each chunk is one
//!   ordinary call on an in-memory view or copy, since a tile's panel of a wide matrix can
//!   itself exceed memory and a range of k must be copied out of a C-order mapping to keep the
//!   resident set bounded.
//! - **Who runs them:** [`Runner`] says which threads run the work items. MPI ranks that own
//!   tiles are one more runner: each rank runs its share of the items with a local runner and
//!   the results meet through collectives in item order, so the combine stays fixed.

use crate::blas;
use crate::pool;
use crate::simd::Level;
use crate::strategy::{Kind, Resolved};
use crate::tiling::Cut;
use ndarray::{s, ArrayView2};
use rayon::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Where the rows of an operand come from: the seam for sources other than memory.
pub(crate) trait TileSource<T>: Sync {
    /// `(rows, cols)` of the whole operand.
    fn dim(&self) -> (usize, usize);
    /// Rows `start..start + len`, all columns: the panel one side of a tile covers.
    fn rows(&self, start: usize, len: usize) -> ArrayView2<'_, T>;
    /// Columns `start..start + len`, all rows.
    fn cols(&self, start: usize, len: usize) -> ArrayView2<'_, T>;
    /// The whole operand (for one natively threaded call).
    fn all(&self) -> ArrayView2<'_, T> {
        let (r, _) = self.dim();
        self.rows(0, r)
    }
}

impl<T: Sync> TileSource<T> for ArrayView2<'_, T> {
    fn dim(&self) -> (usize, usize) {
        ArrayView2::dim(self)
    }
    fn rows(&self, start: usize, len: usize) -> ArrayView2<'_, T> {
        self.slice(s![start..start + len, ..])
    }
    fn cols(&self, start: usize, len: usize) -> ArrayView2<'_, T> {
        self.slice(s![.., start..start + len])
    }
    fn all(&self) -> ArrayView2<'_, T> {
        self.view()
    }
}

/// Who runs a call's work items.
#[derive(Clone)]
pub(crate) enum Runner {
    /// The calling thread, items in order.
    CallingThread,
    /// A rayblas worker pool.
    Pool(Arc<ThreadPool>),
    /// The rayon pool the caller already runs in.
    CallersPool,
}

impl Runner {
    /// Runs `f` where this runner's threads can take the work it spawns.
    fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Runner::Pool(p) => p.install(f),
            Runner::CallingThread | Runner::CallersPool => f(),
        }
    }
}

/// How one call runs. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The strategy, resolved against the backend.
    pub strategy: Resolved,
    /// The SIMD level of the reduction kernels.
    pub level: Level,
    /// The call is too small to share among threads: its items and its reduction run on the
    /// calling thread (set by the kernel through [`Plan::for_product`] or
    /// [`Plan::for_reduction`]).
    pub inline: bool,
    /// Test-only fault injection: the item (in start order) of [`Plan::tiles`] that panics
    /// (0: also the one call of [`Plan::native_call`]).
    #[cfg(test)]
    pub panic_at_item: Option<usize>,
}

/// Products of fewer flops run on the calling thread: about 40 µs of one core, where handing
/// the work to a pool and waiting for its workers to wake costs 10–30 µs (issue 38: a 4×4
/// product took 30 µs under `blocked` against 0.06 µs for one CBLAS call).
pub(crate) const INLINE_PRODUCT_FLOPS: f64 = 2.0e6;

/// The work by which an m×k·k×n product is sized for sharing: its flops, 2mnk.
#[inline]
pub(crate) fn product_work(m: usize, n: usize, k: usize) -> f64 {
    2.0 * m as f64 * n as f64 * k as f64
}

/// The work by which the Gram product of an n×k `X` is sized for sharing: n²k (its flops
/// with the symmetry used).
#[inline]
pub(crate) fn gram_work(n: usize, k: usize) -> f64 {
    n as f64 * n as f64 * k as f64
}

/// Whether work of this size ([`product_work`], [`gram_work`]) is too small to share: it runs
/// on the calling thread ([`Plan::for_product`], and the small-call path).
#[inline]
pub(crate) fn too_small_to_share(work: f64) -> bool {
    work < INLINE_PRODUCT_FLOPS
}

/// Reductions of fewer elements run on the calling thread (512 KiB of f64: tens of µs).
pub(crate) const INLINE_REDUCTION_ELEMENTS: usize = 1 << 16;

impl Plan {
    pub(crate) fn new(strategy: Resolved, level: Level) -> Plan {
        Plan {
            strategy,
            level,
            inline: false,
            #[cfg(test)]
            panic_at_item: None,
        }
    }

    /// This plan for a product of `work` ([`product_work`], [`gram_work`]): one too small to
    /// share runs on the calling thread. The rule looks at the work only, never at the worker
    /// count, and moves the same items to another thread, so results stay the same bits.
    pub(crate) fn for_product(mut self, work: f64) -> Plan {
        self.inline = too_small_to_share(work);
        self
    }

    /// This plan for a reduction over `elements`: too few to share run on the calling thread.
    pub(crate) fn for_reduction(mut self, elements: usize) -> Plan {
        self.inline = elements < INLINE_REDUCTION_ELEMENTS;
        self
    }

    /// Whether a product with this plan and `cut` is one BLAS call on the calling thread: too
    /// small to share ([`Plan::for_product`]), its block rayblas's to choose (so its cut is one
    /// tile, [`Cut::for_product`]), under a strategy that runs small work on the calling thread
    /// (`blocked` or `serial`, unpinned). The kernels then make that call directly, without
    /// building the tiling of one tile: the same call, so the same bits.
    pub(crate) fn one_call(&self, cut: Cut) -> bool {
        let s = &self.strategy;
        self.inline
            && cut.block.is_none()
            && !s.pin
            && matches!(s.kind, Kind::Blocked | Kind::Serial)
    }

    /// Runs the one BLAS call `f(threads)` of a product for which [`Plan::one_call`] holds, on
    /// the calling thread, under the lease on one BLAS thread; `gemm`: the call is a GEMM of
    /// these m, n, k, small enough that the library runs it on one thread whatever its count,
    /// so it takes no lease ([`blas::gemm_needs_lease`]).
    pub(crate) fn call_here<R>(
        &self,
        gemm: Option<(usize, usize, usize)>,
        f: impl FnOnce(usize) -> R,
    ) -> R {
        let t = self.strategy.blas_threads;
        let needs = match gemm {
            Some((m, n, k)) if t == 1 => blas::gemm_needs_lease(m, n, k),
            _ => !blas::per_call_threads(),
        };
        let _lease = needs.then(|| blas::threads::lease(t));
        #[cfg(test)]
        if self.panic_at_item == Some(0) {
            panic!("injected fault in tile 0");
        }
        f(t)
    }

    /// Workers for tiles: the caller's own rayon pool when the call comes from inside one that
    /// is not rayblas's, else rayblas's pool of `size` (even of one: it may be pinned).
    fn tile_runner(&self, size: usize, pin: bool) -> Runner {
        if pool::in_foreign_pool() {
            Runner::CallersPool
        } else {
            Runner::Pool(pool::get(size, pin))
        }
    }

    /// Threads for parallel work that makes no BLAS call (reductions): the calling thread for
    /// one; the pool the caller runs in, if any; else rayblas's pool of `threads`.
    fn parallel_runner(&self, threads: usize) -> Runner {
        if threads <= 1 {
            Runner::CallingThread
        } else if rayon::current_thread_index().is_some() {
            Runner::CallersPool
        } else {
            Runner::Pool(pool::get(threads, self.strategy.pin))
        }
    }

    /// Threads that parallel reductions use under this strategy.
    fn parallel_threads(&self) -> usize {
        let s = &self.strategy;
        match s.kind {
            Kind::Serial => 1,
            Kind::Native => s.blas_threads,
            Kind::Blocked | Kind::Hybrid => s.total_threads(),
        }
    }

    /// Runs the one natively threaded BLAS call `f(threads)` with the library's count leased
    /// to `threads` for exactly its duration; on backends that thread through rayon, inside a
    /// pool with room for them.
    pub(crate) fn native_call<R: Send>(&self, f: impl FnOnce(usize) -> R + Send) -> R {
        let t = self.strategy.blas_threads;
        let _lease = (!blas::per_call_threads()).then(|| blas::threads::lease(t));
        #[cfg(test)]
        if self.panic_at_item == Some(0) {
            panic!("injected fault in tile 0");
        }
        if blas::CALL_THREADS_FROM_RAYON && t > 1 {
            Runner::Pool(pool::get(t, false)).install(|| f(t))
        } else {
            f(t)
        }
    }

    /// Runs `f(item, threads)` for every item that makes BLAS calls, under this strategy, and
    /// returns the results in item order whatever order they ran in. The library's thread count
    /// is leased once around the whole operation (where it is process-wide).
    pub(crate) fn tiles<I, R, F>(&self, items: Vec<I>, f: F) -> Vec<R>
    where
        I: Send,
        R: Send,
        F: Fn(I, usize) -> R + Sync + Send,
    {
        let t = self.strategy.blas_threads;
        let _lease = (!blas::per_call_threads()).then(|| blas::threads::lease(t));
        #[cfg(test)]
        let started = std::sync::atomic::AtomicUsize::new(0);
        self.each(items, |item| {
            #[cfg(test)]
            {
                let i = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if self.panic_at_item == Some(i) {
                    panic!("injected fault in tile {i}");
                }
            }
            f(item, t)
        })
    }

    /// [`Plan::tiles`], started largest first: the work queue then hands the small items to
    /// whoever finishes early, so the workers finish together (longest-processing-time order).
    /// Results still come back in item order, so a combine over them stays fixed.
    pub(crate) fn tiles_largest_first<I, R, F>(
        &self,
        items: Vec<I>,
        cost: impl Fn(&I) -> f64,
        f: F,
    ) -> Vec<R>
    where
        I: Send,
        R: Send,
        F: Fn(I, usize) -> R + Sync + Send,
    {
        let n = items.len();
        let mut order: Vec<(usize, I)> = items.into_iter().enumerate().collect();
        // Stable: equal costs keep item order.
        order.sort_by(|a, b| cost(&b.1).total_cmp(&cost(&a.1)));
        let (index, sorted): (Vec<usize>, Vec<I>) = order.into_iter().unzip();
        let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
        for (i, r) in index.into_iter().zip(self.tiles(sorted, f)) {
            out[i] = Some(r);
        }
        out.into_iter()
            .map(|r| r.expect("every item ran once"))
            .collect()
    }

    /// Runs `f` on every item of work that makes no BLAS call (copies), without a lease, on
    /// the strategy's workers (under `native`, on as many as the call had); results in item
    /// order.
    pub(crate) fn copies<I, R, F>(&self, items: Vec<I>, f: F) -> Vec<R>
    where
        I: Send,
        R: Send,
        F: Fn(I) -> R + Sync + Send,
    {
        if self.inline && !self.strategy.pin {
            return items.into_iter().map(f).collect();
        }
        match self.strategy.kind {
            Kind::Native => {
                let t = self.strategy.blas_threads;
                self.tile_runner(t, false)
                    .install(|| work_queue(items, t, &f))
            }
            _ => self.each(items, f),
        }
    }

    /// Runs a reduction kernel `f(parallel)`: on the strategy's threads when it has several
    /// (`parallel` true: the kernel may `rayon::join`), else on the calling thread.
    pub(crate) fn reduction<R: Send>(&self, f: impl FnOnce(bool) -> R + Send) -> R {
        if self.inline && !self.strategy.pin {
            return f(false);
        }
        let runner = self.parallel_runner(self.parallel_threads());
        let parallel = !matches!(runner, Runner::CallingThread);
        runner.install(|| f(parallel))
    }

    /// The items in order on the calling thread (serial, native), or through the work queue on
    /// the strategy's workers (blocked, hybrid).
    fn each<I, R, F>(&self, items: Vec<I>, f: F) -> Vec<R>
    where
        I: Send,
        R: Send,
        F: Fn(I) -> R + Sync + Send,
    {
        let s = &self.strategy;
        match s.kind {
            Kind::Serial | Kind::Native => items.into_iter().map(f).collect(),
            // Too little work to share, or one item: the calling thread runs the items in
            // order, as one worker would (one BLAS thread each, under the lease already taken),
            // without handing them to a pool and waiting for a worker to wake, which costs more
            // than a small product (see `for_product`). The same items in the same order, so
            // the same bits. Pinned workers keep their pool: `+pin` asks for pinned threads.
            Kind::Blocked if (self.inline || items.len() <= 1) && !s.pin => {
                items.into_iter().map(f).collect()
            }
            Kind::Blocked | Kind::Hybrid => {
                // Calls threaded through rayon need room for w×t threads in the pool.
                let size = if blas::CALL_THREADS_FROM_RAYON {
                    s.total_threads()
                } else {
                    s.workers
                };
                match self.tile_runner(size, s.pin) {
                    // Unpinned one-thread calls: the calling thread takes items itself beside
                    // w−1 tasks on the pool, still at most w at once, the same items in the same
                    // order, so the same bits. Handing all of them to the pool and sleeping left
                    // both woken workers on one core of two for the first milliseconds of a
                    // burst of calls (n=256: 690 µs a call against 355 with the caller taking
                    // part or pinned workers), as the scheduler places a woken thread beside
                    // its waker; a worker that finishes first then took the other's items.
                    // While another call uses the pools, this one queues there as before, so
                    // callers on many threads still share w workers, not w each.
                    Runner::Pool(p) if s.kind == Kind::Blocked && !s.pin => {
                        match CallerTakes::enter() {
                            Some(_alone) => work_queue_on(Some(&p), items, s.workers, &f),
                            None => p.install(|| work_queue(items, s.workers, &f)),
                        }
                    }
                    runner => runner.install(|| work_queue(items, s.workers, &f)),
                }
            }
        }
    }
}

/// The one call at a time, process-wide, whose calling thread takes items beside the pool's
/// workers (`Plan::each`); released on drop, a panic included.
struct CallerTakes;

static CALLER_TAKES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl CallerTakes {
    /// `Some` when no other call's caller is taking items now.
    fn enter() -> Option<CallerTakes> {
        CALLER_TAKES
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then_some(CallerTakes)
    }
}

impl Drop for CallerTakes {
    fn drop(&mut self) {
        CALLER_TAKES.store(false, Ordering::Release);
    }
}

/// How long a calling thread that ran out of items stays awake for the pool's tasks to finish
/// theirs (`work_queue_on`) before it sleeps on the scope until they do.
const CALLER_STAYS_AWAKE: std::time::Duration = std::time::Duration::from_micros(200);

/// Returns once `done()` holds or `at_most` has passed. Between checks the thread yields its
/// CPU (`sched_yield`) rather than spinning, so a thread waiting to run there, say a worker of
/// this very call on a busy machine, runs first.
fn stay_awake_until(done: impl Fn() -> bool, at_most: std::time::Duration) {
    let give_up = std::time::Instant::now() + at_most;
    while !done() && std::time::Instant::now() < give_up {
        std::thread::yield_now();
    }
}

/// Adds one to the counter when dropped, a panic's unwinding included.
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Runs `f` on every item with `workers` rayon tasks, each taking the next item in order until
/// none are left: items start in order, at most `workers` run at once, and a worker that
/// finishes early takes more. Results come back in item order.
fn work_queue<I: Send, R: Send>(
    items: Vec<I>,
    workers: usize,
    f: &(impl Fn(I) -> R + Sync),
) -> Vec<R> {
    work_queue_on(None, items, workers, f)
}

/// [`work_queue`], with the calling thread one of the `workers` takers when `pool` is given
/// (the others are tasks spawned into that pool, which the caller is outside of).
fn work_queue_on<I: Send, R: Send>(
    pool: Option<&ThreadPool>,
    items: Vec<I>,
    workers: usize,
    f: &(impl Fn(I) -> R + Sync),
) -> Vec<R> {
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let done = Mutex::new(Vec::with_capacity(n));
    // Neither lock is held while `f` runs, so a panic in `f` poisons neither; rayon re-raises
    // it when the scope ends.
    let take = || loop {
        let Some((i, item)) = queue.lock().unwrap_or_else(PoisonError::into_inner).next() else {
            break;
        };
        let r = f(item);
        done.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((i, r));
    };
    let takers = workers.min(n);
    match pool {
        Some(pool) => {
            // The caller is one taker; tasks on the pool are the others (none for no items).
            let tasks = takers.saturating_sub(1);
            // Tasks that have left `take`, a panic included.
            let left = AtomicUsize::new(0);
            pool.in_place_scope(|scope| {
                for _ in 0..tasks {
                    scope.spawn(|_| {
                        let _left = CountOnDrop(&left);
                        take();
                    });
                }
                take();
                // Wait awake for the tasks' last items, as OpenBLAS's own threaded calls do:
                // asleep on the scope's latch, the caller took about 20 µs to wake once they
                // were done (its virtual CPU halted), a third of a 128² product on 2 cores.
                stay_awake_until(|| left.load(Ordering::Acquire) == tasks, CALLER_STAYS_AWAKE);
            })
        }
        None => rayon::scope(|scope| {
            for _ in 0..takers {
                scope.spawn(|_| take());
            }
        }),
    }
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(done.len(), n, "every item ran");
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::work_queue;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A rayon pool of `threads` workers of the test's own.
    fn pool_of(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn work_queue_caps_concurrency_and_keeps_item_order() {
        let pool = pool_of(4);
        for workers in [1, 2, 3] {
            let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let out = pool.install(|| {
                work_queue((0..40).collect(), workers, &|i: usize| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                })
            });
            assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
            assert!(most.load(Ordering::SeqCst) <= workers, "{workers} workers");
        }
        assert!(work_queue(Vec::<u8>::new(), 2, &|i| i).is_empty());
    }

    /// With the calling thread (outside the pool) as one of the takers: still at most
    /// `workers` items at once, results in item order, and the caller takes items itself.
    #[test]
    fn the_calling_thread_takes_items_beside_the_pool() {
        let pool = pool_of(4);
        let caller = std::thread::current().id();
        for workers in [1, 2, 3] {
            let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let by_caller = AtomicUsize::new(0);
            let out = super::work_queue_on(Some(&pool), (0..40).collect(), workers, &|i: usize| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if std::thread::current().id() == caller {
                    by_caller.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
                running.fetch_sub(1, Ordering::SeqCst);
                i * 10
            });
            assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
            assert!(most.load(Ordering::SeqCst) <= workers, "{workers} workers");
            assert!(by_caller.load(Ordering::SeqCst) >= 1, "{workers} workers");
            if workers == 1 {
                assert_eq!(
                    by_caller.load(Ordering::SeqCst),
                    40,
                    "one taker: the caller"
                );
            }
        }
        assert!(super::work_queue_on(Some(&pool), Vec::<u8>::new(), 2, &|i| i).is_empty());
    }

    #[test]
    fn a_panic_in_a_pool_task_reaches_the_caller_taking_items_beside_it() {
        let pool = pool_of(2);
        let caller = std::thread::current().id();
        let pool_took_one = std::sync::atomic::AtomicBool::new(false);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            super::work_queue_on(Some(&pool), (0..8).collect(), 2, &|i: usize| {
                if std::thread::current().id() != caller {
                    pool_took_one.store(true, Ordering::SeqCst);
                    panic!("a pool task's item");
                }
                // The caller's items wait (bounded) for the pool's task to take one.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while !pool_took_one.load(Ordering::SeqCst) && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                i
            })
        }));
        let message = run.expect_err("the pool task's panic is raised in the caller");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"a pool task's item"));
    }

    #[test]
    fn the_caller_stays_awake_until_done_or_for_a_bounded_time() {
        // A bound no scheduler delay reaches, so that only the checks decide (with the real
        // 200 µs, a test thread descheduled between yields ran out of time first).
        let checks = std::cell::Cell::new(0);
        let long = std::time::Duration::from_secs(60);
        super::stay_awake_until(
            || {
                checks.set(checks.get() + 1);
                checks.get() == 3
            },
            long,
        );
        assert_eq!(checks.get(), 3, "returns at the first check that holds");
        let start = std::time::Instant::now();
        super::stay_awake_until(|| false, super::CALLER_STAYS_AWAKE);
        assert!(start.elapsed() >= super::CALLER_STAYS_AWAKE);
    }

    #[test]
    #[should_panic(expected = "item 3")]
    fn a_panic_in_an_item_reaches_the_caller() {
        work_queue((0..8).collect(), 2, &|i: usize| {
            assert!(i != 3, "item 3");
            i
        });
    }
}
