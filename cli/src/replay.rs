//! `rayblas compare --replay rows.jsonl`: measures saved rows again and shows old and new side by
//! side. The rows carry their workload (seed or input files with their hashes, block, calls,
//! warm-up, repeats, the peak when it was given) and their environment, so a replay runs the
//! same measurement and names what differs about the machine or the build.

use crate::measure::Row;
use crate::report::{self, Format};
use crate::workload::{DtypeArg, Op, WorkloadArgs};
use crate::{check_run, fail_if_wrong, measure_checked, provenance, stop_for_dry_run, Failure};
use clap::ValueEnum;
use std::path::{Path, PathBuf};

/// Reads JSON Lines rows, with the line of the first one that does not parse.
pub fn read_rows(path: &Path) -> Result<Vec<Row>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<Row>(l).map_err(|e| {
                format!(
                    "{}:{}: not a row of `rayblas … --format json` from this version: {e}",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if rows.is_empty() {
        return Err(format!("{}: no rows to replay", path.display()).into());
    }
    Ok(rows)
}

/// The workload a row was measured on.
pub fn workload_of(row: &Row) -> Result<WorkloadArgs, Failure> {
    let op = Op::from_str(&row.op, false).map_err(|_| format!("unknown op `{}`", row.op))?;
    let dtype = DtypeArg::from_str(&row.dtype, false)
        .map_err(|_| format!("unknown dtype `{}`", row.dtype))?;
    let random = row.input.is_none();
    Ok(WorkloadArgs {
        op,
        n: (random && op.has_n()).then_some(row.n),
        m: random.then_some(row.m),
        k: random.then_some(row.k),
        batch: row.batch,
        block: Some(row.block.clone()),
        calls: op.takes_calls().then(|| row.calls.clone()),
        dtype,
        seed: row.seed,
        input: row.input.as_ref().map(PathBuf::from),
        input_b: row.input_b.as_ref().map(PathBuf::from),
        output: row.output.as_ref().map(PathBuf::from),
        repeat: row.repeat.max(1),
        warmup: row.warmup,
        peak: (row.peak_source == "--peak")
            .then_some(row.peak_gflops)
            .flatten(),
    })
}

/// Fails if an input file is not the one the row was measured on.
fn check_hash(file: &Option<String>, recorded: &Option<String>) -> Result<(), Failure> {
    if let (Some(f), Some(want)) = (file, recorded) {
        let now = provenance::file_sha256(Path::new(f))?;
        if &now != want {
            return Err(format!(
                "{f} changed since the rows were recorded (SHA-256 was {want}, is {now}); \
                 a replay would measure other data"
            )
            .into());
        }
    }
    Ok(())
}

pub fn run(path: &Path, format: Format) -> Result<(), Failure> {
    let old = read_rows(path)?;
    // Rows of one workload were measured together; keep them together, in file order.
    let mut groups: Vec<(String, Vec<Row>)> = Vec::new();
    for row in old {
        let key = serde_json::to_string(&workload_of(&row)?).expect("serialisable");
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((key, vec![row])),
        }
    }
    let now = provenance::gather();
    let mut all_new = Vec::new();
    for (_, old_rows) in &groups {
        let first = &old_rows[0];
        check_hash(&first.input, &first.input_sha256)?;
        check_hash(&first.input_b, &first.input_b_sha256)?;
        let w = workload_of(first)?;
        w.validate()?;
        // Both lists come from the same function, so their fields pair up in order.
        for ((what, was), (_, is)) in first.provenance.identity().into_iter().zip(now.identity()) {
            if was != is {
                eprintln!("rayblas: note: {what} differs: recorded `{was}`, now `{is}`");
            }
        }
        let strategies: Vec<String> = old_rows.iter().map(|r| r.strategy.clone()).collect();
        crate::check_strategies(&strategies)?;
        check_run(&w, &strategies)?;
        if stop_for_dry_run(&w, &strategies, " (replayed)", w.repeat * strategies.len()) {
            continue;
        }
        let new_rows = measure_checked(&w, &strategies)?;
        match format {
            Format::Table => side_by_side(old_rows, &new_rows),
            _ => report::print(&new_rows, format),
        }
        all_new.extend(new_rows);
    }
    fail_if_wrong(&all_new)
}

/// Old and new figures of each strategy in one table.
fn side_by_side(old: &[Row], new: &[Row]) {
    let first = &new[0];
    println!("{}", report::header(first));
    println!(
        "replay of rows recorded {} (rayblas {} {}, {}, {} cores)",
        old[0].provenance.recorded_at,
        old[0].provenance.rayblas_version,
        old[0].provenance.rayblas_commit,
        old[0].provenance.cpu_model,
        old[0].provenance.logical_cores
    );
    let product = first.gflops.is_some();
    let rate = |r: &Row| format!("{:.2}", r.gflops.or(r.gbps).unwrap_or(f64::NAN));
    let mut table = vec![vec![
        "strategy".to_string(),
        "W×T".into(),
        "old time".into(),
        "new time".into(),
        "new/old".into(),
        format!("old {}", if product { "GFLOP/s" } else { "GB/s" }),
        format!("new {}", if product { "GFLOP/s" } else { "GB/s" }),
        "old result".into(),
        "new result".into(),
    ]];
    for (o, n) in old.iter().zip(new) {
        let same = n.results.iter().all(|(_, v)| v.accepts(o.result));
        table.push(vec![
            format!(
                "{}{}",
                n.strategy,
                if n.warnings.is_empty() { "" } else { " (!)" }
            ),
            format!("{}×{}", n.workers, n.blas_threads),
            report::seconds(o.wall_s),
            report::seconds(n.wall_s),
            format!("{:.2}x", n.wall_s / o.wall_s),
            rate(o),
            rate(n),
            report::result_text(o),
            format!(
                "{}{}",
                report::result_text(n),
                if !n.agrees {
                    " DIFFERS"
                } else if same {
                    ""
                } else {
                    " (old result fails today's check)"
                }
            ),
        ]);
    }
    report::print_aligned(&table);
    report::print_warnings(new);
}
