//! f64 sum throughput (GB/s) at L1, L2 and memory sizes: rayblas's SIMD kernels against
//! ndarray's `.sum()`, the BLAS route (ddot with a ones vector), and a plain streaming read of
//! the same bytes (the machine's read bandwidth), measured in the same run, interleaved.
//!
//! ```sh
//! cargo bench --bench reductions
//! RAYBLAS_BENCH_REPORT_ONLY=1 cargo bench --bench reductions
//! ```

mod common;

use criterion::{BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use rayblas::{Config, Strategy};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

fn data(bytes: usize) -> Array2<f64> {
    let n = bytes / 8;
    let cols = 1024.min(n);
    Array2::from_shape_fn((n / cols, cols), |(i, j)| {
        ((i * 7 + j) % 1000) as f64 * 1e-3
    })
}

/// The plainest streaming read of a buffer: integer adds of its 64-bit words, 8 lanes.
fn stream_read(words: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let chunks = words.chunks_exact(8);
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].wrapping_add(c[i]);
        }
    }
    acc.iter().fold(0, |a, &b| a.wrapping_add(b))
}

fn stream_read_parallel(words: &[u64], pool: &rayon::ThreadPool) -> u64 {
    pool.install(|| {
        words
            .par_chunks(1 << 20)
            .map(stream_read)
            .reduce(|| 0, u64::wrapping_add)
    })
}

fn as_words(x: &Array2<f64>) -> Vec<u64> {
    x.as_slice().unwrap().iter().map(|v| v.to_bits()).collect()
}

/// A named case of the interleaved report.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn report() {
    let serial = Config::new().strategy(Strategy::Serial);
    let blocked2 = Config::new().strategy("blocked:2".parse().unwrap());
    let native = Config::new().strategy(Strategy::Native { threads: Some(1) });
    let native2 = Config::new().strategy(Strategy::Native { threads: None });
    let pool2 = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (label, bytes, rounds) in [
        ("32 KiB (L1)", 32usize << 10, 2001),
        ("1 MiB (L2)", 1 << 20, 201),
        ("1 GiB (memory)", 1 << 30, 7),
    ] {
        let x = data(bytes);
        let ones = Array2::<f64>::ones(x.dim());
        let words = as_words(&x);
        let reps = (64usize << 20).div_ceil(bytes).max(1); // batch small sizes so each sample is ~64 MiB of reads
        let big = bytes >= 1 << 30;
        let mut cases: Vec<Case> = vec![
            (
                "rayblas serial",
                Box::new(|| {
                    for _ in 0..reps {
                        black_box(serial.sum(black_box(&x)).unwrap());
                    }
                }),
            ),
            (
                "ndarray .sum()",
                Box::new(|| {
                    for _ in 0..reps {
                        black_box(black_box(&x).sum());
                    }
                }),
            ),
            (
                "BLAS ddot(x, 1), 1 thread",
                Box::new(|| {
                    for _ in 0..reps {
                        black_box(native.dot(black_box(&x), &ones).unwrap());
                    }
                }),
            ),
            (
                "stream read, 1 thread",
                Box::new(|| {
                    for _ in 0..reps {
                        black_box(stream_read(black_box(&words)));
                    }
                }),
            ),
        ];
        if big {
            cases.push((
                "rayblas blocked:2",
                Box::new(|| {
                    black_box(blocked2.sum(black_box(&x)).unwrap());
                }),
            ));
            cases.push((
                "BLAS ddot(x, 1), native",
                Box::new(|| {
                    black_box(native2.dot(black_box(&x), &ones).unwrap());
                }),
            ));
            cases.push((
                "stream read, 2 threads",
                Box::new(|| {
                    black_box(stream_read_parallel(black_box(&words), &pool2));
                }),
            ));
        }
        let mut refs: Vec<(&str, &mut dyn FnMut())> = cases
            .iter_mut()
            .map(|(n, f)| (*n, f.as_mut() as &mut dyn FnMut()))
            .collect();
        let t = common::interleaved(rounds.min(if big { 7 } else { 51 }), &mut refs);
        println!("f64 sum, {label}:");
        let gbps = |i: usize, per: usize| (bytes * per) as f64 / t[i] / 1e9;
        let per: Vec<usize> = refs
            .iter()
            .map(|(n, _)| {
                if big && (n.contains("blocked") || n.contains("native") || n.contains("2 threads"))
                {
                    1
                } else {
                    reps
                }
            })
            .collect();
        for (i, (name, _)) in refs.iter().enumerate() {
            println!("  {name:<28} {:7.2} GB/s", gbps(i, per[i]));
        }
        println!(
            "  rayblas / ndarray = {:.2}x",
            gbps(0, per[0]) / gbps(1, per[1])
        );
        if big {
            println!(
                "  rayblas blocked:2 / stream read 2 threads = {:.3}",
                gbps(4, per[4]) / gbps(6, per[6])
            );
            println!(
                "  rayblas serial / stream read 1 thread = {:.3}",
                gbps(0, per[0]) / gbps(3, per[3])
            );
        }
    }
}

fn criterion_benches(c: &mut Criterion) {
    let serial = Config::new().strategy(Strategy::Serial);
    let mut g = c.benchmark_group("sum_f64");
    g.sample_size(30).measurement_time(Duration::from_secs(3));
    for (label, bytes) in [("32KiB", 32usize << 10), ("1MiB", 1 << 20)] {
        let x = data(bytes);
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new("rayblas", label), &x, |b, x| {
            b.iter(|| black_box(serial.sum(x).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("ndarray", label), &x, |b, x| {
            b.iter(|| black_box(x.sum()))
        });
    }
    g.finish();
}

fn main() {
    common::bench_main(report, criterion_benches);
}
