//! `rayblas`: which BLAS threading strategy wins on this machine, and by how much?
//!
//! Subcommands: `info`, `run`, `compare`, `sweep`. Results go to stdout, messages to stderr; bad
//! input is one line on stderr and exit code 2; results that disagree between strategies exit 1.

mod gen;
mod info;
mod measure;
mod provenance;
mod ranks;
mod replay;
mod report;
mod sweep;
mod sys;
mod verify;
mod workload;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use measure::{ChildResult, ChildSpec, Context, Peak, Row};
use report::Format;
use std::io::IsTerminal;
use std::process::ExitCode;
use workload::WorkloadArgs;

const AFTER_HELP: &str = "\
Columns: W×T = workers × BLAS threads per call. time/run is the median over samples; fast ops run \
many times per sample (at least 20 ms each) and up to 10 samples per process. GFLOP/s and % peak \
count the op's useful flops (matmul 2·m·n·k; gram and gram-sum m·(m+1)·k, one triangle), so the \
faster strategy always rates higher; 'done GFLOP/s' counts the flops really performed (whole \
diagonal tiles, or 2·m²·k where gram is a full GEMM: BLIS, pure-rust). Reductions report GB/s of \
input read. % peak = GFLOP/s / (one-thread GEMM GFLOP/s measured at start × physical cores), or \
--peak. CPU % = CPU time / wall time over the timed samples (200 % = two cores busy). RSS is the \
measuring process's peak; '+input' is what it grew after the inputs existed. vs best = time / \
fastest time (1.00x is the fastest). % FMA = useful GFLOP/s / the cores' FMA-loop rate, measured \
at start. % limit = the op's limit / its time, where the limit is the larger of its flops at the \
FMA loop and its bytes (inputs read once, output written once) at the streaming read rate; binds \
says which (compute or memory). ×serial = the serial row's time / this row's (with a serial row \
of the same workload).

Output: --format table (warnings and a legend go to stderr), csv (a header line, then one line \
per strategy), or json (JSON Lines: one object per strategy and line). Rows carry the workload, \
the seed or the input files with their SHA-256, the peak and its source, and the machine, OS, \
rayblas build and BLAS library; `rayblas compare --replay rows.jsonl` measures saved rows again.

Strategies: native[:T] (one BLAS call, T library threads), native[:T]+rayon (that call's jobs on \
rayon's pool; OpenBLAS 0.3.28 or newer), blocked[:W][+pin] (W rayon workers over tiles, BLAS at \
one thread), hybrid:WxT[+pin] (W tiles at once, T BLAS threads each; BLIS and pure-rust only), \
serial, and mpi:R+LOCAL (LOCAL on R MPI ranks; built with the mpi feature). Defaults: W from RAYON_NUM_THREADS, T from the library's variable (e.g. \
OPENBLAS_NUM_THREADS), else the physical cores of the affinity mask (`rayblas info` says which). \
Every strategy's result is checked against the inputs: full products by Freivalds' test (C·r \
against A·(B·r) for a random r) and their checksum against 1ᵀA·B1, reductions against an f64 \
reference, each within a bound derived from the shapes and the dtype; a row that fails is marked \
DIFFERS and the exit code is 1.

Warnings (stderr, and in each row): the machine was busy (other processes' CPU time on our CPUs, \
from /proc/stat), times spread widely, more threads than cores, BLAS calls serialised, a thread \
variable overridden by an explicit count.

If OpenBLAS runs its slow generic kernels (e.g. Prescott) and OPENBLAS_CORETYPE is unset, rayblas \
restarts itself once with the right value (reports then name both kernel sets); --keep-blas-core turns that off.";

#[derive(Parser)]
#[command(name = "rayblas", version, about = "Blocked dense linear algebra: compare BLAS threading strategies", after_help = AFTER_HELP, disable_help_subcommand = true)]
struct Cli {
    /// Keep the kernels OpenBLAS picked, even generic slow ones (do not re-execute with OPENBLAS_CORETYPE).
    #[arg(long, global = true)]
    keep_blas_core: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--dry-run`, for the subcommands that measure.
#[derive(Args)]
struct DryRunArg {
    /// Check everything a run checks (arguments, strategies, environment, inputs, memory,
    /// output room) and print what would be measured, without measuring.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

#[derive(Subcommand)]
enum Command {
    /// The linked BLAS (version, kernels, threads, warnings), CPU, cores and SIMD level.
    Info {
        /// Output format (table, json or csv).
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Measure one strategy.
    Run {
        #[command(flatten)]
        workload: WorkloadArgs,
        /// Strategy (default: RAYBLAS_STRATEGY, else the compiled default).
        #[arg(long)]
        strategy: Option<String>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        dry_run: DryRunArg,
    },
    /// Measure several strategies interleaved and check that they agree.
    Compare {
        #[command(flatten)]
        workload: WorkloadArgs,
        /// Comma-separated strategies (default: native,blocked,serial, plus hybrid:1x2 where the backend has per-call threads); `mpi:R+LOCAL` runs LOCAL on R MPI ranks (feature `mpi`).
        #[arg(long)]
        strategies: Option<String>,
        /// Comma-separated MPI rank counts: each strategy runs on each count as `mpi:R+S`,
        /// through `mpirun` (feature `mpi`; hidden from a build without it, which refuses it).
        #[arg(long, value_name = "LIST", hide = !cfg!(feature = "mpi"))]
        ranks: Option<String>,
        /// Measure the rows of a saved `--format json` output again (same workloads, strategies,
        /// inputs and repeats) and show old and new side by side.
        #[arg(long, value_name = "ROWS.jsonl", conflicts_with_all = [
            "op", "n", "m", "k", "block", "calls", "dtype", "seed", "input", "input_b",
            "repeat", "warmup", "peak", "strategies", "ranks",
        ])]
        replay: Option<std::path::PathBuf>,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        dry_run: DryRunArg,
    },
    /// Vary block size and worker count for a product (matmul, gram, gram-sum, matmul-sum);
    /// write sweep.csv and sweep.svg into --out.
    #[command(
        mut_arg("block", |a| a.hide(true)),
        mut_arg("output", |a| a.hide(true)),
        mut_arg("batch", |a| a.hide(true)),
        mut_arg("op", |a| a.hide_possible_values(true)
            .help("Operation: matmul, gram, gram-sum (the default) or matmul-sum")),
    )]
    Sweep {
        #[command(flatten)]
        workload: WorkloadArgs,
        /// Block sizes to try.
        #[arg(long, default_value = "250,500,1000,2000")]
        blocks: String,
        /// Worker counts to try (expands `blocked` to blocked:W and `native` to native:W).
        #[arg(long, default_value = "1,2")]
        workers: String,
        /// Strategy templates: blocked, native, serial, or literal strategies such as hybrid:1x2.
        #[arg(long, default_value = "blocked,native")]
        strategies: String,
        /// Output directory.
        #[arg(long, default_value = "sweep-out")]
        out: std::path::PathBuf,
        #[command(flatten)]
        format: FormatArg,
        #[command(flatten)]
        dry_run: DryRunArg,
    },
    /// Write a random m×n matrix (uniform in [0, 1), the values `run` makes with --m M --k N
    /// --seed S) to a C-order .npy file, in bounded memory, for trying inputs larger than RAM.
    Gen {
        /// Columns (and rows, unless --m is given).
        #[arg(long)]
        n: usize,
        /// Rows [default: n].
        #[arg(long)]
        m: Option<usize>,
        /// Element type.
        #[arg(long, value_enum, default_value = "f64")]
        dtype: workload::DtypeArg,
        /// Seed (run's default too).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The file to write (through a temporary name, renamed when complete).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Print the help of rayblas, or of one subcommand (`rayblas help compare`).
    Help {
        /// The subcommand.
        command: Option<String>,
    },
    /// Internal: one measurement process (used by run, compare and sweep).
    #[command(hide = true)]
    Measure {
        #[arg(long)]
        spec: String,
    },
    /// Internal: the one-thread GEMM rate, in a process of its own.
    #[command(hide = true)]
    MeasurePeak {
        #[arg(long, value_enum)]
        dtype: workload::DtypeArg,
        /// Only the streaming read rate (for reductions, which no GEMM bounds).
        #[arg(long)]
        memory_only: bool,
    },
}

/// A failure: message and exit code.
pub struct Failure(pub String, pub u8);

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure(s, 2)
    }
}

impl From<rayblas::Error> for Failure {
    fn from(e: rayblas::Error) -> Self {
        Failure(e.to_string(), 2)
    }
}

fn main() -> ExitCode {
    // A closed pipe (`rayblas info | true`, `rayblas compare | head`) ends the program quietly,
    // as Unix tools do: Rust ignores SIGPIPE, so a write would fail and `println!` panic.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A file-size limit (`ulimit -f`) makes a write past it fail with EFBIG, which rayblas
    // reports (exit 2, temporary output removed), instead of killing it with SIGXFSZ.
    // SAFETY: as above; ignoring a signal is inherited by the measuring processes.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // clap's own message, whole: the error, its hints (did you mean, possible values) and
        // the usage. Help and version go to stdout with exit 0, errors to stderr with exit 2.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    if !cli.keep_blas_core {
        if let Err(e) = rayblas::blas::reexec_with_fast_kernels() {
            eprintln!("rayblas: could not restart with faster OpenBLAS kernels ({e}); continuing");
        }
    }
    let dry_run = match &cli.command {
        Command::Run { dry_run, .. }
        | Command::Compare { dry_run, .. }
        | Command::Sweep { dry_run, .. } => dry_run.dry_run,
        _ => false,
    };
    DRY_RUN.store(dry_run, std::sync::atomic::Ordering::Relaxed);
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg, code)) => {
            eprintln!("rayblas: error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Set by `--dry-run` before anything else runs.
static DRY_RUN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Under `--dry-run`, prints what would be measured (one line on stdout) and returns true: the
/// caller stops there, after its checks and before measuring or writing anything.
pub fn stop_for_dry_run(
    w: &WorkloadArgs,
    strategies: &[String],
    extra: &str,
    processes: usize,
) -> bool {
    if !DRY_RUN.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    let shape = w.validate().map(|(s, _, _)| workload::actual_shape(w, s));
    let dims = match shape {
        Ok(s) if w.op.has_n() => format!("m={} k={} n={}", s.m, s.k, s.n),
        Ok(s) => format!("m={} k={}", s.m, s.k),
        Err(_) => String::new(),
    };
    let dims = match w.batch {
        Some(b) => format!("{dims}, batch of {b}"),
        None => dims,
    };
    println!(
        "dry run: {} {} {dims}{extra}, strategies {}, {} measuring processes; checks passed, \
         nothing measured",
        w.op.name(),
        w.dtype.name(),
        strategies.join(","),
        processes,
    );
    true
}

fn dispatch(cmd: Command) -> Result<(), Failure> {
    match cmd {
        Command::Help { command } => {
            use clap::CommandFactory;
            let mut cli = Cli::command();
            // Built, so a subcommand's usage line says `rayblas compare`.
            cli.build();
            let mut target = match &command {
                None => cli,
                Some(name) => match cli.find_subcommand_mut(name) {
                    Some(sub) if !sub.is_hide_set() => sub.clone(),
                    _ => return Err(format!("help: no subcommand `{name}`").into()),
                },
            };
            target.print_help().map_err(|e| e.to_string())?;
            Ok(())
        }
        Command::Info { format } => {
            info::print(format)?;
            Ok(())
        }
        Command::Gen {
            n,
            m,
            dtype,
            seed,
            out,
        } => {
            let m = m.unwrap_or(n);
            if m == 0 || n == 0 {
                return Err(format!("gen: sizes must be at least 1 (got m={m} n={n})").into());
            }
            gen::write(m, n, dtype, seed, &out)
        }
        Command::MeasurePeak { dtype, memory_only } => {
            let limits = measure::limits(dtype, memory_only)?;
            println!("{}", serde_json::to_string(&limits).expect("serialisable"));
            Ok(())
        }
        Command::Measure { spec } => {
            // On ranks, rank 0 alone answers.
            if let Some(r) = measure::child_main(&spec)? {
                println!("{}", serde_json::to_string(&r).expect("serialisable"));
            }
            Ok(())
        }
        Command::Run {
            workload,
            strategy,
            format,
            ..
        } => {
            let s = match strategy {
                Some(s) => s,
                None => rayblas::Strategy::from_env()?.to_string(),
            };
            if let Some(size) = ranks::in_world() {
                return run_in_world(&workload, &s, size, format.format);
            }
            compare(&workload, vec![s], format.format).map(|_| ())
        }
        Command::Compare {
            replay: Some(path),
            format,
            ..
        } => replay::run(&path, format.format),
        Command::Compare {
            workload,
            strategies,
            ranks: rank_counts,
            format,
            replay: None,
            ..
        } => {
            let mut list = match strategies {
                Some(s) => split_list("--strategies", &s)?,
                // A batch leaves out the defaults that cannot run it, saying why.
                None => default_strategies()
                    .into_iter()
                    .filter(|s| match batch_refusal(&workload, s) {
                        Some(why) => {
                            eprintln!("rayblas: note: {s} left out of the batch: {why}");
                            false
                        }
                        None => true,
                    })
                    .collect(),
            };
            if let Some(r) = rank_counts {
                list = ranks::expand(&list, &split_list("--ranks", &r)?)?;
            }
            compare(&workload, list, format.format).map(|_| ())
        }
        Command::Sweep {
            workload,
            blocks,
            workers,
            strategies,
            out,
            format,
            ..
        } => sweep::run(
            &workload,
            &blocks,
            &workers,
            &strategies,
            &out,
            format.format,
        ),
    }
}

/// A comma-separated list of `flag`; an empty item (`native,,blocked`, a trailing comma) is an
/// error rather than dropped, since it is usually a typo.
pub fn split_list(flag: &str, s: &str) -> Result<Vec<String>, Failure> {
    let items: Vec<String> = s.split(',').map(|x| x.trim().to_string()).collect();
    if items.iter().any(|x| x.is_empty()) {
        return Err(format!("{flag} has an empty item in `{s}`").into());
    }
    Ok(items)
}

fn default_strategies() -> Vec<String> {
    let mut v = vec![
        "native".to_string(),
        "blocked".to_string(),
        "serial".to_string(),
    ];
    if rayblas::blas::per_call_threads() && rayblas::blas::info().max_threads >= 2 {
        v.insert(2, "hybrid:1x2".to_string());
    }
    v
}

/// Checks every strategy parses and the backend can run it, before anything is measured.
pub fn check_strategies(list: &[String]) -> Result<(), Failure> {
    if list.is_empty() {
        return Err("no strategies given".to_string().into());
    }
    // RAYBLAS_SIMD and RAYBLAS_QUICK_LIMITS are read by the measuring processes: a bad value
    // is said here, once, before any of them starts.
    rayblas::simd::level()?;
    measure::effort()?;
    for s in list {
        ranks::split(s)?;
        let st: rayblas::Strategy = ranks::local(s).parse()?;
        st.counts()?;
    }
    Ok(())
}

/// `rayblas run` started by a user's `mpirun` (`size` ranks): every rank runs the workload as
/// one rank of `mpi:<size>+<strategy>`, once, and rank 0 prints the report, as one process
/// would.
fn run_in_world(
    w: &WorkloadArgs,
    strategy: &str,
    size: usize,
    format: Format,
) -> Result<(), Failure> {
    if !cfg!(feature = "mpi") {
        return Err(format!(
            "started by mpirun ({size} ranks), but this rayblas was built without MPI: build it \
             with `--features mpi`, or run it without mpirun"
        )
        .into());
    }
    if ranks::split(strategy)?.is_some() {
        return Err(format!(
            "under mpirun, give the strategy each rank runs (e.g. blocked:1), not `{strategy}`"
        )
        .into());
    }
    let full = format!("mpi:{size}+{strategy}");
    let list = vec![full.clone()];
    w.validate()?;
    w.check_used(&list, false)?;
    check_strategies(&list)?;
    check_memory(w, &list)?;
    let spec = ChildSpec {
        workload: w.clone(),
        strategy: full.clone(),
    };
    if stop_for_dry_run(w, &list, "", 1) {
        return Ok(());
    }
    let Some(result) = ranks::child_main(&spec)? else {
        return Ok(());
    };
    let ctx = context(w)?;
    let mut rows = vec![measure::aggregate(w, &full, &[result], &ctx)];
    measure::finish(&mut rows);
    report::print(&rows, format);
    fail_if_wrong(&rows)
}

/// The peak GFLOP/s for "% of peak", where it came from, the FMA-loop limit and the streaming
/// read rate (reductions measure only the last).
pub fn peak(w: &WorkloadArgs) -> Result<Peak, Failure> {
    if let Some(p) = w.peak {
        return Ok(Peak {
            gflops: p,
            source: "--peak".into(),
            fma_gflops: None,
            read_gbps: None,
        });
    }
    let quick = measure::effort()? == rayblas::bench::Effort::Quick;
    // In a process of its own: a GEMM or the read buffer here would raise this process's RSS,
    // which the measuring processes it starts inherit as their peak (Linux keeps ru_maxrss
    // across exec), and leave BLAS threads that compete with them.
    let product = w.op.is_product();
    let limits = match measure::spawn_limits(w.dtype, !product) {
        Ok(limits) => limits,
        // A reduction is rated in GB/s whatever the read rate; it only loses its limit column
        // (and `--peak` is no way out for it).
        Err(e) if !product => {
            eprintln!("rayblas: warning: no limit in these rows: {e}");
            return Ok(Peak {
                gflops: f64::NAN,
                source: String::new(),
                fma_gflops: None,
                read_gbps: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(e) = &limits.read_error {
        eprintln!(
            "rayblas: warning: no limit in these rows: the streaming read rate could not be \
             measured ({e})"
        );
    }
    let cores = rayblas::cpu::physical_cores().max(1);
    match (limits.gemm_one_thread, limits.fma_all, limits.fma_threads) {
        (Some(gemm), Some(fma), Some(threads)) if product => Ok(Peak {
            gflops: gemm * cores as f64,
            source: format!(
                "measured{}: one-thread {} GEMM {gemm:.1} GFLOP/s × {cores} physical cores; FMA \
                 loop {fma:.1} GFLOP/s on {threads} threads",
                if quick {
                    " quickly and roughly (RAYBLAS_QUICK_LIMITS=1)"
                } else {
                    ""
                },
                w.dtype.name(),
            ),
            fma_gflops: Some(fma),
            read_gbps: limits.read_gbps,
        }),
        _ if product => Err(
            "the peak measurement gave no GEMM or FMA-loop rate; give --peak"
                .to_string()
                .into(),
        ),
        _ => Ok(Peak {
            gflops: f64::NAN,
            source: String::new(),
            fma_gflops: None,
            read_gbps: limits.read_gbps,
        }),
    }
}

/// What all rows of one command share: the peak, the environment, the inputs' hashes.
pub fn context(w: &WorkloadArgs) -> Result<Context, Failure> {
    let hash = |p: &Option<std::path::PathBuf>| {
        p.as_deref()
            .map(provenance::file_sha256)
            .transpose()
            .map_err(Failure::from)
    };
    Ok(Context {
        peak: peak(w)?,
        provenance: provenance::gather(),
        input_sha256: hash(&w.input)?,
        input_b_sha256: hash(&w.input_b)?,
    })
}

pub fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || total <= 1 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    pb
}

/// Runs each (strategy, round) in a child, strategies interleaved per round; returns the rows.
pub fn measure_interleaved(
    w: &WorkloadArgs,
    configs: &[(String, WorkloadArgs)],
) -> Result<Vec<Vec<ChildResult>>, Failure> {
    let pb = progress((w.repeat * configs.len()) as u64);
    let mut results: Vec<Vec<ChildResult>> = vec![Vec::new(); configs.len()];
    for _round in 0..w.repeat {
        for (i, (strategy, wl)) in configs.iter().enumerate() {
            pb.set_message(format!("{strategy} block {}", wl.block_text()));
            let spec = ChildSpec {
                workload: wl.clone(),
                strategy: strategy.clone(),
            };
            results[i].push(measure::spawn_child(&spec)?);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    Ok(results)
}

fn compare(w: &WorkloadArgs, list: Vec<String>, format: Format) -> Result<Vec<Row>, Failure> {
    w.validate()?;
    w.check_used(&list, false)?;
    check_strategies(&list)?;
    check_run(w, &list)?;
    if stop_for_dry_run(w, &list, "", w.repeat * list.len()) {
        return Ok(Vec::new());
    }
    let rows = measure_checked(w, &list)?;
    report::print(&rows, format);
    fail_if_wrong(&rows)?;
    Ok(rows)
}

/// Exit code 1 with the wrong rows named, if any row failed its check.
pub fn fail_if_wrong(rows: &[Row]) -> Result<(), Failure> {
    if rows.iter().all(|r| r.agrees) {
        return Ok(());
    }
    Err(Failure(
        format!("wrong results from: {}", measure::wrong_rows(rows)),
        1,
    ))
}

/// What a run checks once its arguments parse, before measuring: memory, the output's room,
/// and the input files (read once here, so a bad file is reported before any measuring).
pub fn check_run(w: &WorkloadArgs, list: &[String]) -> Result<(), Failure> {
    ranks::check(w, list)?;
    check_batch(w, list)?;
    check_memory(w, list)?;
    check_output_room(w)?;
    if w.input.is_some() {
        check_inputs(w)?;
    }
    Ok(())
}

/// Refuses, before anything is measured, a strategy that cannot run a batch of these items (a
/// `native` whose library has no batched GEMM, or refuses these sizes): an empty batch of the
/// same item shape asks the library without allocating anything.
fn check_batch(w: &WorkloadArgs, list: &[String]) -> Result<(), Failure> {
    match list.iter().find_map(|s| batch_refusal(w, s)) {
        Some(why) => Err(why.into()),
        None => Ok(()),
    }
}

/// Why `strategy` cannot run `w`'s batch (`None`: it can, or `w` is no batch). A strategy that
/// does not parse is left to the strategy check.
fn batch_refusal(w: &WorkloadArgs, strategy: &str) -> Option<String> {
    w.batch?;
    let (s, _, _) = w.validate().ok()?;
    let cfg = rayblas::Config::new().strategy(strategy.parse().ok()?);
    let (a, b) = (
        ndarray::Array3::<f64>::zeros((0, s.m, s.k)),
        ndarray::Array3::<f64>::zeros((0, s.k, s.n)),
    );
    cfg.matmul_batch(&a, &b).err().map(|e| e.to_string())
}

/// Measures `list` on `w` (its arguments checked already, [`check_run`] passed) and returns
/// the finished rows.
pub fn measure_checked(w: &WorkloadArgs, list: &[String]) -> Result<Vec<Row>, Failure> {
    let mut ctx = context(w)?;
    let configs: Vec<(String, WorkloadArgs)> =
        list.iter().map(|s| (s.clone(), w.clone())).collect();
    let results = measure_interleaved(w, &configs)?;
    ctx.provenance = provenance::gather();
    let mut rows: Vec<Row> = list
        .iter()
        .zip(&results)
        .map(|(s, runs)| measure::aggregate(w, s, runs, &ctx))
        .collect();
    measure::finish(&mut rows);
    Ok(rows)
}

/// Refuses, before anything is measured, an `--output` the disk cannot hold (exit 2).
fn check_output_room(w: &WorkloadArgs) -> Result<(), Failure> {
    let (shape, _, _) = w.validate()?;
    if let Some(out) = &w.output {
        use std::os::unix::fs::MetadataExt;
        let id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        if let Some(o) = id(out) {
            for (flag, input) in [("--input", &w.input), ("--input-b", &w.input_b)] {
                if input.as_deref().and_then(id) == Some(o) {
                    return Err(format!(
                        "--output {} is the file given as {flag}: the product would replace \
                         it; write to another file",
                        out.display()
                    )
                    .into());
                }
            }
        }
    }
    if let (Some(out), Some((m, n))) = (&w.output, workload::output_dim(w, shape)) {
        let bytes = m as u128 * n as u128 * w.dtype.size() as u128;
        rayblas::mapped::ensure_room(out, bytes).map_err(|e| format!("--output {e}"))?;
    }
    Ok(())
}

/// Refuses, before anything is allocated, a workload whose operands and output do not fit in
/// what this process may allocate (exit 2, one line that says how much each needs).
pub fn check_memory(w: &WorkloadArgs, strategies: &[String]) -> Result<(), Failure> {
    let (shape, _, _) = w.validate()?;
    let Some((limit, what)) = sys::memory_limit() else {
        return Ok(());
    };
    let (need, strategy) = strategies
        .iter()
        .map(|s| {
            (
                workload::memory_needed(w, shape, ranks::local(s)),
                s.as_str(),
            )
        })
        .max()
        .unwrap_or((0, ""));
    if need <= limit {
        return blas_buffers_fit(limit, what, need, strategies);
    }
    let size = if w.input.is_some() {
        "its inputs".to_string()
    } else {
        format!(
            "m={} k={}{} {}",
            shape.m,
            shape.k,
            if w.op.has_n() {
                format!(" n={}", shape.n)
            } else {
                String::new()
            },
            w.dtype.name()
        )
    };
    Err(Failure(
        format!(
            "{} with {size} needs {} of memory for its operands and output (under `{strategy}`), \
             but {what} is {}",
            w.op.name(),
            rayblas::human_bytes(need),
            rayblas::human_bytes(limit)
        ),
        2,
    ))
}

/// Address space OpenBLAS 0.3.x (x86-64) maps for each thread that calls it: its work buffer.
const OPENBLAS_BUFFER: u128 = 128 << 20;

/// Under an address-space or data limit, OpenBLAS must be able to map one work buffer per
/// calling thread: when the mapping fails it retries forever (seen here under `ulimit -d
/// 196608`: a measuring process spinning at 100 % CPU for minutes), so refuse such a limit up
/// front instead of hanging.
fn blas_buffers_fit(
    limit: u128,
    what: &str,
    need: u128,
    strategies: &[String],
) -> Result<(), Failure> {
    if !what.contains("RLIMIT") || rayblas::blas::info().backend != "openblas" {
        return Ok(());
    }
    let threads = strategies
        .iter()
        .filter_map(|s| {
            let counts = ranks::local(s)
                .parse::<rayblas::Strategy>()
                .ok()?
                .counts()
                .ok()?;
            Some((ranks::count(s), counts))
        })
        .map(|(r, (w, t))| (r * w * t) as u128 + 1)
        .max()
        .unwrap_or(1);
    let buffers = threads * OPENBLAS_BUFFER;
    if need.saturating_add(buffers) <= limit {
        return Ok(());
    }
    Err(Failure(
        format!(
            "{what} is {}: OpenBLAS maps a {} work buffer for each of the {threads} threads that \
             call it ({} in all, beside {} of operands and output), and under a limit that \
             refuses one it retries forever instead of failing; raise the limit",
            rayblas::human_bytes(limit),
            rayblas::human_bytes(OPENBLAS_BUFFER),
            rayblas::human_bytes(buffers),
            rayblas::human_bytes(need)
        ),
        2,
    ))
}

fn check_inputs(w: &WorkloadArgs) -> Result<(), Failure> {
    let (shape, _, _) = w.validate()?;
    match w.dtype {
        workload::DtypeArg::F64 => workload::inputs::<f64>(w, shape).map(|_| ()),
        workload::DtypeArg::F32 => workload::inputs::<f32>(w, shape).map(|_| ()),
    }
    .map_err(Failure::from)
}
