//! Threading strategies on products, f64, with the kernels checked first.
//!
//! First an interleaved report (each case once per round, A B A B …, medians of 5 rounds) with
//! the ratios and efficiencies the issue asks for; then criterion's own statistics per case.
//!
//! ```sh
//! cargo bench --bench strategies                 # report + criterion
//! RAYBLAS_BENCH_REPORT_ONLY=1 cargo bench --bench strategies
//! RAYBLAS_BENCH_SEED=1 cargo bench --bench strategies   # add the full seed case (n=10000), ~2 min
//! ```

mod common;

use criterion::{BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use rayblas::{BlockShape, Calls, Config, Reduction, Strategy};
use std::hint::black_box;
use std::time::Duration;

fn random(n: usize, k: usize, seed: u64) -> Array2<f64> {
    rayblas::bench::uniform(n, k, seed)
}

fn cfg(strategy: &str, block: usize) -> Config {
    Config::new()
        .strategy(strategy.parse::<Strategy>().expect("valid strategy"))
        .block(BlockShape::square(block).expect("positive"))
}

/// One-thread dgemm GFLOP/s at n=2000 (median of 5), the per-core peak the targets refer to.
fn one_thread_gemm_gflops() -> f64 {
    let a = random(2000, 2000, 1);
    let serial = cfg("serial", 4096);
    let t = common::interleaved(
        5,
        &mut [("dgemm 1 thread", &mut || {
            black_box(serial.matmul(&a, &a).unwrap());
        })],
    );
    2.0 * 2000f64.powi(3) / t[0] / 1e9
}

fn report() {
    let cores = rayblas::cpu::physical_cores() as f64;
    let g1 = one_thread_gemm_gflops();
    let peak = g1 * cores;
    println!(
        "one-thread dgemm: {g1:.1} GFLOP/s; peak = {g1:.1} x {cores} cores = {peak:.1} GFLOP/s"
    );

    // matmul n=4000, block 1000: blocked vs native; blocked with one call per tile shows what
    // the strips save.
    let n = 4000;
    let x = random(n, n, 2);
    let y = random(n, n, 3);
    let (native, blocked) = (cfg("native", 1000), cfg("blocked", 1000));
    let per_tile = cfg("blocked", 1000).calls(Calls::Tiles);
    let t = common::interleaved(
        5,
        &mut [
            ("native", &mut || {
                drop(black_box(native.matmul(&x, &y).unwrap()))
            }),
            ("blocked", &mut || {
                drop(black_box(blocked.matmul(&x, &y).unwrap()))
            }),
            ("blocked, a call per tile", &mut || {
                drop(black_box(per_tile.matmul(&x, &y).unwrap()))
            }),
        ],
    );
    let f = 2.0 * (n as f64).powi(3);
    let (gn, gb, gt) = (f / t[0] / 1e9, f / t[1] / 1e9, f / t[2] / 1e9);
    println!(
        "matmul n=4000 block 1000: native {gn:.1} GFLOP/s, blocked {gb:.1} GFLOP/s (a call per tile: {gt:.1})"
    );
    println!("  blocked / native = {:.3}   (target >= 0.97)", gb / gn);
    println!("  blocked / peak   = {:.3}   (target >= 0.90)", gb / peak);
    println!("  a call per tile / native = {:.3}", gt / gn);

    // gram vs matmul(x, xT) at the same strategy.
    for s in ["blocked", "native"] {
        let c = cfg(s, 500);
        let t = common::interleaved(
            5,
            &mut [
                ("gram", &mut || drop(black_box(c.gram(&x).unwrap()))),
                ("matmul x xT", &mut || {
                    drop(black_box(c.matmul(&x, x.t()).unwrap()))
                }),
            ],
        );
        println!(
            "gram n=4000 ({s}, block 500): {:.3} s vs matmul(x, xT) {:.3} s: {:.2}x faster (target >= 1.7)",
            t[0],
            t[1],
            t[1] / t[0]
        );
    }

    // The seed workload, fused, n=4000 block 500 (n=10000 block 1000 with RAYBLAS_BENCH_SEED=1).
    let mut seeds = vec![(4000usize, 500usize)];
    if std::env::var_os("RAYBLAS_BENCH_SEED").is_some() {
        seeds.push((10000, 1000));
    }
    for (n, b) in seeds {
        let x = random(n, n, 4);
        let c = cfg("blocked", b);
        let flops = c.gram_flops(n, n).unwrap();
        let before = common::peak_rss_mib();
        let t = common::interleaved(
            3,
            &mut [("gram_reduce", &mut || {
                black_box(c.gram_reduce(&x, Reduction::Sum).unwrap());
            })],
        );
        let g = flops / t[0] / 1e9;
        println!(
            "gram_reduce(Sum) n={n} block {b} (blocked): {:.3} s, {g:.1} GFLOP/s of performed flops = {:.3} of peak (target >= 0.90); peak RSS {:.0} MiB with a {:.0} MiB input",
            t[0],
            g / peak,
            common::peak_rss_mib().max(before),
            (n * n * 8) as f64 / 1048576.0
        );
    }
}

fn criterion_benches(c: &mut Criterion) {
    let n = 2000;
    let x = random(n, n, 5);
    let mut g = c.benchmark_group("matmul_n2000_b500");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements((2 * n * n * n) as u64));
    for s in ["native", "blocked", "serial"] {
        let cfg = cfg(s, 500);
        g.bench_with_input(BenchmarkId::from_parameter(s), &cfg, |bch, cfg| {
            bch.iter(|| black_box(cfg.matmul(&x, &x).unwrap()))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("gram_sum_n2000_b500");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    for s in ["native", "blocked"] {
        let cfg = cfg(s, 500);
        g.bench_with_input(BenchmarkId::from_parameter(s), &cfg, |bch, cfg| {
            bch.iter(|| black_box(cfg.gram_sum(&x).unwrap()))
        });
    }
    g.finish();
}

fn main() {
    common::bench_main(report, criterion_benches);
}
