//! Shared helpers: seeded random matrices and naive reference implementations.
#![allow(dead_code)]

use ndarray::{Array2, ArrayView2};
use rayblas::{Element, Strategy};

/// A seeded m×n matrix with entries uniform in [-1, 1).
pub fn random<T: Element>(m: usize, n: usize, seed: u64) -> Array2<T> {
    rayblas::bench::uniform::<f64>(m, n, seed).mapv(|v| T::from_f64(v * 2.0 - 1.0))
}

/// Naive product accumulated in f64, and the matching Σ|a||b| for error bounds.
pub fn naive_matmul<T: Element>(
    a: &ArrayView2<T>,
    b: &ArrayView2<T>,
) -> (Array2<f64>, Array2<f64>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let mut c = Array2::<f64>::zeros((m, n));
    let mut mag = Array2::<f64>::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut t) = (0.0, 0.0);
            for p in 0..k {
                let v = a[[i, p]].to_f64() * b[[p, j]].to_f64();
                s += v;
                t += v.abs();
            }
            c[[i, j]] = s;
            mag[[i, j]] = t;
        }
    }
    (c, mag)
}

/// Asserts `got` matches the naive product of `a` and `b` (scaled by alpha, plus beta·c0)
/// within `2(k+2)ε` of Σ|a||b| per element.
pub fn assert_product<T: Element>(
    got: &ArrayView2<T>,
    a: &ArrayView2<T>,
    b: &ArrayView2<T>,
    what: &str,
) {
    let (want, mag) = naive_matmul(a, b);
    assert_eq!(got.dim(), want.dim(), "{what}: shape");
    let k = a.ncols() as f64;
    let eps = T::EPSILON.to_f64();
    for ((idx, &g), (&w, &m)) in got.indexed_iter().zip(want.iter().zip(mag.iter())) {
        let tol = 2.0 * (k + 2.0) * eps * m + f64::MIN_POSITIVE;
        assert!(
            (g.to_f64() - w).abs() <= tol,
            "{what}: element {idx:?} = {g}, want {w} (tol {tol:e})"
        );
    }
}

/// Every strategy the linked backend can run, plus a few worker counts.
pub fn strategies() -> Vec<Strategy> {
    let mut v: Vec<Strategy> = [
        "serial",
        "blocked:1",
        "blocked:2",
        "blocked:3",
        "native",
        "native:1",
        "hybrid:2x1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    if rayblas::blas::per_call_threads() && rayblas::blas::info().max_threads >= 2 {
        v.push("hybrid:2x2".parse().unwrap());
        v.push("hybrid:1x2+pin".parse().unwrap());
    }
    if rayblas::blas::info().max_threads >= 2 {
        v.push("native:2".parse().unwrap());
    }
    v.push("blocked:2+pin".parse().unwrap());
    v
}

/// Fails the test instead of hanging it when the body does not finish in time.
pub fn with_watchdog(limit: std::time::Duration, body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => worker.join().expect("body finished"),
        // The body panicked: re-raise its panic with its own message.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = worker.join() {
                std::panic::resume_unwind(p)
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlock: the concurrent calls did not finish within {limit:?}")
        }
    }
}

/// `C = A·B` through the linked library's CBLAS `dgemm` directly, at its current thread count,
/// as code that knows nothing of rayblas would call it (the scipy-openblas wheel exports it as
/// `scipy_cblas_dgemm`).
#[cfg(not(feature = "pure-rust"))]
pub fn user_dgemm(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    extern "C" {
        #[cfg_attr(feature = "openblas-scipy", link_name = "scipy_cblas_dgemm")]
        #[cfg_attr(not(feature = "openblas-scipy"), link_name = "cblas_dgemm")]
        fn dgemm(
            layout: cblas_sys::CBLAS_LAYOUT,
            transa: cblas_sys::CBLAS_TRANSPOSE,
            transb: cblas_sys::CBLAS_TRANSPOSE,
            m: i32,
            n: i32,
            k: i32,
            alpha: f64,
            a: *const f64,
            lda: i32,
            b: *const f64,
            ldb: i32,
            beta: f64,
            c: *mut f64,
            ldc: i32,
        );
    }
    let (m, k) = a.dim();
    let n = b.ncols();
    let mut c = Array2::<f64>::zeros((m, n));
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    // SAFETY: row-major m×k, k×n and m×n arrays with leading dimensions k, n, n, alive for the
    // call; c is not aliased.
    unsafe {
        dgemm(
            cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
            cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
            cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
            m as i32,
            n as i32,
            k as i32,
            1.0,
            a.as_ptr(),
            k as i32,
            b.as_ptr(),
            n as i32,
            0.0,
            c.as_mut_ptr(),
            n as i32,
        )
    };
    c
}
