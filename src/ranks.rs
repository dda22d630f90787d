//! (feature `mpi`) MPI ranks that own tiles: processes as well as threads, and the way beyond
//! one machine. The guide, with measurements: `docs/mpi.md` in the repository.
//!
//! A call on [`OnRanks`] cuts the work exactly as the single-process call does (the same tiles
//! and calls, fixed by the shape, the block and [`Config::balance_for`]), gives each rank a
//! share of the calls, and runs that share with the rank's own strategy (`blocked`, `native`,
//! `serial` or `hybrid`) through the same execution plan as any call: ranks are one more layer
//! of *who runs the tiles*, not a second set of kernels. The results meet on rank 0 through MPI
//! collectives and are combined there in call order, through the same fixed tree.
//!
//! - **Data:** every rank makes or reads only the rows its calls need, from a [`RowSource`]:
//!   [`Uniform`] (the seeded random matrix, the same numbers for any rank count), an in-memory
//!   view, a `.npy` file read by positioned reads ([`NpyReader`](crate::mapped::NpyReader),
//!   feature `npy`: nothing mapped, so a file larger than a rank may map runs when its share
//!   fits) or a memory-mapped one read by row range. The input is never gathered.
//! - **Gram products** (`gram_reduce`, `gram`, `gram_to_npy`) run a ring of row panels, one per
//!   rank, so that each rank holds about 3/p of X (see [`OnRanks::gram_reduce`] and
//!   `docs/mpi.md`); **reductions** (`reduce`) deal bands of rows to the ranks by cost, largest
//!   first, each to the rank with the least work so far (ties to the lower rank).
//! - **Products of two matrices** (`matmul`, `matmul_reduce`) run SUMMA instead: the product's
//!   tiles in contiguous blocks on a 2-D grid of ranks, the inner dimension in panels of the
//!   block's width, each panel of A broadcast along a grid row and each panel of B down a grid
//!   column from the one rank that made it (see [`OnRanks::matmul`]).
//! - **Results:** scalar results (`gram_reduce`, `matmul_reduce`, `reduce`) are combined on
//!   rank 0 and broadcast, so every rank returns the same value. A gathered output (`gram`,
//!   `matmul`) is held by rank 0 alone: it returns `Some(matrix)`, the other ranks `None`.
//! - **Reproducible:** for a given rank count a result is bitwise the same run after run, and
//!   the same for every local worker count. The Gram products make one process's calls and
//!   combine them in its order, so they equal one process's with the same calls: `gram` makes
//!   one per tile (`calls=tiles`, for every rank count), `gram_reduce` one process's default
//!   strips where its panels can hold whole strips and one per tile beyond
//!   ([`OnRanks::gram_reduce_calls`] says which), so the same bits for every rank count that
//!   makes the same calls. SUMMA's blocks,
//!   and so the shapes of its BLAS calls, change with the grid, so the products of two matrices
//!   agree across rank counts within rounding (the tests hold them to 1e-12 relative in f64,
//!   2e-5 in f32, each entry against one process). With the default cut,
//!   machines with different physical core counts cut differently, so give
//!   [`Config::balance_for`] the same count everywhere. A thin Gram product (few rows, a long
//!   k), which a single process splits over k, runs here as tiles, so its last bits differ
//!   from the single-process result (within the usual rounding, about `k·ε` relative).
//! - **Failures:** a call that fails on one rank fails on every rank, with that rank's error
//!   there and [`Error::Mpi`] naming it elsewhere: no rank is left waiting in a collective.
//!
//! MPI is called only from the thread that runs the operation, which must be the thread that
//! initialised MPI ([`Ranks::init`] asks for `MPI_THREAD_FUNNELED`); the tiles themselves run
//! on the rank's worker threads as usual.
//!
//! ```no_run
//! use rayblas::ranks::{Ranks, Uniform};
//! use rayblas::{BlockShape, Config, Reduction};
//!
//! // Under `mpirun -np 2 ./program`:
//! let ranks = Ranks::init()?;
//! let x = Uniform { rows: 10_000, cols: 10_000, seed: 0 };
//! let cfg = Config::new().block(BlockShape::square(1000)?);
//! let s: f64 = cfg.on(&ranks).gram_reduce(&x, Reduction::Sum)?;
//! let y = Uniform { rows: 10_000, cols: 10_000, seed: 1 };
//! let c = cfg.on(&ranks).matmul::<f64>(&x, &y)?;   // Some(x·y) on rank 0
//! if ranks.is_root() {
//!     let t = ranks.last_traffic();
//!     println!("{s} ({:?} computing, {:?} communicating)", t.compute, t.communicate);
//! }
//! # Ok::<(), rayblas::Error>(())
//! ```

use crate::element::Element;
use crate::error::{Error, Result};
use crate::kernels::gram::mirror_lower;
use crate::kernels::matmul::{balanced_block, matmul_into};
use crate::kernels::reduce::{self, combine_fixed, Reduction};
use crate::plan::TileSource;
use crate::tiling::{Calls, Strip, Tiling};
use crate::Config;
use mpi::datatype::PartitionMut;
use mpi::topology::{Color, SimpleCommunicator};
use mpi::traits::*;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::time::{Duration, Instant};

mod files;
mod ring;

/// Elements per band of a distributed reduction: the unit of work a rank makes (or reads) and
/// reduces at a time (8 MiB of f64).
const BAND_ELEMENTS: usize = 1 << 20;

/// The MPI world rayblas runs on: every rank of a communicator.
///
/// Holds MPI open while it lives when it started it ([`Ranks::init`]); MPI is finalised when
/// it is dropped.
pub struct Ranks {
    world: SimpleCommunicator,
    traffic: Cell<Traffic>,
    /// Panel buffers (`Spares<T>`) kept from one call to the next: see
    /// [`Ranks::release_buffers`].
    spares: RefCell<Option<Box<dyn Any>>>,
    /// Finalises MPI on drop, when this value initialised it. Declared last: dropped after
    /// the communicator.
    _universe: Option<mpi::environment::Universe>,
}

impl std::fmt::Debug for Ranks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ranks")
            .field("rank", &self.rank())
            .field("size", &self.size())
            .finish()
    }
}

/// Where the time and bytes of the last call on [`OnRanks`] went, on this rank.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Traffic {
    /// Making or reading this rank's rows.
    pub load: Duration,
    /// Running this rank's share of the calls (and, on rank 0, combining and assembling).
    pub compute: Duration,
    /// In MPI collectives, waiting for other ranks included.
    pub communicate: Duration,
    /// Bytes this rank sent, plus on rank 0 the bytes it received, through collectives.
    pub bytes: u64,
    /// The calls (or bands) this rank ran, out of all of them.
    pub calls: usize,
}

impl Ranks {
    /// Initialises MPI (`MPI_THREAD_FUNNELED`) and takes its world communicator: under
    /// `mpirun`, every rank it started; run directly, a world of one.
    ///
    /// # Errors
    /// [`Error::Mpi`] if MPI was already initialised in this process (use
    /// [`Ranks::with_communicator`] then) or offers less than funnelled threading.
    pub fn init() -> Result<Ranks> {
        let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or_else(|| {
                Error::Mpi(
                    "MPI is already initialised in this process: pass its communicator to \
                     Ranks::with_communicator"
                        .into(),
                )
            })?;
        if threading < mpi::Threading::Funneled {
            return Err(Error::Mpi(format!(
                "the MPI library offers only {threading:?} threading; rayblas needs Funneled"
            )));
        }
        Ok(Ranks {
            world: universe.world(),
            traffic: Cell::new(Traffic::default()),
            spares: RefCell::new(None),
            _universe: Some(universe),
        })
    }

    /// Runs on the ranks of `comm`, a communicator of an MPI the caller initialised (with at
    /// least `MPI_THREAD_FUNNELED`) and finalises.
    pub fn with_communicator(comm: SimpleCommunicator) -> Ranks {
        Ranks {
            world: comm,
            traffic: Cell::new(Traffic::default()),
            spares: RefCell::new(None),
            _universe: None,
        }
    }

    /// This process's rank, from 0.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Whether this is rank 0, which holds gathered outputs.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Frees the panel buffers this rank keeps between calls.
    ///
    /// The calls on ranks receive other ranks' panels into buffers: a Gram product two of
    /// the largest panel (about 1/p of the input each), SUMMA one of A and one of B per panel
    /// of k, and its own panels copied. The ranks keep those buffers for the next call, which
    /// reuses the ones large enough for it when its element type is the same; a call frees
    /// the kept buffers the call before it did not take, so a rank keeps at most the buffers
    /// of its last two calls. Fresh memory costs page faults and zeroing on its first write,
    /// on the core the products need: SUMMA at n=4000 on 2 ranks made about 250 MB of it per
    /// rank and call, and ran at 1.04–1.07× one process against 0.99–1.00× with kept buffers.
    /// (On a virtual machine here, memory idle for a few seconds cost 0.5 GB/s to write
    /// again.) Call this when no call on ranks follows, to give that memory back; dropping the
    /// `Ranks` frees it too.
    pub fn release_buffers(&self) {
        self.spares.borrow_mut().take();
    }

    /// Starts a call that takes buffers of `T`: the buffers the last call gave back become
    /// the ones to take, and those the last call did not take are freed, so the kept memory
    /// stays within two calls' buffers however the shapes change.
    pub(crate) fn start_call<T: Element>(&self) {
        let mut kept = self.spares.borrow_mut();
        match kept.as_mut().and_then(|k| k.downcast_mut::<Spares<T>>()) {
            Some(s) => s.kept = std::mem::take(&mut s.returned),
            None => *kept = None,
        }
    }

    /// A kept buffer of at least `len` elements of `T` (the smallest that fits), its length
    /// set to `len`; `None` when there is none. Its contents are stale: the caller overwrites
    /// what it reads.
    pub(crate) fn spare<T: Element>(&self, len: usize) -> Option<Vec<T>> {
        let mut kept = self.spares.borrow_mut();
        let s = kept.as_mut()?.downcast_mut::<Spares<T>>()?;
        let fits = |pool: &Vec<Vec<T>>| {
            (0..pool.len())
                .filter(|&i| pool[i].capacity() >= len)
                .min_by_key(|&i| pool[i].capacity())
        };
        let mut v = match fits(&s.kept) {
            Some(i) => s.kept.swap_remove(i),
            None => s.returned.swap_remove(fits(&s.returned)?),
        };
        // Within the capacity, so no allocation; the tail the zeros fill was written before.
        v.resize(len, T::zero());
        Some(v)
    }

    /// A kept buffer of rows × cols elements, else a new one of zeros (`alloc::zeros`, whose
    /// error names `what`, a size past memory included).
    pub(crate) fn buffer<T: Element>(
        &self,
        what: &'static str,
        rows: usize,
        cols: usize,
    ) -> Result<Vec<T>> {
        if let Some(v) = rows.checked_mul(cols).and_then(|len| self.spare(len)) {
            return Ok(v);
        }
        Ok(crate::alloc::zeros::<T>(what, rows, cols)?
            .into_raw_vec_and_offset()
            .0)
    }

    /// [`Ranks::buffer`] as a row-major rows × cols array.
    pub(crate) fn array<T: Element>(
        &self,
        what: &'static str,
        rows: usize,
        cols: usize,
    ) -> Result<Array2<T>> {
        let v = self.buffer(what, rows, cols)?;
        Ok(Array2::from_shape_vec((rows, cols), v).expect("rows × cols elements"))
    }

    /// Keeps `v` for a later call (buffers of another element type are freed first).
    pub(crate) fn give_back<T: Element>(&self, v: Vec<T>) {
        if v.capacity() == 0 {
            return;
        }
        let mut kept = self.spares.borrow_mut();
        match kept.as_mut().and_then(|k| k.downcast_mut::<Spares<T>>()) {
            Some(s) => s.returned.push(v),
            None => {
                *kept = Some(Box::new(Spares {
                    kept: Vec::new(),
                    returned: vec![v],
                }))
            }
        }
    }

    /// Where the last call on [`OnRanks`] spent its time, on this rank.
    pub fn last_traffic(&self) -> Traffic {
        self.traffic.get()
    }

    /// The sum of `value` over all ranks, on every rank (CPU seconds, bytes).
    pub fn sum_over_ranks(&self, value: f64) -> f64 {
        let mut out = 0.0;
        self.world
            .all_reduce_into(&value, &mut out, mpi::collective::SystemOperation::sum());
        out
    }

    /// Waits until every rank gets here (for timing several ranks from one start).
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// The largest of `value` over all ranks, on every rank (for a wall time: the slowest
    /// rank's).
    pub fn max_over_ranks(&self, value: f64) -> f64 {
        let mut out = 0.0;
        self.world
            .all_reduce_into(&value, &mut out, mpi::collective::SystemOperation::max());
        out
    }

    /// Every rank's `values` (any length each), concatenated in rank order, on every rank: for
    /// results each rank makes of its own share (a check's partial sums, its rows' products).
    ///
    /// # Errors
    /// [`Error::DimensionTooLarge`] on every rank alike if the ranks give more values in all
    /// than one MPI call places (2³¹ − 1).
    pub fn all_concat(&self, values: &[f64]) -> Result<Vec<f64>> {
        let p = self.size();
        let mut lens = vec![0u64; p];
        self.world
            .all_gather_into(&(values.len() as u64), &mut lens[..]);
        let limit = mpi::Count::MAX as u64;
        let total = lens.iter().fold(0u64, |t, &l| t.saturating_add(l));
        if total > limit {
            return Err(Error::DimensionTooLarge {
                what: "values all ranks give all_concat",
                value: usize::try_from(total).unwrap_or(usize::MAX),
                limit: limit as usize,
            });
        }
        // The total below 2³¹: every count and displacement fits an MPI count.
        let lens: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
        let counts: Vec<mpi::Count> = lens.iter().map(|&l| l as mpi::Count).collect();
        let displs: Vec<mpi::Count> = offsets(&lens).iter().map(|&o| o as mpi::Count).collect();
        let total = total as usize;
        let mut all = vec![0.0; total];
        let mut partition = PartitionMut::new(&mut all[..], counts, displs);
        self.world.all_gather_varcount_into(values, &mut partition);
        Ok(all)
    }
}

/// Where a rank gets the rows of an operand it needs: the seam that keeps the input from ever
/// being gathered on one rank.
pub trait RowSource<T: Element> {
    /// `(rows, cols)` of the whole operand.
    fn dim(&self) -> (usize, usize);
    /// Rows `range`, all columns.
    ///
    /// # Errors
    /// Whatever making or reading them can fail with (memory, a file).
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>>;
}

/// The seeded random matrix of [`bench::uniform`](crate::bench::uniform), made by row: each
/// rank makes only its rows, and they are the same numbers whatever the rank count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uniform {
    /// Rows of the whole matrix.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The seed.
    pub seed: u64,
}

impl<T: Element> RowSource<T> for Uniform {
    fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        // Checked before making them: rows beyond the address space are an error, not an abort.
        let bytes = (range.len() as u128) * (self.cols as u128) * std::mem::size_of::<T>() as u128;
        if bytes > isize::MAX as u128 {
            return Err(Error::OutOfMemory {
                what: "rank's rows",
                rows: range.len(),
                cols: self.cols,
                bytes,
            });
        }
        Ok(crate::bench::uniform_rows::<T>(range, self.cols, self.seed).into())
    }
}

/// A matrix every rank already holds: its rows are views, not copies.
impl<T: Element> RowSource<T> for ArrayView2<'_, T> {
    fn dim(&self) -> (usize, usize) {
        ArrayView2::dim(self)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        Ok(self.slice(s![range, ..]).into())
    }
}

/// A memory-mapped `.npy` file: a rank's rows are read from the mapping as the calls touch
/// them (in a C-order file, only their pages).
#[cfg(feature = "npy")]
impl<T: Element> RowSource<T> for crate::mapped::Mapped<'_, T> {
    fn dim(&self) -> (usize, usize) {
        crate::mapped::Mapped::dim(self)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        Ok(self.view().slice_move(s![range, ..]).into())
    }
}

/// A `.npy` file read by positioned reads: a rank reads only the rows it asks for, and maps
/// nothing, so a file larger than a rank may map (`ulimit -v`) still runs when its share fits.
#[cfg(feature = "npy")]
impl<T: Element> RowSource<T> for crate::mapped::NpyReader<T> {
    fn dim(&self) -> (usize, usize) {
        crate::mapped::NpyReader::dim(self)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        let cols = crate::mapped::NpyReader::dim(self).1;
        Ok(self.read(range, 0..cols)?.into())
    }
}

/// The owner of each item: items by cost, largest first (ties in item order), each to the rank
/// with the least cost so far (ties to the lower rank).
fn owners(costs: &[f64], ranks: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]));
    let mut load = vec![0.0_f64; ranks.max(1)];
    let mut owner = vec![0; costs.len()];
    for i in order {
        let (r, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least one rank");
        owner[i] = r;
        load[r] += costs[i];
    }
    owner
}

/// The panel buffers of `T` a [`Ranks`] keeps: those the last call gave back, and those the
/// call before gave back that the last one did not take ([`Ranks::start_call`]).
struct Spares<T> {
    kept: Vec<Vec<T>>,
    returned: Vec<Vec<T>>,
}

/// A [`Config`] whose calls run on MPI ranks. Made by [`Config::on`].
#[derive(Debug, Clone, Copy)]
pub struct OnRanks<'r> {
    config: Config,
    ranks: &'r Ranks,
}

impl Config {
    /// Runs this configuration's calls on `ranks`: each rank runs its share with this
    /// configuration's strategy. Every rank must make the same calls in the same order.
    pub fn on(self, ranks: &Ranks) -> OnRanks<'_> {
        OnRanks {
            config: self,
            ranks,
        }
    }
}

/// How often the thread that owns MPI asks it to progress transfers while products compute on
/// other threads. (Every 200 µs made two ranks of one thread on two cores 18 % slower than one
/// process of two threads on a Gram product at n=4000: the wake-ups took the cores.)
const POLL: Duration = Duration::from_millis(2);

/// Runs `compute` on a thread of its own while this thread, the one MPI is called from, asks
/// MPI every [`POLL`] to progress `requests` (non-blocking transfers need progress calls to
/// move); then waits for those still open. Returns `compute`'s result, its time, and the
/// time spent waiting after it.
fn overlap<'a, T, S, R>(
    mut requests: Vec<mpi::request::Request<'a, [T], S>>,
    compute: impl FnOnce() -> R + Send,
) -> (R, Duration, Duration)
where
    T: 'a,
    S: mpi::request::Scope<'a> + Copy,
    R: Send,
{
    let started = Instant::now();
    let result = std::thread::scope(|s| {
        let job = s.spawn(compute);
        // Short products (small shapes, thin panels) end in microseconds: the interval starts
        // short and doubles up to POLL, so they do not wait out a whole one.
        let mut interval = Duration::from_micros(20);
        while !job.is_finished() && !requests.is_empty() {
            requests = requests.drain(..).filter_map(|r| r.test().err()).collect();
            std::thread::sleep(interval);
            interval = (interval * 2).min(POLL);
        }
        job.join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let computed = started.elapsed();
    let started = Instant::now();
    for r in requests {
        r.wait();
    }
    (result, computed, started.elapsed())
}

/// What one rank did for a call, before the results meet.
struct Share<V> {
    /// This rank's values, for its items in item order (or its error).
    values: Result<V>,
    owner: Vec<usize>,
}

impl OnRanks<'_> {
    /// The fused Gram product reduced, `r(X·Xᵀ)`, for an n×k X from `x`, with the product
    /// never stored, each rank holding about 3/p of X: row panels passed around a ring of
    /// ranks (see the [module docs](self)), the values combined on rank 0 in call order. Every
    /// rank returns the value: the bits of [`Config::gram_reduce`] with the calls
    /// [`OnRanks::gram_reduce_calls`] names and the same block and balance, so the same bits
    /// for any rank count that makes the same calls.
    ///
    /// # Errors
    /// As [`Config::gram_reduce`]; [`Error::Mpi`] when another rank failed; errors of `x`.
    pub fn gram_reduce<T: Element>(&self, x: &impl RowSource<T>, r: Reduction) -> Result<T> {
        self.ring_gram_reduce(x, r)
    }

    /// The calls [`OnRanks::gram_reduce`] makes for an X of `n` rows on these ranks: the
    /// configured ones (by default strips of up to 1024 columns) when each rank's panel can be
    /// whole groups of the tile rows one call spans, with a group for every rank; else
    /// [`Calls::Tiles`](crate::Calls), one call per tile, which no panel boundary cuts. One
    /// process with these calls (and the same block and balance) gives the same bits:
    ///
    /// ```no_run
    /// use rayblas::ranks::{Ranks, Uniform};
    /// use rayblas::{BlockShape, Config, Reduction};
    ///
    /// // Under `mpirun -np 2 ./program`:
    /// let ranks = Ranks::init()?;
    /// let cfg = Config::new().block(BlockShape::square(500)?);
    /// let x = Uniform { rows: 4000, cols: 4000, seed: 7 };
    /// let s: f64 = cfg.on(&ranks).gram_reduce(&x, Reduction::Sum)?;
    /// if ranks.is_root() {
    ///     let whole = rayblas::bench::uniform::<f64>(4000, 4000, 7);
    ///     let one = cfg.calls(cfg.on(&ranks).gram_reduce_calls(4000));
    ///     assert_eq!(s.to_bits(), one.gram_reduce(&whole, Reduction::Sum)?.to_bits());
    /// }
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    pub fn gram_reduce_calls(&self, n: usize) -> Calls {
        ring::reduce_ring_cut(self.config.cut(), n, self.ranks.size())
            .0
            .calls
    }

    /// The Gram matrix `X·Xᵀ` of an n×k X from `x`: its lower triangle's tiles computed by the
    /// ring (each rank holding about 3/p of X), each rank's tiles sent to rank 0, which
    /// assembles and mirrors them. Rank 0 returns `Some(G)`, the others `None`: the bits of
    /// [`Config::gram`] with [`Calls::Tiles`](crate::Calls) and the same block and balance.
    ///
    /// Rank 0 holds G (n² elements) and, while it receives, the lower triangle's tiles again:
    /// for a product larger than one rank, write it to a file with
    /// [`OnRanks::gram_to_npy`] instead.
    ///
    /// # Errors
    /// As [`Config::gram`]; [`Error::Mpi`] when another rank failed or a rank's part exceeds
    /// MPI's count limit (2³¹−1 elements); errors of `x`.
    pub fn gram<T: Element>(&self, x: &impl RowSource<T>) -> Result<Option<Array2<T>>> {
        let plan = self.config.execution()?;
        let (n, _) = x.dim();
        let g = self.ring_gram(x)?;
        if let Some((r, &c)) = g
            .counts
            .iter()
            .enumerate()
            .find(|(_, &c)| c > mpi::Count::MAX as usize)
        {
            return Err(Error::Mpi(format!(
                "rank {r}'s part of the {n}x{n} Gram matrix is {c} elements, beyond MPI's \
                 count limit of {}: use more ranks, or write it to a file (gram_to_npy)",
                mpi::Count::MAX
            )));
        }
        let share = Share {
            values: g.values,
            owner: g.plan.owner.clone(),
        };
        let Some(parts) = self.gather(share, &g.counts)? else {
            return Ok(None);
        };
        let start = Instant::now();
        let mut out = crate::alloc::zeros::<T>("Gram matrix", n, n);
        if let Ok(out) = out.as_mut() {
            place_parts(out.view_mut(), &g.calls, &g.plan.owner, &g.counts, &parts);
            drop(parts);
            mirror_lower(out.view_mut(), &g.tiling, &plan);
        }
        self.add_compute(start.elapsed());
        out.map(Some)
    }

    /// `r(X)` over all elements of X from `x`, in bands of rows shared among the ranks, each
    /// band reduced with the rank's strategy, the bands' values combined in band order. Every
    /// rank returns the value.
    ///
    /// # Errors
    /// As [`Config::sum`] and the other reductions (an empty X has no max or min);
    /// [`Error::Mpi`] when another rank failed; errors of `x`.
    pub fn reduce<T: Element>(&self, x: &impl RowSource<T>, r: Reduction) -> Result<T> {
        let plan = self.config.execution()?;
        let (rows, cols) = x.dim();
        reduce::defined_over(r, rows.saturating_mul(cols))?;
        let band = (BAND_ELEMENTS / cols.max(1)).max(1);
        let bands: Vec<Range<usize>> = (0..rows)
            .step_by(band)
            .map(|b| b..(b + band).min(rows))
            .collect();
        let costs: Vec<f64> = bands.iter().map(|b| b.len() as f64).collect();
        let owner = owners(&costs, self.ranks.size());
        let me = self.ranks.rank();
        let mut traffic = Traffic::default();
        let mut values = Ok(Vec::new());
        for (b, _) in bands.iter().zip(&owner).filter(|(_, &o)| o == me) {
            let start = Instant::now();
            let rows = match x.rows(b.clone()) {
                Ok(rows) => rows,
                Err(e) => {
                    values = Err(e);
                    break;
                }
            };
            traffic.load += start.elapsed();
            let start = Instant::now();
            let v = reduce::full_under(&plan, &rows.view(), r);
            traffic.compute += start.elapsed();
            traffic.calls += 1;
            if let Ok(vs) = values.as_mut() {
                vs.push(v);
            }
        }
        self.ranks.traffic.set(traffic);
        self.combine_scalars(Share { values, owner }, r)
    }

    /// The product reduced, `r(A·B)`, for an m×k A and a k×n B, with the product never
    /// gathered: SUMMA on a 2-D grid of ranks (see [`OnRanks::matmul`]); each rank reduces its
    /// block of the product tile by tile, and rank 0 combines the tiles' values in tile order.
    /// Every rank returns the value.
    ///
    /// # Errors
    /// As [`Config::matmul_reduce`]; [`Error::Mpi`] when another rank failed; errors of the
    /// sources.
    pub fn matmul_reduce<T: Element>(
        &self,
        a: &impl RowSource<T>,
        b: &impl RowSource<T>,
        r: Reduction,
    ) -> Result<T> {
        let (m, n) = (a.dim().0, b.dim().1);
        crate::kernels::check_product("matmul_reduce", a.dim(), b.dim())?;
        reduce::defined_over(r, m.saturating_mul(n))?;
        let plan = self.config.execution()?;
        let grid = Grid::new(self.ranks, m, n, self.config.cut());
        let block = self.summa(&grid, a, b);
        let start = Instant::now();
        let tiles = grid.my_tiles();
        let values = block.map(|c| {
            let (r0, c0) = (grid.rows.start, grid.cols.start);
            let values = tiles
                .iter()
                .map(|t| {
                    let v = c.slice(s![
                        t.row0 - r0..t.row0 - r0 + t.rows,
                        t.col0 - c0..t.col0 - c0 + t.cols
                    ]);
                    reduce::full_under(&plan, &v, r)
                })
                .collect::<Vec<T>>();
            self.ranks.give_back(c.into_raw_vec_and_offset().0);
            values
        });
        self.add_compute(start.elapsed());
        // Each rank's tiles, in tile order; rank 0 puts them back in the order of the whole
        // grid before combining.
        let owner = grid.tile_owners();
        self.combine_scalars(Share { values, owner }, r)
    }

    /// The product `A·B` of an m×k A and a k×n B, by SUMMA on a 2-D grid of ranks: the
    /// product's tiles are dealt to a grid of pr × pc ranks in contiguous bands of tile rows and
    /// columns; the inner dimension goes in panels of the block's width, each panel of A held
    /// by one rank of each grid row and broadcast along it, each panel of B by one rank of each
    /// grid column and broadcast down it, and every rank adds the panel's product to its block
    /// with its own strategy. Each rank makes only its panels of A and B. Rank 0 gathers the
    /// blocks and returns `Some(C)`, the others `None`.
    ///
    /// The panels of k are the same for every grid, so the product is added up in the same
    /// order whatever the rank count; it differs from one process's (one call over all of k) by
    /// rounding.
    ///
    /// # Errors
    /// As [`Config::matmul`]; [`Error::Mpi`] when another rank failed or a rank's block
    /// exceeds MPI's count limit (2³¹−1 elements); errors of the sources.
    pub fn matmul<T: Element>(
        &self,
        a: &impl RowSource<T>,
        b: &impl RowSource<T>,
    ) -> Result<Option<Array2<T>>> {
        let (m, n) = (a.dim().0, b.dim().1);
        crate::kernels::check_product("matmul", a.dim(), b.dim())?;
        let grid = Grid::new(self.ranks, m, n, self.config.cut());
        let counts = grid.block_sizes();
        if let Some((r, &c)) = counts
            .iter()
            .enumerate()
            .find(|(_, &c)| c > mpi::Count::MAX as usize)
        {
            return Err(Error::Mpi(format!(
                "rank {r}'s block of the {m}x{n} product is {c} elements, beyond MPI's count \
                 limit of {}: use more ranks",
                mpi::Count::MAX
            )));
        }
        let block = self.summa(&grid, a, b);
        // Row-major (made so by `summa`), so the raw vector is the block in order.
        let values = block.map(|c| c.into_raw_vec_and_offset().0);
        let owner = Vec::new();
        let Some(parts) = self.gather(Share { values, owner }, &counts)? else {
            return Ok(None);
        };
        let start = Instant::now();
        let mut c = crate::alloc::zeros::<T>("product", m, n);
        if let Ok(c) = c.as_mut() {
            grid.place_blocks(c.view_mut(), &parts);
        }
        self.add_compute(start.elapsed());
        c.map(Some)
    }

    /// `view` copied into a row-major array in a kept buffer where one fits.
    fn owned<T: Element>(&self, view: ArrayView2<'_, T>) -> Result<Array2<T>> {
        let (rows, cols) = view.dim();
        let mut out = self
            .ranks
            .array::<T>("rank's copy of its own panel", rows, cols)?;
        out.assign(&view);
        Ok(out)
    }

    /// This rank's block of `A·B` by SUMMA over `grid` (see [`OnRanks::matmul`]), or the
    /// error this rank met (kept for the collectives that follow to report on every rank).
    /// A rank that fails goes on taking part in the broadcasts, with zeros.
    fn summa<T: Element>(
        &self,
        grid: &Grid,
        a: &impl RowSource<T>,
        b: &impl RowSource<T>,
    ) -> Result<Array2<T>> {
        self.ranks.start_call::<T>();
        let mut error: Option<Error> = None;
        let plan = self.config.execution()?;
        let cut = self.config.cut();
        let k = a.dim().1;
        let (rows, cols) = (grid.rows.len(), grid.cols.len());
        let mut traffic = Traffic {
            calls: grid.panels(k).len(),
            ..Traffic::default()
        };
        // This rank's panels: A's rows of its grid row at the panels its grid column holds,
        // B's columns of its grid column at the panels its grid row holds.
        let start = Instant::now();
        let mut own_a: Vec<(usize, Array2<T>)> = Vec::new();
        let mut own_b: Vec<(usize, Array2<T>)> = Vec::new();
        let panels = grid.panels(k);
        if panels
            .iter()
            .enumerate()
            .any(|(p, _)| p % grid.pc == grid.j)
        {
            match a.rows(grid.rows.clone()) {
                Ok(rows_a) => {
                    for (p, kp) in panels
                        .iter()
                        .enumerate()
                        .filter(|(p, _)| p % grid.pc == grid.j)
                    {
                        let panel = rows_a.slice(s![.., kp.clone()]);
                        match self.owned(panel) {
                            Ok(panel) => own_a.push((p, panel)),
                            Err(e) => {
                                error.get_or_insert(e);
                            }
                        }
                    }
                }
                Err(e) => error = Some(e),
            }
        }
        for (p, kp) in panels
            .iter()
            .enumerate()
            .filter(|(p, _)| p % grid.pr == grid.i)
        {
            match b.rows(kp.clone()) {
                Ok(rows_b) => {
                    let panel = rows_b.slice(s![.., grid.cols.clone()]);
                    match self.owned(panel) {
                        Ok(panel) => own_b.push((p, panel)),
                        Err(e) => {
                            error.get_or_insert(e);
                        }
                    }
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        traffic.load = start.elapsed();
        // A kept buffer where one fits: the first panel's product overwrites it (β = 0), and
        // with no panel (k = 0) it is zeroed here.
        let mut c = match self
            .ranks
            .array::<T>("rank's block of the product", rows, cols)
        {
            Ok(c) => c,
            Err(e) => {
                error.get_or_insert(e);
                Array2::zeros((0, 0))
            }
        };
        if panels.is_empty() {
            c.fill(T::zero());
        }
        // Panel p's pieces: this rank's own, or buffers to receive them into (kept ones where
        // they fit; where none can be had, zeros of the panel's shape, as before, to take part
        // in the broadcast with, and the error fails the call like any other).
        let mut take = |p: usize, error: &mut Option<Error>| {
            let kp = panels[p].len();
            let mut receive = |r: usize, c: usize| match self.ranks.array::<T>(
                "rank's buffer for a broadcast panel",
                r,
                c,
            ) {
                Ok(panel) => panel,
                Err(e) => {
                    error.get_or_insert(e);
                    Array2::zeros((r, c))
                }
            };
            let pa = match own_a.iter().position(|(q, _)| *q == p) {
                Some(i) => own_a.swap_remove(i).1,
                None => receive(rows, kp),
            };
            let pb = match own_b.iter().position(|(q, _)| *q == p) {
                Some(i) => own_b.swap_remove(i).1,
                None => receive(kp, cols),
            };
            (pa, pb)
        };
        let roots = |p: usize| ((p % grid.pc) as mpi::Rank, (p % grid.pr) as mpi::Rank);
        let mut current = None;
        if !panels.is_empty() {
            // The first panel has no product to hide behind.
            let start = Instant::now();
            let (mut pa, mut pb) = take(0, &mut error);
            let (ra, rb) = roots(0);
            let (sa, sb) = (pa.as_slice_mut(), pb.as_slice_mut());
            let (sa, sb) = (sa.expect("owned, row-major"), sb.expect("owned, row-major"));
            grid.row_comm.process_at_rank(ra).broadcast_into(sa);
            grid.col_comm.process_at_rank(rb).broadcast_into(sb);
            traffic.communicate += start.elapsed();
            traffic.bytes += ((sa.len() + sb.len()) * std::mem::size_of::<T>()) as u64;
            current = Some((pa, pb));
        }
        // Panel p's product computes while panel p + 1's broadcasts run (non-blocking, posted
        // first, progressed by this thread while the product runs on others).
        for p in 0..panels.len() {
            let (pa, pb) = current.take().expect("the panel was received");
            let mut next = (p + 1 < panels.len()).then(|| take(p + 1, &mut error));
            let skip = error.is_some() || rows == 0 || cols == 0;
            let c_view = c.view_mut();
            let (done, compute, wait) = mpi::request::scope(|scope| {
                let mut requests = Vec::new();
                if let Some((na, nb)) = next.as_mut() {
                    let (ra, rb) = roots(p + 1);
                    let sa = na.as_slice_mut().expect("owned, row-major");
                    let sb = nb.as_slice_mut().expect("owned, row-major");
                    traffic.bytes += ((sa.len() + sb.len()) * std::mem::size_of::<T>()) as u64;
                    requests.push(
                        grid.row_comm
                            .process_at_rank(ra)
                            .immediate_broadcast_into(scope, sa),
                    );
                    requests.push(
                        grid.col_comm
                            .process_at_rank(rb)
                            .immediate_broadcast_into(scope, sb),
                    );
                }
                overlap(requests, || {
                    if skip {
                        return Ok(());
                    }
                    let beta = if p == 0 { T::zero() } else { T::one() };
                    matmul_into(&plan, cut, T::one(), &pa.view(), &pb.view(), beta, c_view)
                })
            });
            if let Err(e) = done {
                error.get_or_insert(e);
            }
            traffic.compute += compute;
            traffic.communicate += wait;
            for done in [pa, pb] {
                self.ranks.give_back(done.into_raw_vec_and_offset().0);
            }
            current = next;
        }
        self.ranks.traffic.set(traffic);
        match error {
            Some(e) => Err(e),
            None => Ok(c),
        }
    }

    /// Combines one scalar per item on rank 0 in item order, and broadcasts the result.
    fn combine_scalars<T: Element>(&self, share: Share<Vec<T>>, r: Reduction) -> Result<T> {
        let owner = share.owner.clone();
        let counts: Vec<usize> = (0..self.ranks.size())
            .map(|rank| owner.iter().filter(|&&o| o == rank).count())
            .collect();
        let gathered = self.gather(share, &counts)?;
        let start = Instant::now();
        let mut value = T::zero();
        if let Some(parts) = gathered {
            let offsets = offsets(&counts);
            let mut at = vec![0; counts.len()];
            let in_order: Vec<T> = owner
                .iter()
                .map(|&o| {
                    at[o] += 1;
                    parts[offsets[o] + at[o] - 1]
                })
                .collect();
            value = combine_fixed(&in_order, r);
        }
        self.add_compute(start.elapsed());
        let start = Instant::now();
        self.ranks
            .world
            .process_at_rank(0)
            .broadcast_into(&mut value);
        self.add_communicate(start.elapsed(), std::mem::size_of::<T>());
        Ok(value)
    }

    /// Tells every rank whether every rank succeeded (failing alike on all when one did not),
    /// then gathers each rank's values onto rank 0, in rank order: `Some(all)` there, `None`
    /// elsewhere.
    fn gather<T: Element>(&self, share: Share<Vec<T>>, counts: &[usize]) -> Result<Option<Vec<T>>> {
        let world = &self.ranks.world;
        // Rank 0's receive buffer first: if it cannot have one, every rank must hear so before
        // anyone sends.
        let total: usize = counts.iter().sum();
        let mut share = share;
        let mut all = Vec::new();
        if self.ranks.is_root() && share.values.is_ok() {
            match crate::alloc::zeros::<T>("parts gathered on rank 0", 1, total) {
                Ok(a) => all = a.into_raw_vec_and_offset().0,
                Err(e) => share.values = Err(e),
            }
        }
        let start = Instant::now();
        let failed = u8::from(share.values.is_err());
        let mut all_failed = vec![0u8; self.ranks.size()];
        world.all_gather_into(&failed, &mut all_failed[..]);
        self.add_communicate(start.elapsed(), 1);
        let values = share.values?;
        if let Some(r) = all_failed.iter().position(|&f| f != 0) {
            return Err(Error::Mpi(format!(
                "rank {r} failed (its own error says why); no result"
            )));
        }
        let root = world.process_at_rank(0);
        let start = Instant::now();
        let sent = values.len() * std::mem::size_of::<T>();
        if self.ranks.is_root() {
            let c: Vec<mpi::Count> = counts.iter().map(|&c| c as mpi::Count).collect();
            let d: Vec<mpi::Count> = offsets(counts).iter().map(|&o| o as mpi::Count).collect();
            let mut partition = PartitionMut::new(&mut all[..], c, d);
            root.gather_varcount_into_root(&values[..], &mut partition);
            self.add_communicate(start.elapsed(), sent + total * std::mem::size_of::<T>());
            Ok(Some(all))
        } else {
            root.gather_varcount_into(&values[..]);
            self.add_communicate(start.elapsed(), sent);
            Ok(None)
        }
    }

    fn add_compute(&self, d: Duration) {
        let mut t = self.ranks.traffic.get();
        t.compute += d;
        self.ranks.traffic.set(t);
    }

    fn add_communicate(&self, d: Duration, bytes: usize) {
        let mut t = self.ranks.traffic.get();
        t.communicate += d;
        t.bytes += bytes as u64;
        self.ranks.traffic.set(t);
    }
}

/// The elements of part `p` of `parts` near-equal contiguous runs of `tiles` tiles of `side`
/// elements each, over a dimension of `len` (the last tile ragged).
fn grid_band(tiles: usize, parts: usize, p: usize, side: usize, len: usize) -> Range<usize> {
    let (t0, t1) = (p * tiles / parts, (p + 1) * tiles / parts);
    (t0 * side).min(len)..(t1 * side).min(len)
}

/// The 2-D grid of ranks a product runs on: pr × pc ranks (pc the largest divisor of the rank
/// count not above its square root), this rank at (i, j) = (rank / pc, rank % pc), with its
/// band of the product's tile rows and columns (contiguous, near-equal counts) and the
/// communicators of its grid row and grid column.
struct Grid {
    pr: usize,
    pc: usize,
    i: usize,
    j: usize,
    tiling: Tiling,
    /// The product's rows and columns this rank holds.
    rows: Range<usize>,
    cols: Range<usize>,
    /// Panel width of the inner dimension: the block's columns, the same for every grid.
    panel: usize,
    row_comm: SimpleCommunicator,
    col_comm: SimpleCommunicator,
}

impl Grid {
    fn new(ranks: &Ranks, m: usize, n: usize, cut: crate::tiling::Cut) -> Grid {
        let size = ranks.size();
        let pc = (1..=size)
            .filter(|d| size % d == 0 && d * d <= size)
            .max()
            .unwrap_or(1);
        let pr = size / pc;
        let (i, j) = (ranks.rank() / pc, ranks.rank() % pc);
        let block = balanced_block(m, n, cut);
        let tiling = Tiling::new(m, n, block);
        let (tr, tc) = tiling.grid();
        let rows = grid_band(tr, pr, i, block.rows, m);
        let cols = grid_band(tc, pc, j, block.cols, n);
        let world = &ranks.world;
        let row_comm = world
            .split_by_color(Color::with_value(i as i32))
            .expect("every rank has a colour");
        let col_comm = world
            .split_by_color(Color::with_value(j as i32))
            .expect("every rank has a colour");
        Grid {
            pr,
            pc,
            i,
            j,
            tiling,
            rows,
            cols,
            panel: block.cols.max(1),
            row_comm,
            col_comm,
        }
    }

    /// The panels of the inner dimension k, in order.
    fn panels(&self, k: usize) -> Vec<Range<usize>> {
        (0..k)
            .step_by(self.panel)
            .map(|p| p..(p + self.panel).min(k))
            .collect()
    }

    /// The rows and columns rank (i, j) holds.
    fn block_of(&self, i: usize, j: usize) -> (Range<usize>, Range<usize>) {
        let (m, n) = (self.tiling.nrows, self.tiling.ncols);
        let (tr, tc) = self.tiling.grid();
        let (b_r, b_c) = (self.tiling.block.rows, self.tiling.block.cols);
        (
            grid_band(tr, self.pr, i, b_r, m),
            grid_band(tc, self.pc, j, b_c, n),
        )
    }

    /// Elements of each rank's block, by rank.
    fn block_sizes(&self) -> Vec<usize> {
        (0..self.pr * self.pc)
            .map(|r| {
                let (rows, cols) = self.block_of(r / self.pc, r % self.pc);
                rows.len() * cols.len()
            })
            .collect()
    }

    /// The product's tiles inside this rank's block, in tile order.
    fn my_tiles(&self) -> Vec<crate::tiling::Tile> {
        let (tr, tc) = self.tiling.grid();
        (0..tr)
            .flat_map(|ti| (0..tc).map(move |tj| (ti, tj)))
            .map(|(ti, tj)| self.tiling.tile(ti, tj))
            .filter(|t| self.rows.contains(&t.row0) && self.cols.contains(&t.col0))
            .collect()
    }

    /// The rank holding each tile of the product, in tile order.
    fn tile_owners(&self) -> Vec<usize> {
        let (tr, tc) = self.tiling.grid();
        let owner_of = |t: &crate::tiling::Tile| {
            (0..self.pr * self.pc)
                .find(|&r| {
                    let (rows, cols) = self.block_of(r / self.pc, r % self.pc);
                    rows.contains(&t.row0) && cols.contains(&t.col0)
                })
                .expect("every tile has a rank")
        };
        (0..tr)
            .flat_map(|ti| (0..tc).map(move |tj| (ti, tj)))
            .map(|(ti, tj)| owner_of(&self.tiling.tile(ti, tj)))
            .collect()
    }

    /// Copies each rank's block, gathered on rank 0 in rank order, to its place in `c`.
    fn place_blocks<T: Element>(&self, mut c: ArrayViewMut2<'_, T>, parts: &[T]) {
        let mut at = 0;
        for r in 0..self.pr * self.pc {
            let (rows, cols) = self.block_of(r / self.pc, r % self.pc);
            let len = rows.len() * cols.len();
            let block = ArrayView2::from_shape((rows.len(), cols.len()), &parts[at..at + len])
                .expect("part sized to the block");
            c.slice_mut(s![rows, cols]).assign(&block);
            at += len;
        }
    }
}

/// One call of the blocked Gram product into `chunk` (the call's rows × columns, row-major):
/// `syrk`'s lower half for a diagonal tile, a GEMM for a strip left of it.
fn gram_call<T: Element>(
    s: &Strip,
    chunk: &mut [T],
    panels: &impl TileSource<T>,
    threads: usize,
) -> Result<()> {
    let t = s.span;
    let cv = ArrayViewMut2::from_shape((t.rows, t.cols), chunk).expect("chunk sized to the call");
    let xi = panels.rows(t.row0, t.rows);
    if t.ti == t.tj {
        crate::blas::gram_lower(xi, cv, threads)
    } else {
        let xj = panels.rows(t.col0, t.cols);
        crate::blas::gemm(T::one(), xi, xj.t(), T::zero(), cv, threads)
    }
}

/// Copies each call's block from the parts gathered on rank 0 (rank by rank, each rank's calls in
/// call order) to its place in `g`.
fn place_parts<T: Element>(
    mut g: ArrayViewMut2<'_, T>,
    calls: &[Strip],
    owner: &[usize],
    counts: &[usize],
    parts: &[T],
) {
    let mut at = vec![0; counts.len()];
    let offsets = offsets(counts);
    for (s, &o) in calls.iter().zip(owner) {
        let t = s.span;
        let from = offsets[o] + at[o];
        at[o] += t.len();
        let block = ArrayView2::from_shape((t.rows, t.cols), &parts[from..from + t.len()])
            .expect("part sized to the call");
        g.slice_mut(s![t.row0..t.row0 + t.rows, t.col0..t.col0 + t.cols])
            .assign(&block);
    }
}

/// Where each rank's part starts in the gathered buffer.
fn offsets(counts: &[usize]) -> Vec<usize> {
    counts
        .iter()
        .scan(0, |at, &c| {
            let o = *at;
            *at += c;
            Some(o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{offsets, owners};

    #[test]
    fn owners_balance_cost_within_one_item_and_depend_on_nothing_else() {
        let costs: Vec<f64> = (0..55).map(|i| 1.0 + (i % 10) as f64).collect();
        for ranks in 1..=6 {
            let owner = owners(&costs, ranks);
            assert_eq!(owner, owners(&costs, ranks));
            let mut load = vec![0.0; ranks];
            for (c, &o) in costs.iter().zip(&owner) {
                load[o] += c;
            }
            let (lo, hi) = load
                .iter()
                .fold((f64::MAX, 0.0_f64), |(l, h), &x| (l.min(x), h.max(x)));
            assert!(hi - lo <= 10.0, "{ranks} ranks: {load:?}");
        }
        assert!(owners(&[], 3).is_empty());
    }

    #[test]
    fn offsets_start_each_part_after_the_last() {
        assert_eq!(offsets(&[3, 0, 2]), vec![0, 3, 3]);
    }
}
