//! The reference BLAS backend (`netlib-system`): Debian's `libblas` from its reference
//! directory (`/usr/lib/<triple>/blas`), linked with an rpath to that directory by `build.rs` so
//! Debian's alternatives cannot swap OpenBLAS in. Single-threaded: the slow baseline.
//! [`library_info`] checks at run time that the loaded library really is the reference one.

use super::cblas;
use super::threads::{LibraryInfo, Threading};
use super::Library;

cblas::routines_through_cblas!();

/// Whether a symbol is visible in the process (to detect an OpenBLAS or BLIS loaded in place of
/// the reference library).
fn symbol_present(name: &std::ffi::CStr) -> bool {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
}

/// The library this backend links.
pub(crate) struct Linked;

impl Library for Linked {
    const NAME: &str = "netlib";
    const THREAD_ENV: &[&str] = &[];
    const INT_MAX: usize = i32::MAX as usize;
    const HAS_SYRK: bool = true;
    /// The reference BLAS has no threads.
    const GEMM_ONE_THREAD_MNK: f64 = f64::INFINITY;

    #[inline]
    fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
        cblas::accepts(rows, cols, rs, cs)
    }

    /// Calls may run from several threads at once.
    #[inline]
    fn reentrant() -> bool {
        true
    }

    #[inline]
    fn per_call_threads() -> bool {
        false
    }

    fn library_info() -> LibraryInfo {
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

    fn get_num_threads() -> usize {
        1
    }

    fn set_num_threads(_n: usize) {}

    fn max_threads() -> usize {
        1
    }
}
