//! One thread pool per process: multithreaded BLAS calls running their jobs on rayon's pool
//! (`blas::run_blas_threads_on_rayon`). Where the library has the callback (OpenBLAS ≥ 0.3.28:
//! the `openblas-scipy` backend), every product must stay right and nothing may deadlock:
//! calls from the main thread, from inside busy rayon workers, from a user's own pool, from 8
//! threads at once, and a user's own `dgemm` (a watchdog fails a stuck test). Where it lacks
//! it, installing is a clear error. Installing is for the whole process, so these tests have a
//! binary of their own.

mod common;

use common::{assert_product, random, with_watchdog};
use ndarray::Array2;
use rayblas::{blas, Config, Reduction, Strategy};
use rayon::prelude::*;
use std::time::Duration;

/// Large enough that OpenBLAS threads the call (it runs small ones on one thread).
const N: usize = 300;

fn native(threads: usize) -> Config {
    Config::new().strategy(Strategy::Native {
        threads: Some(threads),
    })
}

/// Installs the callback, or checks the error says why not and returns `false`.
fn installed() -> bool {
    match blas::run_blas_threads_on_rayon() {
        Ok(()) => {
            assert!(blas::info().threads_on_rayon);
            true
        }
        Err(e) => {
            let text = e.to_string();
            assert!(matches!(e, rayblas::Error::Backend(_)), "{e:?}");
            assert!(
                text.contains("0.3.28") && !blas::info().threads_on_rayon,
                "{text}"
            );
            assert_eq!(blas::rayon_jobs(), None);
            false
        }
    }
}

#[test]
fn the_scipy_openblas_backend_has_the_callback() {
    assert_eq!(installed(), cfg!(feature = "openblas-scipy"));
}

/// `native+rayon` computes what `native` does where the library has the callback, and is
/// refused with the library's reason where it lacks it.
#[test]
fn the_native_on_rayon_strategy_runs_or_says_why_not() {
    let strategy: Strategy = "native:2+rayon".parse().unwrap();
    let a = random::<f64>(N, N, 5);
    match Config::new().strategy(strategy).matmul(&a, a.t()) {
        Ok(c) => {
            assert!(blas::info().threads_on_rayon);
            assert_product(&c.view(), &a.view(), &a.t(), "native+rayon");
            let want = native(2).gram_reduce(&a, Reduction::Sum).unwrap();
            let got = Config::new()
                .strategy(strategy)
                .gram_reduce(&a, Reduction::Sum)
                .unwrap();
            assert!((got - want).abs() <= 1e-9 * want.abs());
        }
        Err(e) => {
            let has_callback = cfg!(feature = "openblas-scipy");
            assert!(!has_callback, "{e}");
            assert!(
                matches!(e, rayblas::Error::UnsupportedStrategy { .. }),
                "{e:?}"
            );
            assert!(e.to_string().contains("0.3.28"), "{e}");
        }
    }
}

#[test]
fn products_are_right_and_nothing_deadlocks_wherever_the_calls_come_from() {
    if !installed() || blas::info().max_threads < 2 {
        return;
    }
    let before = blas::num_threads();
    with_watchdog(Duration::from_secs(300), || {
        let a = random::<f64>(N, N, 1);
        let b = random::<f64>(N, N, 2);

        // From the main thread: the pool is idle, so the jobs run on it (after the first
        // call, which may come before the pool's threads have started).
        let c = native(2).matmul(&a, &b).unwrap();
        assert_product(&c.view(), &a.view(), &b.view(), "main thread");
        let on_pool = blas::rayon_jobs().unwrap().on_pool;
        for _ in 0..5 {
            let c = native(2).matmul(&a, &b).unwrap();
            assert_product(&c.view(), &a.view(), &b.view(), "main thread");
        }
        eprintln!("{:?}", blas::rayon_jobs());
        assert!(
            blas::rayon_jobs().unwrap().on_pool > on_pool,
            "no call ran on the pool: {:?}",
            blas::rayon_jobs()
        );

        // From inside rayon workers that are all busy with such calls, and from a user's own
        // pool: right answers, whichever path each call took.
        for pool_threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(pool_threads)
                .build()
                .unwrap();
            let products: Vec<Array2<f64>> = pool.install(|| {
                (0..8)
                    .into_par_iter()
                    .map(|_| native(2).matmul(&a, &b).unwrap())
                    .collect()
            });
            for c in &products {
                assert_product(&c.view(), &a.view(), &b.view(), "inside a busy pool");
            }
        }

        // 8 user threads at once, mixing native products, blocked fused ops and the user's own
        // dgemm.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (a, b) = (a.clone(), b.clone());
                std::thread::spawn(move || {
                    for _ in 0..4 {
                        match t % 3 {
                            0 => {
                                let c = native(2).matmul(&a, &b).unwrap();
                                assert_product(&c.view(), &a.view(), &b.view(), "thread");
                            }
                            1 => {
                                let want = native(1).gram_reduce(&a, Reduction::Sum).unwrap();
                                let got = Config::new().gram_reduce(&a, Reduction::Sum).unwrap();
                                assert!((got - want).abs() <= 1e-9 * want.abs());
                            }
                            _ => {
                                let c = user_dgemm(&a, &b);
                                assert_product(&c.view(), &a.view(), &b.view(), "user dgemm");
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no thread panics");
        }
    });
    assert_eq!(blas::num_threads(), before, "BLAS thread count restored");
    let counts = blas::rayon_jobs().unwrap();
    eprintln!(
        "calls on the pool: {}, on new threads: {}",
        counts.on_pool, counts.on_new_threads
    );
}

#[cfg(not(feature = "pure-rust"))]
use common::user_dgemm;

#[cfg(feature = "pure-rust")]
fn user_dgemm(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    a.dot(b)
}
