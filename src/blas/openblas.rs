//! The OpenBLAS backend (`openblas-system`): the system library found by pkg-config.
//!
//! OpenBLAS keeps one process-wide thread count (`openblas_set_num_threads`), except the OpenMP
//! build, where the count is OpenMP's per-thread setting: a value set on one thread does not reach
//! others, so workers set it themselves ([`set_thread_local_threads`]). Multithreaded calls from
//! several threads queue behind one lock inside the library, which is why `Hybrid` is refused here.

use super::cblas;
use super::threads::{LibraryInfo, Threading};
use std::ffi::{c_char, c_int, CStr};

pub(crate) const NAME: &str = "openblas";
pub(crate) const INT_MAX: usize = i32::MAX as usize;
pub(crate) use cblas::{accepts, gemm};

extern "C" {
    fn openblas_get_config() -> *const c_char;
    fn openblas_get_corename() -> *const c_char;
    fn openblas_get_num_threads() -> c_int;
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_parallel() -> c_int;
    fn openblas_get_num_procs() -> c_int;
}

pub(crate) fn per_call_threads() -> bool {
    false
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

/// Whether calls may run from several threads at once. Not for the single-threaded build
/// (Debian's `openblas-serial`): its buffer allocator has no locks, and concurrent calls were
/// seen to return wrong results here (`tests/matmul.rs` nested test, 5 runs in 8).
pub(crate) fn reentrant() -> bool {
    threading() != Threading::Serial
}

pub(crate) fn library_info() -> LibraryInfo {
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

pub(crate) fn get_num_threads() -> usize {
    // SAFETY: a plain query.
    unsafe { openblas_get_num_threads() }.max(1) as usize
}

pub(crate) fn set_num_threads(n: usize) {
    // SAFETY: n was checked against max_threads (≤ MAX_THREADS, fits c_int).
    unsafe { openblas_set_num_threads(n as c_int) }
}

/// The OpenMP build keeps the count per thread: set it on the calling thread too.
pub(crate) fn set_thread_local_threads(n: usize) {
    if threading() == Threading::OpenMp {
        set_num_threads(n);
    }
}

pub(crate) fn max_threads() -> usize {
    let config = library_info().config;
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
