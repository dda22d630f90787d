//! `cargo xtask bench-report`: one interleaved run of rayblas (each strategy, each backend that
//! installs here) against its peers (one OpenBLAS call, faer, gemm, matrixmultiply, ndarray;
//! numpy and dask.array when python3 is present) and the machine's limits, written to
//! `BENCHMARKS.md` and SVG plots under `benchmarks/`.
//!
//! Every measurement is a process of its own (a fresh heap, so peak RSS is the contestant's), and
//! the contestants of a cell (op, dtype, n) run back to back in an order rotated each repetition,
//! so a slow minute of the shared host falls on all of them. A cell's figure is the median over
//! the repetitions of each process's median per-call time.

use crate::{build_cli, cargo, root, run, setup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// numpy's and dask's versions, pinned so a rerun measures the same code.
const PYTHON_PACKAGES: &[&str] = &["numpy==2.4.6", "dask==2026.8.0", "threadpoolctl==3.8.0"];
const PEERS_PY: &str = include_str!("peers.py");

/// The backends built for the report, with the strategies each is measured under and the
/// largest n it gets (the reference BLAS is slow: small sizes only).
const BACKENDS: &[(&str, &[&str], usize)] = &[
    (
        "openblas-system",
        &["blocked", "native", "serial"],
        usize::MAX,
    ),
    ("blis-system", &["blocked", "native"], usize::MAX),
    ("pure-rust", &["blocked", "native"], usize::MAX),
    ("netlib-system", &["blocked"], 1000),
];
/// `serial` (one core) beyond this n only costs time: it is half of blocked.
const SERIAL_MAX_N: usize = 1000;
const RUST_PEERS: &[&str] = &["openblas", "faer", "gemm", "matrixmultiply", "ndarray"];

struct Options {
    reps: usize,
    /// Small sizes and one repetition: checks the command, the report says its figures mean nothing.
    quick: bool,
    sizes: Vec<usize>,
    seed_n: usize,
    reduction_sizes: Vec<usize>,
    out: PathBuf,
    /// Only the per-call section, spliced into the BENCHMARKS.md already in `out`.
    per_call_only: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            reps: 3,
            quick: false,
            sizes: vec![64, 256, 1000, 2000, 4000],
            seed_n: 10000,
            reduction_sizes: vec![4000, 16000],
            out: root(),
            per_call_only: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--reps" => o.reps = parse_count(value()?)?,
                "--quick" => {
                    // The whole pipeline at small sizes: for checking the command, not for
                    // numbers (the report says so).
                    o.quick = true;
                    o.reps = 1;
                    o.sizes = vec![64, 256];
                    o.seed_n = 1000;
                    o.reduction_sizes = vec![1000];
                }
                "--out" => o.out = PathBuf::from(value()?),
                "--per-call" => o.per_call_only = true,
                other => {
                    return Err(format!(
                        "unknown bench-report option `{other}` (--reps N, --quick, --out DIR, \
                         --per-call)"
                    ))
                }
            }
        }
        Ok(o)
    }
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive count")),
    }
}

/// Who runs a measurement.
#[derive(Clone)]
enum Runner {
    /// The rayblas CLI built with a backend, under a strategy.
    Cli { exe: PathBuf, strategy: String },
    /// A Rust peer in `rayblas-peers`.
    Peer(&'static str),
    /// numpy or dask in the report's virtual environment.
    Python(&'static str),
}

#[derive(Clone)]
struct Contestant {
    name: String,
    runner: Runner,
}

/// One cell of the report.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    op: &'static str,
    dtype: &'static str,
    n: usize,
}

impl Cell {
    fn is_product(&self) -> bool {
        self.op != "sum"
    }
    /// The op's minimum flops: 2n³ for matmul, n²(n+1) for gram (one triangle and the diagonal).
    fn useful_flops(&self) -> f64 {
        let n = self.n as f64;
        match self.op {
            "matmul" => 2.0 * n * n * n,
            "gram" | "gram-sum" => n * n * (n + 1.0),
            _ => 0.0,
        }
    }
    fn bytes_read(&self) -> f64 {
        let size = if self.dtype == "f64" { 8.0 } else { 4.0 };
        (self.n * self.n) as f64 * size
    }
}

/// What one measuring process reported.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    wall_s: f64,
    wall_min_s: f64,
    wall_max_s: f64,
    cpu_pct: Option<f64>,
    peak_rss_bytes: f64,
    result: f64,
    warnings: Vec<String>,
}

impl Sample {
    fn from_json(v: &Value) -> Result<Sample, String> {
        let num = |k: &str| {
            v.get(k)
                .and_then(Value::as_f64)
                .ok_or(format!("no number `{k}` in {v}"))
        };
        Ok(Sample {
            wall_s: num("wall_s")?,
            wall_min_s: num("wall_min_s")?,
            wall_max_s: num("wall_max_s")?,
            cpu_pct: v.get("cpu_pct").and_then(Value::as_f64),
            peak_rss_bytes: num("peak_rss_bytes")?,
            result: v.get("result").and_then(Value::as_f64).unwrap_or(f64::NAN),
            warnings: v
                .get("warnings")
                .and_then(Value::as_array)
                .map(|w| {
                    w.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// Everything the report is written from.
struct Data {
    started: String,
    command: String,
    info: Value,
    /// FMA-loop GFLOP/s of all cores and one-thread GEMM, per dtype; read bandwidth GB/s.
    fma: BTreeMap<&'static str, f64>,
    gemm_one: BTreeMap<&'static str, f64>,
    read_gbps: f64,
    /// Size of the last-level cache, as the kernel reports it.
    llc: String,
    versions: Vec<(String, String)>,
    reps: usize,
    quick: bool,
    /// Per cell, per contestant (in the cell's order), the samples of every repetition.
    cells: BTreeMap<Cell, Vec<(String, Vec<Sample>)>>,
    failures: Vec<String>,
    elapsed_s: f64,
    /// The per-call section ([`per_call_section`]).
    per_call: String,
}

/// The heading of the per-call section, which `--per-call` replaces in place.
const PER_CALL_HEADING: &str = "## Per-call cost";

/// The per-call section: `benches/small.rs`'s interleaved report (µs per product at n = 2…1024
/// under rayblas's strategies, one direct CBLAS call and ndarray, and batched products), on the
/// default backend.
fn per_call_section() -> Result<String, String> {
    let mut bench = cargo();
    bench
        .args(["bench", "--quiet", "-p", "rayblas", "--bench", "small"])
        .env("RAYBLAS_BENCH_REPORT_ONLY", "1");
    let out = bench
        .output()
        .map_err(|e| format!("cargo bench --bench small: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo bench --bench small failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let kernels = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("bench: backend "))
        .unwrap_or("?")
        .to_string();
    Ok(format!(
        "{PER_CALL_HEADING}\n\n`RAYBLAS_BENCH_REPORT_ONLY=1 cargo bench --bench small` on {}, \
         backend {kernels}. A product too small to share (under 2 MFLOP, about 100³, with the \
         automatic block) is one BLAS call on the calling thread; larger ones go to the \
         workers. `default/best` is the default's time over the best of `blocked`, `native`, \
         one direct call and ndarray. The cases interleave in one process; after a \
         multithreaded OpenBLAS call (`native`, `direct`) the library's idle threads spin for up \
         to about 0.1 s, so the next case waits 150 ms (they would take a core from it, which a \
         loop of its calls alone never sees). From n=128 the workers of `blocked` wake for every \
         call (the calling thread takes items beside them and waits for their last ones awake); \
         on this shared virtual machine a worker's wake-up costs from a few µs to tens, so the \
         mid sizes vary most from run to run.\n\n```text\n{}\n```\n",
        utc_now(),
        text.trim_end()
    ))
}

/// Replaces the per-call section and the index of logs of the report at `md` (or appends
/// them) with `per_call` and a fresh index.
fn splice_per_call(md: &Path, per_call: &str) -> Result<(), String> {
    let old = std::fs::read_to_string(md).map_err(|e| format!("{}: {e}", md.display()))?;
    let new = spliced(&old, PER_CALL_HEADING, per_call);
    let new = spliced(&new, LOGS_HEADING, &logs_index(&root().join("benchmarks")));
    std::fs::write(md, new).map_err(|e| e.to_string())
}

/// The heading of the index of measurement logs.
const LOGS_HEADING: &str = "## Measurement logs";

/// The index of the dated logs in `dir` (`benchmarks/`): one line per page, its title.
fn logs_index(dir: &Path) -> String {
    let mut pages: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    let title = std::fs::read_to_string(&p)
                        .ok()
                        .and_then(|t| {
                            t.lines()
                                .next()
                                .map(|l| l.trim_start_matches("# ").to_string())
                        })
                        .unwrap_or_else(|| name.clone());
                    (name, title)
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    let mut s = format!(
        "{LOGS_HEADING}\n\nDated logs of single questions, each with its command, CPU and date \
         (`benchmarks/`, one page per topic):\n\n"
    );
    for (name, title) in pages {
        let _ = writeln!(s, "- [{name}](benchmarks/{name}): {title}");
    }
    s
}

/// `report` with its section under `heading` (up to the next `## ` heading) replaced by
/// `section`, or with `section` appended when it has none.
fn spliced(report: &str, heading: &str, section: &str) -> String {
    let section = section.trim_end();
    match report.find(heading) {
        Some(start) => {
            let after = start + heading.len();
            let rest = match report[after..].find("\n## ") {
                Some(i) => &report[after + i + 1..],
                None => "",
            };
            let mut out = format!("{}{section}\n", &report[..start]);
            if !rest.is_empty() {
                out.push('\n');
                out.push_str(rest);
            }
            out
        }
        None => format!("{}\n\n{section}\n", report.trim_end()),
    }
}

#[cfg(test)]
mod per_call_tests {
    use super::{spliced, PER_CALL_HEADING};

    #[test]
    fn the_per_call_section_is_replaced_in_place_or_appended() {
        let spliced = |r: &str, s: &str| spliced(r, PER_CALL_HEADING, s);
        let new = "## Per-call cost\n\nnew figures\n";
        let before = "# r\n\n## A\n\na\n\n## Per-call cost\n\nold\n\n## Z\n\nz\n";
        assert_eq!(
            spliced(before, new),
            "# r\n\n## A\n\na\n\n## Per-call cost\n\nnew figures\n\n## Z\n\nz\n"
        );
        let last = "# r\n\n## Per-call cost\n\nold\n";
        assert_eq!(
            spliced(last, new),
            "# r\n\n## Per-call cost\n\nnew figures\n"
        );
        assert_eq!(
            spliced("# r\n\n## A\n", new),
            "# r\n\n## A\n\n## Per-call cost\n\nnew figures\n"
        );
    }
}

pub fn bench_report(args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    if opts.per_call_only {
        let md = opts.out.join("BENCHMARKS.md");
        splice_per_call(&md, &per_call_section()?)?;
        eprintln!("xtask: wrote the per-call section of {}", md.display());
        return Ok(());
    }
    let t0 = Instant::now();
    let started = utc_now();
    let dir = root().join("target/bench-report");
    // `build_cli` creates `bin/` itself; this one holds the venv and the output files.
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    setup(&BACKENDS.iter().map(|b| b.0).collect::<Vec<_>>(), false)?;
    let mut clis = Vec::new();
    for (backend, strategies, max_n) in BACKENDS {
        let exe = build_cli(backend, &dir.join("bin"))?;
        clis.push((short(backend), exe, *strategies, *max_n));
    }
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "-p", "rayblas-peers"]);
    run(build, "build rayblas-peers")?;
    let peers_exe = root().join("target/release/rayblas-peers");
    let python = python_env(&dir);
    if let Err(e) = &python {
        eprintln!("xtask: numpy and dask left out: {e}");
    }
    let python = python.ok();

    let main_cli = clis[0].1.clone();
    let info: Value = json_line(Command::new(&main_cli).args(["info", "--format", "json"]))?;
    let corename = info["corename"].as_str().unwrap_or("").to_string();
    let cores = info["physical_cores"].as_u64().unwrap_or(1) as usize;
    let env = Env {
        peers_exe,
        python: python.as_ref().map(|p| (p.clone(), dir.join("peers.py"))),
        corename,
        cores,
    };
    if let Some((_, script)) = &env.python {
        std::fs::write(script, PEERS_PY).map_err(|e| e.to_string())?;
    }

    // The limits, measured at the start of the run; the bandwidth again at the end (best kept).
    let mut fma = BTreeMap::new();
    let mut gemm_one = BTreeMap::new();
    for dtype in ["f64", "f32"] {
        let v = json_line(Command::new(&main_cli).args(["measure-peak", "--dtype", dtype]))?;
        fma.insert(dtype, v["fma_all"].as_f64().unwrap_or(f64::NAN));
        gemm_one.insert(dtype, v["gemm_one_thread"].as_f64().unwrap_or(f64::NAN));
    }
    let bandwidth = || -> Result<f64, String> {
        let v = json_line(&mut env.peer_command(&["read-bandwidth"], 0))?;
        Ok(v["read_gbps"].as_f64().unwrap_or(f64::NAN))
    };
    let mut read_gbps = bandwidth()?;

    let plan = plan(&opts, &clis, &env);
    let total: usize = plan.iter().map(|(_, c)| c.len()).sum::<usize>() * opts.reps;
    let mut cells: BTreeMap<Cell, Vec<(String, Vec<Sample>)>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut done = 0;
    for rep in 0..opts.reps {
        for (cell, contestants) in &plan {
            let entry = cells.entry(cell.clone()).or_insert_with(|| {
                contestants
                    .iter()
                    .map(|c| (c.name.clone(), Vec::new()))
                    .collect()
            });
            // Rotate the order each repetition: no contestant always runs first or last.
            let k = contestants.len();
            for i in 0..k {
                let idx = (i + rep) % k;
                let c = &contestants[idx];
                done += 1;
                eprintln!(
                    "xtask: [{done}/{total}] rep {} {} {} n={} {}",
                    rep + 1,
                    cell.op,
                    cell.dtype,
                    cell.n,
                    c.name
                );
                match env.measure(c, cell, opts.seed_n) {
                    Ok(s) => entry[idx].1.push(s),
                    Err(e) => failures.push(format!(
                        "{} {} n={} {}: {e}",
                        cell.op, cell.dtype, cell.n, c.name
                    )),
                }
            }
        }
    }
    read_gbps = read_gbps.max(bandwidth()?);
    eprintln!("xtask: per-call cost (cargo bench --bench small)");
    let per_call = per_call_section()?;

    let mut versions = vec![(
        "rayblas".to_string(),
        format!(
            "{} ({})",
            info["rayblas_version"].as_str().unwrap_or("?"),
            info["rayblas_commit"].as_str().unwrap_or("?")
        ),
    )];
    versions.extend(lock_versions(&[
        "faer",
        "gemm",
        "matrixmultiply",
        "ndarray",
        "rayon",
    ]));
    if python.is_some() {
        versions.extend(
            PYTHON_PACKAGES
                .iter()
                .filter_map(|p| p.split_once("=="))
                .map(|(a, b)| (a.to_string(), b.to_string())),
        );
    }
    let data = Data {
        started,
        command: format!("cargo xtask bench-report {}", args.join(" "))
            .trim_end()
            .to_string(),
        info,
        fma,
        gemm_one,
        read_gbps,
        llc: last_level_cache(),
        versions,
        reps: opts.reps,
        quick: opts.quick,
        cells,
        failures,
        elapsed_s: t0.elapsed().as_secs_f64(),
        per_call,
    };
    let plots = opts.out.join("benchmarks");
    std::fs::create_dir_all(&plots).map_err(|e| e.to_string())?;
    for (name, svg) in plots_svg(&data) {
        std::fs::write(plots.join(&name), svg).map_err(|e| e.to_string())?;
    }
    let md = opts.out.join("BENCHMARKS.md");
    std::fs::write(&md, markdown(&data)).map_err(|e| e.to_string())?;
    eprintln!(
        "xtask: wrote {} and {} ({:.0} s)",
        md.display(),
        plots.display(),
        data.elapsed_s
    );
    if data.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} measurements failed (listed in the report)",
            data.failures.len()
        ))
    }
}

fn short(backend: &str) -> &'static str {
    match backend {
        "openblas-system" => "openblas",
        "blis-system" => "blis",
        "netlib-system" => "netlib",
        _ => "pure-rust",
    }
}

/// The cells and who runs in each, in report order.
fn plan(
    opts: &Options,
    clis: &[(&'static str, PathBuf, &[&str], usize)],
    env: &Env,
) -> Vec<(Cell, Vec<Contestant>)> {
    let mut out = Vec::new();
    let cli = |backend: &str, exe: &Path, s: &str| Contestant {
        name: format!("rayblas {s} ({backend})"),
        runner: Runner::Cli {
            exe: exe.to_path_buf(),
            strategy: s.to_string(),
        },
    };
    let peer = |p: &'static str| Contestant {
        name: if p == "openblas" {
            "one OpenBLAS call".to_string()
        } else {
            p.to_string()
        },
        runner: Runner::Peer(p),
    };
    let py = |p: &'static str| Contestant {
        name: p.to_string(),
        runner: Runner::Python(p),
    };
    for op in ["matmul", "gram", "gram-sum"] {
        for dtype in ["f64", "f32"] {
            for &n in &opts.sizes {
                let mut c = Vec::new();
                for (backend, exe, strategies, max_n) in clis {
                    if n > *max_n {
                        continue;
                    }
                    for s in *strategies {
                        if *s == "serial" && n > SERIAL_MAX_N {
                            continue;
                        }
                        c.push(cli(backend, exe, s));
                    }
                }
                c.extend(RUST_PEERS.iter().map(|p| peer(p)));
                if env.python.is_some() {
                    c.push(py("numpy"));
                    if op == "gram-sum" && n >= 1000 {
                        c.push(py("dask"));
                    }
                }
                out.push((Cell { op, dtype, n }, c));
            }
        }
    }
    // The seed: the sum of x·xᵀ at its full size, f64, blocks of 1000.
    let (_, exe, _, _) = &clis[0];
    let mut seed = vec![
        cli("openblas", exe, "blocked"),
        cli("openblas", exe, "native"),
        peer("openblas"),
        peer("faer"),
    ];
    if env.python.is_some() {
        seed.push(py("numpy"));
        seed.push(py("dask"));
    }
    out.push((
        Cell {
            op: "gram-sum",
            dtype: "f64",
            n: opts.seed_n,
        },
        seed,
    ));
    for &n in &opts.reduction_sizes {
        let mut c = vec![
            cli("openblas", exe, "blocked"),
            cli("openblas", exe, "serial"),
            peer("ndarray"),
        ];
        if env.python.is_some() {
            c.push(py("numpy"));
        }
        out.push((
            Cell {
                op: "sum",
                dtype: "f64",
                n,
            },
            c,
        ));
    }
    out
}

/// How to start each kind of contestant.
struct Env {
    peers_exe: PathBuf,
    /// The venv's python and the script it runs.
    python: Option<(PathBuf, PathBuf)>,
    /// The kernel set the rayblas CLI settled on; the peers that call OpenBLAS get it too.
    corename: String,
    cores: usize,
}

impl Env {
    fn peer_command(&self, args: &[&str], openblas_threads: usize) -> Command {
        let mut c = Command::new(&self.peers_exe);
        c.args(args)
            .env("RAYON_NUM_THREADS", self.cores.to_string())
            .env("MATMUL_NUM_THREADS", self.cores.to_string())
            // Only the OpenBLAS peer uses OpenBLAS threads; for the others an idle pool would
            // spin after the library loads and count as their CPU time.
            .env("OPENBLAS_NUM_THREADS", openblas_threads.max(1).to_string());
        if !self.corename.is_empty() {
            c.env("OPENBLAS_CORETYPE", &self.corename);
        }
        c
    }

    fn measure(&self, c: &Contestant, cell: &Cell, seed_n: usize) -> Result<Sample, String> {
        // The seed-size calls take seconds: one cold call per process is the measurement.
        let warmup = if cell.n >= seed_n.max(8000) { "0" } else { "1" };
        let n = cell.n.to_string();
        let mut cmd = match &c.runner {
            Runner::Cli { exe, strategy } => {
                let mut cmd = Command::new(exe);
                cmd.args(["run", "--op", cell.op, "--dtype", cell.dtype, "--n", &n])
                    .args(["--strategy", strategy, "--repeat", "1", "--warmup", warmup])
                    .args(["--format", "json"]);
                if cell.is_product() {
                    // The report computes % of the FMA limit itself; a given peak spares each
                    // process the peak measurement.
                    cmd.args(["--peak", "1"]);
                    if strategy != "native" {
                        let block = if cell.n >= 8000 { "1000" } else { "500" };
                        cmd.args(["--block", block]);
                    }
                }
                cmd
            }
            Runner::Peer(p) => {
                let threads = if *p == "openblas" { self.cores } else { 1 };
                self.peer_command(&[p, cell.op, cell.dtype, &n, "--warmup", warmup], threads)
            }
            Runner::Python(p) => {
                let (python, script) = self.python.as_ref().expect("planned with python");
                let mut cmd = Command::new(python);
                let chunk = if cell.n > 2000 { "1000" } else { "500" };
                cmd.arg(script).args([
                    p, cell.op, cell.dtype, &n, "--warmup", warmup, "--chunk", chunk,
                ]);
                cmd
            }
        };
        Sample::from_json(&json_line(&mut cmd)?)
    }
}

/// Runs `cmd` and parses the first line of its stdout as JSON; a failure carries its stderr.
fn json_line(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} ({}): {}",
            cmd.get_program().to_string_lossy(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let line = stdout.lines().next().unwrap_or("");
    serde_json::from_str(line).map_err(|e| format!("bad JSON ({e}): {line}"))
}

/// A virtual environment with numpy, dask and threadpoolctl (pinned), made once under
/// `target/bench-report/venv`. Returns its python.
fn python_env(dir: &Path) -> Result<PathBuf, String> {
    crate::python_venv(&dir.join("venv"), PYTHON_PACKAGES)
}

/// Versions of the peer crates from Cargo.lock.
fn lock_versions(names: &[&str]) -> Vec<(String, String)> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap_or_default();
    let mut out = Vec::new();
    for name in names {
        let header = format!("name = \"{name}\"\nversion = \"");
        if let Some(i) = lock.find(&header) {
            let rest = &lock[i + header.len()..];
            if let Some(end) = rest.find('"') {
                out.push((name.to_string(), rest[..end].to_string()));
            }
        }
    }
    out
}

/// The largest cache of CPU 0 (`/sys/devices/system/cpu/cpu0/cache/index*/size`), e.g. "300 MiB".
fn last_level_cache() -> String {
    let mut best = (0u32, String::from("unknown"));
    for i in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let level = std::fs::read_to_string(format!("{dir}/level"))
            .ok()
            .and_then(|l| l.trim().parse::<u32>().ok());
        let size = std::fs::read_to_string(format!("{dir}/size")).ok();
        if let (Some(level), Some(size)) = (level, size) {
            if level > best.0 {
                best = (
                    level,
                    format!("L{level} {}", size.trim().replace('K', " KiB")),
                );
            }
        }
    }
    best.1
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

// ---------- figures ----------

/// The summary of one contestant in one cell.
#[derive(Debug, Clone)]
struct Summary {
    name: String,
    /// Median over processes of their median per-call seconds; min and max over all samples.
    wall: f64,
    min: f64,
    max: f64,
    cpu_pct: Option<f64>,
    peak_rss: f64,
    result: f64,
    processes: usize,
    warnings: usize,
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let k = s.len();
    if k % 2 == 1 {
        s[k / 2]
    } else {
        (s[k / 2 - 1] + s[k / 2]) / 2.0
    }
}

fn summarise(rows: &[(String, Vec<Sample>)]) -> Vec<Summary> {
    rows.iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(name, s)| {
            let cpus: Vec<f64> = s.iter().filter_map(|x| x.cpu_pct).collect();
            Summary {
                name: name.clone(),
                wall: median(&s.iter().map(|x| x.wall_s).collect::<Vec<_>>()),
                min: s.iter().map(|x| x.wall_min_s).fold(f64::INFINITY, f64::min),
                max: s.iter().map(|x| x.wall_max_s).fold(0.0, f64::max),
                cpu_pct: (!cpus.is_empty()).then(|| median(&cpus)),
                peak_rss: s.iter().map(|x| x.peak_rss_bytes).fold(0.0, f64::max),
                result: s[0].result,
                processes: s.len(),
                warnings: s.iter().filter(|x| !x.warnings.is_empty()).count(),
            }
        })
        .collect()
}

/// GFLOP/s for products, GB/s of input read for reductions.
fn rate(cell: &Cell, wall: f64) -> f64 {
    if cell.is_product() {
        cell.useful_flops() / wall / 1e9
    } else {
        cell.bytes_read() / wall / 1e9
    }
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn mib(b: f64) -> String {
    format!("{:.0} MiB", b / 1048576.0)
}

// ---------- the report ----------

fn markdown(d: &Data) -> String {
    let mut s = String::new();
    let i = &d.info;
    let g = |k: &str| i[k].as_str().unwrap_or("?").to_string();
    let _ = writeln!(s, "# rayblas benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `{}` on {} ({:.0} min). Every figure below comes from that one run; rerun the \
         command to reproduce it on your machine.\n",
        d.command,
        d.started,
        d.elapsed_s / 60.0
    );
    if d.quick {
        let _ = writeln!(
            s,
            "**`--quick`: small sizes and one repetition, to check the command. These figures \
             are not measurements to quote.**\n"
        );
    }
    let _ = writeln!(s, "## Machine (`rayblas info`)\n");
    let _ = writeln!(
        s,
        "- CPU: {} ({} physical / {} logical cores, affinity {}), SIMD {}\n- OS: {}\n- BLAS: \
         {} {} (`{}`), kernels **{}**, {} threading",
        g("cpu"),
        i["physical_cores"],
        i["logical_cores"],
        g("affinity"),
        g("simd"),
        g("os"),
        g("backend"),
        g("version"),
        g("config"),
        g("corename"),
        g("threading"),
    );
    let _ = writeln!(
        s,
        "- Limits measured in this run: FMA loop (12 independent chains on every core) \
         **{:.1} GFLOP/s f64, {:.1} f32**; one-thread OpenBLAS GEMM {:.1} f64, {:.1} f32; \
         streaming read **{:.1} GB/s** (all cores, 2 GiB, best of five, at the start and the \
         end); last-level cache {}",
        d.fma["f64"], d.fma["f32"], d.gemm_one["f64"], d.gemm_one["f32"], d.read_gbps, d.llc
    );
    let v: Vec<String> = d.versions.iter().map(|(a, b)| format!("{a} {b}")).collect();
    let _ = writeln!(s, "- Versions: {}\n", v.join(", "));
    let _ = writeln!(
        s,
        "## How it was measured\n\n\
         Each measurement is a process of its own: it makes its inputs (not timed), warms up \
         (one call, or 20 ms of calls), then times samples of at least 20 ms for up to 0.2 s (the \
         rayblas CLI) or 0.3 s (the peers) \
         and reports the median time per call, CPU time over wall time, and its peak RSS. At the \
         seed size one cold call per process is the measurement. The contestants of a cell run \
         back to back in an order rotated each repetition ({} repetitions); a figure is the \
         median over repetitions, with the fastest and slowest sample beside it. The host is \
         shared: single figures move by 5–20 %, so read ratios, not digits.\n\n\
         - **rayblas** is the `rayblas run` CLI built once per backend, blocks of 500 (1000 at \
         n ≥ 8000). `blocked` = rayon over tiles with BLAS at one thread; `native` = one \
         natively threaded BLAS call; `serial` = one core (n ≤ {SERIAL_MAX_N}). `hybrid` is \
         left out: on 2 cores its only shapes are `blocked` and `native`. netlib is the \
         reference BLAS: small sizes only.\n\
         - **Peers**, called directly from Rust (`peers/`): one OpenBLAS call (cblas gemm; syrk \
         for gram and gram-sum, then the sum of the triangle) threaded by OpenBLAS on the same \
         kernels; faer's `matmul` with `Par::rayon`; the gemm crate with rayon; matrixmultiply \
         with its threading feature; ndarray's `.dot` (matrixmultiply underneath) and `.sum()`. \
         Peers without a symmetric product compute all of X·Xᵀ for gram: the rates below count \
         only the useful flops (n²(n+1) for gram, 2n³ for matmul), so doing twice the work \
         shows as half the rate.\n\
         - **numpy** `x @ x.T` / `(x @ x.T).sum()` with its own OpenBLAS threads, and \
         **dask.array** `x.dot(x.T).sum()` on the threaded scheduler with BLAS at one thread \
         (threadpoolctl), chunks of 500 (1000 above n=2000), in a virtual environment the \
         command makes.\n",
        d.reps
    );
    let _ = writeln!(s, "## What wins when\n");
    for line in what_wins(d) {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(s);

    // Rate tables: one per op and dtype, contestants × n.
    let mut groups: BTreeMap<(&str, &str), Vec<&Cell>> = BTreeMap::new();
    for cell in d.cells.keys() {
        groups.entry((cell.op, cell.dtype)).or_default().push(cell);
    }
    let seed = seed_cell(d);
    for ((op, dtype), cells) in &groups {
        let cells: Vec<&Cell> = cells
            .iter()
            .copied()
            .filter(|c| Some(*c) != seed.as_ref())
            .collect();
        if cells.is_empty() {
            continue;
        }
        let unit = if op == &"sum" { "GB/s" } else { "GFLOP/s" };
        let _ = writeln!(
            s,
            "## {op}, {dtype}: {unit} (× of the best in the column)\n"
        );
        if op != &"sum" {
            let _ = writeln!(
                s,
                "![{op} {dtype}](benchmarks/{}-{dtype}.svg)\n",
                op.replace('-', "_")
            );
        }
        let mut names: Vec<String> = Vec::new();
        for c in &cells {
            for (n, _) in &d.cells[*c] {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        let _ = write!(s, "| contestant |");
        for c in &cells {
            let _ = write!(s, " n={} |", c.n);
        }
        let _ = write!(s, "\n|---|");
        for _ in &cells {
            let _ = write!(s, "---|");
        }
        let _ = writeln!(s);
        let sums: Vec<Vec<Summary>> = cells.iter().map(|c| summarise(&d.cells[*c])).collect();
        for name in &names {
            let _ = write!(s, "| {name} |");
            for (c, sum) in cells.iter().zip(&sums) {
                let best = sum.iter().map(|x| x.wall).fold(f64::INFINITY, f64::min);
                match sum.iter().find(|x| &x.name == name) {
                    Some(x) => {
                        let bold = x.wall == best;
                        let _ = write!(
                            s,
                            " {}{:.1} ({:.2}){} |",
                            if bold { "**" } else { "" },
                            rate(c, x.wall),
                            best / x.wall,
                            if bold { "**" } else { "" }
                        );
                    }
                    None => {
                        let _ = write!(s, " – |");
                    }
                }
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s);
        // The largest cell in detail.
        if let (Some(c), Some(sum)) = (cells.last(), sums.last()) {
            detail_table(&mut s, d, c, sum);
        }
    }
    if let Some(cell) = &seed {
        let _ = writeln!(
            s,
            "## The seed: sum of x·xᵀ, n={}, f64\n\nThe workload rayblas started from \
             (dask.array's `x.dot(x.T).sum()` with blocks of 1000 and BLAS at one thread).\n",
            cell.n
        );
        detail_table(&mut s, d, cell, &summarise(&d.cells[cell]));
    }
    let _ = writeln!(s, "{}", d.per_call);
    let _ = writeln!(s, "{}", logs_index(&root().join("benchmarks")));
    if !d.failures.is_empty() {
        let _ = writeln!(s, "## Measurements that failed\n");
        for f in &d.failures {
            let _ = writeln!(s, "- {f}");
        }
        let _ = writeln!(s);
    }
    s
}

fn seed_cell(d: &Data) -> Option<Cell> {
    d.cells
        .keys()
        .filter(|c| c.op == "gram-sum" && c.dtype == "f64")
        .max_by_key(|c| c.n)
        .filter(|c| d.cells[*c].iter().any(|(n, _)| n == "dask" || n == "faer"))
        .filter(|c| {
            // Only when it is a cell of its own (bigger than the size sweep).
            d.cells
                .keys()
                .filter(|o| o.op == "matmul" && o.dtype == "f64")
                .all(|o| o.n < c.n)
        })
        .cloned()
}

/// Median, min–max, rate, % of the limit, CPU %, peak RSS for each contestant of one cell.
fn detail_table(s: &mut String, d: &Data, c: &Cell, sum: &[Summary]) {
    let product = c.is_product();
    let (unit, limit_name, limit) = if product {
        ("GFLOP/s", "% FMA", d.fma[c.dtype])
    } else {
        ("GB/s", "% read bw", d.read_gbps)
    };
    let best = sum.iter().map(|x| x.wall).fold(f64::INFINITY, f64::min);
    let _ = writeln!(
        s,
        "{} {} n={}, in detail:\n\n| contestant | median | min–max | {unit} | × best | \
         {limit_name} | CPU % | peak RSS | result |\n|---|---|---|---|---|---|---|---|---|",
        c.op, c.dtype, c.n
    );
    let mut sorted: Vec<&Summary> = sum.iter().collect();
    sorted.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    for x in sorted {
        let r = rate(c, x.wall);
        let _ = writeln!(
            s,
            "| {}{}{} | {} | {}–{} | {:.1} | {:.2} | {:.0} | {} | {} | {} |",
            x.name,
            if x.warnings > 0 { " ⚠" } else { "" },
            if x.processes < d.reps {
                format!(" ({} of {} runs)", x.processes, d.reps)
            } else {
                String::new()
            },
            fmt_time(x.wall),
            fmt_time(x.min),
            fmt_time(x.max),
            r,
            best / x.wall,
            100.0 * r / limit,
            x.cpu_pct.map_or("–".into(), |p| format!("{p:.0}")),
            mib(x.peak_rss),
            if x.result.is_finite() && c.op != "matmul" && c.op != "gram" {
                format!("{:.10e}", x.result)
            } else {
                "–".into()
            }
        );
    }
    if !product {
        let _ = writeln!(
            s,
            "\nThe input is {} and the last-level cache {}: an input that fits there is read \
             from the cache by the repeated sums, faster than the memory's streaming rate.",
            mib(c.bytes_read()),
            d.llc
        );
    }
    let _ = writeln!(
        s,
        "\n⚠: the rayblas CLI warned about at least one of its processes (busy machine or wide \
         spread). `result` of numpy and dask is over numpy's own random input.\n"
    );
}

/// Sentences drawn from the data: who is fastest where, blocked against native, the seed.
fn what_wins(d: &Data) -> Vec<String> {
    let mut out = Vec::new();
    let seed = seed_cell(d);
    type ByOpAndDtype<'a> = BTreeMap<(&'a str, &'a str), Vec<(&'a Cell, Vec<Summary>)>>;
    let mut groups: ByOpAndDtype = BTreeMap::new();
    for (cell, rows) in &d.cells {
        if Some(cell) == seed.as_ref() {
            continue;
        }
        groups
            .entry((cell.op, cell.dtype))
            .or_default()
            .push((cell, summarise(rows)));
    }
    for ((op, dtype), cells) in &groups {
        let winners: Vec<String> = cells
            .iter()
            .filter_map(|(c, sum)| {
                sum.iter()
                    .min_by(|a, b| a.wall.total_cmp(&b.wall))
                    .map(|w| format!("n={}: {}", c.n, w.name))
            })
            .collect();
        let mut line = format!("**{op} {dtype}**, fastest: {}.", winners.join("; "));
        let ratios: Vec<String> = cells
            .iter()
            .filter_map(|(c, sum)| {
                let find = |n: &str| sum.iter().find(|x| x.name == n).map(|x| x.wall);
                match (
                    find("rayblas blocked (openblas)"),
                    find("rayblas native (openblas)"),
                ) {
                    (Some(b), Some(nv)) => Some(format!("{:.2} at n={}", nv / b, c.n)),
                    _ => None,
                }
            })
            .collect();
        if !ratios.is_empty() {
            let _ = write!(
                line,
                " rayblas blocked ÷ native speed (OpenBLAS): {}.",
                ratios.join(", ")
            );
        }
        // At the largest size: the best rayblas row against the best of the rest.
        if let Some((c, sum)) = cells.last() {
            let best_of = |ours: bool| {
                sum.iter()
                    .filter(|x| x.name.starts_with("rayblas") == ours)
                    .min_by(|a, b| a.wall.total_cmp(&b.wall))
            };
            if let (Some(us), Some(them)) = (best_of(true), best_of(false)) {
                let _ = write!(
                    line,
                    " At n={} the best rayblas row ({}) runs at {:.2}× the speed of the best \
                     peer ({}).",
                    c.n,
                    us.name,
                    them.wall / us.wall,
                    them.name
                );
            }
        }
        out.push(line);
    }
    if let Some(cell) = &seed {
        let sum = summarise(&d.cells[cell]);
        if let Some(b) = sum.iter().find(|x| x.name == "rayblas blocked (openblas)") {
            let r = rate(cell, b.wall);
            let mut line = format!(
                "**The seed** (gram-sum n={}): rayblas blocked {} ({:.0} % of the FMA limit, \
                 peak RSS {})",
                cell.n,
                fmt_time(b.wall),
                100.0 * r / d.fma["f64"],
                mib(b.peak_rss)
            );
            for x in &sum {
                if x.name != b.name {
                    let _ = write!(
                        line,
                        "; {} {} ({:.2}× the time, {})",
                        x.name,
                        fmt_time(x.wall),
                        x.wall / b.wall,
                        mib(x.peak_rss)
                    );
                }
            }
            line.push('.');
            out.push(line);
        }
    }
    out
}

// ---------- plots ----------

const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
];

/// One SVG per product op and dtype: rate against n (log scale), a line per contestant, the
/// FMA limit dashed.
fn plots_svg(d: &Data) -> Vec<(String, String)> {
    let seed = seed_cell(d);
    let mut groups: BTreeMap<(&str, &str), Vec<&Cell>> = BTreeMap::new();
    for cell in d.cells.keys() {
        if cell.is_product() && Some(cell) != seed.as_ref() {
            groups.entry((cell.op, cell.dtype)).or_default().push(cell);
        }
    }
    let mut out = Vec::new();
    for ((op, dtype), cells) in groups {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for c in &cells {
            for x in summarise(&d.cells[*c]) {
                if !order.contains(&x.name) {
                    order.push(x.name.clone());
                }
                series
                    .entry(x.name.clone())
                    .or_default()
                    .push((c.n as f64, rate(c, x.wall)));
            }
        }
        let lines: Vec<(String, Vec<(f64, f64)>)> = order
            .into_iter()
            .map(|n| {
                let pts = series.remove(&n).unwrap_or_default();
                (n, pts)
            })
            .collect();
        let title = format!(
            "{op} {dtype}: GFLOP/s of useful flops by n, median of {} repetitions",
            d.reps
        );
        out.push((
            format!("{}-{dtype}.svg", op.replace('-', "_")),
            svg_lines(&title, &lines, d.fma[dtype]),
        ));
    }
    out
}

fn svg_lines(title: &str, lines: &[(String, Vec<(f64, f64)>)], limit: f64) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 520.0, 70.0, 260.0, 40.0, 50.0);
    let xs: Vec<f64> = lines.iter().flat_map(|l| l.1.iter().map(|p| p.0)).collect();
    let (xmin, xmax) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min).max(1.0),
        xs.iter().copied().fold(0.0, f64::max).max(2.0),
    );
    let top_value = lines
        .iter()
        .flat_map(|l| l.1.iter().map(|p| p.1))
        .chain([limit])
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max)
        * 1.05;
    // Grid lines at round numbers.
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]
        .into_iter()
        .find(|s| top_value / s <= 8.0)
        .unwrap_or(1000.0);
    let ymax = (top_value / step).ceil() * step;
    let px = |x: f64| {
        let span = (xmax.ln() - xmin.ln()).max(1e-9);
        left + (x.ln() - xmin.ln()) / span * (w - left - right)
    };
    let py = |y: f64| top + (1.0 - y / ymax) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="15">{}</text>"#,
        escape(title)
    );
    // Axes and grid.
    for i in 0..=(ymax / step) as usize {
        let y = step * i as f64;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}</text>"##,
            w - right,
            py(y),
            py(y),
            left - 6.0,
            py(y) + 4.0,
            y
        );
    }
    let mut ticks: Vec<f64> = xs.clone();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for x in ticks {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{top}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{x}</text>"##,
            px(x),
            px(x),
            h - bottom,
            px(x),
            h - bottom + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">n (log scale)</text>"#,
        (left + w - right) / 2.0,
        h - 12.0
    );
    if limit.is_finite() {
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black" stroke-dasharray="6,4"/><text x="{:.1}" y="{:.1}">FMA limit {:.0}</text>"##,
            w - right,
            py(limit),
            py(limit),
            left + 4.0,
            py(limit) - 4.0,
            limit
        );
    }
    for (i, (name, pts)) in lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let dash = if name.starts_with("rayblas") {
            ""
        } else {
            r#" stroke-dasharray="3,3""#
        };
        let path: Vec<String> = pts
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (x, y) = p.split_once(',').expect("formatted above");
            let _ = writeln!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            w - right + 10.0,
            w - right + 34.0,
            w - right + 40.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall: f64) -> Sample {
        Sample {
            wall_s: wall,
            wall_min_s: wall * 0.9,
            wall_max_s: wall * 1.1,
            cpu_pct: Some(199.0),
            peak_rss_bytes: 64.0 * 1048576.0,
            result: 1.0,
            warnings: vec![],
        }
    }

    fn data() -> Data {
        let mut cells = BTreeMap::new();
        for n in [1000, 2000] {
            let t = (n as f64 / 1000.0).powi(3) * 0.02;
            cells.insert(
                Cell {
                    op: "matmul",
                    dtype: "f64",
                    n,
                },
                vec![
                    (
                        "rayblas blocked (openblas)".to_string(),
                        vec![sample(t), sample(t * 1.2), sample(t * 0.95)],
                    ),
                    (
                        "rayblas native (openblas)".to_string(),
                        vec![sample(t * 1.1), sample(t * 1.1), sample(t * 1.3)],
                    ),
                    ("faer".to_string(), vec![sample(t * 1.5)]),
                ],
            );
        }
        Data {
            started: "2026-11-28 03:00 UTC".into(),
            command: "cargo xtask bench-report".into(),
            info: serde_json::json!({"cpu": "Test CPU", "physical_cores": 2}),
            fma: BTreeMap::from([("f64", 160.0), ("f32", 320.0)]),
            gemm_one: BTreeMap::from([("f64", 70.0), ("f32", 140.0)]),
            read_gbps: 15.0,
            llc: "L3 300 MiB".into(),
            versions: vec![],
            reps: 3,
            quick: false,
            cells,
            failures: vec![],
            elapsed_s: 60.0,
            per_call: "## Per-call cost\n\nfigures\n".into(),
        }
    }

    #[test]
    fn a_figure_is_the_median_of_the_processes_and_ratios_are_to_the_best() {
        let d = data();
        let cell = Cell {
            op: "matmul",
            dtype: "f64",
            n: 1000,
        };
        let sum = summarise(&d.cells[&cell]);
        assert_eq!(sum[0].wall, 0.02);
        assert!((sum[0].min - 0.95 * 0.02 * 0.9).abs() < 1e-12);
        assert!((rate(&cell, sum[0].wall) - 100.0).abs() < 1e-9);
        let md = markdown(&d);
        // blocked is best: ratio 1.00, bold; native 0.91 of it; faer 0.67.
        assert!(
            md.contains("| rayblas blocked (openblas) | **100.0 (1.00)** |"),
            "{md}"
        );
        assert!(md.contains("| faer | 66.7 (0.67) |"), "{md}");
        assert!(md.contains("n=1000: rayblas blocked (openblas)"), "{md}");
        assert!(md.contains("1.10 at n=1000"), "{md}");
    }

    #[test]
    fn plots_have_a_line_per_contestant_and_the_limit() {
        let d = data();
        let plots = plots_svg(&d);
        assert_eq!(plots.len(), 1);
        let (name, svg) = &plots[0];
        assert_eq!(name, "matmul-f64.svg");
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains("FMA limit 160"));
        assert!(svg.ends_with("</svg>\n"));
    }

    #[test]
    fn options_are_checked() {
        assert!(Options::parse(&["--reps".into(), "0".into()]).is_err());
        assert!(Options::parse(&["--bogus".into()]).is_err());
        let o = Options::parse(&["--quick".into()]).unwrap();
        assert_eq!((o.quick, o.reps, o.sizes.len()), (true, 1, 2));
    }
}
