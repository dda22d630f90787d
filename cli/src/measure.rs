//! Measurements: each (strategy, round) runs in a fresh child process (`rayblas measure`), so one
//! strategy's memory never shows in another's row and every process starts cold alike; rounds
//! interleave the strategies (A B C A B C …) so drifts of a shared machine hit all of them.

use crate::sys;
use crate::verify::{self, Verdict};
use crate::workload::{self, DtypeArg, Inputs, Op, WorkloadArgs};
use rayblas::bench::median;
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
    pub wall_s: Vec<f64>,
    pub cpu_s: Vec<f64>,
    pub peak_rss_bytes: u64,
    pub input_rss_bytes: u64,
    #[serde(with = "nonfinite")]
    pub result: f64,
    /// The independent check of this child's results (see `verify`).
    pub verdict: Verdict,
    pub flops: f64,
    pub bytes: f64,
    pub workers: usize,
    pub blas_threads: usize,
    /// Actual shapes: A/X is m×k; n is B's columns (products) or the result's (gram: m).
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// What the parent sends a child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub workload: WorkloadArgs,
    pub strategy: String,
    pub timed: usize,
}

/// Runs in the child: build inputs, warm up, time `timed` runs.
pub fn child_main(spec_json: &str) -> Result<ChildResult, String> {
    let spec: ChildSpec =
        serde_json::from_str(spec_json).map_err(|e| format!("bad measure spec: {e}"))?;
    match spec.workload.dtype {
        DtypeArg::F64 => child_run::<f64>(&spec),
        DtypeArg::F32 => child_run::<f32>(&spec),
    }
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
    let (m, k) = inp.a.dim();
    let n = match (&inp.b, w.op) {
        (Some(b), Op::Matmul | Op::MatmulSum) => b.ncols(),
        (_, Op::Gram | Op::GramSum) => m,
        _ => k,
    };
    let (flops, bytes) = workload::work(w.op, &cfg, &inp).map_err(|e| e.to_string())?;
    // The last run's answer, product included, for the check below. It is dropped before each
    // run (outside the timing), so two products never coexist.
    let mut last = None;
    for _ in 0..w.warmup {
        drop(last.take());
        last = Some(workload::run_once(w.op, &cfg, &inp).map_err(|e| e.to_string())?);
    }
    let (mut wall_s, mut cpu_s) = (Vec::new(), Vec::new());
    for _ in 0..spec.timed {
        drop(last.take());
        let (c0, _) = sys::rusage();
        let t0 = Instant::now();
        let answer = workload::run_once(w.op, &cfg, &inp).map_err(|e| e.to_string())?;
        wall_s.push(t0.elapsed().as_secs_f64());
        cpu_s.push(sys::rusage().0 - c0);
        last = Some(answer);
    }
    let peak_rss_bytes = sys::rusage().1;
    // The check reads the output of the last measured run, not a run of its own.
    let (result, product) = last.map_or((f64::NAN, None), |a| (a.result, a.product));
    let verdict = verify::check(w.op, &inp, product.as_ref());
    Ok(ChildResult {
        wall_s,
        cpu_s,
        peak_rss_bytes,
        input_rss_bytes: input_rss,
        result,
        verdict,
        flops,
        bytes,
        workers,
        blas_threads,
        m,
        k,
        n,
    })
}

/// Runs one child and parses its answer.
pub fn spawn_child(spec: &ChildSpec) -> Result<ChildResult, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let out = Command::new(exe)
        .arg("--keep-blas-core")
        .arg("measure")
        .arg("--spec")
        .arg(serde_json::to_string(spec).expect("serialisable"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start measurement process: {e}"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let line = msg
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!(
            "{}: {}",
            spec.strategy,
            line.trim_start_matches("rayblas: error: ")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("bad answer from measurement process: {e}: {text}"))
}

/// The one-thread GEMM rate of this machine (GFLOP/s), for "% of peak": a serial square GEMM of
/// the given dtype, best of three after a warm-up, at n=2000 (n=1000 on a slow backend).
pub fn single_core_gemm_gflops(dtype: DtypeArg) -> Result<f64, String> {
    fn rate<T: Element>() -> Result<f64, String> {
        let cfg = Config::new()
            .strategy(Strategy::Serial)
            .block(BlockShape::square(4096).expect("positive"));
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
        DtypeArg::F64 => rate::<f64>(),
        DtypeArg::F32 => rate::<f32>(),
    }
}

/// One row of a comparison: a strategy's measurements aggregated over its rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub op: String,
    pub dtype: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub block: String,
    pub calls: String,
    pub strategy: String,
    pub backend: String,
    pub corename: String,
    pub threading: String,
    pub workers: usize,
    pub blas_threads: usize,
    pub repeat: usize,
    pub wall_s: f64,
    pub wall_min_s: f64,
    pub wall_max_s: f64,
    pub gflops: Option<f64>,
    pub gbps: Option<f64>,
    pub peak_pct: Option<f64>,
    pub cpu_pct: f64,
    pub peak_rss_bytes: u64,
    pub rss_above_input_bytes: u64,
    #[serde(with = "nonfinite")]
    pub result: f64,
    pub agrees: bool,
    pub ratio_to_best: f64,
    /// The result of every repeat with the check of its child (applied in `finish`).
    #[serde(skip)]
    pub results: Vec<(f64, Verdict)>,
}

/// Aggregates the children of one strategy into a row (ratio and agreement filled in later).
pub fn aggregate(w: &WorkloadArgs, strategy: &str, runs: &[ChildResult], peak_gflops: f64) -> Row {
    let info = rayblas::blas::info();
    let walls: Vec<f64> = runs.iter().flat_map(|r| r.wall_s.iter().copied()).collect();
    let cpus: Vec<f64> = runs.iter().flat_map(|r| r.cpu_s.iter().copied()).collect();
    let wall = median(&walls);
    let first = &runs[0];
    let is_product = w.op.is_product();
    let gflops = is_product.then(|| first.flops / wall / 1e9);
    let peak_rss = runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0);
    let above = runs
        .iter()
        .map(|r| r.peak_rss_bytes.saturating_sub(r.input_rss_bytes))
        .max()
        .unwrap_or(0);
    Row {
        op: w.op.name().to_string(),
        dtype: w.dtype.name().to_string(),
        m: first.m,
        k: first.k,
        n: first.n,
        block: w.block.clone(),
        calls: w
            .effective_calls()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        strategy: strategy.to_string(),
        backend: info.backend.to_string(),
        corename: info.corename.unwrap_or_else(|| "-".into()),
        threading: info.threading.name().to_string(),
        workers: first.workers,
        blas_threads: first.blas_threads,
        repeat: walls.len(),
        wall_s: wall,
        wall_min_s: walls.iter().copied().fold(f64::INFINITY, f64::min),
        wall_max_s: walls.iter().copied().fold(0.0, f64::max),
        gflops,
        gbps: (!is_product).then(|| first.bytes / wall / 1e9),
        peak_pct: gflops.map(|g| 100.0 * g / peak_gflops),
        cpu_pct: 100.0
            * median(
                &cpus
                    .iter()
                    .zip(&walls)
                    .map(|(c, w)| c / w)
                    .collect::<Vec<_>>(),
            ),
        peak_rss_bytes: peak_rss,
        rss_above_input_bytes: above,
        result: first.result,
        agrees: true,
        ratio_to_best: 1.0,
        results: runs.iter().map(|r| (r.result, r.verdict)).collect(),
    }
}

/// Fills in `ratio_to_best` (wall / best wall) and `agrees`: whether every repeat of the row
/// passed its child's independent check against the inputs (`verify`). Each row is judged on
/// its own, so the row marked is the one that is wrong, not the ones that differ from it.
/// Returns whether all rows are right.
pub fn finish(rows: &mut [Row]) -> bool {
    let best = rows.iter().map(|r| r.wall_s).fold(f64::INFINITY, f64::min);
    let mut all = true;
    for r in rows.iter_mut() {
        r.ratio_to_best = r.wall_s / best;
        r.agrees = r.results.iter().all(|(v, verdict)| verdict.accepts(*v));
        all &= r.agrees;
    }
    all
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
