//! MPI ranks in the CLI: the strategy form `mpi:R+LOCAL` (R ranks, each running LOCAL, e.g.
//! `mpi:2+blocked:1`), `compare --ranks`, measuring processes started through `mpirun`, and
//! `rayblas run` started under a user's `mpirun`. Needs the `mpi` feature; without it every
//! use of ranks is refused with one line that says how to get it.

use crate::measure::ChildResult;
use crate::workload::{Op, WorkloadArgs};

/// The prefix of a strategy on ranks.
const PREFIX: &str = "mpi:";

/// The most ranks a strategy may ask for.
const MAX_RANKS: usize = 1024;

/// The ops that run on ranks (`rayblas::ranks`).
const RANK_OPS: &[Op] = &[
    Op::GramSum,
    Op::Gram,
    Op::MatmulSum,
    Op::Matmul,
    Op::Sum,
    Op::Max,
    Op::Min,
    Op::Mean,
];

/// `mpi:R+LOCAL` as (R, LOCAL); `None` for a strategy of one process.
///
/// # Errors
/// A malformed rank form, with what is accepted.
pub fn split(strategy: &str) -> Result<Option<(usize, &str)>, String> {
    let Some(rest) = strategy.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        format!(
            "cannot parse strategy `{strategy}`: {why}; the form on ranks is mpi:R+LOCAL, e.g. \
             mpi:2+blocked:1 (R ranks from 1 to {MAX_RANKS}, each running the strategy LOCAL)"
        )
    };
    let (r, local) = rest.split_once('+').ok_or_else(|| bad("no `+LOCAL`"))?;
    let r: usize = r
        .parse()
        .map_err(|_| bad(&format!("`{r}` is not a rank count")))?;
    if !(1..=MAX_RANKS).contains(&r) {
        return Err(bad(&format!("{r} ranks")));
    }
    if local.is_empty() || local.starts_with(PREFIX) {
        return Err(bad("LOCAL must be a strategy of one process"));
    }
    Ok(Some((r, local)))
}

/// The strategy each process runs: LOCAL of `mpi:R+LOCAL`, else the strategy itself.
pub fn local(strategy: &str) -> &str {
    match split(strategy) {
        Ok(Some((_, l))) => l,
        _ => strategy,
    }
}

/// The ranks of a strategy: R of `mpi:R+LOCAL`, else 1.
pub fn count(strategy: &str) -> usize {
    match split(strategy) {
        Ok(Some((r, _))) => r,
        _ => 1,
    }
}

/// `compare --ranks LIST`: each strategy of one process on each rank count, as `mpi:R+S`.
///
/// # Errors
/// A bad count, or a strategy that is already on ranks.
pub fn expand(strategies: &[String], ranks: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for r in ranks {
        let n: usize = r.parse().map_err(|_| {
            format!("--ranks: `{r}` is not a rank count (1 to {MAX_RANKS}, e.g. --ranks 1,2)")
        })?;
        if !(1..=MAX_RANKS).contains(&n) {
            return Err(format!(
                "--ranks: {n} is not a rank count from 1 to {MAX_RANKS}"
            ));
        }
        for s in strategies {
            if s.starts_with(PREFIX) {
                return Err(format!(
                    "--ranks applies to strategies of one process; `{s}` is already on ranks"
                ));
            }
            out.push(format!("{PREFIX}{n}+{s}"));
        }
    }
    Ok(out)
}

/// Why `strategies` cannot run on ranks for `w`, checked before anything is measured: a build
/// without MPI, an op or option that does not run on ranks, no `mpirun`.
///
/// # Errors
/// One line naming the value and what is accepted.
pub fn check(w: &WorkloadArgs, strategies: &[String]) -> Result<(), String> {
    let mut on_ranks = None;
    for s in strategies {
        if split(s)?.is_some() {
            on_ranks.get_or_insert(s);
        }
    }
    let Some(s) = on_ranks else { return Ok(()) };
    if !cfg!(feature = "mpi") {
        return Err(format!(
            "strategy `{s}` runs on MPI ranks, and this rayblas was built without them: build \
             it with `--features mpi` (cargo xtask setup --features mpi installs Open MPI)"
        ));
    }
    if !RANK_OPS.contains(&w.op) {
        let names: Vec<_> = RANK_OPS.iter().map(|o| o.name()).collect();
        return Err(format!(
            "strategy `{s}`: {} does not run on ranks; ops that do: {}",
            w.op.name(),
            names.join(", ")
        ));
    }
    if in_world().is_some() {
        return Err(format!(
            "strategy `{s}` starts mpirun itself: run compare outside mpirun, or `rayblas run \
             --strategy LOCAL` under your own mpirun"
        ));
    }
    which_mpirun()?;
    Ok(())
}

/// The size of the MPI world this process was started in by `mpirun`, if any (Open MPI's
/// `OMPI_COMM_WORLD_SIZE`, or the PMI variables of other launchers).
pub fn in_world() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// `mpirun` on `PATH` (or `$RAYBLAS_MPIRUN`).
fn which_mpirun() -> Result<std::path::PathBuf, String> {
    if let Some(p) = std::env::var_os("RAYBLAS_MPIRUN") {
        let p = std::path::PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "RAYBLAS_MPIRUN={} is not a file: give the path of mpirun",
                p.display()
            ))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("mpirun"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "mpirun is not on PATH: install Open MPI (cargo xtask setup --features mpi, or \
             apt-get install openmpi-bin) or set RAYBLAS_MPIRUN"
                .to_string()
        })
}

/// The `mpirun` command that starts `ranks` copies of this executable with `args`, each with
/// the BLAS environment `env` (forwarded with `-x`). Open MPI's shared-memory transport is
/// chosen unless the environment chooses (`OMPI_MCA_pml`, `OMPI_MCA_btl`); as root, Open MPI's
/// consent variables are set; more ranks than cores oversubscribe. Ranks are not bound to a
/// core each (mpirun's default for 2 ranks or fewer): a bound rank would count one core, so its
/// default cut, and with it the last bits of its results, would differ from one process's.
pub fn mpirun(
    ranks: usize,
    args: &[&str],
    env: &[(&str, String)],
) -> Result<std::process::Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let mut cmd = std::process::Command::new(which_mpirun()?);
    if crate::sys::is_root() {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    for (var, value) in [("OMPI_MCA_pml", "ob1"), ("OMPI_MCA_btl", "self,vader")] {
        if std::env::var_os(var).is_none() {
            cmd.env(var, value);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let cores = rayblas::cpu::allowed_cpus().len().max(1);
    if ranks > cores {
        cmd.arg("--oversubscribe");
    }
    cmd.args(["--bind-to", "none"]);
    for var in env.iter().map(|(k, _)| *k).chain(["OPENBLAS_CORETYPE"]) {
        if std::env::var_os(var).is_some() || env.iter().any(|(k, _)| *k == var) {
            cmd.args(["-x", var]);
        }
    }
    cmd.args(["-np", &ranks.to_string()])
        .arg(exe)
        .arg("--keep-blas-core")
        .args(args);
    Ok(cmd)
}

/// The line that says why a job under `mpirun` failed: a rank's own error, else mpirun's
/// account of the rank that failed first (its exit code or signal).
pub fn failure_line(stderr: &str) -> Option<String> {
    if let Some(l) = stderr.lines().find(|l| l.starts_with("rayblas: error: ")) {
        return Some(l.trim_start_matches("rayblas: error: ").to_string());
    }
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    let field = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    match (field("Exit code:"), field("Signal:")) {
        (Some(code), _) => Some(format!("a rank exited with status {code}")),
        (_, Some(sig)) => Some(format!("a rank was killed by signal {sig}")),
        _ => lines
            .iter()
            .rev()
            .find(|l| !l.is_empty() && !l.starts_with("---"))
            .map(|l| l.to_string()),
    }
}

/// Under MPI: measures `strategy` (`mpi:R+LOCAL`) on the world this process is a rank of, as a
/// measuring process does. Every rank runs it; rank 0 returns the result, the others `None`.
#[cfg(feature = "mpi")]
pub fn child_main(spec: &crate::measure::ChildSpec) -> Result<Option<ChildResult>, String> {
    let ranks = rayblas::ranks::Ranks::init().map_err(|e| e.to_string())?;
    let out = match spec.workload.dtype {
        crate::workload::DtypeArg::F64 => on_ranks::run::<f64>(&ranks, spec),
        crate::workload::DtypeArg::F32 => on_ranks::run::<f32>(&ranks, spec),
    };
    // Every rank finalises (drops `ranks`) before rank 0 goes on, so nothing it does next
    // (checking the answer, measuring the machine) competes with ranks waiting in a collective.
    drop(ranks);
    out
}

/// Without MPI: refused (the parent refuses first; this is for a hand-made spec).
#[cfg(not(feature = "mpi"))]
pub fn child_main(spec: &crate::measure::ChildSpec) -> Result<Option<ChildResult>, String> {
    check(&spec.workload, std::slice::from_ref(&spec.strategy)).map(|()| None)
}

#[cfg(feature = "mpi")]
mod on_ranks {
    use crate::measure::{ChildResult, ChildSpec};
    use crate::sys;
    use crate::verify;
    use crate::workload::Product;
    use crate::workload::{self, Op, WorkloadArgs};
    use ndarray::{Array2, CowArray, Ix2};
    use rayblas::mapped::{NpyMap, NpyReader};
    use rayblas::ranks::{Ranks, RowSource, Uniform};
    use rayblas::{Config, Element, Reduction, Strategy};
    use std::ops::Range;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    use std::time::Instant;

    /// The random input, each range of rows made the first time a run asks for it and kept:
    /// a rank's rows are made in the warm-up run, as one process makes its inputs before the
    /// timing, and later runs read what was kept. A rank asks for the same ranges every run.
    struct Held<T> {
        source: Uniform,
        /// Filled in order; a fixed length, so a kept range never moves.
        kept: Vec<OnceLock<(Range<usize>, Array2<T>)>>,
        used: AtomicUsize,
    }

    impl<T: Element> Held<T> {
        fn new(source: Uniform) -> Self {
            Held {
                source,
                kept: (0..4096).map(|_| OnceLock::new()).collect(),
                used: AtomicUsize::new(0),
            }
        }
    }

    /// An operand on ranks: random rows made and kept, or a file read by positioned reads
    /// (maybe transposed), never mapped: a rank reads only its rows, and a file larger than a
    /// rank may map (`ulimit -v`) runs as long as its share fits.
    enum Source<T> {
        Held(Held<T>),
        File(NpyReader<T>),
    }

    impl<T: Element> RowSource<T> for Source<T> {
        fn dim(&self) -> (usize, usize) {
            match self {
                Source::Held(h) => h.dim(),
                Source::File(f) => RowSource::<T>::dim(f),
            }
        }
        fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>, rayblas::Error> {
            match self {
                Source::Held(h) => h.rows(range),
                Source::File(f) => f.rows(range),
            }
        }
    }

    impl<T: Element> RowSource<T> for Held<T> {
        fn dim(&self) -> (usize, usize) {
            (self.source.rows, self.source.cols)
        }
        fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>, rayblas::Error> {
            let used = self.used.load(Ordering::Acquire).min(self.kept.len());
            if let Some((_, a)) = self.kept[..used]
                .iter()
                .filter_map(OnceLock::get)
                .find(|(r, _)| *r == range)
            {
                return Ok(a.view().into());
            }
            let made = RowSource::<T>::rows(&self.source, range.clone())?.into_owned();
            let slot = self.used.fetch_add(1, Ordering::AcqRel);
            match self.kept.get(slot) {
                Some(cell) => Ok(cell.get_or_init(|| (range, made)).1.view().into()),
                // Past the table: made again each run.
                None => Ok(made.into()),
            }
        }
    }

    /// What one run gives: the reported value and, for gram and matmul, rank 0's product (in
    /// memory, or the `--output` file every rank wrote its blocks of).
    struct Answer<T> {
        result: f64,
        product: Option<Product<T>>,
    }

    fn once<T: Element>(
        op: Op,
        cfg: &Config,
        ranks: &Ranks,
        (x, y): (&impl RowSource<T>, Option<&impl RowSource<T>>),
        output: Option<&Path>,
    ) -> Result<Answer<T>, String> {
        let y = || y.ok_or_else(|| "a product needs B".to_string());
        let on = cfg.on(ranks);
        let scalar = |v: Result<T, rayblas::Error>| {
            v.map(|v| Answer {
                result: v.to_f64(),
                product: None,
            })
            .map_err(|e| e.to_string())
        };
        match op {
            Op::GramSum => scalar(on.gram_reduce(x, Reduction::Sum)),
            Op::MatmulSum => scalar(on.matmul_reduce(x, y()?, Reduction::Sum)),
            Op::Sum => scalar(on.reduce(x, Reduction::Sum)),
            Op::Max => scalar(on.reduce(x, Reduction::Max)),
            Op::Min => scalar(on.reduce(x, Reduction::Min)),
            Op::Mean => {
                // As one process does it: the sum, divided in the element type.
                let (m, k) = x.dim();
                if m * k == 0 {
                    return Err("mean of an empty array is undefined".into());
                }
                scalar(
                    on.reduce(x, Reduction::Sum)
                        .map(|s| s / T::from_f64((m * k) as f64)),
                )
            }
            Op::Gram | Op::Matmul if output.is_some() => {
                let out = output.expect("matched");
                if op == Op::Gram {
                    on.gram_to_npy(x, out)
                } else {
                    on.matmul_to_npy(x, y()?, out)
                }
                .map_err(|e| e.to_string())?;
                if !ranks.is_root() {
                    return Ok(Answer {
                        result: 0.0,
                        product: None,
                    });
                }
                // Rank 0 reports the sum of the file, read back in chunks, as `run` does.
                let map = NpyMap::<T>::open(out).map_err(|e| e.to_string())?;
                let sum: T = Config::new()
                    .strategy(Strategy::Serial)
                    .reduce_mapped(map.matrix(), Reduction::Sum)
                    .map_err(|e| e.to_string())?;
                Ok(Answer {
                    result: sum.to_f64(),
                    product: Some(Product::File(map)),
                })
            }
            Op::Gram | Op::Matmul => {
                let g = if op == Op::Gram {
                    on.gram(x)
                } else {
                    on.matmul(x, y()?)
                }
                .map_err(|e| e.to_string())?;
                // Rank 0 reports the sum of the product, as `run` does for a product.
                let result = g.as_ref().map_or(0.0, |g| {
                    Config::new()
                        .strategy(Strategy::Serial)
                        .sum(g)
                        .map_or(f64::NAN, |s| s.to_f64())
                });
                Ok(Answer {
                    result,
                    product: g.map(Product::Memory),
                })
            }
            other => Err(format!("{} does not run on ranks", other.name())),
        }
    }

    /// The `--input` file (`b`: the `--input-b` file), opened for positioned reads.
    fn reader<T: Element>(w: &WorkloadArgs, b: bool) -> Result<NpyReader<T>, String> {
        let path = if b { &w.input_b } else { &w.input };
        let path = path.as_ref().ok_or("no input file")?;
        NpyReader::<T>::open(path).map_err(workload::npy_error::<T>)
    }

    /// A and, for the products, B, as one process makes them: the files, or random rows;
    /// B is --input-b, else Aᵀ of the file, else random from seed + 1.
    fn operands<T: Element>(
        w: &WorkloadArgs,
        shape: workload::Shape,
    ) -> Result<(Source<T>, Option<Source<T>>), String> {
        let held = |rows: usize, cols: usize, seed: u64| {
            Source::Held(Held::<T>::new(Uniform { rows, cols, seed }))
        };
        let a = match &w.input {
            Some(_) => Source::File(reader(w, false)?),
            None => held(shape.m, shape.k, w.seed()),
        };
        let b = match (w.op.needs_b(), &w.input_b, &w.input) {
            (false, _, _) => None,
            (true, Some(_), _) => Some(Source::File(reader(w, true)?)),
            (true, None, Some(_)) => Some(Source::File(reader(w, false)?.t())),
            (true, None, None) => Some(held(shape.k, shape.n, w.seed() + 1)),
        };
        Ok((a, b))
    }

    /// The ranks checking one result together: each reads its share of the rows.
    struct Together<'r>(&'r Ranks);

    impl verify::Gather for Together<'_> {
        fn concat(&self, values: Vec<f64>) -> Result<Vec<f64>, String> {
            self.0.all_concat(&values).map_err(|e| e.to_string())
        }
        fn all_ok(&self, ok: bool) -> bool {
            self.0.max_over_ranks(f64::from(u8::from(!ok))) == 0.0
        }
    }

    /// The check of a run on input files, every rank reading its share of each operand's rows
    /// by bands: the verdict on every rank (Freivalds' test where the product is, rank 0).
    fn check_files<T: Element>(
        w: &WorkloadArgs,
        ranks: &Ranks,
        (a, b): (&Source<T>, Option<&Source<T>>),
        product: Option<ndarray::ArrayView2<'_, T>>,
    ) -> Result<verify::Verdict, String> {
        use verify::Gather;
        let together = Together(ranks);
        // B is Xᵀ for a Gram product: the file again, read transposed.
        let xt = match w.op {
            Op::Gram | Op::GramSum => {
                let opened = reader::<T>(w, false).map(|r| Source::File(r.t()));
                if !together.all_ok(opened.is_ok()) {
                    return Err(opened
                        .err()
                        .unwrap_or_else(|| "another rank could not open the input file".into()));
                }
                Some(opened?)
            }
            _ => None,
        };
        // This rank's share of an operand's rows, read by bands.
        fn bands<'s, T: Element>(s: &'s Source<T>, ranks: &Ranks) -> verify::Bands<'s, T> {
            let (dim, r, p) = (s.dim(), ranks.rank(), ranks.size());
            let share = dim.0 * r / p..dim.0 * (r + 1) / p;
            verify::Bands::read_by(dim, share, move |rows| {
                s.rows(rows).map_err(|e| e.to_string())
            })
        }
        let b = xt.as_ref().or(b).map(|b| bands(b, ranks));
        verify::check_bands(w.op, &bands(a, ranks), b.as_ref(), product, &together)
    }

    pub(super) fn run<T: Element + ndarray_npy::ReadableElement>(
        ranks: &Ranks,
        spec: &ChildSpec,
    ) -> Result<Option<ChildResult>, String> {
        let w = &spec.workload;
        let (shape, block, calls) = w.validate()?;
        let (r, local) = super::split(&spec.strategy)?.ok_or("not a strategy on ranks")?;
        if r != ranks.size() {
            return Err(format!(
                "strategy `{}` asks for {r} ranks, but this job has {}",
                spec.strategy,
                ranks.size()
            ));
        }
        let strategy: Strategy = local.parse().map_err(|e: rayblas::Error| e.to_string())?;
        let (workers, blas_threads) = strategy.counts().map_err(|e| e.to_string())?;
        let cfg = Config::new().strategy(strategy).block(block).calls(calls);
        // Each rank makes (or reads) only what its calls read.
        let (a, b) = operands::<T>(w, shape)?;
        let run = || once::<T>(w.op, &cfg, ranks, (&a, b.as_ref()), w.output.as_deref());
        let (m, k) = a.dim();
        let n = w.op.reported_n(m, k, b.as_ref().map(|b| b.dim().1));
        let input_rss = sys::current_rss();
        let mut last = None;
        for _ in 0..w.warmup {
            drop(last.take());
            last = Some(run()?);
        }
        let (mut wall_s, mut cpu_s) = (Vec::new(), Vec::new());
        let cpus = rayblas::cpu::allowed_cpus();
        let busy0 = ranks
            .is_root()
            .then(|| sys::busy_cpu_seconds(cpus))
            .flatten();
        let (own0, _) = sys::rusage();
        let timed = Instant::now();
        // One timed run per process (`--repeat` gives more processes), every rank starting
        // together; its time is the slowest rank's.
        drop(last.take());
        ranks.barrier();
        let (c0, _) = sys::rusage();
        let t0 = Instant::now();
        last = Some(run()?);
        let wall = t0.elapsed().as_secs_f64();
        wall_s.push(ranks.max_over_ranks(wall));
        cpu_s.push(ranks.sum_over_ranks(sys::rusage().0 - c0));
        let t = ranks.last_traffic();
        let comm = ranks.max_over_ranks(t.communicate.as_secs_f64());
        let load = ranks.max_over_ranks(t.load.as_secs_f64());
        let bytes = ranks.sum_over_ranks(t.bytes as f64);
        let timed_wall_s = ranks.max_over_ranks(timed.elapsed().as_secs_f64());
        let (own1, peak_rss) = sys::rusage();
        let own = ranks.sum_over_ranks(own1 - own0);
        let peak_rss_bytes = ranks.sum_over_ranks(peak_rss as f64) as u64;
        // Each rank's peak above its own RSS before the first call (MPI and the libraries
        // loaded, its rows not yet made): what the call made it hold.
        let rank_peak_rss_max_bytes =
            ranks.max_over_ranks(peak_rss.saturating_sub(input_rss) as f64) as u64;
        let input_rss_bytes = ranks.sum_over_ranks(input_rss as f64) as u64;
        let answer = last.ok_or("no run")?;
        let product = answer.product.as_ref().map(|p| p.view());
        // The independent check, after the timing and outside the memory reported above: a
        // file is read again by every rank, each its share of the rows in bands (no rank reads
        // it whole); random inputs are made whole on rank 0.
        let on_files = w
            .input
            .is_some()
            .then(|| check_files::<T>(w, ranks, (&a, b.as_ref()), product));
        if !ranks.is_root() {
            return on_files.transpose().map(|_| None);
        }
        let foreign_cpu_s = match (busy0, sys::busy_cpu_seconds(cpus)) {
            (Some(b0), Some(b1)) => Some((b1 - b0 - own).max(0.0)),
            _ => None,
        };
        let verdict = match on_files {
            Some(v) => v?,
            None => {
                let inp = workload::inputs::<T>(w, shape)?;
                verify::check(w.op, &inp, product)
            }
        };
        let work = workload::work_of_shapes::<T>(w.op, &cfg, (m, k), b.as_ref().map(|b| b.dim()))
            .map_err(|e| e.to_string())?;
        Ok(Some(ChildResult {
            wall_s,
            cpu_s,
            iters: 1,
            timed_wall_s,
            foreign_cpu_s,
            peak_rss_bytes,
            input_rss_bytes,
            result: answer.result,
            verdict,
            useful_flops: work.useful_flops,
            performed_flops: work.performed_flops,
            bytes: work.bytes,
            workers,
            blas_threads,
            m,
            k,
            n,
            ranks: Some(r),
            comm_s: Some(comm),
            load_s: Some(load),
            comm_bytes: Some(bytes as u64),
            rank_peak_rss_max_bytes: Some(rank_peak_rss_max_bytes),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{expand, failure_line, split};

    #[test]
    fn the_rank_form_parses_and_refuses_what_it_should() {
        assert_eq!(split("blocked:2").unwrap(), None);
        assert_eq!(split("mpi:2+blocked:1").unwrap(), Some((2, "blocked:1")));
        for bad in [
            "mpi:",
            "mpi:2",
            "mpi:x+serial",
            "mpi:0+serial",
            "mpi:2+",
            "mpi:2+mpi:1+serial",
            "mpi:99999+serial",
        ] {
            let e = split(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("mpi:R+LOCAL"), "{e}");
        }
        let list = ["blocked:1".to_string(), "native:1".to_string()];
        assert_eq!(
            expand(&list, &["1".into(), "2".into()]).unwrap(),
            [
                "mpi:1+blocked:1",
                "mpi:1+native:1",
                "mpi:2+blocked:1",
                "mpi:2+native:1"
            ]
        );
        assert!(expand(&list, &["0".into()]).is_err());
        assert!(expand(&["mpi:2+serial".into()], &["1".into()]).is_err());
    }

    #[test]
    fn a_failed_job_is_told_by_the_rank_that_failed() {
        let mpirun = "----\nPrimary job terminated\n----\n  Process name: [[1,1],1]\n  Exit code:    7\n----\n";
        assert_eq!(failure_line(mpirun).unwrap(), "a rank exited with status 7");
        let own = "rayblas: error: gram-sum: out of memory\n----\n  Exit code:    2\n";
        assert_eq!(failure_line(own).unwrap(), "gram-sum: out of memory");
    }
}
