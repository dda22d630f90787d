//! The reference BLAS backend (`netlib-system`): Debian's `libblas` from its reference
//! directory (`/usr/lib/<triple>/blas`), linked with an rpath to that directory by `build.rs` so
//! Debian's alternatives cannot swap OpenBLAS in. Single-threaded: the slow baseline.
//! [`library_info`] checks at run time that the loaded library really is the reference one.

use super::cblas;
use super::threads::{LibraryInfo, Threading};

pub(crate) const NAME: &str = "netlib";
pub(crate) const INT_MAX: usize = i32::MAX as usize;
pub(crate) use cblas::{accepts, gemm};

/// Calls may run from several threads at once.
pub(crate) fn reentrant() -> bool {
    true
}

pub(crate) fn per_call_threads() -> bool {
    false
}

/// Whether a symbol is visible in the process (to detect an OpenBLAS or BLIS loaded in place of
/// the reference library).
fn symbol_present(name: &std::ffi::CStr) -> bool {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
}

pub(crate) fn library_info() -> LibraryInfo {
    let dir = option_env!("RAYBLAS_NETLIB_DIR").unwrap_or("?");
    let impostor = if symbol_present(c"openblas_get_config") {
        " (but OpenBLAS was loaded in its place)"
    } else if symbol_present(c"bli_info_get_version_str") {
        " (but BLIS was loaded in its place)"
    } else {
        ""
    };
    LibraryInfo {
        version: "reference".to_string(),
        config: format!("netlib reference BLAS from {dir}{impostor}"),
        corename: None,
        threading: Threading::Serial,
    }
}

pub(crate) fn get_num_threads() -> usize {
    1
}

pub(crate) fn set_num_threads(_n: usize) {}

/// The count is never taken from the calling thread here: see `openblas.rs`.
pub(crate) fn count_is_per_thread() -> bool {
    false
}

/// No per-thread setting to align: see `openblas.rs`.
pub(crate) fn set_calling_thread_threads(_n: usize) -> Option<usize> {
    None
}

pub(crate) fn max_threads() -> usize {
    1
}
