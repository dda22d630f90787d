//! Guarantees of the reliability issue that need no test-only hook (the fault inside a tile is
//! in `src/fault_tests.rs`, the 8-thread stress in `tests/concurrency.rs`):
//!
//! - NaN and ±Inf propagate the same way under every strategy: each entry of a product, and
//!   each fused or plain reduction, is NaN, +Inf, −Inf or finite exactly where a naive
//!   reference says so;
//! - memory stays flat over 1000 repeated calls.

mod common;

use ndarray::{Array2, ArrayView2};
use rayblas::{BlockShape, Config, Element, Reduction, Strategy};
use std::sync::Mutex;

/// The tests of this file measure the process (RSS): one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Nan,
    PosInf,
    NegInf,
    Finite,
}

fn class(x: f64) -> Class {
    if x.is_nan() {
        Class::Nan
    } else if x == f64::INFINITY {
        Class::PosInf
    } else if x == f64::NEG_INFINITY {
        Class::NegInf
    } else {
        Class::Finite
    }
}

/// The naive product in f64, where each entry's class does not depend on the order of its
/// terms: any NaN term gives NaN, +Inf and −Inf terms together give NaN, else the infinite sign.
fn reference<T: Element>(a: &ArrayView2<T>, b: &ArrayView2<T>) -> Array2<f64> {
    common::naive_matmul(a, b).0
}

/// Max (min) as rayblas defines it: NaN if any entry is NaN.
fn extreme(values: impl Iterator<Item = f64>, max: bool) -> f64 {
    values.fold(
        if max {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        },
        |m, v| {
            if m.is_nan() || v.is_nan() {
                f64::NAN
            } else if max {
                m.max(v)
            } else {
                m.min(v)
            }
        },
    )
}

/// Inputs with special values planted: (name, A, B).
fn cases<T: Element>() -> Vec<(&'static str, Array2<T>, Array2<T>)> {
    let base_a = common::random::<T>(37, 29, 11);
    let base_b = common::random::<T>(29, 23, 12);
    let plant = |m: &mut Array2<T>, at: (usize, usize), v: f64| m[at] = T::from_f64(v);
    let mut out = Vec::new();
    let (mut a, b) = (base_a.clone(), base_b.clone());
    plant(&mut a, (3, 5), f64::NAN);
    out.push(("one NaN in A", a, b));
    let (mut a, b) = (base_a.clone(), base_b.clone());
    plant(&mut a, (10, 0), f64::INFINITY);
    plant(&mut a, (30, 28), f64::NEG_INFINITY);
    out.push(("+Inf and -Inf in A", a, b));
    let (mut a, mut b) = (base_a.clone(), base_b.clone());
    plant(&mut a, (20, 7), f64::INFINITY);
    plant(&mut b, (7, 4), f64::NEG_INFINITY);
    plant(&mut b, (13, 4), f64::INFINITY);
    plant(&mut a, (20, 13), f64::INFINITY);
    out.push(("Inf meeting Inf of both signs", a, b));
    let (a, mut b) = (base_a, base_b);
    plant(&mut b, (0, 0), f64::NAN);
    plant(&mut b, (28, 22), f64::INFINITY);
    out.push(("NaN and +Inf in B", a, b));
    out
}

fn check_propagation<T: Element>() {
    let blocks = [
        BlockShape::square(8).unwrap(),
        BlockShape::square(64).unwrap(),
    ];
    for (name, a, b) in cases::<T>() {
        let want = reference(&a.view(), &b.view());
        let want_gram = reference(&a.view(), &a.t());
        let classes = |m: &Array2<f64>| m.iter().map(|&v| class(v)).collect::<Vec<_>>();
        let sum_class = |m: &Array2<f64>| class(m.iter().sum());
        for strategy in common::strategies() {
            for &block in &blocks {
                let cfg = Config::new().strategy(strategy).block(block);
                let at = format!(
                    "{} {name}, {strategy}, block {block:?}",
                    std::any::type_name::<T>()
                );
                let got = cfg.matmul(&a, &b).unwrap().mapv(|v| v.to_f64());
                assert_eq!(classes(&got), classes(&want), "matmul: {at}");
                let gram = cfg.gram(&a).unwrap().mapv(|v| v.to_f64());
                assert_eq!(classes(&gram), classes(&want_gram), "gram: {at}");
                let fused = |r| cfg.matmul_reduce(&a, &b, r).unwrap().to_f64();
                assert_eq!(
                    class(fused(Reduction::Sum)),
                    sum_class(&want),
                    "sum(A·B): {at}"
                );
                assert_eq!(
                    class(fused(Reduction::Max)),
                    class(extreme(want.iter().copied(), true)),
                    "max(A·B): {at}"
                );
                assert_eq!(
                    class(fused(Reduction::Min)),
                    class(extreme(want.iter().copied(), false)),
                    "min(A·B): {at}"
                );
                let gram_sum = cfg.gram_reduce(&a, Reduction::Sum).unwrap().to_f64();
                assert_eq!(class(gram_sum), sum_class(&want_gram), "sum(A·Aᵀ): {at}");
                // Plain reductions over A itself.
                let a64 = a.mapv(|v| v.to_f64());
                assert_eq!(
                    class(cfg.sum(&a).unwrap().to_f64()),
                    sum_class(&a64),
                    "sum: {at}"
                );
                assert_eq!(
                    class(cfg.max(&a).unwrap().to_f64()),
                    class(extreme(a64.iter().copied(), true)),
                    "max: {at}"
                );
                assert_eq!(
                    class(cfg.min(&a).unwrap().to_f64()),
                    class(extreme(a64.iter().copied(), false)),
                    "min: {at}"
                );
                let norm = a64.iter().map(|v| v * v).sum::<f64>().sqrt();
                assert_eq!(
                    class(cfg.norm(&a).unwrap().to_f64()),
                    class(norm),
                    "norm: {at}"
                );
            }
        }
    }
}

#[test]
fn guarantee_nan_and_inf_propagate_the_same_under_every_strategy() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    check_propagation::<f64>();
    check_propagation::<f32>();
}

/// Resident memory of this process, in bytes (Linux `VmRSS`).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<usize>().ok())
        })
        .map(|kib| kib * 1024)
        .expect("VmRSS in /proc/self/status")
}

#[test]
fn guarantee_memory_stays_flat_over_1000_calls() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let a = common::random::<f64>(96, 80, 1);
    let b = common::random::<f64>(80, 72, 2);
    let configs: Vec<Config> = ["serial", "native", "blocked", "blocked:3"]
        .iter()
        .map(|s| {
            Config::new()
                .strategy(s.parse::<Strategy>().unwrap())
                .block(BlockShape::square(32).unwrap())
        })
        .collect();
    let round = |i: usize| {
        let cfg = &configs[i % configs.len()];
        let c = cfg.matmul(&a, &b).unwrap();
        let g = cfg.gram_reduce(&a, Reduction::Sum).unwrap();
        let s = cfg.sum(&c).unwrap();
        std::hint::black_box((g, s));
    };
    // Warm up: pools, BLAS buffers, allocator arenas.
    for i in 0..200 {
        round(i);
    }
    let before = rss_bytes();
    for i in 0..1000 {
        round(i);
    }
    let grown = rss_bytes().saturating_sub(before);
    // One leaked 72×96 product per call would be 54 MiB over 1000 calls.
    assert!(
        grown < 8 << 20,
        "RSS grew {} KiB over 1000 calls",
        grown >> 10
    );
}
