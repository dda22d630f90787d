//! Output of measurement rows: an aligned table, CSV with a header, or one JSON object per line.

use crate::measure::Row;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// CSV / JSON field order (also the CSV header): the workload, the figures, then the
/// environment (see `Row` and `Provenance` for what each means).
pub const FIELDS: &[&str] = &[
    "op",
    "dtype",
    "m",
    "k",
    "n",
    "batch",
    "block",
    "uses_block",
    "calls",
    "strategy",
    "workers",
    "blas_threads",
    "ranks",
    "seed",
    "input",
    "input_sha256",
    "input_b",
    "input_b_sha256",
    "input_file_bytes",
    "output",
    "output_file_bytes",
    "warmup",
    "repeat",
    "samples",
    "iters",
    "wall_s",
    "wall_min_s",
    "wall_max_s",
    "spread_pct",
    "iqr_pct",
    "load_s",
    "comm_s",
    "comm_bytes",
    "rank_peak_rss_max_bytes",
    "useful_flops",
    "performed_flops",
    "gflops",
    "performed_gflops",
    "gbps",
    "peak_gflops",
    "peak_source",
    "peak_pct",
    "performed_peak_pct",
    "fma_peak_gflops",
    "fma_pct",
    "performed_fma_pct",
    "read_gbps",
    "min_bytes",
    "limit_s",
    "limit_binds",
    "limit_pct",
    "cpu_pct",
    "foreign_cpu_cores",
    "peak_rss_bytes",
    "rss_above_input_bytes",
    "result",
    "agrees",
    "ratio_to_best",
    "speedup_vs_serial",
    "warnings",
    "recorded_at",
    "rayblas_version",
    "rayblas_commit",
    "cpu_model",
    "logical_cores",
    "physical_cores",
    "affinity",
    "os",
    "backend",
    "backend_version",
    "corename",
    "corename_replaced",
    "threading",
    "simd",
];

/// One CSV field's text (the csv crate quotes it where needed): empty for a missing value.
fn csv_field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => {
            items.iter().map(csv_field).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// `records` as CSV text (RFC 4180 quoting, `\n` line ends).
pub fn csv_text<I, R>(records: I) -> String
where
    I: IntoIterator<Item = R>,
    R: IntoIterator,
    R::Item: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for r in records {
        w.write_record(r)
            .expect("writing CSV into memory cannot fail");
    }
    let bytes = w.into_inner().expect("flushing into memory cannot fail");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// The rows as CSV: the header ([`FIELDS`]) and one line per row.
pub fn csv(rows: &[Row]) -> String {
    let header = FIELDS.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let lines = rows.iter().map(|row| {
        let v = serde_json::to_value(row).expect("serialisable");
        FIELDS.iter().map(|f| csv_field(&v[*f])).collect::<Vec<_>>()
    });
    csv_text(std::iter::once(header).chain(lines))
}

fn mib(b: u64) -> String {
    format!("{:.0}", b as f64 / (1024.0 * 1024.0))
}

/// A duration with a unit that keeps three or four significant digits: `9.73 s`, `12.5 ms`,
/// `840 µs`, `95.2 ns`.
pub fn seconds(s: f64) -> String {
    let (v, unit) = if !s.is_finite() || s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// A result as the table shows it: positions as (row, col), values with 10 digits.
pub fn result_text(row: &Row) -> String {
    if matches!(row.op.as_str(), "argmax" | "argmin") && row.result.is_finite() && row.k > 0 {
        let i = row.result as usize;
        format!("({}, {})", i / row.k, i % row.k)
    } else {
        format!("{:.10e}", row.result)
    }
}

/// Prints rows in `format` to stdout; for the table, warnings and the legend follow on stderr.
pub fn print(rows: &[Row], format: Format) {
    match format {
        Format::Json => rows
            .iter()
            .for_each(|r| println!("{}", serde_json::to_string(r).expect("serialisable"))),
        Format::Csv => print!("{}", csv(rows)),
        Format::Table => {
            print_table(rows);
            print_legend(rows);
        }
    }
    print_warnings(rows);
}

/// The header line over a table: op, shape, calls, backend and the peak with its source.
pub fn header(first: &Row) -> String {
    let product = first.gflops.is_some();
    let calls = match first.calls.as_str() {
        "strips" => " | one BLAS call per strip of tiles",
        "tiles" => " | one BLAS call per tile",
        _ => "",
    };
    // Reductions are rated in GB/s; the GFLOP/s peak is not measured for them.
    let peak = match first.peak_gflops {
        Some(p) if product && p.is_finite() => {
            format!(" | peak {p:.1} GFLOP/s ({})", first.peak_source)
        }
        _ => String::new(),
    };
    let read = match first.read_gbps {
        Some(r) => format!(" | streaming read {r:.1} GB/s"),
        None => String::new(),
    };
    let files = match first.input_file_bytes {
        // On ranks each rank reads its own rows (positioned reads); one process maps it.
        Some(b) => format!(
            " | input files {} ({})",
            rayblas::human_bytes(b.into()),
            if first.ranks.is_some() {
                "each rank reads its rows"
            } else {
                "memory-mapped"
            }
        ),
        None => String::new(),
    };
    let written = match (&first.output, first.output_file_bytes) {
        (Some(path), Some(b)) => format!(" | output {path} {}", rayblas::human_bytes(b.into())),
        _ => String::new(),
    };
    let p = &first.provenance;
    let batch = match first.batch {
        Some(b) => format!(" | batch of {b} products"),
        None => String::new(),
    };
    format!(
        "{} {} m={} k={} n={}{batch}{files}{written}{calls} | backend {} ({}, {}){peak}{read} | {}, {} \
         cores",
        first.op,
        first.dtype,
        first.m,
        first.k,
        first.n,
        p.backend,
        kernel_label(&p.corename, &p.corename_replaced),
        p.threading,
        p.cpu_model,
        p.logical_cores,
    )
}

/// Lays out `table` (first row the header) with aligned columns and a rule under the header.
pub fn print_aligned(table: &[Vec<String>]) {
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, row) in table.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, w))| {
                let pad = w.saturating_sub(s.chars().count());
                if c == 0 {
                    format!("{s}{}", " ".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
        if i == 0 {
            println!(
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
}

fn print_table(rows: &[Row]) {
    let Some(first) = rows.first() else { return };
    let product = first.gflops.is_some();
    let on_ranks = rows.iter().any(|r| r.ranks.is_some());
    let limited = rows.iter().any(|r| r.limit_pct.is_some());
    let vs_serial = rows.iter().any(|r| r.speedup_vs_serial.is_some());
    println!("{}", header(first));
    let mut table: Vec<Vec<String>> = vec![vec![
        "strategy".into(),
        "block".into(),
        "W×T".into(),
        "time/run".into(),
        "min–max".into(),
        "runs".into(),
        if product { "GFLOP/s" } else { "GB/s" }.into(),
        if product { "% peak" } else { "" }.into(),
        if product { "% FMA" } else { "" }.into(),
        if limited { "% limit" } else { "" }.into(),
        if limited { "binds" } else { "" }.into(),
        if product { "done GFLOP/s" } else { "" }.into(),
        "CPU %".into(),
        if on_ranks { "comm" } else { "" }.into(),
        if on_ranks { "comm MiB" } else { "" }.into(),
        if on_ranks { "rank +MiB" } else { "" }.into(),
        "RSS MiB".into(),
        "+input MiB".into(),
        "result".into(),
        "vs best".into(),
        if vs_serial { "×serial" } else { "" }.into(),
    ]];
    for r in rows {
        table.push(vec![
            format!(
                "{}{}",
                r.strategy,
                if r.warnings.is_empty() { "" } else { " (!)" }
            ),
            if r.uses_block {
                r.block.clone()
            } else {
                "-".into()
            },
            format!("{}×{}", r.workers, r.blas_threads),
            seconds(r.wall_s),
            format!("{}–{}", seconds(r.wall_min_s), seconds(r.wall_max_s)),
            format!("{}×{}", r.samples, r.iters),
            format!("{:.2}", r.gflops.or(r.gbps).unwrap_or(f64::NAN)),
            r.peak_pct.map(|p| format!("{p:.1}")).unwrap_or_default(),
            r.fma_pct.map(|p| format!("{p:.1}")).unwrap_or_default(),
            r.limit_pct.map(|p| format!("{p:.1}")).unwrap_or_default(),
            r.limit_binds.clone().unwrap_or_default(),
            r.performed_gflops
                .map(|g| format!("{g:.2}"))
                .unwrap_or_default(),
            format!("{:.0}", r.cpu_pct),
            r.comm_s.map(seconds).unwrap_or_default(),
            r.comm_bytes.map(mib).unwrap_or_default(),
            r.rank_peak_rss_max_bytes.map(mib).unwrap_or_default(),
            mib(r.peak_rss_bytes),
            mib(r.rss_above_input_bytes),
            format!(
                "{}{}",
                result_text(r),
                if r.agrees { "" } else { " DIFFERS" }
            ),
            format!("{:.2}x", r.ratio_to_best),
            r.speedup_vs_serial
                .map(|x| format!("{x:.2}x"))
                .unwrap_or_default(),
        ]);
    }
    print_aligned(&table);
}

/// What the columns mean, on stderr so that stdout stays the table.
fn print_legend(rows: &[Row]) {
    let Some(first) = rows.first() else { return };
    let rate = if first.gflops.is_some() {
        "GFLOP/s, % peak (of one-thread GEMM × cores) and % FMA (of the cores' FMA-loop \
         limit) count the op's useful flops (matmul 2mnk, gram m(m+1)k), so the faster \
         strategy always rates higher; done GFLOP/s counts what it computed (whole diagonal \
         tiles, or 2m²k for a full-GEMM gram)."
    } else {
        "GB/s = bytes of input read once per run / time."
    };
    eprintln!(
        "W×T: workers × BLAS threads per call. time/run: median over samples (runs = samples × \
         runs per sample). {rate} CPU %: CPU time / wall time while timed (200 = 2 cores). \
         RSS: peak of the measuring process; +input: above its RSS once the inputs existed. \
         vs best: time / fastest time (1.00x = fastest). (!) = see the warnings."
    );
    if rows.iter().any(|r| r.limit_pct.is_some()) {
        eprintln!(
            "% limit: the op's limit over time/run, where the limit is the larger of its useful \
             flops at the FMA loop (binds: compute) and the bytes it must move (inputs read \
             once, output written once) at the streaming read rate of memory (binds: memory); \
             data that fits in cache can beat the memory limit."
        );
    }
    if rows.iter().any(|r| r.speedup_vs_serial.is_some()) {
        let cores = first.provenance.physical_cores;
        // Products make BLAS calls; reductions are rayblas's own kernels.
        let (work, kernel) = if first.gflops.is_some() {
            ("makes blocked's BLAS calls", "BLAS kernel")
        } else {
            ("runs blocked's SIMD reduction", "reduction kernel")
        };
        eprintln!(
            "×serial: the serial row's time / this row's time. serial {work} on one thread: \
             the kernel's own rate on that work, with no threading in play; on {cores} cores, \
             {cores}x is about the most that blocked can reach with it, so a row near it is \
             bound by the {kernel}, not by how it shares the work."
        );
        // One line for one workload: a sweep over blocks has a ceiling per block.
        let one_workload = rows.iter().all(|r| r.workload() == first.workload());
        let serial_limit = rows
            .iter()
            .filter(|r| r.is_serial() && r.speedup_vs_serial == Some(1.0))
            .find_map(|r| r.limit_pct)
            .filter(|_| one_workload);
        if let Some(pct) = serial_limit {
            let ceiling = pct * cores as f64;
            if ceiling > 100.0 {
                // Beyond the memory limit: the data sat in cache, which the limit does not count.
                eprintln!(
                    "kernel ceiling: {cores} × serial would pass the limit ({ceiling:.0} %): \
                     the data fits in cache here, so the memory limit does not bind."
                );
            } else {
                eprintln!("kernel ceiling: {cores} × serial would be {ceiling:.1} % of the limit.");
            }
        }
    }
    if rows.iter().any(|r| r.ranks.is_some()) {
        eprintln!(
            "mpi:R+LOCAL: R MPI ranks, each running LOCAL (W×T per rank); time/run is the \
             slowest rank's, CPU % and RSS are summed over the ranks, rank +MiB is the \
             largest peak RSS of one rank above its RSS before the call (its rows, buffers and \
             results). comm: the slowest rank's time waiting on MPI per run \
             (collectives and the transfers the products did not hide); comm MiB: bytes all \
             ranks sent plus rank 0 received."
        );
    }
}

/// Each row's warnings, on stderr.
/// Each row's warnings on stderr, one line each, named by strategy.
pub(crate) fn print_warnings(rows: &[Row]) {
    for r in rows {
        for w in &r.warnings {
            eprintln!("rayblas: warning: {}: {w}", r.strategy);
        }
    }
}

/// The kernel set for a header: the name, plus what rayblas replaced it for when it restarted
/// itself with `OPENBLAS_CORETYPE`.
pub fn kernel_label(corename: &str, replaced: &str) -> String {
    match replaced {
        "" | "-" => corename.to_string(),
        slow => format!("{corename} [rayblas replaced OpenBLAS's pick {slow}]"),
    }
}
