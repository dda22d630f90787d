//! The backend boundary: which BLAS computes one tile, and how its threads are controlled.
//!
//! Exactly one backend is compiled in, chosen by Cargo feature:
//!
//! | feature | library | per-call threads | kernels |
//! |---|---|---|---|
//! | `openblas-system` (default) | system OpenBLAS (pkg-config) | no: one process-wide count | CBLAS |
//! | `openblas-scipy` | OpenBLAS 0.3.34 from PyPI's `scipy-openblas32` wheel (symbols prefixed `scipy_`) | no: one process-wide count | CBLAS |
//! | `blis-system` | system BLIS (`libblis`) | yes (`rntm_t` per call) | BLIS typed API, CBLAS for level 1/2 |
//! | `netlib-system` | the reference BLAS (`libblas` from the reference directory) | single-threaded | CBLAS |
//! | `pure-rust` | none: the `gemm` crate (AVX-512 kernels) | yes (`Parallelism` per call) | Rust |
//!
//! This module holds every `cfg(feature = …)` for backends. Strategies talk to the backend only
//! through `gemm` and the thread control ([`limit`], [`set_num_threads`]); a backend never knows how many tiles
//! run at once.

mod coretype;
// Only OpenBLAS hands its jobs to a callback; the other backends keep just the counts.
#[cfg_attr(
    not(any(feature = "openblas-system", feature = "openblas-scipy")),
    allow(dead_code)
)]
mod jobs;
pub(crate) mod threads;

#[doc(hidden)]
pub use coretype::reexec_with_fast_kernels;
pub use coretype::{is_slow_kernel, kernel_warning, recommended_coretype, replaced_kernel};
pub use threads::{info, limit, num_threads, set_num_threads, BlasInfo, ThreadLimit, Threading};

use crate::element::Element;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3, CowArray, Ix2};

#[cfg(not(any(
    feature = "openblas-system",
    feature = "openblas-scipy",
    feature = "blis-system",
    feature = "netlib-system",
    feature = "pure-rust"
)))]
compile_error!(
    "rayblas needs exactly one backend feature: `openblas-system` (default), `openblas-scipy`, \
     `blis-system`, `netlib-system` or `pure-rust`"
);

macro_rules! clash {
    ($a:literal, $b:literal) => {
        #[cfg(all(feature = $a, feature = $b))]
        compile_error!(concat!(
            "rayblas backend features `",
            $a,
            "` and `",
            $b,
            "` are both enabled; enable exactly one (use `default-features = false` \
             to turn off the default `openblas-system`)"
        ));
    };
}
clash!("openblas-system", "openblas-scipy");
clash!("openblas-scipy", "blis-system");
clash!("openblas-scipy", "netlib-system");
clash!("openblas-scipy", "pure-rust");
clash!("openblas-system", "blis-system");
clash!("openblas-system", "netlib-system");
clash!("openblas-system", "pure-rust");
clash!("blis-system", "netlib-system");
clash!("blis-system", "pure-rust");
clash!("netlib-system", "pure-rust");

/// The linked library's name for the C symbol `$name`: the scipy-openblas wheel prefixes every
/// symbol it exports with `scipy_` (so it can share a process with another OpenBLAS); the
/// other libraries use the plain names.
#[cfg(feature = "openblas-scipy")]
macro_rules! blas_symbol {
    ($name:expr) => {
        concat!("scipy_", $name)
    };
}
#[cfg(not(feature = "openblas-scipy"))]
#[cfg_attr(feature = "pure-rust", allow(unused_macros))] // pure-rust links no C library
macro_rules! blas_symbol {
    ($name:expr) => {
        $name
    };
}

#[cfg(any(
    feature = "openblas-system",
    feature = "openblas-scipy",
    feature = "blis-system",
    feature = "netlib-system"
))]
// BLIS uses only the level-1/2 routines of this module (its GEMM goes through its typed API,
// and it implements `Routines` itself).
#[cfg_attr(
    feature = "blis-system",
    allow(dead_code, unused_macros, unused_imports)
)]
mod cblas;

#[cfg(any(feature = "openblas-system", feature = "openblas-scipy"))]
#[path = "openblas.rs"]
mod backend;

#[cfg(all(
    feature = "blis-system",
    not(any(feature = "openblas-system", feature = "openblas-scipy"))
))]
#[path = "blis.rs"]
mod backend;

#[cfg(all(
    feature = "netlib-system",
    not(any(
        feature = "openblas-system",
        feature = "openblas-scipy",
        feature = "blis-system"
    ))
))]
#[path = "netlib.rs"]
mod backend;

#[cfg(all(
    feature = "pure-rust",
    not(any(
        feature = "openblas-system",
        feature = "openblas-scipy",
        feature = "blis-system",
        feature = "netlib-system"
    ))
))]
#[path = "pure.rs"]
mod backend;

mod routines;
pub(crate) use routines::{RawGemm, Routines};

/// The library compiled in (the one `backend` module above).
pub(crate) use backend::Linked;

/// What rayblas needs of the linked library as a whole: its name and integer range, its
/// capabilities and its thread control. Each backend file implements it for its `Linked` type;
/// the per-element routines (gemm, syrk, dot, nrm2, gemv) are [`Routines`], which the same file
/// implements for `f32` and `f64`. Strategies and kernels see neither: they call the checked
/// functions of this module.
pub(crate) trait Library {
    /// `openblas`, `blis`, `netlib` or `pure-rust`.
    const NAME: &'static str;
    /// The largest dimension or leading dimension the library's integers hold.
    const INT_MAX: usize;
    /// Whether Gram products go through `syrk` (half the flops of a GEMM).
    const HAS_SYRK: bool = false;
    /// Whether per-call threads come from the caller's rayon pool (pure-rust's gemm), so a
    /// strategy must give the call a pool with room for them.
    const CALL_THREADS_FROM_RAYON: bool = false;
    /// The environment variables that set the library's own default thread count, first one
    /// wins (the library reads them when it loads).
    const THREAD_ENV: &'static [&'static str];
    /// GEMMs of at most this many m·n·k run on one thread whatever the library's count: a
    /// call this small needs no thread lease (0: none is known to).
    const GEMM_ONE_THREAD_MNK: f64 = 0.0;
    /// Gram products of at most this many n·n·k are one GEMM of `X·Xᵀ`, not a `syrk`, where
    /// the library has small-matrix GEMM kernels and no small `syrk` (0: always `syrk`).
    const GRAM_BY_GEMM_MNK: f64 = 0.0;
    /// Whether an operand `rows × cols` with strides `rs`, `cs` can be passed without a copy.
    fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool;
    /// Whether calls may run from several threads at once.
    fn reentrant() -> bool;
    /// Whether each call can have its own thread count.
    fn per_call_threads() -> bool;
    /// Version, configuration, kernels and threading layer.
    fn library_info() -> threads::LibraryInfo;
    /// Hands the parallel jobs of every multithreaded call in the process to `jobs::run_together`
    /// instead of the library's own threads; `Err` with the reason when the library cannot.
    fn install_jobs_callback() -> std::result::Result<(), String> {
        Err(format!(
            "the {} backend has no callback for its parallel jobs (OpenBLAS 0.3.28 or newer has)",
            Self::NAME
        ))
    }
    /// The library's thread count.
    fn get_num_threads() -> usize;
    /// Sets the library's thread count (process-wide).
    fn set_num_threads(n: usize);
    /// The largest count the library accepts.
    fn max_threads() -> usize;
    /// Whether a call's thread count comes from the calling thread (OpenBLAS's OpenMP build).
    fn count_is_per_thread() -> bool {
        false
    }
    /// Sets the calling thread's own count where the library has one, returning the previous
    /// value to put back; `None` where there is nothing to set.
    fn set_calling_thread_threads(_n: usize) -> Option<usize> {
        None
    }
}

/// Whether the linked library may be called from several threads at once. When it may not
/// (OpenBLAS's single-threaded build), every call holds one lock, so tile
/// strategies stay correct and run their BLAS calls one at a time; [`info`] warns about it.
pub fn reentrant() -> bool {
    Linked::reentrant()
}

/// What every BLAS call made by rayblas holds while it runs. See [`enter_call`].
struct CallGuard {
    _serial: Option<std::sync::MutexGuard<'static, ()>>,
    /// The calling thread's OpenMP thread count before the call (OpenMP OpenBLAS only).
    openmp_before: Option<usize>,
}

/// Prepares the calling thread for one BLAS call with `threads` threads:
/// - on a library that is not reentrant, takes the lock that serialises calls;
/// - on OpenBLAS's OpenMP build, which takes a call's count from the calling thread's OpenMP
///   setting, sets that to `threads` (`openblas.rs` explains the wrong results this prevents).
///   The thread's own value comes back when the guard drops, so a user's later direct BLAS
///   calls on this thread see what they set.
#[inline]
fn enter_call(threads: usize) -> CallGuard {
    let serial = (!Linked::reentrant()).then(|| {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    });
    CallGuard {
        _serial: serial,
        openmp_before: Linked::set_calling_thread_threads(threads.max(1)),
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(before) = self.openmp_before {
            Linked::set_calling_thread_threads(before);
        }
    }
}

/// `xᵀy` through BLAS `dot` on `threads` threads, or `None` where the library has no route.
pub(crate) fn dot<T: Element>(x: &[T], y: &[T], threads: usize) -> Option<T> {
    let _call = enter_call(threads);
    T::dot(x, y)
}

/// ‖x‖₂ through BLAS `nrm2` on `threads` threads, or `None` where the library has no route.
pub(crate) fn nrm2<T: Element>(x: &[T], threads: usize) -> Option<T> {
    let _call = enter_call(threads);
    T::nrm2(x)
}

/// Row (or, `transposed`, column) sums of a contiguous row-major matrix through BLAS `gemv`
/// with a ones vector, or `None` where the library has no route.
pub(crate) fn row_sums<T: Element>(
    a: &[T],
    rows: usize,
    cols: usize,
    transposed: bool,
    threads: usize,
) -> Option<Vec<T>> {
    let _call = enter_call(threads);
    T::row_sums(a, rows, cols, transposed)
}

/// Name of the backend compiled in: `openblas`, `blis`, `netlib` or `pure-rust`.
pub const BACKEND: &str = Linked::NAME;

/// Runs the parallel jobs of every multithreaded BLAS call in the process, from rayblas or not
/// (a LAPACK routine of another crate, a user's own `dgemm`), on rayon's pool instead of the
/// library's own threads: one thread pool per process. Needs OpenBLAS 0.3.28 or newer (the
/// `openblas-scipy` backend, or a system OpenBLAS that new); installed once for the process,
/// for good. The library's thread count still decides how many jobs a call has.
///
/// A call's jobs wait for each other while they run, so all of them must run at the same
/// time: the call asks the pool the caller runs in (else the global pool) for the threads and
/// waits up to 2 ms for them to start; when the pool is busy or too small it runs the jobs on
/// threads started for the call instead, so it never deadlocks, also from inside a busy rayon
/// worker or from many threads at once. Calls run one at a time. [`rayon_jobs`] counts which
/// path calls took.
///
/// # Errors
/// [`Error::Backend`] naming the library and what it lacks, for BLIS, netlib, pure-rust and
/// OpenBLAS older than 0.3.28 (Debian 12's 0.3.21).
///
/// ```
/// match rayblas::blas::run_blas_threads_on_rayon() {
///     Ok(()) => assert!(rayblas::blas::rayon_jobs().is_some()),
///     Err(e) => eprintln!("{e}"), // e.g. OpenBLAS 0.3.21
/// }
/// ```
pub fn run_blas_threads_on_rayon() -> Result<()> {
    static INSTALLED: std::sync::OnceLock<std::result::Result<(), String>> =
        std::sync::OnceLock::new();
    INSTALLED
        .get_or_init(Linked::install_jobs_callback)
        .clone()
        .map_err(Error::Backend)
        .inspect(|()| JOBS_ON_RAYON.store(true, std::sync::atomic::Ordering::Release))
}

static JOBS_ON_RAYON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Since [`run_blas_threads_on_rayon`]: how many multithreaded BLAS calls ran their jobs on
/// rayon's threads, and how many on threads started for them because the pool could not take
/// all their jobs at once. `None` before it (the library's own threads run the jobs).
pub fn rayon_jobs() -> Option<RayonJobs> {
    JOBS_ON_RAYON
        .load(std::sync::atomic::Ordering::Acquire)
        .then(|| {
            let (on_pool, on_new_threads) = jobs::counts();
            RayonJobs {
                on_pool,
                on_new_threads,
            }
        })
}

/// See [`rayon_jobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RayonJobs {
    /// Calls whose jobs ran on the pool's threads.
    pub on_pool: u64,
    /// Calls whose jobs ran on threads started for them (the pool was busy or too small).
    pub on_new_threads: u64,
}

/// Whether the backend can give each call its own thread count (BLIS 0.9, pure-rust). Without
/// it (OpenBLAS, netlib) the count is process-wide, so `Strategy::Hybrid` is refused.
pub fn per_call_threads() -> bool {
    Linked::per_call_threads()
}

/// Whether a Gram product goes through `syrk` (half the flops of GEMM): on the CBLAS backends
/// whose thread count is process-wide (OpenBLAS, netlib). BLIS and pure-rust use a full GEMM,
/// which carries their per-call thread count.
pub fn has_syrk() -> bool {
    Linked::HAS_SYRK
}

/// Whether the Gram product of an n×k `X` is one `syrk` ([`has_syrk`]) rather than a full
/// GEMM: not for a product so small that the library's small-matrix GEMM kernels beat its
/// `syrk`, which has none, at twice the flops (OpenBLAS: up to 36³ multiply-adds, measured in
/// `openblas.rs`); such a GEMM also runs on one thread whatever the library's count, so it
/// needs no thread lease. The rule reads the shape only, so a result is the same bits on every
/// path and for any worker count.
pub(crate) fn gram_by_syrk(n: usize, k: usize) -> bool {
    has_syrk() && (n as f64) * (n as f64) * (k as f64) > Linked::GRAM_BY_GEMM_MNK
}

/// Whether per-call threads come from the caller's rayon pool (pure-rust: `gemm` runs its
/// `Parallelism::Rayon(t)` there), so a strategy must give the call a pool with room for them.
pub(crate) const CALL_THREADS_FROM_RAYON: bool = Linked::CALL_THREADS_FROM_RAYON;

/// The environment variables the linked library reads for its default thread count, in the
/// order it reads them (e.g. `OPENBLAS_NUM_THREADS`, then `GOTO_NUM_THREADS`, then
/// `OMP_NUM_THREADS` for OpenBLAS). The default thread count of `native` follows them.
pub const THREAD_ENV: &[&str] = Linked::THREAD_ENV;

/// The largest dimension or leading dimension the backend's integer type holds.
pub const INT_MAX: usize = Linked::INT_MAX;

/// `C ← α·A·B + β·C` through the linked backend, for any layout of the views.
///
/// `threads` is the thread count for this one call on backends with per-call threads; on the
/// others the process-wide setting applies (the strategy sets it). Operands whose layout the
/// backend cannot take (CBLAS needs one unit stride; negative strides) are copied; so is C, and
/// the result copied back. Dimensions beyond the backend's integer range are an error.
pub(crate) fn gemm<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
    threads: usize,
) -> Result<()> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    if k != k2 || c.dim() != (m, n) {
        return Err(Error::ShapeMismatch {
            op: "gemm",
            expected: format!("a m×k, b k×n, c m×n with a {m}x{k}"),
            got: format!("b {k2}x{n}, c {}x{}", c.nrows(), c.ncols()),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 || alpha == T::zero() {
        scale_in_place(c.view_mut(), beta);
        return Ok(());
    }
    for (what, value) in [("m", m), ("n", n), ("k", k)] {
        check_int(what, value)?;
    }
    let (a, b) = (for_backend(a), for_backend(b));
    let (a, b) = (a.view(), b.view());
    for (what, v) in [
        ("lda", leading(a.strides())),
        ("ldb", leading(b.strides())),
        ("ldc", leading(c.strides())),
    ] {
        check_int(what, v)?;
    }
    let c_ok = {
        let s = c.strides();
        Linked::accepts(m, n, s[0], s[1])
    };
    if c_ok {
        run_raw(alpha, &a, &b, beta, &mut c, threads);
    } else {
        let mut tmp = to_row_major(&c.view());
        run_raw(alpha, &a, &b, beta, &mut tmp.view_mut(), threads);
        c.assign(&tmp);
    }
    Ok(())
}

/// Whether a one-thread GEMM of m×k·k×n needs the BLAS thread lease: not where the library
/// runs a call this small on one thread whatever its count (OpenBLAS below 64³, a serial
/// library always), so a small product neither waits for nor changes the process's count.
#[inline]
pub(crate) fn gemm_needs_lease(m: usize, n: usize, k: usize) -> bool {
    !per_call_threads() && (m as f64) * (n as f64) * (k as f64) > Linked::GEMM_ONE_THREAD_MNK
}

/// `C ← A·B` into `out`, a row-major m×n buffer (overwritten), in one call at one thread on
/// the calling thread, for a product so small that the library runs it on one thread whatever
/// its count (no lease, [`gemm_needs_lease`]); `false`, with nothing done, where an operand
/// needs a copy first or a dimension or stride is beyond the library's integers (the caller
/// then takes [`gemm`], which copies or reports). The same call as [`gemm`] makes for these
/// operands, so the same bits, without its copy-on-write operands, its views and its second
/// round of checks: the small-call path (issue 38).
pub(crate) fn gemm_small<T: Element>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    out: &mut [T],
) -> bool {
    let (m, n) = (a.nrows(), b.ncols());
    assert_eq!(out.len(), m * n, "a buffer of m×n elements");
    if n > INT_MAX || !small_call_takes(a, b) {
        return false;
    }
    if a.ncols() == 0 {
        out.fill(T::zero());
    } else if m > 0 && n > 0 {
        // SAFETY: `out` holds m×n elements (asserted), row-major with leading dimension n, which
        // every backend takes; it is exclusively borrowed, so it aliases neither operand.
        unsafe { run_small(a, b, out.as_mut_ptr(), n as isize, 1) };
    }
    true
}

/// Whether the small-call path can multiply `a` by `b` as they lie: layouts the library takes,
/// dimensions and strides within its integers, and a product small enough that the library
/// runs it on one thread at any count.
#[inline]
fn small_call_takes<T: Element>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>) -> bool {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (sa, sb) = (a.strides(), b.strides());
    Linked::accepts(m, k, sa[0], sa[1])
        && Linked::accepts(k, n, sb[0], sb[1])
        && [m, n, k, leading(sa), leading(sb)]
            .iter()
            .all(|&v| v <= INT_MAX)
        && !gemm_needs_lease(m, n, k)
}

/// The one call of [`gemm_small`]: `C ← A·B` at one thread into `c` with strides
/// `rsc`, `csc`.
///
/// # Safety
/// `c` must be valid for writes of an m×n matrix with those strides, in a layout the library
/// takes, and alias neither operand; `a` and `b` must have passed [`small_call_takes`], with
/// m, n, k > 0.
#[inline]
unsafe fn run_small<T: Element>(
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let raw = RawGemm {
        m: a.nrows(),
        n: b.ncols(),
        k: a.ncols(),
        alpha: T::one(),
        a: a.as_ptr(),
        rsa: a.strides()[0],
        csa: a.strides()[1],
        b: b.as_ptr(),
        rsb: b.strides()[0],
        csb: b.strides()[1],
        beta: T::zero(),
        c,
        rsc,
        csc,
    };
    let _call = enter_call(1);
    // SAFETY: the operands are live views whose layouts and integers `small_call_takes`
    // approved; the caller vouches for C.
    unsafe { T::gemm(&raw, 1) }
}

/// Why the linked library's own batched GEMM cannot run a batch of m×k·k×n items of `T`, or
/// `None` when it can (the `native` strategy of the batched products needs it).
///
/// OpenBLAS up to 0.3.34 (the openblas-scipy wheel) crashes in its batched GEMM when the items
/// are small enough for its small-matrix kernels (m·n·k ≤ 100³) in a DYNAMIC_ARCH build, as
/// every distributed build is (OpenBLAS pull request 5980, merged after 0.3.34; measured here
/// with a C program: 100×100×100 items crash, 100×100×101 run).
pub(crate) fn gemm_batch_refusal<T: Element>(m: usize, n: usize, k: usize) -> Option<String> {
    if !T::has_gemm_batch() {
        return Some(format!(
            "native runs a batch as one call of the library's own batched GEMM \
             (cblas_?gemm_batch_strided), which the {BACKEND} library linked does not export \
             (OpenBLAS 0.3.34, the openblas-scipy backend, does); use blocked or serial"
        ));
    }
    let version = Linked::library_info().version;
    let parsed: Vec<u32> = version
        .split('.')
        .take(3)
        .filter_map(|p| p.parse().ok())
        .collect();
    let small = (m as f64) * (n as f64) * (k as f64) <= 1.0e6;
    if BACKEND.starts_with("openblas") && small && parsed.as_slice() <= [0, 3, 34].as_slice() {
        return Some(format!(
            "OpenBLAS {version}'s batched GEMM crashes on items of m·n·k ≤ 100³ ({m}×{k}·{k}×{n} \
             here; fixed after 0.3.34 by OpenBLAS pull request 5980); use blocked or serial"
        ));
    }
    None
}

/// `C[i] ← A[i]·B[i]` for every item `i` (axis 0) in one call of the library's own batched
/// GEMM, which threads it with the library's count (`threads`, leased by the caller). Operands
/// whose items the library cannot take as they lie (a layout CBLAS refuses, a negative batch
/// stride) are copied first. `Error::Backend` where the library has no batched call (check
/// [`gemm_batch_refusal`] first).
pub(crate) fn gemm_batch<T: Element>(
    a: ArrayView3<'_, T>,
    b: ArrayView3<'_, T>,
    mut c: ArrayViewMut3<'_, T>,
    threads: usize,
) -> Result<()> {
    let (count, m, k) = a.dim();
    let n = b.dim().2;
    debug_assert_eq!(b.dim(), (count, k, n));
    debug_assert_eq!(c.dim(), (count, m, n));
    if count == 0 || m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        c.fill(T::zero());
        return Ok(());
    }
    // Items the library takes as they lie: each a layout CBLAS accepts, the batch stride not
    // negative; otherwise a standard-layout copy (C is rayblas's own, already standard).
    let usable = |v: &ArrayView3<'_, T>| {
        let s = v.strides();
        let (_, r, cc) = v.dim();
        (v.dim().0 <= 1 || s[0] >= 0) && Linked::accepts(r, cc, s[1], s[2])
    };
    let (a, b) = (
        if usable(&a) {
            CowArray::from(a)
        } else {
            CowArray::from(a.as_standard_layout().into_owned())
        },
        if usable(&b) {
            CowArray::from(b)
        } else {
            CowArray::from(b.as_standard_layout().into_owned())
        },
    );
    let stride = |v: &[isize]| if count <= 1 { 0 } else { v[0] };
    let strides = [
        stride(a.strides()),
        stride(b.strides()),
        stride(c.strides()),
    ];
    for (what, value) in [("m", m), ("n", n), ("k", k), ("batch", count)] {
        check_int(what, value)?;
    }
    for (what, v) in [
        ("lda", leading(&a.strides()[1..])),
        ("ldb", leading(&b.strides()[1..])),
        ("ldc", leading(&c.strides()[1..])),
        (
            "batch stride",
            strides.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0),
        ),
    ] {
        check_int(what, v)?;
    }
    let raw = RawGemm {
        m,
        n,
        k,
        alpha: T::one(),
        a: a.as_ptr(),
        rsa: a.strides()[1],
        csa: a.strides()[2],
        b: b.as_ptr(),
        rsb: b.strides()[1],
        csb: b.strides()[2],
        beta: T::zero(),
        c: c.as_mut_ptr(),
        rsc: c.strides()[1],
        csc: c.strides()[2],
    };
    let _call = enter_call(threads);
    // SAFETY: the three arrays are live views of `count` items of the checked shapes, in layouts
    // `accepts` approved with non-negative batch strides, every dimension and stride within the
    // library's integers; C is a distinct mutable array whose items do not overlap (a standard
    // layout, or a view the caller split from one).
    if unsafe { T::gemm_batch(&raw, count, strides) } {
        Ok(())
    } else {
        Err(Error::Backend(format!(
            "the {} library linked has no batched GEMM (cblas_?gemm_batch_strided)",
            BACKEND
        )))
    }
}

#[inline]
fn run_raw<T: Element>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
    threads: usize,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let raw = RawGemm {
        m,
        n,
        k,
        alpha,
        a: a.as_ptr(),
        rsa: a.strides()[0],
        csa: a.strides()[1],
        b: b.as_ptr(),
        rsb: b.strides()[0],
        csb: b.strides()[1],
        beta,
        c: c.as_mut_ptr(),
        rsc: c.strides()[0],
        csc: c.strides()[1],
    };
    let _call = enter_call(threads);
    // SAFETY: the pointers and strides come from live ndarray views whose shapes `gemm` checked
    // (a m×k, b k×n, c m×n); `accepts` approved every layout; C is borrowed mutably and does not
    // alias A or B (Rust's borrow rules forbid a shared and a mutable view of the same data).
    unsafe { T::gemm(&raw, threads.max(1)) }
}

/// `v` itself when the backend takes its layout, else a row-major copy.
fn for_backend<T: Element>(v: ArrayView2<'_, T>) -> CowArray<'_, T, Ix2> {
    let s = v.strides();
    if Linked::accepts(v.nrows(), v.ncols(), s[0], s[1]) {
        v.into()
    } else {
        to_row_major(&v).into()
    }
}

/// The largest stride of a matrix: its leading dimension as BLAS sees it.
#[inline]
fn leading(strides: &[isize]) -> usize {
    strides.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

fn check_int(what: &'static str, value: usize) -> Result<()> {
    if value > INT_MAX {
        Err(Error::DimensionTooLarge {
            what,
            value,
            limit: INT_MAX,
        })
    } else {
        Ok(())
    }
}

/// The lower triangle of `X·Xᵀ` into the row-major n×n `g` in one call: `syrk` where
/// [`gram_by_syrk`] (OpenBLAS, netlib: half the flops, as numpy does), else a full GEMM. The
/// caller mirrors the lower triangle upwards.
pub(crate) fn gram_lower<T: Element>(
    x: ArrayView2<'_, T>,
    mut g: ArrayViewMut2<'_, T>,
    threads: usize,
) -> Result<()> {
    let (n, k) = x.dim();
    if gram_by_syrk(n, k) && syrk_lower(&x, &mut g, threads)? {
        return Ok(());
    }
    gemm(T::one(), x.view(), x.t(), T::zero(), g, threads)
}

/// `syrk` into the lower triangle of `g` where [`has_syrk`]; `Ok(false)` where the caller must
/// use a GEMM instead (no `syrk`, an empty product, or a `g` whose rows are not contiguous).
/// CBLAS backends only: the layout rules are CBLAS's.
#[cfg(any(feature = "openblas-system", feature = "netlib-system"))]
fn syrk_lower<T: Element>(
    x: &ArrayView2<'_, T>,
    g: &mut ArrayViewMut2<'_, T>,
    threads: usize,
) -> Result<bool> {
    let (n, k) = x.dim();
    // Row-major g with any row stride (a diagonal tile of a larger Gram matrix has one).
    let gs = g.strides();
    let Some((false, ldg)) = cblas::layout(n, n, gs[0], gs[1]) else {
        return Ok(false);
    };
    if n == 0 || k == 0 {
        return Ok(false);
    }
    let x = for_backend(*x);
    let s = x.strides();
    let (x_trans, ldx) = cblas::layout(n, k, s[0], s[1]).expect("for_backend gave a CBLAS layout");
    for (what, value) in [("n", n), ("k", k), ("ldx", ldx), ("ldg", ldg)] {
        check_int(what, value)?;
    }
    let _call = enter_call(threads);
    // SAFETY: x is a live n×k view in the CBLAS layout just computed; g is a live n×n mutable
    // view, row-major with row stride ldg ≥ n (checked above), that cannot alias x; sizes
    // checked against the BLAS integer range.
    Ok(unsafe { T::syrk_lower(n, k, x.as_ptr(), x_trans, ldx, g.as_mut_ptr(), ldg) })
}

#[cfg(not(any(feature = "openblas-system", feature = "netlib-system")))]
fn syrk_lower<T: Element>(
    _x: &ArrayView2<'_, T>,
    _g: &mut ArrayViewMut2<'_, T>,
    _threads: usize,
) -> Result<bool> {
    Ok(false)
}

/// A row-major (C order) copy of `v`.
pub(crate) fn to_row_major<T: Element>(v: &ArrayView2<'_, T>) -> Array2<T> {
    let mut out = Array2::<T>::zeros(v.dim());
    out.assign(v);
    out
}

/// `c ← β·c`, with β = 0 writing zeros (so NaN or Inf in C do not survive, as in BLAS).
pub(crate) fn scale_in_place<T: Element>(mut c: ArrayViewMut2<'_, T>, beta: T) {
    if beta == T::zero() {
        c.fill(T::zero());
    } else if beta != T::one() {
        c.mapv_inplace(|x| x * beta);
    }
}
