//! Per-call cost: µs per product at n = 2…1024 for rayblas's default, `serial`, `blocked` and
//! `native` against one direct CBLAS `dgemm` (output allocated per call, as rayblas allocates
//! its own) and ndarray's `.dot`; and batched products (10000 × 16², 1000 × 64², 100 × 256²)
//! under `matmul_batch` against a loop of direct calls. The report is interleaved (every case
//! once per round), medians of the rounds.
//!
//! ```sh
//! cargo bench --bench small
//! RAYBLAS_BENCH_REPORT_ONLY=1 cargo bench --bench small
//! RAYBLAS_BENCH_REPORT_ONLY=1 RAYBLAS_BENCH_SIZES=128,256 cargo bench --bench small
//! ```

mod common;

use criterion::{BenchmarkId, Criterion};
use ndarray::{s, Array2, Array3};
use rayblas::Config;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `C = A·B` through the linked library's CBLAS `dgemm`, as code that knows nothing of rayblas
/// calls it (the scipy-openblas wheel names it `scipy_cblas_dgemm`). `None` under pure-rust.
#[cfg(not(feature = "pure-rust"))]
fn direct(a: &Array2<f64>, b: &Array2<f64>) -> Option<Array2<f64>> {
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
    assert!(a.is_standard_layout() && b.is_standard_layout());
    let (m, k) = a.dim();
    let n = b.ncols();
    let mut c = Array2::<f64>::zeros((m, n));
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
            k.max(1) as i32,
            b.as_ptr(),
            n.max(1) as i32,
            0.0,
            c.as_mut_ptr(),
            n.max(1) as i32,
        )
    };
    Some(c)
}

#[cfg(feature = "pure-rust")]
fn direct(_a: &Array2<f64>, _b: &Array2<f64>) -> Option<Array2<f64>> {
    None
}

fn square(n: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3 + seed) % 11) as f64 / 11.0)
}

/// Seconds per call of `f`: after 10 ms of warm-up calls, the median of 5 samples of `calls`
/// calls each. The cases run back to back: with a 0.15 s pause before each, `blocked` at
/// n = 128…512 ran as slowly as `serial` even after the warm-up (the second core came back
/// slowly from idle here), which a loop of calls never sees.
fn per_call(calls: usize, f: &mut dyn FnMut()) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(10) {
        f();
    }
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// Calls per sample so that a sample of a product of side `n` lasts about 5 ms.
fn calls_for(n: usize) -> usize {
    let flops = 2.0 * (n as f64).powi(3);
    ((5e-3 * 20e9 / flops.max(1.0)) as usize).clamp(1, 50_000)
}

fn report() {
    let configs: Vec<(&str, Config)> = [
        ("default", Config::new()),
        ("serial", Config::new().strategy("serial".parse().unwrap())),
        (
            "blocked",
            Config::new().strategy("blocked".parse().unwrap()),
        ),
        ("native", Config::new().strategy("native".parse().unwrap())),
    ]
    .into_iter()
    .collect();
    println!("per-call cost, f64 n×n · n×n, µs per call (median of 8 interleaved rounds, each starting one case later; each case after 10 ms of warm-up, the median of 5 samples of about 5 ms):");
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  default/best",
        "n", "default", "serial", "blocked", "native", "direct", "ndarray"
    );
    // RAYBLAS_BENCH_SIZES=128,256 measures those sides only.
    let sizes: Vec<usize> = std::env::var("RAYBLAS_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    for n in sizes {
        let (a, b) = (square(n, 1), square(n, 2));
        let calls = calls_for(n);
        let mut cases: Vec<Box<dyn FnMut() -> f64 + '_>> = Vec::new();
        for (_, cfg) in &configs {
            let (a, b, cfg) = (&a, &b, *cfg);
            cases.push(Box::new(move || {
                per_call(calls, &mut || {
                    black_box(cfg.matmul(a, b).unwrap());
                })
            }));
        }
        let has_direct = direct(&a, &b).is_some();
        cases.push(Box::new(|| {
            per_call(calls, &mut || {
                black_box(direct(&a, &b));
            })
        }));
        cases.push(Box::new(|| {
            per_call(calls, &mut || {
                black_box(a.dot(&b));
            })
        }));
        // native and the direct call let the library thread itself.
        let t = rounds(&mut cases, &[3, 4]);
        let direct_t = if has_direct { t[4] } else { f64::NAN };
        let best = [t[2], t[3], direct_t, t[5]]
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        println!(
            "{n:>5} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}  {:.2}",
            t[0],
            t[1],
            t[2],
            t[3],
            direct_t,
            t[5],
            t[0] / best
        );
    }
    other_ops(&configs);
    println!("\nbatched products, ms per batch (median of 7 interleaved rounds):");
    for (count, n) in [(10_000usize, 16usize), (1000, 64), (100, 256)] {
        let a = Array3::from_shape_fn((count, n, n), |(i, r, c)| ((i + r * 3 + c) % 7) as f64);
        let b = Array3::from_shape_fn((count, n, n), |(i, r, c)| ((i * 5 + r + c) % 5) as f64);
        let owned: Vec<(Array2<f64>, Array2<f64>)> = a
            .outer_iter()
            .zip(b.outer_iter())
            .map(|(x, y)| (x.to_owned(), y.to_owned()))
            .collect();
        let mut names = Vec::new();
        let mut cases: Vec<Box<dyn FnMut()>> = Vec::new();
        for (name, cfg) in &configs {
            if *name == "default" {
                continue;
            }
            if cfg
                .matmul_batch(a.slice(s![..1, .., ..]), b.slice(s![..1, .., ..]))
                .is_err()
            {
                println!("  {count} × {n}²: {name} refused on this backend");
                continue;
            }
            let (a, b, cfg) = (&a, &b, *cfg);
            names.push(format!("matmul_batch {name}"));
            cases.push(Box::new(move || {
                black_box(cfg.matmul_batch(a, b).unwrap());
            }));
        }
        if direct(&owned[0].0, &owned[0].1).is_some() {
            names.push("loop of direct dgemm".into());
            cases.push(Box::new(|| {
                for (x, y) in &owned {
                    black_box(direct(x, y));
                }
            }));
        }
        let mut refs: Vec<(&str, &mut dyn FnMut())> = names
            .iter()
            .zip(cases.iter_mut())
            .map(|(n, f)| (n.as_str(), f.as_mut() as &mut dyn FnMut()))
            .collect();
        // The library's batch call and the loop of direct calls let the library thread
        // itself: pause after them.
        let threaded: Vec<usize> = (0..names.len())
            .filter(|&i| names[i] == "matmul_batch native" || names[i] == "loop of direct dgemm")
            .collect();
        let t = common::interleaved_pausing_after(7, &mut refs, &threaded);
        let flops = 2.0 * count as f64 * (n as f64).powi(3);
        for (name, s) in names.iter().zip(&t) {
            println!(
                "  {count:>6} × {n:>3}²  {name:<28} {:9.3} ms  {:6.1} GFLOP/s",
                s * 1e3,
                flops / s / 1e9
            );
        }
    }
}

/// The rule's other side for every op and dtype: at n = 64…1024 (`RAYBLAS_BENCH_OP_SIZES`),
/// µs per call of `gram`, `gram_sum` and `matmul_sum` (f64) and `matmul` (f32) under the
/// default, `blocked`, `native` and `serial`, against ndarray's own (`x.dot(&x.t())`, its
/// `.sum()`, `a.dot(&b).sum()`, f32 `a.dot(&b)`) and, for `matmul_sum`, one direct `dgemm` and
/// its sum. `default/best` is the default's time over the best of the others but `serial`.
fn other_ops(configs: &[(&str, Config)]) {
    let sizes: Vec<usize> = std::env::var("RAYBLAS_BENCH_OP_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![64, 128, 256, 512, 1024]);
    println!("\nother ops, µs per call (median of 8 interleaved rounds, as above):");
    println!(
        "{:<12} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  default/best",
        "op", "n", "default", "blocked", "native", "serial", "ndarray", "direct"
    );
    // The configurations in the order of the columns.
    let order = ["default", "blocked", "native", "serial"];
    let cfgs: Vec<Config> = order
        .iter()
        .map(|o| configs.iter().find(|(n, _)| n == o).expect("configured").1)
        .collect();
    for op in ["gram", "gram_sum", "matmul_sum", "matmul f32"] {
        for &n in &sizes {
            let (a, b) = (square(n, 1), square(n, 2));
            let (af, bf) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
            let calls = calls_for(n);
            let mut cases: Vec<Box<dyn FnMut() -> f64 + '_>> = Vec::new();
            for &cfg in &cfgs {
                let (a, b, af, bf) = (&a, &b, &af, &bf);
                cases.push(Box::new(move || {
                    per_call(calls, &mut || match op {
                        "gram" => drop(black_box(cfg.gram(a).unwrap())),
                        "gram_sum" => drop(black_box(cfg.gram_sum(a).unwrap())),
                        "matmul_sum" => drop(black_box(
                            cfg.matmul_reduce(a, b, rayblas::Reduction::Sum).unwrap(),
                        )),
                        _ => drop(black_box(cfg.matmul(af, bf).unwrap())),
                    })
                }));
            }
            cases.push(Box::new(|| {
                per_call(calls, &mut || match op {
                    "gram" => drop(black_box(a.dot(&a.t()))),
                    "gram_sum" => drop(black_box(a.dot(&a.t()).sum())),
                    "matmul_sum" => drop(black_box(a.dot(&b).sum())),
                    _ => drop(black_box(af.dot(&bf))),
                })
            }));
            let has_direct = op == "matmul_sum" && direct(&a, &b).is_some();
            if has_direct {
                cases.push(Box::new(|| {
                    per_call(calls, &mut || {
                        black_box(direct(&a, &b).map(|c| c.sum()));
                    })
                }));
            }
            // native and the direct call let the library thread itself.
            let t = rounds(&mut cases, &[2, 5]);
            let direct_t = if has_direct { t[5] } else { f64::NAN };
            let best = [t[1], t[2], t[4], direct_t]
                .into_iter()
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min);
            println!(
                "{op:<12} {n:>5} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>10.2}  {:.2}",
                t[0],
                t[1],
                t[2],
                t[3],
                t[4],
                direct_t,
                t[0] / best
            );
        }
    }
}

/// µs per call of each case: 9 interleaved rounds, each starting one case later so no case
/// always follows the same one, the first round a warm-up; the median of the other 8.
///
/// After each case in `threaded` (those that let the library thread itself) the next waits
/// 150 ms: the library's idle threads spin for up to about 0.1 s after a threaded call and
/// would take a core from whatever runs next, which a loop of the next case's calls alone
/// never sees (it doubled `blocked`'s time at mid sizes before this pause).
fn rounds(cases: &mut [Box<dyn FnMut() -> f64 + '_>], threaded: &[usize]) -> Vec<f64> {
    let len = cases.len();
    let mut times = vec![Vec::new(); len];
    for round in 0..9 {
        for i in (0..len).map(|j| (j + round) % len) {
            let t = cases[i]();
            if round > 0 {
                times[i].push(t * 1e6);
            }
            if threaded.contains(&i) {
                std::thread::sleep(Duration::from_millis(150));
            }
        }
    }
    times.iter().map(|v| rayblas::bench::median(v)).collect()
}

fn criterion_benches(c: &mut Criterion) {
    let default = Config::new();
    let mut g = c.benchmark_group("per_call_f64");
    g.sample_size(30).measurement_time(Duration::from_secs(2));
    for n in [4usize, 32, 64, 256] {
        let (a, b) = (square(n, 1), square(n, 2));
        g.bench_with_input(BenchmarkId::new("rayblas default", n), &n, |bch, _| {
            bch.iter(|| black_box(default.matmul(&a, &b).unwrap()))
        });
        if direct(&a, &b).is_some() {
            g.bench_with_input(BenchmarkId::new("direct dgemm", n), &n, |bch, _| {
                bch.iter(|| black_box(direct(&a, &b)))
            });
        }
        g.bench_with_input(BenchmarkId::new("ndarray dot", n), &n, |bch, _| {
            bch.iter(|| black_box(a.dot(&b)))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("batch_f64");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    let a = Array3::from_shape_fn((1000, 64, 64), |(i, r, c)| ((i + r * 3 + c) % 7) as f64);
    g.bench_function("matmul_batch 1000x64² default", |bch| {
        bch.iter(|| black_box(default.matmul_batch(&a, &a).unwrap()))
    });
    g.finish();
}

fn main() {
    common::bench_main(report, criterion_benches);
}
