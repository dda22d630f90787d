//! BLAS thread control: info fields, set/get, scoped guards (panics, concurrency), bad counts.

use rayblas::blas;
use std::sync::{Arc, Barrier, Mutex};

/// Tests in this file change the process-wide setting: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn info_reports_the_linked_backend() {
    let _l = lock();
    let info = blas::info();
    assert_eq!(info.backend, blas::BACKEND);
    assert!(["openblas", "blis", "netlib", "pure-rust"].contains(&info.backend));
    assert!(!info.version.is_empty() && !info.config.is_empty());
    assert!(info.num_threads >= 1 && info.num_threads <= info.max_threads);
    match info.backend {
        "openblas" => {
            assert!(info.config.contains("OpenBLAS"), "{}", info.config);
            assert!(info.version.starts_with("0."), "{}", info.version);
            assert!(info.corename.as_deref().is_some_and(|c| !c.is_empty()));
            let slow = info.corename.as_deref().is_some_and(blas::is_slow_kernel);
            // The slow-kernel warning appears exactly when the kernels are slow for this CPU.
            assert_eq!(
                slow,
                info.warnings
                    .iter()
                    .any(|w| w.contains("OPENBLAS_CORETYPE")),
                "{info:?}"
            );
        }
        "netlib" => {
            assert_eq!(info.max_threads, 1);
            assert!(
                info.warnings.is_empty(),
                "the reference BLAS itself must be loaded: {info:?}"
            );
            assert!(!info.per_call_threads);
        }
        "blis" => assert!(info.config.contains("BLIS")),
        _ => assert!(info.per_call_threads),
    }
}

#[test]
fn zero_and_too_many_threads_are_errors() {
    let _l = lock();
    let max = blas::info().max_threads;
    assert!(matches!(
        blas::set_num_threads(0),
        Err(rayblas::Error::InvalidThreads { .. })
    ));
    assert!(matches!(
        blas::set_num_threads(max + 1),
        Err(rayblas::Error::InvalidThreads { .. })
    ));
    assert!(blas::limit(0).is_err());
    assert!(blas::limit(max + 1).is_err());
}

/// A thread count other than the current one, or `None` on a library with one thread only
/// (OpenBLAS's single-threaded build, netlib). There a changed count cannot be observed, so the
/// tests check [`single_thread_contract`] instead of passing without proving anything.
fn other_count() -> Option<usize> {
    let before = blas::num_threads();
    let max = blas::info().max_threads;
    let other = if before == 1 { max.min(2) } else { 1 };
    (other != before).then_some(other)
}

/// What a one-thread library promises: the count is 1, larger counts are refused with an error
/// that names the limit, and a limit of 1 works and leaves 1.
fn single_thread_contract() {
    assert_eq!(blas::info().max_threads, 1);
    assert_eq!(blas::num_threads(), 1);
    for n in [2, 4] {
        match blas::limit(n) {
            Err(rayblas::Error::InvalidThreads { requested, reason }) => {
                assert_eq!(requested, n);
                assert!(reason.contains("at most 1"), "{reason}");
            }
            other => panic!("limit({n}) on a one-thread library: {other:?}"),
        }
        assert!(blas::set_num_threads(n).is_err());
    }
    let g = blas::limit(1).unwrap();
    assert_eq!(blas::num_threads(), 1);
    drop(g);
    blas::set_num_threads(1).unwrap();
    assert_eq!(blas::num_threads(), 1);
}

#[test]
fn set_and_limit_restore() {
    let _l = lock();
    let before = blas::num_threads();
    let Some(other) = other_count() else {
        return single_thread_contract();
    };
    {
        let _g = blas::limit(other).unwrap();
        assert_eq!(blas::num_threads(), other);
        {
            // Nested on the same thread: keeps the outer count, never deadlocks.
            let _inner = blas::limit(before).unwrap();
            assert_eq!(blas::num_threads(), other);
        }
        assert_eq!(blas::num_threads(), other);
    }
    assert_eq!(blas::num_threads(), before);
    blas::set_num_threads(other).unwrap();
    assert_eq!(blas::num_threads(), other);
    blas::set_num_threads(before).unwrap();
    assert_eq!(blas::num_threads(), before);
}

#[test]
fn guard_restores_after_a_panic() {
    let _l = lock();
    let before = blas::num_threads();
    let Some(other) = other_count() else {
        return single_thread_contract();
    };
    let r = std::panic::catch_unwind(|| {
        let _g = blas::limit(other).unwrap();
        assert_eq!(blas::num_threads(), other);
        panic!("boom");
    });
    assert!(r.is_err());
    assert_eq!(
        blas::num_threads(),
        before,
        "the guard must restore while unwinding"
    );
    // The setting still works afterwards (no poisoned state).
    let g = blas::limit(other).unwrap();
    assert_eq!(blas::num_threads(), other);
    drop(g);
    assert_eq!(blas::num_threads(), before);
}

#[test]
fn concurrent_guards_are_serialised() {
    let _l = lock();
    let before = blas::num_threads();
    let max = blas::info().max_threads;
    if max < 2 {
        return single_thread_contract();
    }
    let counts: Vec<usize> = (0..8).map(|i| 1 + i % max.min(3)).collect();
    let barrier = Arc::new(Barrier::new(counts.len()));
    let handles: Vec<_> = counts
        .into_iter()
        .map(|n| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..20 {
                    let _g = blas::limit(n).unwrap();
                    // While any guard for n is held, nobody may change the count.
                    assert_eq!(blas::num_threads(), n);
                    std::thread::yield_now();
                    assert_eq!(blas::num_threads(), n);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no guard saw another's count");
    }
    assert_eq!(blas::num_threads(), before);
}

#[test]
fn operations_restore_the_setting() {
    let _l = lock();
    let before = blas::num_threads();
    let x = ndarray::Array2::<f64>::ones((64, 32));
    for s in ["blocked:2", "serial", "native:1"] {
        let cfg = rayblas::Config::new().strategy(s.parse().unwrap());
        assert_eq!(cfg.gram_sum(&x).unwrap(), 64.0 * 64.0 * 32.0);
        assert_eq!(
            blas::num_threads(),
            before,
            "{s} left the thread count changed"
        );
    }
}

/// `openblas-scipy` links the pinned wheel's OpenBLAS (0.3.34), not the system's 0.3.21: the
/// prefixed symbols resolved to the library the feature names.
#[cfg(feature = "openblas-scipy")]
#[test]
fn the_scipy_openblas_wheel_is_the_linked_library() {
    let info = rayblas::blas::info();
    assert_eq!(info.backend, "openblas");
    assert_eq!(info.version, "0.3.34.0.0", "{info:?}");
    assert!(info.config.starts_with("OpenBLAS 0.3.34"), "{info:?}");
}

/// `Strategy::set_default_workers` changes `blocked`'s default worker count at run time (what a
/// thread-pool controller such as threadpoolctl turns), not an explicit count, and the bits of
/// a result stay the same for any count; `None` goes back to the default from before.
#[test]
fn the_default_worker_count_can_be_set_at_run_time() {
    use rayblas::{Config, Strategy};
    use std::num::NonZeroUsize;
    let _l = lock();
    let blocked: Strategy = "blocked".parse().unwrap();
    let two: Strategy = "blocked:2".parse().unwrap();
    let before = blocked.counts().unwrap();
    let x = ndarray::Array2::<f64>::from_shape_fn((300, 200), |(i, j)| {
        ((i * 13 + j * 7) % 17) as f64 / 17.0 - 0.4
    });
    let want = Config::new().strategy(blocked).gram_sum(&x).unwrap();
    for w in [1, 3] {
        Strategy::set_default_workers(NonZeroUsize::new(w));
        assert_eq!(blocked.counts().unwrap(), (w, 1));
        assert_eq!(two.counts().unwrap(), (2, 1), "an explicit count stays");
        let d = Strategy::default_workers().unwrap();
        assert_eq!(d.count, w);
        assert!(d.source.contains("set_default_workers"), "{}", d.source);
        let got = Config::new().strategy(blocked).gram_sum(&x).unwrap();
        assert_eq!(got.to_bits(), want.to_bits(), "{w} workers");
    }
    Strategy::set_default_workers(None);
    assert_eq!(blocked.counts().unwrap(), before);
}

/// `Strategy::set_default_native_threads` changes `native`'s default thread count at run time,
/// not an explicit count; a count above the library's maximum is refused when a call resolves
/// the strategy; `None` goes back to the default from before.
#[test]
fn the_default_native_thread_count_can_be_set_at_run_time() {
    use rayblas::{Config, Error, Strategy};
    use std::num::NonZeroUsize;
    let _l = lock();
    let native: Strategy = "native".parse().unwrap();
    let before = native.counts().unwrap();
    Strategy::set_default_native_threads(NonZeroUsize::new(1));
    assert_eq!(native.counts().unwrap(), (1, 1));
    assert!(
        "native:2".parse::<Strategy>().unwrap().counts().is_ok()
            || rayblas::blas::info().max_threads < 2,
        "an explicit count stays"
    );
    let d = Strategy::default_native_threads().unwrap();
    assert_eq!(d.count, 1);
    assert!(
        d.source.contains("set_default_native_threads"),
        "{}",
        d.source
    );
    let x = ndarray::Array2::<f64>::from_shape_fn((40, 30), |(i, j)| (i + 2 * j) as f64);
    let got = Config::new().strategy(native).gram_sum(&x).unwrap();
    let want: f64 = x.dot(&x.t()).sum();
    assert!((got - want).abs() <= 1e-12 * want.abs());
    let too_many = rayblas::blas::info().max_threads + 1;
    Strategy::set_default_native_threads(NonZeroUsize::new(too_many));
    assert!(matches!(
        native.counts(),
        Err(Error::UnsupportedStrategy { .. })
    ));
    Strategy::set_default_native_threads(None);
    assert_eq!(native.counts().unwrap(), before);
}
