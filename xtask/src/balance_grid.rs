//! `cargo xtask balance-grid`: `blocked` against `native` over a grid of sizes and block
//! shapes, as the ratio of their speeds within one `rayblas compare` run per cell (the two
//! strategies interleaved, several repetitions, medians). It answers "does blocked keep up with
//! one natively threaded call on every shape?" with a table per op and dtype.
//!
//! Options: `--ns 1500,2500,…`, `--blocks 250,500,…`, `--ops matmul,gram,gram-sum`,
//! `--dtypes f64,f32`, `--reps N` (default 3), `--backend B` (the BLAS backend the CLI is built
//! with, default `openblas-system`; any of `cargo xtask setup`'s), `--out FILE` (default
//! `target/balance-grid.md`; the raw `compare` rows go beside it as `.jsonl`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

struct Options {
    ns: Vec<usize>,
    blocks: Vec<usize>,
    ops: Vec<String>,
    dtypes: Vec<String>,
    reps: usize,
    backend: String,
    out: PathBuf,
}

fn list<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<Vec<T>, String> {
    let value = value.ok_or(format!("{flag} needs a comma-separated list"))?;
    let items: Result<Vec<T>, _> = value.split(',').map(|s| s.trim().parse::<T>()).collect();
    match items {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!(
            "{flag}: cannot read `{value}` as a comma-separated list"
        )),
    }
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        ns: vec![1500, 2500, 3000, 4000, 5000, 8000],
        blocks: vec![250, 500, 1000, 2000],
        ops: ["matmul", "gram", "gram-sum"].map(String::from).to_vec(),
        dtypes: ["f64", "f32"].map(String::from).to_vec(),
        reps: 3,
        backend: "openblas-system".to_string(),
        out: super::root().join("target/balance-grid.md"),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ns" => o.ns = list("--ns", it.next())?,
            "--blocks" => o.blocks = list("--blocks", it.next())?,
            "--ops" => o.ops = list("--ops", it.next())?,
            "--dtypes" => o.dtypes = list("--dtypes", it.next())?,
            "--reps" => {
                o.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r > 0)
                    .ok_or("--reps needs a positive number")?
            }
            "--backend" => {
                o.backend =
                    super::parse_backend(it.next()).map_err(|e| format!("balance-grid: {e}"))?
            }
            "--out" => o.out = PathBuf::from(it.next().ok_or("--out needs a file")?),
            other => return Err(format!("balance-grid: unknown option `{other}`")),
        }
    }
    Ok(o)
}

/// One cell's figures from its `compare` rows.
struct Cell {
    ratio: f64,
    native_gflops: f64,
    blocked_gflops: f64,
    native_spread: f64,
    blocked_spread: f64,
    foreign_cpu: f64,
}

fn cell(rows: &[serde_json::Value]) -> Result<Cell, String> {
    let find = |strategy: &str| {
        rows.iter()
            .find(|r| r["strategy"] == strategy)
            .ok_or(format!("no {strategy} row"))
    };
    let (native, blocked) = (find("native")?, find("blocked")?);
    let num = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    if blocked["agrees"] == false || native["agrees"] == false {
        return Err("the strategies' results disagree".into());
    }
    Ok(Cell {
        ratio: num(blocked, "gflops") / num(native, "gflops"),
        native_gflops: num(native, "gflops"),
        blocked_gflops: num(blocked, "gflops"),
        native_spread: num(native, "spread_pct"),
        blocked_spread: num(blocked, "spread_pct"),
        foreign_cpu: num(native, "foreign_cpu_cores").max(num(blocked, "foreign_cpu_cores")),
    })
}

/// A list as the options take it: comma-separated.
fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

pub fn balance_grid(args: &[String]) -> Result<(), String> {
    let o = options(args)?;
    let backend = o.backend.as_str();
    super::setup(&[backend], false)?;
    let exe = super::build_cli(backend, &super::root().join("target/balance-grid"))?;
    let info = Command::new(&exe)
        .args(["info"])
        .output()
        .map_err(|e| format!("rayblas info: {e}"))?;
    let started = Instant::now();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut raw = String::new();
    // cells[(op, dtype)][n][block]
    let mut tables = Vec::new();
    for op in &o.ops {
        for dtype in &o.dtypes {
            let mut rows_n = Vec::new();
            for &n in &o.ns {
                let mut row = Vec::new();
                for &block in &o.blocks {
                    eprintln!("xtask: balance-grid {op} {dtype} n={n} block={block}");
                    let out = Command::new(&exe)
                        .args(["compare", "--op", op, "--dtype", dtype, "--format", "json"])
                        .args(["--n", &n.to_string(), "--block", &block.to_string()])
                        .args(["--strategies", "native,blocked", "--warmup", "1"])
                        .args(["--repeat", &o.reps.to_string()])
                        .output()
                        .map_err(|e| format!("rayblas compare: {e}"))?;
                    if !out.status.success() {
                        return Err(format!(
                            "rayblas compare --op {op} --dtype {dtype} --n {n} --block {block}: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ));
                    }
                    let text = String::from_utf8_lossy(&out.stdout);
                    raw.push_str(&text);
                    let rows: Vec<serde_json::Value> = text
                        .lines()
                        .filter_map(|l| serde_json::from_str(l).ok())
                        .collect();
                    row.push(
                        cell(&rows)
                            .map_err(|e| format!("{op} {dtype} n={n} block={block}: {e}"))?,
                    );
                }
                rows_n.push(row);
            }
            tables.push((op.clone(), dtype.clone(), rows_n));
        }
    }
    let mut md = String::new();
    let _ = writeln!(md, "# blocked ÷ native, every cell one interleaved run\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask balance-grid --ns {} --blocks {} --ops {} --dtypes {} \
         --reps {} --backend {backend}` on {date} ({:.0} min). A cell is `rayblas compare \
         --op OP --dtype D --n N --block B --strategies native,blocked --warmup 1 --repeat {}`: \
         blocked's median GFLOP/s over native's, in the same run.\n",
        join(&o.ns),
        join(&o.blocks),
        join(&o.ops),
        join(&o.dtypes),
        o.reps,
        started.elapsed().as_secs_f64() / 60.0,
        o.reps
    );
    let _ = writeln!(md, "```\n{}```\n", String::from_utf8_lossy(&info.stdout));
    let all: Vec<&Cell> = tables
        .iter()
        .flat_map(|(_, _, rows)| rows.iter().flatten())
        .collect();
    let at_least = |x: f64| all.iter().filter(|c| c.ratio >= x).count();
    let worst = all.iter().map(|c| c.ratio).fold(f64::INFINITY, f64::min);
    let mut sorted: Vec<f64> = all.iter().map(|c| c.ratio).collect();
    sorted.sort_by(f64::total_cmp);
    let _ = writeln!(
        md,
        "{} cells: {} at ≥ 0.95, {} at ≥ 0.97; median {:.3}, lowest {:.3}.\n",
        all.len(),
        at_least(0.95),
        at_least(0.97),
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
        worst
    );
    for (op, dtype, rows) in &tables {
        let _ = writeln!(md, "## {op} {dtype}\n");
        let _ = write!(md, "| n \\ block |");
        for b in &o.blocks {
            let _ = write!(md, " {b} |");
        }
        let _ = write!(md, " native GFLOP/s |\n|---|");
        for _ in &o.blocks {
            let _ = write!(md, "---|");
        }
        let _ = writeln!(md, "---|");
        for (n, row) in o.ns.iter().zip(rows) {
            let _ = write!(md, "| {n} |");
            for c in row {
                let flag = if c.ratio < 0.95 { "**" } else { "" };
                let _ = write!(md, " {flag}{:.2}{flag} |", c.ratio);
            }
            let natives: Vec<String> = row
                .iter()
                .map(|c| format!("{:.0}", c.native_gflops))
                .collect();
            let _ = writeln!(md, " {} |", natives.join(", "));
        }
        let _ = writeln!(md);
    }
    let mut noisy = Vec::new();
    for (op, dtype, rows) in &tables {
        for (n, row) in o.ns.iter().zip(rows) {
            for (b, c) in o.blocks.iter().zip(row).filter(|(_, c)| c.ratio < 0.95) {
                noisy.push(format!(
                    "{op} {dtype} n={n} block={b}: {:.2} (blocked {:.0} GFLOP/s ±{:.0} %, \
                     native {:.0} ±{:.0} %, other tenants {:.2} cores)",
                    c.ratio,
                    c.blocked_gflops,
                    c.blocked_spread,
                    c.native_gflops,
                    c.native_spread,
                    c.foreign_cpu
                ));
            }
        }
    }
    if !noisy.is_empty() {
        let _ = writeln!(md, "Cells below 0.95, with their spreads:\n");
        for line in noisy {
            let _ = writeln!(md, "- {line}");
        }
    }
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&o.out, &md).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let raw_path = o.out.with_extension("jsonl");
    std::fs::write(&raw_path, raw).map_err(|e| format!("{}: {e}", raw_path.display()))?;
    print!("{md}");
    eprintln!(
        "xtask: wrote {} and {}",
        o.out.display(),
        raw_path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::options;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_backend_defaults_to_system_openblas_and_must_be_known() {
        assert_eq!(options(&[]).unwrap().backend, "openblas-system");
        let o = options(&args(&["--backend", "blis-system", "--ns", "1500,2500"])).unwrap();
        assert_eq!(
            (o.backend.as_str(), o.ns),
            ("blis-system", vec![1500, 2500])
        );
        let err = |a: &[&str]| options(&args(a)).err().unwrap_or_default();
        assert!(err(&["--backend", "mkl"]).contains("unknown backend `mkl`"));
        assert!(err(&["--backend"]).contains("needs a value"));
    }
}
