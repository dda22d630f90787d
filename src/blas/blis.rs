//! The BLIS backend (`blis-system`): the system `libblis` (Debian `libblis-dev`).
//!
//! GEMM goes through the typed API `bli_?gemm_ex`, which takes any row and column strides (so
//! strided views need no copy) and a per-call runtime object `rntm_t` carrying the thread count:
//! each tile call gets exactly the threads its strategy gives it, from any thread. `rntm_t` is
//! declared in a header as inline code, not exported, and its layout changed in BLIS 1.0, so it
//! is used only when the loaded library reports a 0.9 version and 64-bit integers; otherwise
//! calls use the process-wide setting and per-call threads are reported as unavailable.

use super::threads::{LibraryInfo, Threading};
use super::Library;
use super::{RawGemm, Routines};
use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;

/// `rntm_t` as BLIS 0.9 lays it out (`bli_type_defs.h`).
#[repr(C)]
struct Rntm09 {
    auto_factor: bool,
    num_threads: i64,
    thrloop: [i64; 6],
    pack_a: bool,
    pack_b: bool,
    l3_sup: bool,
    sba_pool: *mut c_void,
    pba: *mut c_void,
}

impl Rntm09 {
    /// `BLIS_RNTM_INITIALIZER` followed by `bli_rntm_set_num_threads(n)`.
    fn with_threads(n: usize) -> Self {
        Rntm09 {
            auto_factor: true,
            num_threads: n as i64,
            thrloop: [-1; 6],
            pack_a: false,
            pack_b: false,
            l3_sup: true,
            sba_pool: std::ptr::null_mut(),
            pba: std::ptr::null_mut(),
        }
    }
}

const NO_TRANSPOSE: u32 = 0;

extern "C" {
    fn bli_info_get_version_str() -> *const c_char;
    fn bli_info_get_int_type_size() -> i64;
    fn bli_info_get_enable_openmp() -> bool;
    fn bli_info_get_enable_pthreads() -> bool;
    fn bli_arch_query_id() -> u32;
    fn bli_arch_string(id: u32) -> *const c_char;
    fn bli_thread_get_num_threads() -> i64;
    fn bli_thread_set_num_threads(n: i64);
    #[allow(clippy::too_many_arguments)]
    fn bli_dgemm_ex(
        transa: u32,
        transb: u32,
        m: i64,
        n: i64,
        k: i64,
        alpha: *const f64,
        a: *const f64,
        rsa: i64,
        csa: i64,
        b: *const f64,
        rsb: i64,
        csb: i64,
        beta: *const f64,
        c: *mut f64,
        rsc: i64,
        csc: i64,
        cntx: *const c_void,
        rntm: *mut c_void,
    );
    #[allow(clippy::too_many_arguments)]
    fn bli_sgemm_ex(
        transa: u32,
        transb: u32,
        m: i64,
        n: i64,
        k: i64,
        alpha: *const f32,
        a: *const f32,
        rsa: i64,
        csa: i64,
        b: *const f32,
        rsb: i64,
        csb: i64,
        beta: *const f32,
        c: *mut f32,
        rsc: i64,
        csc: i64,
        cntx: *const c_void,
        rntm: *mut c_void,
    );
}

fn version() -> String {
    // SAFETY: returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(bli_info_get_version_str()) }
        .to_string_lossy()
        .into_owned()
}

/// `C ← α·A·B + β·C` through BLIS's typed API with `threads` threads for this call (a 0.9
/// `rntm_t`), or the global setting where the layout is not known.
macro_rules! routines_through_blis {
    ($t:ty, $gemm_ex:ident) => {
        impl Routines for $t {
            unsafe fn gemm(g: &RawGemm<$t>, threads: usize) {
                let mut rntm = Rntm09::with_threads(threads);
                let rntm_ptr = if Linked::per_call_threads() {
                    &mut rntm as *mut Rntm09 as *mut c_void
                } else {
                    std::ptr::null_mut()
                };
                let (rsa, csa) = (fix(g.m, g.rsa, g.k), fix(g.k, g.csa, 1));
                let (rsb, csb) = (fix(g.k, g.rsb, g.n), fix(g.n, g.csb, 1));
                let (rsc, csc) = (fix(g.m, g.rsc, g.n), fix(g.n, g.csc, 1));
                let (m, n, k) = (g.m as i64, g.n as i64, g.k as i64);
                // SAFETY: the caller guarantees the memory (see `Routines::gemm`); rntm is a
                // 0.9-layout object that lives across the call, or null (global settings) on
                // other versions.
                unsafe {
                    $gemm_ex(
                        NO_TRANSPOSE,
                        NO_TRANSPOSE,
                        m,
                        n,
                        k,
                        &g.alpha,
                        g.a,
                        rsa,
                        csa,
                        g.b,
                        rsb,
                        csb,
                        &g.beta,
                        g.c,
                        rsc,
                        csc,
                        std::ptr::null(),
                        rntm_ptr,
                    )
                }
            }
            // Level 1/2 through BLIS's CBLAS layer; no syrk (a full GEMM carries the per-call
            // thread count).
            $crate::blas::cblas::level12_through_cblas!($t);
        }
    };
}
routines_through_blis!(f64, bli_dgemm_ex);
routines_through_blis!(f32, bli_sgemm_ex);

/// A stride for BLIS: those of length-1 dimensions may be anything (even 0), so give a valid
/// positive one.
fn fix(len: usize, stride: isize, other: usize) -> i64 {
    if len <= 1 {
        other.max(1) as i64
    } else {
        stride as i64
    }
}

/// The library this backend links.
pub(crate) struct Linked;

impl Library for Linked {
    const NAME: &str = "blis";
    const THREAD_ENV: &[&str] = &["BLIS_NUM_THREADS", "OMP_NUM_THREADS"];
    const INT_MAX: usize = i64::MAX as usize;

    /// BLIS takes any positive strides; a dimension of length 1 may have any stride.
    #[inline]
    fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
        (rows <= 1 || rs > 0) && (cols <= 1 || cs > 0)
    }

    /// Calls may run from several threads at once.
    #[inline]
    fn reentrant() -> bool {
        true
    }

    /// Whether this BLIS has the 0.9 `rntm_t` layout and 64-bit `dim_t`.
    #[inline]
    fn per_call_threads() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        // SAFETY: a plain query.
        *OK.get_or_init(|| {
            version().starts_with("0.9") && unsafe { bli_info_get_int_type_size() } == 64
        })
    }

    fn library_info() -> LibraryInfo {
        // SAFETY: plain queries.
        let (openmp, pthreads) =
            unsafe { (bli_info_get_enable_openmp(), bli_info_get_enable_pthreads()) };
        let threading = if openmp {
            Threading::OpenMp
        } else if pthreads {
            Threading::Pthreads
        } else {
            Threading::Serial
        };
        // SAFETY: returns a static NUL-terminated string for the id BLIS itself chose.
        let arch = unsafe { CStr::from_ptr(bli_arch_string(bli_arch_query_id())) }
            .to_string_lossy()
            .into_owned();
        let version = version();
        LibraryInfo {
            config: format!(
                "BLIS {version} ({} threading, arch {arch}, per-call threads {})",
                threading.name(),
                if Self::per_call_threads() {
                    "yes"
                } else {
                    "no"
                }
            ),
            version,
            corename: Some(arch),
            threading,
        }
    }

    fn get_num_threads() -> usize {
        // SAFETY: a plain query; BLIS returns -1 (unset) or a count.
        unsafe { bli_thread_get_num_threads() }.max(1) as usize
    }

    fn set_num_threads(n: usize) {
        // SAFETY: n ≤ max_threads, positive.
        unsafe { bli_thread_set_num_threads(n as i64) }
    }

    /// BLIS has no fixed limit; rayblas caps a request at 1024 threads.
    fn max_threads() -> usize {
        if Self::library_info().threading == Threading::Serial {
            1
        } else {
            1024
        }
    }
}
