//! Two workloads as a numeric crate would run them, under each way of threading the BLAS
//! calls. They are where two thread pools in one process (the application's rayon pool and
//! OpenBLAS's own threads) compete for the cores, and where `native+rayon` (one pool) should
//! help:
//!
//! - **mixed**: a rayon `par_iter` over many small and medium products plus a large one;
//! - **alternating**: a large product, then a rayon `par_iter` of work that calls no BLAS, in
//!   turn (the BLAS library's threads may still be spinning when the rayon work starts).
//!
//! Each sample runs in a process of its own (this binary re-executes itself with `--mode`), so
//! thread counts, CPU time and OpenBLAS's global state start fresh; the modes are interleaved
//! (A B C D A B C D …) and the report gives medians and min–max. Per mode:
//!
//! - **wall**: the timed work alone (inputs are made before, untimed);
//! - **CPU s** and **CPU %**: user + system time of the process, and that over the wall time
//!   (200 % = both cores); the work is the same in every mode, so more CPU is waste (spinning,
//!   waiting on busy cores);
//! - **threads**: the most threads alive at once (sampled every millisecond, sampler excluded);
//! - **idle CPU**: CPU time the process burns in the 200 ms after the work ends, while nothing
//!   is asked of it (threads spinning before they sleep);
//! - for `native+rayon`, how many threaded calls ran on the pool and how many fell back to
//!   threads of their own ([`rayblas::blas::rayon_jobs`]).
//!
//! ```sh
//! cargo bench --bench mixed_workload --no-default-features --features openblas-scipy
//! RAYBLAS_MIXED_ROUNDS=9 cargo bench --bench mixed_workload  # default backend: no native+rayon
//! ```

mod common;

use ndarray::Array2;
use rayblas::{Config, Strategy};
use rayon::prelude::*;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The modes compared, as `--strategy` texts: OpenBLAS's own threads beside the application's
/// pool; OpenBLAS's jobs on rayon's pool; rayblas's tiles on rayon with one BLAS thread each;
/// every call on one BLAS thread (the usual way to tame two pools: `OPENBLAS_NUM_THREADS=1`).
const MODES: [&str; 4] = ["native", "native+rayon", "blocked", "serial"];

/// The workloads, by name.
const WORKLOADS: [&str; 2] = ["mixed", "alternating"];

/// The products of `mixed`: (count, n) for square n×n products.
const LARGE: (usize, usize) = (1, 3000);
const MEDIUM: (usize, usize) = (96, 512);
const SMALL: (usize, usize) = (2000, 64);

/// `alternating`: this many rounds of one n×n product, then rayon work without BLAS.
const STEPS: usize = 8;
const STEP_N: usize = 2000;
const STEP_ELEMENTS: usize = 8_000_000;

fn describe(workload: &str) -> String {
    let gflop = |count: usize, n: usize| count as f64 * 2.0 * (n as f64).powi(3) / 1e9;
    match workload {
        "mixed" => format!(
            "a par_iter over {}×{}² + {}×{}² + {}×{}² f64 products ({:.1} GFLOP)",
            LARGE.0,
            LARGE.1,
            MEDIUM.0,
            MEDIUM.1,
            SMALL.0,
            SMALL.1,
            gflop(LARGE.0, LARGE.1) + gflop(MEDIUM.0, MEDIUM.1) + gflop(SMALL.0, SMALL.1)
        ),
        _ => format!(
            "{STEPS} rounds of one {STEP_N}² f64 product ({:.1} GFLOP) then a par_iter of sqrt·sin over {STEP_ELEMENTS} numbers",
            gflop(STEPS, STEP_N)
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--mode") {
        let mode = args.get(i + 1).expect("--mode needs a strategy");
        let workload = args.get(i + 2).expect("--mode needs a workload");
        child(mode, workload);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    parent();
}

/// One sample as the child prints it.
#[derive(Debug, Clone)]
struct Sample {
    wall: f64,
    cpu: f64,
    threads: usize,
    idle_cpu: f64,
    checksum: f64,
    jobs: Option<(u64, u64)>,
}

impl Sample {
    fn line(&self) -> String {
        let (on_pool, fell_back) = self.jobs.unwrap_or((0, 0));
        format!(
            "sample {} {} {} {} {} {} {} {}",
            self.wall,
            self.cpu,
            self.threads,
            self.idle_cpu,
            self.checksum,
            self.jobs.is_some(),
            on_pool,
            fell_back
        )
    }

    fn parse(line: &str) -> Option<Sample> {
        let f: Vec<&str> = line.strip_prefix("sample ")?.split(' ').collect();
        if f.len() != 8 {
            return None;
        }
        Some(Sample {
            wall: f[0].parse().ok()?,
            cpu: f[1].parse().ok()?,
            threads: f[2].parse().ok()?,
            idle_cpu: f[3].parse().ok()?,
            checksum: f[4].parse().ok()?,
            jobs: if f[5] == "true" {
                Some((f[6].parse().ok()?, f[7].parse().ok()?))
            } else {
                None
            },
        })
    }
}

fn parent() {
    let kernels = common::check_kernels();
    let rounds: usize = std::env::var("RAYBLAS_MIXED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let exe = std::env::current_exe().expect("own path");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("# Two pools or one: BLAS threading modes under rayon work");
    println!();
    println!(
        "{cpu}, {} cores; {kernels}; rayon pool of {} threads; {rounds} rounds, interleaved, one process per sample",
        rayblas::cpu::logical_cores(),
        rayon::current_num_threads(),
    );
    // samples[workload][mode]
    let mut samples = vec![vec![Vec::<Sample>::new(); MODES.len()]; WORKLOADS.len()];
    let mut refused: Vec<Option<String>> = vec![None; MODES.len()];
    for _ in 0..rounds {
        for (w, workload) in WORKLOADS.iter().enumerate() {
            for (i, mode) in MODES.iter().enumerate() {
                if refused[i].is_some() {
                    continue;
                }
                let out = Command::new(&exe)
                    .args(["--mode", mode, workload])
                    .output()
                    .expect("run a sample");
                let stdout = String::from_utf8_lossy(&out.stdout);
                match stdout.lines().find_map(Sample::parse) {
                    Some(s) if out.status.success() => samples[w][i].push(s),
                    _ => {
                        let why = String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .last()
                            .unwrap_or("no output")
                            .to_string();
                        refused[i] = Some(format!("{} ({why})", out.status));
                    }
                }
            }
        }
    }
    for (w, workload) in WORKLOADS.iter().enumerate() {
        report(workload, &samples[w], &refused);
    }
}

fn report(workload: &str, samples: &[Vec<Sample>], refused: &[Option<String>]) {
    let checksums: Vec<f64> = samples.iter().flatten().map(|s| s.checksum).collect();
    if let Some(&first) = checksums.first() {
        for c in &checksums {
            assert!(
                ((c - first) / first).abs() < 1e-9,
                "{workload}: modes disagree: checksum {c} against {first}"
            );
        }
    }
    println!();
    println!("## {workload}: {}", describe(workload));
    println!();
    println!(
        "| mode | wall s (min–max) | vs best | CPU s | CPU % | threads alive (max) | idle CPU ms in 200 ms after | threaded calls on pool / fell back |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let medians: Vec<Option<f64>> = samples
        .iter()
        .map(|s| {
            (!s.is_empty())
                .then(|| rayblas::bench::median(&s.iter().map(|s| s.wall).collect::<Vec<_>>()))
        })
        .collect();
    let best = medians
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    for (i, mode) in MODES.iter().enumerate() {
        let s = &samples[i];
        let Some(wall) = medians[i] else {
            println!(
                "| {mode} | refused: {} | | | | | | |",
                refused[i].as_deref().unwrap_or("-")
            );
            continue;
        };
        let med =
            |f: fn(&Sample) -> f64| rayblas::bench::median(&s.iter().map(f).collect::<Vec<_>>());
        let min = s.iter().map(|s| s.wall).fold(f64::INFINITY, f64::min);
        let max = s.iter().map(|s| s.wall).fold(0.0, f64::max);
        let cpu = med(|s| s.cpu);
        let jobs = if s.iter().all(|s| s.jobs.is_some()) {
            let on_pool = med(|s| s.jobs.map_or(0.0, |j| j.0 as f64));
            let fell_back = med(|s| s.jobs.map_or(0.0, |j| j.1 as f64));
            format!("{on_pool:.0} / {fell_back:.0}")
        } else {
            "-".into()
        };
        println!(
            "| {mode} | {wall:.3} ({min:.3}–{max:.3}) | {:.2} | {cpu:.2} | {:.0} | {:.0} | {:.0} | {jobs} |",
            wall / best,
            100.0 * med(|s| s.cpu / s.wall),
            med(|s| s.threads as f64),
            1e3 * med(|s| s.idle_cpu),
        );
    }
    if refused.iter().any(Option::is_some) {
        println!();
        println!(
            "(refused modes need a backend with OpenBLAS ≥ 0.3.28: --features openblas-scipy)"
        );
    }
}

/// Process CPU time (user + system), seconds.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn threads_alive() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Product {
    a: Array2<f64>,
    b: Array2<f64>,
}

impl Product {
    fn random(n: usize, seed: u64) -> Product {
        Product {
            a: rayblas::bench::uniform(n, n, seed),
            b: rayblas::bench::uniform(n, n, seed + 1),
        }
    }

    /// The trace of the product: a checksum every mode must agree on.
    fn trace(&self, config: &Config) -> f64 {
        match config.matmul(&self.a, &self.b) {
            Ok(c) => c.diag().sum(),
            Err(e) => {
                eprintln!("mixed_workload: {e}");
                std::process::exit(2);
            }
        }
    }
}

/// `mixed`: the products in the order the `par_iter` takes them: the large one first (so it
/// starts early), then the mediums spread among the small ones.
fn mixed_products() -> Vec<Product> {
    let mut seed = 1;
    let mut next = |n| {
        seed += 2;
        Product::random(n, seed)
    };
    let large: Vec<Product> = (0..LARGE.0).map(|_| next(LARGE.1)).collect();
    let mut medium: Vec<Product> = (0..MEDIUM.0).map(|_| next(MEDIUM.1)).collect();
    let small: Vec<Product> = (0..SMALL.0).map(|_| next(SMALL.1)).collect();
    let every = SMALL.0 / MEDIUM.0.max(1);
    let mut order = large;
    medium.reverse();
    for (i, p) in small.into_iter().enumerate() {
        if i % every == 0 {
            order.extend(medium.pop());
        }
        order.push(p);
    }
    order.extend(medium.into_iter().rev());
    order
}

/// Work for rayon that calls no BLAS.
fn without_blas() -> f64 {
    (0..STEP_ELEMENTS)
        .into_par_iter()
        .map(|i| (i as f64).sqrt().sin())
        .sum()
}

fn child(mode: &str, workload: &str) {
    let _ = rayblas::blas::reexec_with_fast_kernels();
    let strategy: Strategy = mode.parse().expect("a strategy");
    let config = Config::new().strategy(strategy);
    let mixed = workload == "mixed";
    let products = if mixed {
        mixed_products()
    } else {
        vec![Product::random(STEP_N, 1)]
    };
    // Warm up inside the global pool, where the work runs (calls from a pool's worker run
    // there, so no other pool gets started): pages, OpenBLAS's buffers, the callback.
    let warm = Product::random(MEDIUM.1, 0);
    rayon::join(|| warm.trace(&config), || warm.trace(&config));
    std::thread::sleep(Duration::from_millis(300));

    let stop = AtomicBool::new(false);
    let most = AtomicUsize::new(0);
    let (wall, cpu, checksum) = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                most.fetch_max(threads_alive().saturating_sub(1), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        let checksum: f64 = if mixed {
            products.par_iter().map(|p| p.trace(&config)).sum()
        } else {
            (0..STEPS)
                .map(|_| products[0].trace(&config) + without_blas())
                .sum()
        };
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        stop.store(true, Ordering::Release);
        (wall, cpu, checksum)
    });
    let idle0 = cpu_seconds();
    std::thread::sleep(Duration::from_millis(200));
    let idle_cpu = cpu_seconds() - idle0;
    let sample = Sample {
        wall,
        cpu,
        threads: most.into_inner(),
        idle_cpu,
        checksum,
        jobs: rayblas::blas::rayon_jobs().map(|j| (j.on_pool, j.on_new_threads)),
    };
    println!("{}", sample.line());
}
