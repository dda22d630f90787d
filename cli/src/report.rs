//! Output of measurement rows: an aligned table, CSV with a header, or one JSON object per line.

use crate::measure::Row;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// CSV / JSON field order (also the CSV header).
pub const FIELDS: &[&str] = &[
    "op",
    "dtype",
    "m",
    "k",
    "n",
    "block",
    "calls",
    "strategy",
    "backend",
    "corename",
    "threading",
    "workers",
    "blas_threads",
    "repeat",
    "wall_s",
    "wall_min_s",
    "wall_max_s",
    "gflops",
    "gbps",
    "peak_pct",
    "cpu_pct",
    "peak_rss_bytes",
    "rss_above_input_bytes",
    "result",
    "agrees",
    "ratio_to_best",
];

/// One CSV field's text (the csv crate quotes it where needed): empty for a missing value.
fn csv_field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
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

/// Prints rows in `format` to stdout.
pub fn print(rows: &[Row], format: Format, peak_gflops: f64) {
    match format {
        Format::Json => rows
            .iter()
            .for_each(|r| println!("{}", serde_json::to_string(r).expect("serialisable"))),
        Format::Csv => print!("{}", csv(rows)),
        Format::Table => print_table(rows, peak_gflops),
    }
}

fn print_table(rows: &[Row], peak_gflops: f64) {
    let Some(first) = rows.first() else { return };
    let product = first.gflops.is_some();
    let calls = match first.calls.as_str() {
        "strips" => " | one BLAS call per strip of tiles",
        "tiles" => " | one BLAS call per tile",
        _ => "",
    };
    // Reductions are rated in GB/s; the GFLOP/s peak is not measured for them.
    let peak = if product && peak_gflops.is_finite() {
        format!(" | peak {peak_gflops:.1} GFLOP/s")
    } else {
        String::new()
    };
    println!(
        "{} {} m={} k={} n={}{calls} | backend {} ({}, {}){peak}",
        first.op,
        first.dtype,
        first.m,
        first.k,
        first.n,
        first.backend,
        kernel_label(&first.corename),
        first.threading,
    );
    let mut table: Vec<Vec<String>> = vec![vec![
        "strategy".into(),
        "block".into(),
        "threads".into(),
        "wall s (median)".into(),
        "min-max s".into(),
        if product {
            "GFLOP/s".into()
        } else {
            "GB/s".into()
        },
        if product { "% peak".into() } else { "".into() },
        "CPU %".into(),
        "peak RSS MiB".into(),
        "above input".into(),
        "result".into(),
        "vs best".into(),
    ]];
    for r in rows {
        table.push(vec![
            r.strategy.clone(),
            r.block.clone(),
            format!("{}x{}", r.workers, r.blas_threads),
            format!("{:.4}", r.wall_s),
            format!("{:.4}-{:.4}", r.wall_min_s, r.wall_max_s),
            format!("{:.2}", r.gflops.or(r.gbps).unwrap_or(f64::NAN)),
            r.peak_pct.map(|p| format!("{p:.1}")).unwrap_or_default(),
            format!("{:.0}", r.cpu_pct),
            mib(r.peak_rss_bytes),
            mib(r.rss_above_input_bytes),
            format!(
                "{:.10e}{}",
                r.result,
                if r.agrees { "" } else { " DIFFERS" }
            ),
            format!("{:.2}x", r.ratio_to_best),
        ]);
    }
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
                if c == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
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

/// The kernel set for a header: the name, plus what rayblas replaced it for when it restarted
/// itself with `OPENBLAS_CORETYPE`.
pub fn kernel_label(corename: &str) -> String {
    match rayblas::blas::replaced_kernel() {
        Some(slow) => format!("{corename} [rayblas replaced OpenBLAS's pick {slow}]"),
        None => corename.to_string(),
    }
}
