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

#[test]
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
