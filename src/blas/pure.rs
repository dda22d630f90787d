//! The pure-Rust backend (`pure-rust`): no BLAS is linked; tiles go through the `gemm` crate
//! with its AVX-512 (`x86-v4`) kernels, the fastest pure-Rust GEMM measured here (FACTS.md:
//! 58–79 GFLOP/s on one core at n=4000, against 37–51 for `matrixmultiply`).
//!
//! Threads are per call (`gemm::Parallelism::Rayon(t)` in the current rayon pool), so every
//! strategy, `Hybrid` included, is real here. The "library setting" reported by
//! [`crate::blas::info`] is rayblas's own default for calls that do not say.

use super::threads::{LibraryInfo, Threading};
use super::RawGemm;
use crate::element::{Dtype, Element};
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) const NAME: &str = "pure-rust";
pub(crate) const INT_MAX: usize = isize::MAX as usize;

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Calls may run from several threads at once.
pub(crate) fn reentrant() -> bool {
    true
}

pub(crate) fn per_call_threads() -> bool {
    true
}

/// The `gemm` crate takes any strides, negative ones included.
pub(crate) fn accepts(_rows: usize, _cols: usize, _rs: isize, _cs: isize) -> bool {
    true
}

/// # Safety
/// `g` must describe valid memory for an m×k A, k×n B and m×n C with the given strides, C not
/// aliasing A or B.
pub(crate) unsafe fn gemm<T: Element>(g: &RawGemm<T>, threads: usize) {
    let par = if threads <= 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    // The crate computes dst ← α·dst + β·lhs·rhs: its α is our β and its β our α.
    let read_dst = g.beta != T::zero();
    match T::DTYPE {
        Dtype::F64 => {
            // SAFETY: T is f64; the caller guarantees the memory, shapes and strides.
            unsafe {
                gemm::gemm(
                    g.m,
                    g.n,
                    g.k,
                    g.c as *mut f64,
                    g.csc,
                    g.rsc,
                    read_dst,
                    g.a as *const f64,
                    g.csa,
                    g.rsa,
                    g.b as *const f64,
                    g.csb,
                    g.rsb,
                    g.beta.to_f64(),
                    g.alpha.to_f64(),
                    false,
                    false,
                    false,
                    par,
                )
            }
        }
        Dtype::F32 => {
            // SAFETY: T is f32; the caller guarantees the memory, shapes and strides.
            unsafe {
                gemm::gemm(
                    g.m,
                    g.n,
                    g.k,
                    g.c as *mut f32,
                    g.csc,
                    g.rsc,
                    read_dst,
                    g.a as *const f32,
                    g.csa,
                    g.rsa,
                    g.b as *const f32,
                    g.csb,
                    g.rsb,
                    g.beta.to_f64() as f32,
                    g.alpha.to_f64() as f32,
                    false,
                    false,
                    false,
                    par,
                )
            }
        }
    }
}

/// No BLAS route: reductions use rayblas's own SIMD kernels.
pub(crate) fn dot<T: Element>(_x: &[T], _y: &[T]) -> Option<T> {
    None
}

/// No BLAS route: reductions use rayblas's own SIMD kernels.
pub(crate) fn nrm2<T: Element>(_x: &[T]) -> Option<T> {
    None
}

/// No BLAS route: axis sums use rayblas's own SIMD kernels.
pub(crate) fn row_sums<T: Element>(
    _a: &[T],
    _rows: usize,
    _cols: usize,
    _transposed: bool,
) -> Option<Vec<T>> {
    None
}

pub(crate) fn library_info() -> LibraryInfo {
    LibraryInfo {
        version: "gemm 0.19".to_string(),
        config:
            "pure Rust: gemm crate (x86-v4 AVX-512 kernels when the CPU has them), rayon threads"
                .to_string(),
        corename: None,
        threading: Threading::Rayon,
    }
}

pub(crate) fn get_num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => super::threads::physical_cores(),
        n => n,
    }
}

pub(crate) fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The count is never taken from the calling thread here: see `openblas.rs`.
pub(crate) fn count_is_per_thread() -> bool {
    false
}

/// No per-thread setting to align: see `openblas.rs`.
pub(crate) fn set_calling_thread_threads(_n: usize) -> Option<usize> {
    None
}

pub(crate) fn max_threads() -> usize {
    1024
}
