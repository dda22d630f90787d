//! The OpenBLAS backend: the system library found by pkg-config (`openblas-system`), or
//! OpenBLAS 0.3.34 from PyPI's `scipy-openblas32` wheel (`openblas-scipy`), whose symbols carry
//! a `scipy_` prefix (`blas_symbol!` names them).
//!
//! OpenBLAS keeps one process-wide thread count (`openblas_set_num_threads`). Multithreaded calls
//! from several threads queue behind one lock inside the library, which is why `Hybrid` is
//! refused here.
//!
//! # The OpenMP build
//! There a call runs with the *calling thread's* OpenMP count (`omp_get_max_threads()`), not
//! with the global count: a thread at 1 runs single-threaded and touches nothing, while a thread
//! at t > 1 whose t differs from the global count makes OpenBLAS 0.3.21 call
//! `goto_set_num_threads(t)` from inside the call (measured with a C probe: a worker at 2 raised
//! the global count from 1 to 2; a worker at 1 left it). `goto_set_num_threads`, which
//! `openblas_set_num_threads` also is, **frees the per-OpenMP-thread work buffers above the new
//! count** while another thread's multithreaded call may still be using them; the memory goes to
//! the next call, and two calls then compute in one buffer: wrong results (issue 16). rayblas
//! used to set counts with `openblas_set_num_threads` on its workers and for its leases, and to
//! let other threads' calls run with whatever OpenMP count they had, so mixed strategies freed
//! buffers under running calls.
//!
//! So on this build rayblas never changes the global count for its own operations
//! (`threads::lease` only keeps operations with different counts apart), and each call sets its
//! own thread's OpenMP count to the operation's count with OpenMP's `omp_set_num_threads`, which
//! touches nothing else, then puts it back ([`set_calling_thread_threads`]). Only the public
//! `limit`/`set_num_threads` change the global count, and they wait for running operations.
//! What rayblas cannot prevent: another part of the program calling `openblas_set_num_threads`
//! (or BLAS from a thread whose OpenMP count is between 1 and the global count) while a
//! multithreaded call runs; OpenBLAS itself then frees that call's buffers.

use super::cblas;
use super::threads::{LibraryInfo, Threading};
use super::Library;
use std::ffi::{c_char, c_int, c_void, CStr};

cblas::routines_through_cblas!();

extern "C" {
    #[link_name = blas_symbol!("openblas_get_config")]
    fn openblas_get_config() -> *const c_char;
    #[link_name = blas_symbol!("openblas_get_corename")]
    fn openblas_get_corename() -> *const c_char;
    #[link_name = blas_symbol!("openblas_get_num_threads")]
    fn openblas_get_num_threads() -> c_int;
    #[link_name = blas_symbol!("openblas_set_num_threads")]
    fn openblas_set_num_threads(n: c_int);
    #[link_name = blas_symbol!("openblas_get_parallel")]
    fn openblas_get_parallel() -> c_int;
    #[link_name = blas_symbol!("openblas_get_num_procs")]
    fn openblas_get_num_procs() -> c_int;
}

/// OpenBLAS's `openblas_dojob_callback`: runs job `thread_num` of a call.
type DoJob = unsafe extern "C" fn(thread_num: c_int, jobdata: *mut c_void, dojob_data: c_int);
/// OpenBLAS's `openblas_threads_callback`.
type JobsCallback = unsafe extern "C" fn(
    sync: c_int,
    dojob: DoJob,
    numjobs: c_int,
    jobdata_elsize: usize,
    jobdata: *mut c_void,
    dojob_data: c_int,
);

/// Runs the `numjobs` jobs of one multithreaded OpenBLAS call together on rayon's pool
/// (`jobs::run_together`), job i with the i-th element of `jobdata`, and returns when all have
/// finished (also when OpenBLAS says it need not wait: `sync` = 0; waiting is always safe).
unsafe extern "C" fn run_jobs(
    _sync: c_int,
    dojob: DoJob,
    numjobs: c_int,
    jobdata_elsize: usize,
    jobdata: *mut c_void,
    dojob_data: c_int,
) {
    // The job array's address as a number, so the closure may be shared across threads.
    let base = jobdata as usize;
    let job = move |i: usize| {
        // SAFETY: OpenBLAS passes `numjobs` job elements of `jobdata_elsize` bytes from
        // `jobdata`, alive until this callback returns (`run_together` returns only after
        // every job finished), and `dojob` is its function for running one of them; i <
        // numjobs, which fits a c_int.
        unsafe {
            dojob(
                i as c_int,
                (base + i * jobdata_elsize) as *mut c_void,
                dojob_data,
            )
        }
    };
    super::jobs::run_together(numjobs.max(0) as usize, &job);
}

fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: OpenBLAS returns pointers to static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim()
        .to_string()
}

#[inline]
fn threading() -> Threading {
    static LAYER: std::sync::OnceLock<Threading> = std::sync::OnceLock::new();
    // SAFETY: a plain query with no arguments.
    *LAYER.get_or_init(|| match unsafe { openblas_get_parallel() } {
        0 => Threading::Serial,
        1 => Threading::Pthreads,
        2 => Threading::OpenMp,
        _ => Threading::Unknown,
    })
}

/// OpenMP's per-thread setters, found at run time in the OpenMP build's runtime (libgomp is
/// loaded with it); `None` on the other builds.
struct OpenMp {
    get_max_threads: unsafe extern "C" fn() -> c_int,
    set_num_threads: unsafe extern "C" fn(c_int),
}

#[inline]
fn openmp() -> Option<&'static OpenMp> {
    static OMP: std::sync::OnceLock<Option<OpenMp>> = std::sync::OnceLock::new();
    OMP.get_or_init(|| {
        if threading() != Threading::OpenMp {
            return None;
        }
        let find = |name: &CStr| {
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let (get, set) = (find(c"omp_get_max_threads")?, find(c"omp_set_num_threads")?);
        // SAFETY: both symbols are the OpenMP API functions of these names, whose C signatures
        // are `int omp_get_max_threads(void)` and `void omp_set_num_threads(int)`.
        unsafe {
            Some(OpenMp {
                get_max_threads: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn() -> c_int,
                >(get),
                set_num_threads: std::mem::transmute::<
                    *mut libc::c_void,
                    unsafe extern "C" fn(c_int),
                >(set),
            })
        }
    })
    .as_ref()
}

/// The library this backend links.
pub(crate) struct Linked;

impl Library for Linked {
    const NAME: &str = "openblas";
    const THREAD_ENV: &[&str] = &[
        "OPENBLAS_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "OMP_NUM_THREADS",
    ];
    const INT_MAX: usize = i32::MAX as usize;
    const HAS_SYRK: bool = true;
    /// `interface/gemm.c` (0.3.21 to 0.3.34): `if (MNK <= SMP_THRESHOLD_MIN *
    /// GEMM_MULTITHREAD_THRESHOLD) args.nthreads = 1`, 65536 × 4. Measured here: at 64³ one
    /// call takes 9.6 µs at counts 1 and 2 alike; at 128³ 88 and 56 µs.
    const GEMM_ONE_THREAD_MNK: f64 = 65536.0 * 4.0;
    /// Its GEMM has small-matrix kernels (0.3.21 and 0.3.34, x86-64) and its `syrk` none: one
    /// call at one thread of a square Gram product on the Zen 4 (0.3.21, Cooperlake kernels),
    /// µs by GEMM mirrored against `syrk`: n=16 0.55 / 0.68, 32 2.04 / 2.69, 36 3.11 / 3.33,
    /// 40 4.28 / 4.00, 48 6.47 / 5.86, 64 14.2 / 11.7. So up to 36³.
    const GRAM_BY_GEMM_MNK: f64 = 36.0 * 36.0 * 36.0;

    #[inline]
    fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
        cblas::accepts(rows, cols, rs, cs)
    }

    /// Whether calls may run from several threads at once. Not for the single-threaded build
    /// (Debian's `openblas-serial`): its buffer allocator has no locks, and concurrent calls were
    /// seen to return wrong results here (`tests/library/matmul.rs` nested test, 5 runs in 8).
    #[inline]
    fn reentrant() -> bool {
        threading() != Threading::Serial
    }

    #[inline]
    fn per_call_threads() -> bool {
        false
    }

    /// Finds `openblas_set_threads_callback_function` (0.3.28+) at run time, so an older
    /// library is a clear error rather than a link failure, and installs [`run_jobs`].
    fn install_jobs_callback() -> Result<(), String> {
        let name = concat!(blas_symbol!("openblas_set_threads_callback_function"), "\0");
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
        let set = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) };
        if set.is_null() {
            return Err(format!(
                "OpenBLAS {} has no openblas_set_threads_callback_function (OpenBLAS 0.3.28 \
                 or newer has; the openblas-scipy backend links 0.3.34)",
                Self::library_info().version
            ));
        }
        // SAFETY: the symbol is OpenBLAS's `void openblas_set_threads_callback_function(
        // openblas_threads_callback)`, whose argument has the C signature of `run_jobs`. The
        // header calls it not thread-safe: it stores one pointer, which rayblas sets once
        // (`run_blas_threads_on_rayon` runs this at most once per process).
        unsafe {
            let set =
                std::mem::transmute::<*mut libc::c_void, unsafe extern "C" fn(JobsCallback)>(set);
            set(run_jobs);
        }
        Ok(())
    }

    fn library_info() -> LibraryInfo {
        // SAFETY: plain queries returning static strings.
        let config = c_string(unsafe { openblas_get_config() });
        // SAFETY: as above.
        let corename = c_string(unsafe { openblas_get_corename() });
        let version = config
            .split_whitespace()
            .nth(1)
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("unknown")
            .to_string();
        LibraryInfo {
            version,
            config,
            corename: Some(corename),
            threading: threading(),
        }
    }

    fn get_num_threads() -> usize {
        // SAFETY: a plain query.
        unsafe { openblas_get_num_threads() }.max(1) as usize
    }

    fn set_num_threads(n: usize) {
        // SAFETY: n was checked against max_threads (≤ MAX_THREADS, fits c_int).
        unsafe { openblas_set_num_threads(n as c_int) }
    }

    fn max_threads() -> usize {
        let config = Self::library_info().config;
        if threading() == Threading::Serial {
            return 1;
        }
        config
            .split_whitespace()
            .find_map(|w| w.strip_prefix("MAX_THREADS="))
            .and_then(|v| v.parse().ok())
            // SAFETY: a plain query.
            .unwrap_or_else(|| unsafe { openblas_get_num_procs() }.max(1) as usize)
    }

    /// Whether a call's thread count comes from the calling thread (the OpenMP build: its
    /// `omp_get_max_threads()`), not from the global count.
    fn count_is_per_thread() -> bool {
        openmp().is_some()
    }

    /// On the OpenMP build, sets the calling thread's OpenMP thread count to `n` and returns the
    /// value it had (to put back the same way); `None` elsewhere (nothing to do).
    #[inline]
    fn set_calling_thread_threads(n: usize) -> Option<usize> {
        let omp = openmp()?;
        // SAFETY: plain OpenMP API calls on the calling thread's own setting; n ≤ MAX_THREADS.
        unsafe {
            let before = (omp.get_max_threads)();
            if before != n as c_int {
                (omp.set_num_threads)(n as c_int);
            }
            Some(before.max(1) as usize)
        }
    }
}
