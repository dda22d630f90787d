//! Measurements: each (strategy, round) runs in a fresh child process (`rayblas measure`), so one
//! strategy's memory never shows in another's row and every process starts cold alike; rounds
//! interleave the strategies (A B C A B C …) so drifts of a shared machine hit all of them.

use crate::provenance::Provenance;
use crate::ranks;
use crate::sys;
use crate::verify::{self, Verdict};
use crate::workload::{self, DtypeArg, Inputs, WorkloadArgs};
use rayblas::bench::{median, Effort};
use rayblas::{BlockShape, Config, Element, Strategy};
use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Serde for `f64` values that may be NaN or ±Inf, which JSON numbers cannot hold (serde_json
/// writes them as `null`, and `null` does not read back as a number): finite values are
/// numbers, the others the strings `"NaN"`, `"inf"` and `"-inf"`, as numpy prints them.
pub mod nonfinite {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Number {
            Finite(f64),
            Named(String),
        }
        match Number::deserialize(d)? {
            Number::Finite(v) => Ok(v),
            Number::Named(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(D::Error::custom(format!("not a number: {other}"))),
            },
        }
    }
}

/// What a child sends back (one JSON line on stdout).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildResult {
    /// Seconds per run, one value per sample (a sample times `iters` runs back to back).
    pub wall_s: Vec<f64>,
    /// CPU seconds (user + system, all threads) per run, one value per sample.
    pub cpu_s: Vec<f64>,
    /// Runs per sample.
    pub iters: usize,
    /// Wall seconds of all samples together.
    pub timed_wall_s: f64,
    /// CPU seconds that other processes (and a hypervisor's other guests) took from this
    /// process's CPUs while it was timed; `None` where `/proc/stat` is unreadable.
    pub foreign_cpu_s: Option<f64>,
    pub peak_rss_bytes: u64,
    pub input_rss_bytes: u64,
    #[serde(with = "nonfinite")]
    pub result: f64,
    /// The independent check of this child's results (see `verify`).
    pub verdict: Verdict,
    pub useful_flops: f64,
    pub performed_flops: f64,
    pub bytes: f64,
    pub workers: usize,
    pub blas_threads: usize,
    /// Actual shapes: A/X is m×k; n is B's columns (products) or the result's (gram: m).
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// On MPI ranks (`mpi:R+LOCAL`): R, and for the timed run the slowest rank's seconds in
    /// collectives and making its rows, and the bytes all ranks moved.
    #[serde(default)]
    pub ranks: Option<usize>,
    #[serde(default)]
    pub comm_s: Option<f64>,
    #[serde(default)]
    pub load_s: Option<f64>,
    #[serde(default)]
    pub comm_bytes: Option<u64>,
    /// On ranks: the largest peak RSS of one rank above that rank's RSS before the first call
    /// (its rows, buffers and results; `peak_rss_bytes` is the sum of the ranks' peaks).
    #[serde(default)]
    pub rank_peak_rss_max_bytes: Option<u64>,
}

/// What the parent sends a child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub workload: WorkloadArgs,
    pub strategy: String,
}

/// A sample lasts at least this long (a timer tick is 1–4 ms; CPU time of other threads is
/// accounted at ticks), so fast ops run many times per sample, as criterion batches them.
const SAMPLE_MIN_S: f64 = 0.02;
/// A process takes up to this many samples while their total stays under `CHILD_BUDGET_S`.
const MAX_SAMPLES: usize = 10;
const CHILD_BUDGET_S: f64 = 0.2;

/// How many runs per sample and samples per process, from the time of one warm run: one run
/// per sample and one sample for ops of 0.2 s and more (as before); many runs per sample below
/// 20 ms, and up to 10 samples while they fit in 0.2 s.
pub fn plan_samples(seconds_per_run: f64) -> (usize, usize) {
    if !(seconds_per_run.is_finite() && seconds_per_run > 0.0) {
        return (1, 1);
    }
    let iters = (SAMPLE_MIN_S / seconds_per_run).ceil().clamp(1.0, 1e8) as usize;
    let sample = iters as f64 * seconds_per_run;
    let samples = (CHILD_BUDGET_S / sample)
        .floor()
        .clamp(1.0, MAX_SAMPLES as f64) as usize;
    (iters, samples)
}

/// Runs in the child: build inputs, warm up, time the samples. On ranks (under `mpirun`),
/// every rank runs this and rank 0 alone returns the result.
pub fn child_main(spec_json: &str) -> Result<Option<ChildResult>, String> {
    let spec: ChildSpec =
        serde_json::from_str(spec_json).map_err(|e| format!("bad measure spec: {e}"))?;
    if ranks::split(&spec.strategy)?.is_some() {
        return ranks::child_main(&spec);
    }
    match spec.workload.dtype {
        DtypeArg::F64 => child_run::<f64>(&spec),
        DtypeArg::F32 => child_run::<f32>(&spec),
    }
    .map(Some)
}

fn child_run<T: Element + ndarray_npy::ReadableElement>(
    spec: &ChildSpec,
) -> Result<ChildResult, String> {
    let w = &spec.workload;
    let (shape, block, calls) = w.validate()?;
    let strategy: Strategy = spec
        .strategy
        .parse()
        .map_err(|e: rayblas::Error| e.to_string())?;
    let cfg = Config::new().strategy(strategy).block(block).calls(calls);
    let (workers, blas_threads) = strategy.counts().map_err(|e| e.to_string())?;
    let inp: Inputs<T> = workload::inputs(w, shape)?;
    let input_rss = sys::current_rss();
    let (rows, k) = inp.a.dim();
    // A batch's rows are its items' rows stacked: a row reports one item's shape.
    let m = rows / w.batch.unwrap_or(1).max(1);
    let n = w.op.reported_n(m, k, inp.b.as_ref().map(|b| b.ncols()));
    let work = workload::work(w.op, &cfg, &inp).map_err(|e| e.to_string())?;
    let run =
        || workload::run_once(w.op, &cfg, &inp, w.output.as_deref()).map_err(|e| e.to_string());
    // The last run's answer, product included, for the check below. It is dropped before each
    // run (outside the timing when a sample is one run), so two products never coexist.
    let mut last = None;
    // Warm-up: the runs asked for, and for fast ops on until 20 ms have passed, which also
    // gives the time per run that sizes the samples.
    let warm = Instant::now();
    let mut warm_runs = 0usize;
    while warm_runs < w.warmup
        || (w.warmup > 0 && warm.elapsed().as_secs_f64() < SAMPLE_MIN_S && warm_runs < 1 << 20)
    {
        drop(last.take());
        last = Some(run()?);
        warm_runs += 1;
    }
    let (iters, samples) = if warm_runs == 0 {
        (1, 1)
    } else {
        plan_samples(warm.elapsed().as_secs_f64() / warm_runs as f64)
    };
    let (mut wall_s, mut cpu_s) = (Vec::new(), Vec::new());
    let cpus = rayblas::cpu::allowed_cpus();
    let busy0 = sys::busy_cpu_seconds(cpus);
    let (own0, _) = sys::rusage();
    let timed = Instant::now();
    for _ in 0..samples {
        if iters == 1 {
            drop(last.take());
        }
        let (c0, _) = sys::rusage();
        let t0 = Instant::now();
        for _ in 0..iters {
            drop(last.take());
            last = Some(run()?);
        }
        wall_s.push(t0.elapsed().as_secs_f64() / iters as f64);
        cpu_s.push((sys::rusage().0 - c0) / iters as f64);
    }
    let timed_wall_s = timed.elapsed().as_secs_f64();
    let (own1, peak_rss_bytes) = sys::rusage();
    let foreign_cpu_s = match (busy0, sys::busy_cpu_seconds(cpus)) {
        (Some(b0), Some(b1)) => Some((b1 - b0 - (own1 - own0)).max(0.0)),
        _ => None,
    };
    // The check reads the output of the last measured run, not a run of its own.
    let (result, product) = last.map_or((f64::NAN, None), |a| (a.result, a.product));
    let verdict = verify::check(w.op, &inp, product.as_ref().map(|p| p.view()));
    Ok(ChildResult {
        wall_s,
        cpu_s,
        iters,
        timed_wall_s,
        foreign_cpu_s,
        peak_rss_bytes,
        input_rss_bytes: input_rss,
        result,
        verdict,
        useful_flops: work.useful_flops,
        performed_flops: work.performed_flops,
        bytes: work.bytes,
        workers,
        blas_threads,
        m,
        k,
        n,
        ranks: None,
        comm_s: None,
        load_s: None,
        comm_bytes: None,
        rank_peak_rss_max_bytes: None,
    })
}

/// Runs one child and parses its answer. A child that dies is reported with how it died (its
/// signal or exit status) and its last message.
pub fn spawn_child(spec: &ChildSpec) -> Result<ChildResult, String> {
    let mut env = Vec::new();
    if rayblas::blas::BACKEND == "openblas" {
        // OpenBLAS starts its thread pool when it loads, and idle pool threads spin for about
        // 0.1 s before they sleep: CPU time the strategy did not ask for. Starting the library
        // with the threads the strategy uses (1 for blocked and serial) keeps it out.
        let strategy: Strategy = ranks::local(&spec.strategy)
            .parse()
            .map_err(|e: rayblas::Error| e.to_string())?;
        let (_, threads) = strategy.counts().map_err(|e| e.to_string())?;
        env.push(("OPENBLAS_NUM_THREADS", threads.to_string()));
    }
    let spec_json = serde_json::to_string(spec).expect("serialisable");
    let args = ["measure", "--spec", &spec_json];
    let on_ranks = ranks::split(&spec.strategy)?;
    let out = match on_ranks {
        Some((r, _)) => {
            let mut cmd = ranks::mpirun(r, &args, &env)?;
            cmd.stdin(Stdio::null())
                .stderr(Stdio::piped())
                .stdout(Stdio::piped())
                .output()
                .map_err(|e| format!("cannot start mpirun: {e}"))?
        }
        None => {
            spawn_self(&args, &env).map_err(|e| format!("cannot start measurement process: {e}"))?
        }
    };
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let last = if on_ranks.is_some() {
            ranks::failure_line(&msg)
        } else {
            msg.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim_start_matches("rayblas: error: ").to_string())
        };
        return Err(child_failure(&spec.strategy, out.status, last.as_deref()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("bad answer from measurement process: {e}: {text}"))
}

/// How a measuring process failed: killed by a signal (named, with what usually sends it), or
/// its exit status, and its last message. An error it reported itself (exit 2, a message of
/// ours) is passed on as it is.
fn child_failure(strategy: &str, status: std::process::ExitStatus, last: Option<&str>) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let (name, why) = match sig {
            libc::SIGKILL => (
                "SIGKILL",
                ": the kernel's out-of-memory killer, or a user, stopped it",
            ),
            libc::SIGSEGV => (
                "SIGSEGV",
                ": an invalid memory access (a bug: please report it)",
            ),
            libc::SIGABRT => ("SIGABRT", ": it aborted, e.g. when an allocation failed"),
            libc::SIGTERM => ("SIGTERM", ""),
            libc::SIGINT => ("SIGINT", ""),
            libc::SIGBUS => ("SIGBUS", ": a mapped file shrank or the disk failed"),
            _ => ("", ""),
        };
        let name = if name.is_empty() {
            format!("signal {sig}")
        } else {
            format!("signal {sig} ({name})")
        };
        return match last {
            Some(l) => format!(
                "{strategy}: the measuring process was killed by {name}{why}; its last message: {l}"
            ),
            None => format!("{strategy}: the measuring process was killed by {name}{why}"),
        };
    }
    match (status.code(), last) {
        (Some(2), Some(l)) => format!("{strategy}: {l}"),
        (code, l) => format!(
            "{strategy}: the measuring process exited with status {}: {}",
            code.map_or("unknown".into(), |c| c.to_string()),
            l.unwrap_or("no message")
        ),
    }
}

/// Runs this executable again with `args` (after `--keep-blas-core`, so the child keeps the
/// kernel set the parent settled on) and extra environment `env`, and collects its output.
fn spawn_self(args: &[&str], env: &[(&str, String)]) -> Result<std::process::Output, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    Command::new(exe)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--keep-blas-core")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())
}

/// The machine's limits for one dtype, measured in a process of their own: the compute limits
/// (one-thread GEMM, FMA loop; `None` when only the memory was asked for) and the streaming read
/// rate (`None` when its buffer could not be had).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    /// One-thread GEMM GFLOP/s (the linked BLAS, serial, square).
    #[serde(default)]
    pub gemm_one_thread: Option<f64>,
    /// FMA-loop GFLOP/s: one thread, and all physical cores at once.
    #[serde(default)]
    pub fma_one_thread: Option<f64>,
    #[serde(default)]
    pub fma_all: Option<f64>,
    /// Threads of `fma_all`.
    #[serde(default)]
    pub fma_threads: Option<usize>,
    /// Streaming read GB/s of all physical cores at once, and how many they were.
    #[serde(default)]
    pub read_gbps: Option<f64>,
    #[serde(default)]
    pub read_threads: Option<usize>,
    /// Why the streaming read could not be measured (its buffer refused, as under `ulimit -v`).
    #[serde(default)]
    pub read_error: Option<String>,
}

/// The variable that makes every limit measurement quick and rough (tests only).
pub const QUICK_LIMITS_ENV: &str = "RAYBLAS_QUICK_LIMITS";

/// How hard the limits are measured: `RAYBLAS_QUICK_LIMITS=1` measures them in milliseconds
/// instead of seconds ([`Effort::Quick`]: a one-thread GEMM of n=256, 5 ms FMA runs, an 8 MiB
/// read), for the CLI's own tests, which check what is done with a limit rather than how good
/// it is. Unset or `0` is the full measurement; any other value is an error.
pub fn effort() -> Result<Effort, rayblas::Error> {
    match std::env::var(QUICK_LIMITS_ENV) {
        Err(_) => Ok(Effort::Full),
        Ok(v) => match v.trim() {
            "" | "0" => Ok(Effort::Full),
            "1" => Ok(Effort::Quick),
            _ => Err(rayblas::Error::Environment {
                var: QUICK_LIMITS_ENV,
                value: v,
                reason: "use 1 (limits measured quickly and roughly, for tests) or 0".into(),
            }),
        },
    }
}

/// Runs in the `measure-peak` child: the one-thread GEMM and the FMA loop (unless
/// `memory_only`), and the streaming read rate of all physical cores.
pub fn limits(dtype: DtypeArg, memory_only: bool) -> Result<Limits, String> {
    let effort = effort().map_err(|e| e.to_string())?;
    let cores = rayblas::cpu::physical_cores().max(1);
    let (gemm, fma) = if memory_only {
        (None, None)
    } else {
        let d = match dtype {
            DtypeArg::F64 => rayblas::Dtype::F64,
            DtypeArg::F32 => rayblas::Dtype::F32,
        };
        let gemm = single_core_gemm_gflops(dtype, effort)?;
        let fma = rayblas::bench::fma_peak_with(d, cores, effort).map_err(|e| e.to_string())?;
        (Some(gemm), Some(fma))
    };
    let (read, read_error) = read_rate_or_reason(cores, effort);
    Ok(Limits {
        gemm_one_thread: gemm,
        fma_one_thread: fma.map(|f| f.one_thread_gflops),
        fma_all: fma.map(|f| f.gflops),
        fma_threads: fma.map(|f| f.threads),
        read_gbps: read.map(|r| r.gbps),
        read_threads: read.map(|r| r.threads),
        read_error,
    })
}

/// The streaming read rate of `cores` threads, or why it could not be measured. A buffer the
/// memory cannot spare (a `ulimit`) leaves the rate unknown, not the run failed: `info` and the
/// rows' limit column print the reason instead.
pub fn read_rate_or_reason(
    cores: usize,
    effort: Effort,
) -> (Option<rayblas::bench::ReadBandwidth>, Option<String>) {
    match rayblas::bench::read_bandwidth_with(cores, effort) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// [`limits`] in a child process (`rayblas measure-peak`).
pub fn spawn_limits(dtype: DtypeArg, memory_only: bool) -> Result<Limits, String> {
    let mut args = vec!["measure-peak", "--dtype", dtype.name()];
    if memory_only {
        args.push("--memory-only");
    }
    let out =
        spawn_self(&args, &[]).map_err(|e| format!("cannot start the peak measurement: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Limits>(text.trim()) {
        Ok(v) if out.status.success() => Ok(v),
        _ => Err(format!(
            "the peak measurement failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            if memory_only { "" } else { "; give --peak" }
        )),
    }
}

/// The one-thread GEMM rate of this machine (GFLOP/s), for "% of peak": a serial square GEMM of
/// the given dtype, best of three after a warm-up, at n=2000 (n=1000 on a slow backend; n=256
/// once at [`Effort::Quick`]).
pub fn single_core_gemm_gflops(dtype: DtypeArg, effort: Effort) -> Result<f64, String> {
    fn rate<T: Element>(effort: Effort) -> Result<f64, String> {
        let cfg = Config::new()
            .strategy(Strategy::Serial)
            .block(BlockShape::square(4096).expect("positive"));
        if effort == Effort::Quick {
            let n = 256usize;
            let a = ndarray::Array2::<T>::from_elem((n, n), T::from_f64(0.5));
            let t = Instant::now();
            cfg.matmul(&a, &a).map_err(|e| e.to_string())?;
            return Ok(2.0 * (n as f64).powi(3) / t.elapsed().as_secs_f64().max(1e-9) / 1e9);
        }
        let mut n = 1000usize;
        loop {
            let a = ndarray::Array2::<T>::from_shape_fn((n, n), |(i, j)| {
                T::from_f64(((i * 31 + j * 17) % 97) as f64 / 97.0)
            });
            cfg.matmul(&a, &a).map_err(|e| e.to_string())?;
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let t = Instant::now();
                cfg.matmul(&a, &a).map_err(|e| e.to_string())?;
                best = best.min(t.elapsed().as_secs_f64());
            }
            if n >= 2000 || best > 0.2 {
                return Ok(2.0 * (n as f64).powi(3) / best / 1e9);
            }
            n = 2000;
        }
    }
    match dtype {
        DtypeArg::F64 => rate::<f64>(effort),
        DtypeArg::F32 => rate::<f32>(effort),
    }
}

/// The peak GFLOP/s that "% of peak" divides by, and where it came from.
#[derive(Debug, Clone)]
pub struct Peak {
    pub gflops: f64,
    pub source: String,
    /// The FMA-loop limit of the cores used (GFLOP/s), when measured.
    pub fma_gflops: Option<f64>,
    /// The streaming read rate of the cores used (GB/s), when measured.
    pub read_gbps: Option<f64>,
}

/// What every row of one command shares: the peak, the environment and the input files' hashes.
#[derive(Debug, Clone)]
pub struct Context {
    pub peak: Peak,
    pub provenance: Provenance,
    pub input_sha256: Option<String>,
    pub input_b_sha256: Option<String>,
}

/// One row of a comparison: a strategy's measurements aggregated over its processes, with
/// everything a rerun needs (the workload, the environment, the peak and its source).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub op: String,
    pub dtype: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Products in a batch (`--batch`; `None` for one product): m, k and n are one item's.
    #[serde(default)]
    pub batch: Option<usize>,
    /// The block asked for (`uses_block` says whether the strategy cuts into blocks at all).
    pub block: String,
    pub uses_block: bool,
    pub calls: String,
    pub strategy: String,
    pub workers: usize,
    pub blas_threads: usize,
    /// MPI ranks (`mpi:R+LOCAL`; `None` for one process), and per run the slowest rank's
    /// seconds making its rows (`load_s`) and in collectives (`comm_s`, medians over the
    /// processes), and the bytes all ranks sent and rank 0 received (`comm_bytes`).
    #[serde(default)]
    pub ranks: Option<usize>,
    #[serde(default)]
    pub load_s: Option<f64>,
    #[serde(default)]
    pub comm_s: Option<f64>,
    #[serde(default)]
    pub comm_bytes: Option<u64>,
    /// On ranks: the largest peak RSS of one rank above its RSS before the first call, over
    /// the processes (`peak_rss_bytes` is the sum of the ranks' peaks).
    #[serde(default)]
    pub rank_peak_rss_max_bytes: Option<u64>,
    /// The seed of random inputs (`None` when every operand comes from a file).
    pub seed: Option<u64>,
    pub input: Option<String>,
    pub input_sha256: Option<String>,
    pub input_b: Option<String>,
    pub input_b_sha256: Option<String>,
    /// Bytes of the input files together (memory-mapped and streamed), beside peak RSS.
    #[serde(default)]
    pub input_file_bytes: Option<u64>,
    /// The `--output` file the product was written to, and its size in bytes.
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub output_file_bytes: Option<u64>,
    /// Warm-up runs per process, measuring processes, samples in all and runs per sample.
    pub warmup: usize,
    pub repeat: usize,
    pub samples: usize,
    pub iters: usize,
    /// Seconds per run: median, min and max over all samples; spread = (max − min) / median.
    pub wall_s: f64,
    pub wall_min_s: f64,
    pub wall_max_s: f64,
    pub spread_pct: f64,
    /// Interquartile range over the median, % (NaN below 4 samples).
    #[serde(with = "nonfinite")]
    pub iqr_pct: f64,
    /// Flops per run: the op's minimum (`useful`) and what this strategy computes.
    pub useful_flops: f64,
    pub performed_flops: f64,
    /// Useful and performed GFLOP/s (products), GB/s of input read (reductions).
    pub gflops: Option<f64>,
    pub performed_gflops: Option<f64>,
    pub gbps: Option<f64>,
    /// The peak, where it came from, and the useful and performed rates as % of it.
    pub peak_gflops: Option<f64>,
    pub peak_source: String,
    pub peak_pct: Option<f64>,
    pub performed_peak_pct: Option<f64>,
    /// The FMA-loop limit of the cores (measured in the same run unless --peak was given) and
    /// the useful and performed rates as % of it.
    pub fma_peak_gflops: Option<f64>,
    pub fma_pct: Option<f64>,
    pub performed_fma_pct: Option<f64>,
    /// The streaming read rate of the cores (GB/s; measured in the same run unless --peak was
    /// given).
    #[serde(default)]
    pub read_gbps: Option<f64>,
    /// Bytes the op must move at least: its inputs read once, its output written once.
    #[serde(default)]
    pub min_bytes: f64,
    /// The op's limit on this machine ([`limit`]): the seconds a run cannot beat, which of the
    /// FMA loop (`compute`) and the streaming read (`memory`) sets them, and that time as % of
    /// the run's median.
    #[serde(default)]
    pub limit_s: Option<f64>,
    #[serde(default)]
    pub limit_binds: Option<String>,
    #[serde(default)]
    pub limit_pct: Option<f64>,
    /// CPU time / wall time over the timed samples (200 = two cores busy).
    pub cpu_pct: f64,
    /// Cores' worth of CPU that other processes took from this process's CPUs while it ran.
    pub foreign_cpu_cores: Option<f64>,
    pub peak_rss_bytes: u64,
    pub rss_above_input_bytes: u64,
    #[serde(with = "nonfinite")]
    pub result: f64,
    pub agrees: bool,
    pub ratio_to_best: f64,
    /// The fastest `serial` row of the same workload ([`Row::workload`]), its time over this
    /// row's time: the speedup over one thread making the same BLAS calls (see
    /// [`speedup_vs_serial`]). None without such a row.
    #[serde(default)]
    pub speedup_vs_serial: Option<f64>,
    /// What makes this row's figures doubtful (busy machine, wide spread, oversubscription…).
    pub warnings: Vec<String>,
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The result of every repeat with the check of its child (applied in `finish`).
    #[serde(skip)]
    pub results: Vec<(f64, Verdict)>,
}

/// The seconds a run cannot beat on this machine, and what sets them: `useful_flops` (products
/// only) at the FMA loop of all cores (`fma_gflops`) is the `compute` time, `min_bytes` at the
/// streaming read rate (`read_gbps`) the `memory` time, and the larger binds. `None` when a
/// limit the op needs was not measured (`--peak`, or no buffer for the read).
pub fn limit(
    useful_flops: Option<f64>,
    min_bytes: f64,
    fma_gflops: Option<f64>,
    read_gbps: Option<f64>,
) -> Option<(f64, &'static str)> {
    let memory = min_bytes / (read_gbps? * 1e9);
    let Some(flops) = useful_flops else {
        return Some((memory, "memory"));
    };
    let compute = flops / (fma_gflops? * 1e9);
    Some(if compute >= memory {
        (compute, "compute")
    } else {
        (memory, "memory")
    })
}

/// A spread (max − min over the median) above this is worth a warning.
const WIDE_SPREAD_PCT: f64 = 20.0;
/// Other processes using more than this many cores during a row make it doubtful. Below it the
/// figure is noise: `/proc/stat` is sampled at timer ticks, and an op of microseconds whose
/// pool threads wake and sleep constantly shows up to about 0.35 cores there on an idle machine.
const BUSY_CORES: f64 = 0.5;

/// Aggregates the children of one strategy into a row (ratio and agreement filled in later).
pub fn aggregate(w: &WorkloadArgs, strategy: &str, runs: &[ChildResult], ctx: &Context) -> Row {
    let walls: Vec<f64> = runs.iter().flat_map(|r| r.wall_s.iter().copied()).collect();
    let cpus: Vec<f64> = runs.iter().flat_map(|r| r.cpu_s.iter().copied()).collect();
    // Runs behind each sample, to weigh per-run figures back into totals.
    let iter_counts: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.wall_s.iter().map(|_| r.iters as f64))
        .collect();
    let wall = median(&walls);
    let (wall_min, wall_max) = (
        walls.iter().copied().fold(f64::INFINITY, f64::min),
        walls.iter().copied().fold(0.0, f64::max),
    );
    let first = &runs[0];
    let is_product = w.op.is_product();
    let peak = ctx.peak.gflops;
    let gflops = is_product.then(|| first.useful_flops / wall / 1e9);
    let performed_gflops = is_product.then(|| first.performed_flops / wall / 1e9);
    let timed: f64 = runs.iter().map(|r| r.timed_wall_s).sum();
    let foreign = runs
        .iter()
        .map(|r| r.foreign_cpu_s)
        .sum::<Option<f64>>()
        .map(|f| f / timed.max(f64::MIN_POSITIVE));
    let mut iters: Vec<f64> = runs.iter().map(|r| r.iters as f64).collect();
    iters.sort_by(f64::total_cmp);
    let spread_pct = 100.0 * (wall_max - wall_min) / wall;
    let min_bytes = first.bytes + w.op.output_elements(first.m, first.n) * w.dtype.size() as f64;
    let limit = limit(
        is_product.then_some(first.useful_flops),
        min_bytes,
        ctx.peak.fma_gflops,
        ctx.peak.read_gbps,
    );
    let mut row = Row {
        op: w.op.name().to_string(),
        dtype: w.dtype.name().to_string(),
        m: first.m,
        k: first.k,
        n: first.n,
        batch: w.batch,
        block: w.block_text().to_string(),
        uses_block: is_product && workload::uses_block(ranks::local(strategy)),
        calls: w
            .effective_calls()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        strategy: strategy.to_string(),
        workers: first.workers,
        blas_threads: first.blas_threads,
        ranks: first.ranks,
        load_s: first
            .ranks
            .map(|_| median(&runs.iter().filter_map(|r| r.load_s).collect::<Vec<_>>())),
        comm_s: first
            .ranks
            .map(|_| median(&runs.iter().filter_map(|r| r.comm_s).collect::<Vec<_>>())),
        comm_bytes: first.comm_bytes,
        rank_peak_rss_max_bytes: runs.iter().filter_map(|r| r.rank_peak_rss_max_bytes).max(),
        seed: w.input.is_none().then(|| w.seed()),
        input: w.input.as_ref().map(|p| p.display().to_string()),
        input_sha256: ctx.input_sha256.clone(),
        input_b: w.input_b.as_ref().map(|p| p.display().to_string()),
        input_b_sha256: ctx.input_b_sha256.clone(),
        input_file_bytes: w.input.as_ref().map(|a| {
            [Some(a), w.input_b.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum()
        }),
        output: w.output.as_ref().map(|p| p.display().to_string()),
        output_file_bytes: w
            .output
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len()),
        warmup: w.warmup,
        repeat: runs.len(),
        samples: walls.len(),
        iters: iters[iters.len() / 2] as usize,
        wall_s: wall,
        wall_min_s: wall_min,
        wall_max_s: wall_max,
        spread_pct,
        iqr_pct: iqr_pct(&walls, wall),
        useful_flops: first.useful_flops,
        performed_flops: first.performed_flops,
        gflops,
        performed_gflops,
        gbps: (!is_product).then(|| first.bytes / wall / 1e9),
        peak_gflops: is_product.then_some(peak),
        peak_source: if is_product {
            ctx.peak.source.clone()
        } else {
            String::new()
        },
        peak_pct: gflops.map(|g| 100.0 * g / peak),
        performed_peak_pct: performed_gflops.map(|g| 100.0 * g / peak),
        fma_peak_gflops: ctx.peak.fma_gflops.filter(|_| is_product),
        fma_pct: gflops.zip(ctx.peak.fma_gflops).map(|(g, f)| 100.0 * g / f),
        performed_fma_pct: performed_gflops
            .zip(ctx.peak.fma_gflops)
            .map(|(g, f)| 100.0 * g / f),
        read_gbps: ctx.peak.read_gbps,
        min_bytes,
        limit_s: limit.map(|(s, _)| s),
        limit_binds: limit.map(|(_, binds)| binds.to_string()),
        limit_pct: limit.map(|(s, _)| 100.0 * s / wall),
        // Over all timed samples together, not per sample: CPU time of threads other than the
        // caller is accounted at timer ticks, so short windows over- or under-count it.
        cpu_pct: 100.0
            * cpus
                .iter()
                .zip(&iter_counts)
                .map(|(c, n)| c * n)
                .sum::<f64>()
            / walls
                .iter()
                .zip(&iter_counts)
                .map(|(w, n)| w * n)
                .sum::<f64>(),
        foreign_cpu_cores: foreign,
        peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
        rss_above_input_bytes: runs
            .iter()
            .map(|r| r.peak_rss_bytes.saturating_sub(r.input_rss_bytes))
            .max()
            .unwrap_or(0),
        result: first.result,
        agrees: true,
        ratio_to_best: 1.0,
        speedup_vs_serial: None,
        warnings: Vec::new(),
        provenance: ctx.provenance.clone(),
        results: runs.iter().map(|r| (r.result, r.verdict)).collect(),
    };
    row.warnings = warnings(&row);
    row
}

/// (q3 − q1) / median in %, with quartiles by linear interpolation; NaN below 4 values.
fn iqr_pct(values: &[f64], median: f64) -> f64 {
    if values.len() < 4 {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let x = p * (v.len() - 1) as f64;
        let (i, f) = (x.floor() as usize, x.fract());
        v[i] + f * (v[(i + 1).min(v.len() - 1)] - v[i])
    };
    100.0 * (q(0.75) - q(0.25)) / median
}

/// What makes a row's figures doubtful, each as one sentence.
fn warnings(row: &Row) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(f) = row.foreign_cpu_cores.filter(|&f| f > BUSY_CORES) {
        out.push(format!(
            "the machine was busy: other processes took {f:.2} cores' worth of CPU time from \
             this run's CPUs (/proc/stat); rerun when it is idle"
        ));
    }
    // With many samples, the middle half's spread (robust to a stray outlier); with few, the
    // whole range.
    let (spread, what) = if row.iqr_pct.is_finite() && row.samples >= 4 {
        (row.iqr_pct, "the middle half of the times spans")
    } else {
        (row.spread_pct, "times spread by")
    };
    if row.samples >= 2 && spread > WIDE_SPREAD_PCT {
        out.push(format!(
            "{what} {spread:.0} % of the median (all: {}–{}); raise --repeat or rerun",
            crate::report::seconds(row.wall_min_s),
            crate::report::seconds(row.wall_max_s)
        ));
    }
    let threads = row.workers * row.blas_threads;
    if threads > row.provenance.logical_cores {
        out.push(format!(
            "{} runs {threads} threads on {} logical cores: oversubscribed, so slower than it \
             could be",
            row.strategy, row.provenance.logical_cores
        ));
    }
    if row.workers > 1 && !rayblas::blas::reentrant() && row.op_makes_blas_calls() {
        out.push(format!(
            "the linked BLAS ({}) is not reentrant: {}'s {} workers make their BLAS calls one \
             at a time",
            row.provenance.threading, row.strategy, row.workers
        ));
    }
    if row.ranks.is_some() && row.warmup == 0 && row.seed.is_some() {
        out.push(format!(
            "{} made its random rows inside the timed run (--warmup 0), where one process \
             makes its inputs before the timing; give --warmup 1 to compare them alike",
            row.strategy
        ));
    }
    out.extend(env_overrides(&row.strategy));
    out
}

/// Warnings for a strategy whose explicit counts override a thread variable that is set.
pub fn env_overrides(strategy: &str) -> Vec<String> {
    let set = |var: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty() && v.trim() != "0")
    };
    let mut out = Vec::new();
    let mut check = |vars: &[&str], asked: usize, what: &str| {
        if let Some((var, v)) = vars.iter().find_map(|var| set(var).map(|v| (*var, v))) {
            if v.split(',').next().map(str::trim) != Some(asked.to_string().as_str()) {
                out.push(format!(
                    "{var}={v} is set, but {strategy} asks for {asked} {what}; the strategy wins"
                ));
            }
        }
    };
    match ranks::local(strategy).parse::<Strategy>() {
        Ok(Strategy::Blocked {
            workers: Some(w), ..
        }) => check(&[rayblas::WORKERS_ENV], w, "workers"),
        Ok(
            Strategy::Native { threads: Some(t) } | Strategy::NativeOnRayon { threads: Some(t) },
        ) => check(rayblas::blas::THREAD_ENV, t, "BLAS threads"),
        Ok(Strategy::Hybrid {
            workers,
            blas_threads,
            ..
        }) => {
            check(&[rayblas::WORKERS_ENV], workers, "workers");
            check(rayblas::blas::THREAD_ENV, blas_threads, "BLAS threads");
        }
        _ => {}
    }
    out
}

impl Row {
    /// What a row measured, apart from the strategy: op, dtype, shape, batch, block and calls.
    #[allow(clippy::type_complexity)]
    pub fn workload(&self) -> (&str, &str, usize, usize, usize, Option<usize>, &str, &str) {
        (
            &self.op,
            &self.dtype,
            self.m,
            self.k,
            self.n,
            self.batch,
            &self.block,
            &self.calls,
        )
    }

    /// Whether this is a `serial` row of one process: the reference of [`speedup_vs_serial`].
    pub fn is_serial(&self) -> bool {
        self.strategy.starts_with("serial") && self.ranks.is_none()
    }

    /// Whether the op goes through BLAS at all (reductions are rayblas's own SIMD kernels).
    fn op_makes_blas_calls(&self) -> bool {
        matches!(
            self.op.as_str(),
            "matmul" | "gram" | "gram-sum" | "matmul-sum"
        )
    }
}

/// Fills in `ratio_to_best` (wall / best wall), `speedup_vs_serial` and `agrees`: whether every
/// repeat of the row passed its child's independent check against the inputs (`verify`). Each
/// row is judged on its own, so the row marked is the one that is wrong, not the ones that
/// differ from it. Returns whether all rows are right.
pub fn finish(rows: &mut [Row]) -> bool {
    let best = rows.iter().map(|r| r.wall_s).fold(f64::INFINITY, f64::min);
    let speedups: Vec<_> = rows.iter().map(|r| speedup_vs_serial(r, rows)).collect();
    let mut all = true;
    for (r, speedup) in rows.iter_mut().zip(speedups) {
        r.ratio_to_best = r.wall_s / best;
        r.speedup_vs_serial = speedup;
        r.agrees = r.results.iter().all(|(v, verdict)| verdict.accepts(*v));
        all &= r.agrees;
    }
    all
}

/// How much faster `row` ran than the fastest `serial` row among `rows` with its workload
/// (op, dtype, shape, block and calls; serial time / its time), or None without one. `serial`
/// makes the calls `blocked` makes (the cut depends on the core count, not the worker count),
/// one after another on one thread: the kernel's own rate on those calls, with no threading in
/// play. So on c cores, c× is about the most `blocked` can reach with them, and a row near it
/// is bound by the kernel, not by how it shares the work.
pub fn speedup_vs_serial(row: &Row, rows: &[Row]) -> Option<f64> {
    let serial = rows
        .iter()
        .filter(|s| s.is_serial() && s.workload() == row.workload())
        .map(|s| s.wall_s)
        .fold(f64::INFINITY, f64::min);
    (serial.is_finite() && row.wall_s > 0.0).then(|| serial / row.wall_s)
}

/// The strategies of the rows that failed their check, with the reference they missed.
pub fn wrong_rows(rows: &[Row]) -> String {
    rows.iter()
        .filter(|r| !r.agrees)
        .map(|r| {
            let (v, verdict) = r
                .results
                .iter()
                .find(|(v, verdict)| !verdict.accepts(*v))
                .copied()
                .unwrap_or((r.result, r.results[0].1));
            let product = match verdict.freivalds_ok {
                Some(false) => ", product failed Freivalds' test",
                _ => "",
            };
            format!(
                "{} (result {v:e}, reference {:e} ± {:.1e}{product})",
                r.strategy, verdict.reference, verdict.bound
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::limit;

    #[test]
    fn the_slower_of_compute_and_memory_binds_and_a_missing_limit_claims_none() {
        // 10 GFLOP at 100 GFLOP/s: 0.1 s; 1 GB at 20 GB/s: 0.05 s.
        assert_eq!(
            limit(Some(1e10), 1e9, Some(100.0), Some(20.0)),
            Some((0.1, "compute"))
        );
        assert_eq!(
            limit(Some(1e9), 4e9, Some(100.0), Some(20.0)),
            Some((0.2, "memory"))
        );
        // Reductions need only the read rate; products need both.
        assert_eq!(limit(None, 2e9, None, Some(20.0)), Some((0.1, "memory")));
        assert_eq!(limit(Some(1e9), 1e9, None, Some(20.0)), None);
        assert_eq!(limit(Some(1e9), 1e9, Some(100.0), None), None);
        assert_eq!(limit(None, 1e9, Some(100.0), None), None);
    }
}
