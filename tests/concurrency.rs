//! Several user threads calling rayblas at once with mixed strategies, some from inside their
//! own rayon pools and nested scopes: every result must equal the reference, nothing may panic
//! or deadlock (a watchdog fails the test), and the BLAS thread count afterwards is what it was.
//!
//! This is the shape of issue 16's reproducer. Before its fixes it found wrong products on
//! OpenBLAS's OpenMP build (a thread-count change freed the per-thread buffers of a running
//! call) and `RefCell already borrowed` panics on pure-rust with `hybrid` (the fused ops' scratch
//! buffer was borrowed again on the same thread when gemm's rayon parallelism stole a tile).
//! `cargo xtask test` runs it on every backend and OpenBLAS build.

mod common;

use common::{naive_matmul, random, with_watchdog};
use ndarray::Array2;
use rayblas::{blas, BlockShape, Config, Reduction, Strategy};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Each test checks the process-wide BLAS count afterwards: run them one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every strategy the linked backend can run, mixed: per-call-thread strategies only where the
/// backend has per-call threads.
fn mix() -> Vec<Strategy> {
    let mut names = vec![
        "native",
        "serial",
        "blocked",
        "native:1",
        "blocked:3",
        "hybrid:2x1",
        "blocked:2+pin",
    ];
    if blas::per_call_threads() && blas::info().max_threads >= 2 {
        names.extend(["hybrid:2x2", "hybrid:1x2"]);
    }
    names.iter().map(|s| s.parse().unwrap()).collect()
}

struct Case {
    x: Array2<f64>,
    y: Array2<f64>,
    want_product: Array2<f64>,
    product_tol: Array2<f64>,
    want_gram_sum: f64,
    gram_sum_tol: f64,
    want_norm: f64,
}

impl Case {
    fn new(seed: u64) -> Self {
        let x = random::<f64>(230, 170, seed);
        let y = random::<f64>(170, 190, seed + 1000);
        let (want_product, mag) = naive_matmul(&x.view(), &y.view());
        let k = x.ncols() as f64;
        let product_tol = mag.mapv(|m| 2.0 * (k + 2.0) * f64::EPSILON * m + f64::MIN_POSITIVE);
        let (g, gmag) = naive_matmul(&x.view(), &x.t());
        let want_gram_sum = g.sum();
        // Each entry's error bound (k terms) plus the summation of its n² entries.
        let n = x.nrows() as f64;
        let gram_sum_tol = 4.0 * (k + n * n) * f64::EPSILON * gmag.sum();
        let want_norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        Case {
            x,
            y,
            want_product,
            product_tol,
            want_gram_sum,
            gram_sum_tol,
            want_norm,
        }
    }
}

/// One thread's rounds; returns the wrong results it saw, described.
fn rounds(thread: usize, rounds: usize, own_pool: Option<&rayon::ThreadPool>) -> Vec<String> {
    let case = Case::new(thread as u64);
    let strategies = mix();
    let block = BlockShape::square(40 + 17 * thread).unwrap();
    let mut wrong = Vec::new();
    for round in 0..rounds {
        let s = strategies[(thread + round) % strategies.len()];
        let cfg = Config::new().strategy(s).block(block);
        let gram_sum = cfg.gram_sum(&case.x).unwrap();
        if (gram_sum - case.want_gram_sum).abs() > case.gram_sum_tol {
            wrong.push(format!(
                "thread {thread} round {round} {s}: gram_sum {gram_sum} want {}",
                case.want_gram_sum
            ));
        }
        let product = match own_pool {
            Some(pool) => pool.install(|| cfg.matmul(&case.x, &case.y)).unwrap(),
            None => cfg.matmul(&case.x, &case.y).unwrap(),
        };
        let worst = product
            .iter()
            .zip(case.want_product.iter().zip(case.product_tol.iter()))
            .filter(|(g, (w, t))| (**g - **w).abs() > **t)
            .map(|(g, (w, _))| (g - w).abs())
            .fold(0.0_f64, f64::max);
        if worst > 0.0 {
            wrong.push(format!(
                "thread {thread} round {round} {s}: matmul off by up to {worst:e}"
            ));
        }
        // Alternately the materialised Gram matrix and the fused product sum.
        if round % 2 == 0 {
            let g = cfg.gram(&case.x).unwrap();
            if (g.sum() - case.want_gram_sum).abs() > case.gram_sum_tol || g != g.t() {
                wrong.push(format!("thread {thread} round {round} {s}: gram"));
            }
        } else {
            let v = cfg.matmul_reduce(&case.x, &case.y, Reduction::Sum).unwrap();
            if (v - case.want_product.sum()).abs() > case.product_tol.sum() {
                wrong.push(format!(
                    "thread {thread} round {round} {s}: matmul_reduce {v} want {}",
                    case.want_product.sum()
                ));
            }
        }
        // Small calls beside the big ones: one BLAS call on the calling thread (the automatic
        // block, no lease below 64³ on OpenBLAS) and a batch, both checked.
        let small = Config::new().strategy(s);
        let (sx, sy) = (
            case.x.slice(ndarray::s![..12, ..9]),
            case.y.slice(ndarray::s![..9, ..7]),
        );
        let (want, mag) = naive_matmul(&sx, &sy);
        let got = small.matmul(sx, sy).unwrap();
        if got
            .iter()
            .zip(want.iter().zip(mag.iter()))
            .any(|(g, (w, m))| (g - w).abs() > 24.0 * f64::EPSILON * m)
        {
            wrong.push(format!("thread {thread} round {round} {s}: small matmul"));
        }
        let batch_a = ndarray::Array3::from_shape_fn((20, 5, 4), |(i, r, c)| case.x[[i + r, c]]);
        let batch_b = ndarray::Array3::from_shape_fn((20, 4, 3), |(i, r, c)| case.y[[r, i + c]]);
        match small.matmul_batch(&batch_a, &batch_b) {
            Ok(c) => {
                for i in 0..20 {
                    let (a, b) = (
                        batch_a.index_axis(ndarray::Axis(0), i),
                        batch_b.index_axis(ndarray::Axis(0), i),
                    );
                    let (want, mag) = naive_matmul(&a, &b);
                    let got = c.index_axis(ndarray::Axis(0), i);
                    if got
                        .iter()
                        .zip(want.iter().zip(mag.iter()))
                        .any(|(g, (w, m))| (g - w).abs() > 12.0 * f64::EPSILON * m)
                    {
                        wrong.push(format!("thread {thread} round {round} {s}: batch item {i}"));
                    }
                }
            }
            // `native` runs a batch only where the library has a batched GEMM for these sizes.
            Err(rayblas::Error::UnsupportedStrategy { .. }) => {}
            Err(e) => wrong.push(format!("thread {thread} round {round} {s}: batch: {e}")),
        }
        let norm = cfg.norm(&case.x).unwrap();
        if (norm - case.want_norm).abs() > 1e-12 * case.want_norm {
            wrong.push(format!(
                "thread {thread} round {round} {s}: norm {norm} want {}",
                case.want_norm
            ));
        }
    }
    wrong
}

#[test]
fn mixed_strategies_from_eight_threads_some_in_their_own_pools() {
    let _one = one_at_a_time();
    let before = blas::num_threads();
    with_watchdog(Duration::from_secs(300), || {
        let handles: Vec<_> = (0..8)
            .map(|thread| {
                std::thread::spawn(move || {
                    if thread % 2 == 1 {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(3)
                            .build()
                            .unwrap();
                        rounds(thread, 24, Some(&pool))
                    } else {
                        rounds(thread, 24, None)
                    }
                })
            })
            .collect();
        let wrong: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("no caller thread panics"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{} wrong results:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    });
    assert_eq!(blas::num_threads(), before, "BLAS thread count restored");
}

/// Rayblas calls made from inside work that rayblas itself (or a user's pool, nested in scopes)
/// runs: each must finish with the right answer, whatever pool it lands on.
#[test]
fn nested_calls_inside_user_pools_and_scopes() {
    let _one = one_at_a_time();
    let before = blas::num_threads();
    with_watchdog(Duration::from_secs(300), || {
        let case = Case::new(77);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let strategies = mix();
        let results: Vec<(Strategy, f64, Array2<f64>)> = pool.install(|| {
            let out = std::sync::Mutex::new(Vec::new());
            rayon::scope(|scope| {
                for (i, &s) in strategies.iter().enumerate() {
                    let (case, out) = (&case, &out);
                    scope.spawn(move |inner| {
                        let cfg = Config::new()
                            .strategy(s)
                            .block(BlockShape::square(33 + 10 * i).unwrap());
                        // A nested scope inside the task, calling rayblas from both levels.
                        inner.spawn(move |_| {
                            let p = cfg.matmul(&case.x, &case.y).unwrap();
                            out.lock().unwrap().push((s, f64::NAN, p));
                        });
                        let g = cfg.gram_sum(&case.x).unwrap();
                        out.lock().unwrap().push((s, g, Array2::zeros((0, 0))));
                    });
                }
            });
            out.into_inner().unwrap()
        });
        assert_eq!(results.len(), 2 * strategies.len());
        for (s, g, p) in results {
            if p.is_empty() {
                assert!(
                    (g - case.want_gram_sum).abs() <= case.gram_sum_tol,
                    "{s}: {g}"
                );
            } else {
                for ((got, want), tol) in p.iter().zip(&case.want_product).zip(&case.product_tol) {
                    assert!((got - want).abs() <= *tol, "{s}: {got} vs {want}");
                }
            }
        }
    });
    assert_eq!(blas::num_threads(), before, "BLAS thread count restored");
}

/// A user's own BLAS calls (CBLAS `dgemm` straight into the linked library) on one thread while
/// rayblas runs mixed strategies on others: both must stay right (the user's calls only where
/// the library is reentrant). rayblas never changes the
/// library's thread count while its own calls run and restores each thread's OpenMP setting
/// after its calls, so the user's calls see what they would see without rayblas.
#[cfg(not(feature = "pure-rust"))]
#[test]
fn direct_blas_calls_beside_rayblas() {
    let _one = one_at_a_time();
    with_watchdog(Duration::from_secs(300), || {
        // On a library that is not reentrant (OpenBLAS's single-threaded build) a user's
        // unserialised calls race with any other call, rayblas's or not: rayblas serialises
        // only the calls it makes (docs/thread-pools.md). Its own calls are still checked.
        let reentrant = blas::reentrant();
        let user = std::thread::spawn(move || {
            let case = Case::new(99);
            let mut wrong = 0;
            for _ in 0..if reentrant { 60 } else { 0 } {
                let c = common::user_dgemm(&case.x, &case.y);
                let off = c
                    .iter()
                    .zip(case.want_product.iter().zip(&case.product_tol))
                    .any(|(g, (w, t))| (g - w).abs() > *t);
                wrong += usize::from(off);
            }
            wrong
        });
        let rayblas_threads: Vec<_> = (0..3)
            .map(|t| std::thread::spawn(move || rounds(t, 16, None)))
            .collect();
        let mut wrong: Vec<String> = rayblas_threads
            .into_iter()
            .flat_map(|h| h.join().expect("no rayblas caller panics"))
            .collect();
        let user_wrong = user.join().expect("the user's thread does not panic");
        if user_wrong > 0 {
            wrong.push(format!(
                "{user_wrong} of the user's direct dgemm calls were wrong"
            ));
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    });
}
