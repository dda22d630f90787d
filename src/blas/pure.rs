//! The pure-Rust backend (`pure-rust`): no BLAS is linked; tiles go through the `gemm` crate
//! with its AVX-512 (`x86-v4`) kernels, the fastest pure-Rust GEMM measured here (FACTS.md:
//! 58–79 GFLOP/s on one core at n=4000, against 37–51 for `matrixmultiply`).
//!
//! Threads are per call (`gemm::Parallelism::Rayon(t)` in the current rayon pool), so every
//! strategy, `Hybrid` included, is real here. The "library setting" reported by
//! [`crate::blas::info`] is rayblas's own default for calls that do not say.

use super::threads::{LibraryInfo, Threading};
use super::Library;
use super::{RawGemm, Routines};
use crate::element::Element;
use std::sync::atomic::{AtomicUsize, Ordering};

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// `C ← α·A·B + β·C` through the `gemm` crate, which takes any strides and is generic over
/// the element type, on `threads` rayon threads of the current pool.
///
/// # Safety
/// `g` must describe valid memory for an m×k A, k×n B and m×n C with the given strides, C not
/// aliasing A or B.
unsafe fn gemm_crate<T: Element>(g: &RawGemm<T>, threads: usize) {
    let par = if threads <= 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    // The crate computes dst ← α·dst + β·lhs·rhs: our β is its α and our α its β.
    let read_dst = g.beta != T::zero();
    // SAFETY: the caller guarantees the memory and strides (see above).
    unsafe {
        gemm::gemm(
            g.m, g.n, g.k, g.c, g.csc, g.rsc, read_dst, g.a, g.csa, g.rsa, g.b, g.csb, g.rsb,
            g.beta, g.alpha, false, false, false, par,
        )
    }
}

/// GEMM through the `gemm` crate; no level-1/2 routes (rayblas's own kernels run).
macro_rules! routines_through_gemm_crate {
    ($($t:ty),*) => {$(
        impl Routines for $t {
            unsafe fn gemm(g: &RawGemm<$t>, threads: usize) {
                // SAFETY: forwarded; the caller upholds `Routines::gemm`'s contract.
                unsafe { gemm_crate(g, threads) }
            }
        }
    )*};
}
routines_through_gemm_crate!(f32, f64);

/// The library this backend links.
pub(crate) struct Linked;

impl Library for Linked {
    const NAME: &str = "pure-rust";
    const THREAD_ENV: &[&str] = &["RAYON_NUM_THREADS"];
    const INT_MAX: usize = isize::MAX as usize;
    const CALL_THREADS_FROM_RAYON: bool = true;

    /// The `gemm` crate takes any strides, negative ones included.
    #[inline]
    fn accepts(_rows: usize, _cols: usize, _rs: isize, _cs: isize) -> bool {
        true
    }

    /// Calls may run from several threads at once.
    #[inline]
    fn reentrant() -> bool {
        true
    }

    #[inline]
    fn per_call_threads() -> bool {
        true
    }

    fn library_info() -> LibraryInfo {
        LibraryInfo {
            version: "gemm 0.19".to_string(),
            config:
                "pure Rust: gemm crate (x86-v4 AVX-512 kernels when the CPU has them), rayon threads"
                    .to_string(),
            corename: None,
            threading: Threading::Rayon,
        }
    }

    fn get_num_threads() -> usize {
        match NUM_THREADS.load(Ordering::Relaxed) {
            0 => crate::cpu::physical_cores(),
            n => n,
        }
    }

    fn set_num_threads(n: usize) {
        NUM_THREADS.store(n, Ordering::Relaxed);
    }

    fn max_threads() -> usize {
        1024
    }
}
