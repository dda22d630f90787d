//! A process whose calls are all too small to share starts no worker pool: the calls run on
//! the calling thread (issue 38: the hand-off to a pool cost 17–30 µs per call). A file of its
//! own, since it counts the threads of its process.

use ndarray::Array2;
use rayblas::{Config, Reduction};

/// The process's thread count (Linux `/proc/self/status`).
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// One test, so that no other test's thread comes or goes while the threads are counted.
#[test]
fn small_calls_run_on_the_calling_threads() {
    // In this order: the plain threads of the second part are gone when joined, but may stay
    // in the count for a moment after.
    small_calls_start_no_pool_and_a_large_one_does();
    many_small_calls_from_many_threads();
}

fn small_calls_start_no_pool_and_a_large_one_does() {
    let blocked = Config::new().strategy("blocked:2".parse().unwrap());
    let x = Array2::<f64>::from_shape_fn((32, 32), |(i, j)| (i * 3 + j) as f64 / 7.0);
    let y = x.mapv(|v| v as f32);
    // The library's own threads (OpenBLAS starts its pool when it loads) are there before.
    let want = Config::new()
        .strategy("serial".parse().unwrap())
        .gram_sum(&x)
        .unwrap();
    let before = threads();
    for _ in 0..200 {
        assert_eq!(blocked.gram_sum(&x).unwrap(), want);
        blocked.matmul(&x, x.t()).unwrap();
        blocked.gram(&y).unwrap();
        blocked.matmul_reduce(&y, y.t(), Reduction::Max).unwrap();
        blocked.sum(&x).unwrap();
        blocked.norm(&y).unwrap();
    }
    assert_eq!(threads(), before, "small calls started threads");
    // The count sees a pool: a product large enough to share starts one of two workers.
    let big = Array2::<f64>::ones((400, 400));
    blocked.gram_sum(&big).unwrap();
    assert!(
        threads() > before,
        "a large call started no pool: {}",
        threads()
    );
}

/// A numeric crate's loop: many small products (sizes 8–64) from a rayon `par_iter` and from 8
/// plain threads at once. Every result is checked against a serial call, no thread is started
/// beyond the callers' own (the calls run on them: no oversubscription), and the BLAS thread
/// count is the one from before once they are done.
fn many_small_calls_from_many_threads() {
    use rayon::prelude::*;
    let sizes = [8usize, 16, 24, 32, 48, 64];
    let inputs: Vec<Array2<f64>> = sizes
        .iter()
        .enumerate()
        .map(|(s, &n)| {
            Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3 + s) % 13) as f64 / 13.0)
        })
        .collect();
    let serial = Config::new().strategy("serial".parse().unwrap());
    let want: Vec<Array2<f64>> = inputs
        .iter()
        .map(|x| serial.matmul(x, x.t()).unwrap())
        .collect();
    let blas_before = rayblas::blas::num_threads();
    let default = Config::new();
    let check = |i: usize| {
        let s = i % inputs.len();
        let got = default.matmul(&inputs[s], inputs[s].t()).unwrap();
        assert!(got == want[s], "item {i}: other values than serial");
    };
    // rayon's global pool, started before the count is taken: its threads are the callers.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    pool.install(|| (0..64).into_par_iter().for_each(check));
    let before = threads();
    pool.install(|| (0..20_000).into_par_iter().for_each(check));
    assert_eq!(
        threads(),
        before,
        "small calls from a rayon pool started threads"
    );
    let plain = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                scope.spawn(move || {
                    for i in 0..2_000 {
                        check(t * 2_000 + i);
                    }
                    threads()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .max()
            .unwrap()
    });
    // The 8 callers themselves, and nothing else.
    assert!(
        plain <= before + 8,
        "{plain} threads with 8 callers on top of {before}"
    );
    assert_eq!(
        rayblas::blas::num_threads(),
        blas_before,
        "BLAS thread count restored"
    );
}
