//! The CLI on the backend it was built with: `info`, one `compare` of every default strategy on a
//! small file checked against a reference, one bad input.
//!
//! Tier: **every backend**. `cargo xtask test` runs this file with each backend, the rest of the
//! CLI's tests (`cli.rs`, `out_of_core.rs`, `bad_values.rs`, `arg_properties.rs`) once, on the
//! default backend: they check parsing, reports and files, which do not pass through the backend
//! boundary, and this file checks what does (the library the binary links, its strategies and
//! an answer).

use ndarray::Array2;
use std::process::{Command, Output};

fn rayblas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .env_remove("RAYBLAS_SIMD")
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .output()
        .expect("run rayblas")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `backend` name `info` must report for the feature this test was built with.
fn compiled_backend() -> &'static str {
    if cfg!(feature = "blis-system") {
        "blis"
    } else if cfg!(feature = "netlib-system") {
        "netlib"
    } else if cfg!(feature = "pure-rust") {
        "pure-rust"
    } else {
        "openblas"
    }
}

#[test]
fn info_reports_the_linked_backend() {
    let o = rayblas(&["info", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], compiled_backend(), "{v}");
    for key in [
        "version",
        "threading",
        "num_threads",
        "physical_cores",
        "simd",
    ] {
        assert!(!v[key].is_null(), "{key} missing: {v}");
    }
    assert!(v["fma_f64_all"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn compare_runs_every_default_strategy_with_the_reference_answer() {
    let dir = std::env::temp_dir().join(format!("rayblas-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.npy");
    // 45 × 30 in blocks of 16: ragged edge tiles both ways.
    let x = Array2::<f64>::from_shape_fn((45, 30), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 11.0);
    ndarray_npy::write_npy(&path, &x).unwrap();
    let o = rayblas(&[
        "compare",
        "--op",
        "gram-sum",
        "--input",
        path.to_str().unwrap(),
        "--block",
        "16",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--peak",
        "10",
        "--format",
        "json",
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = x.dot(&x.t()).sum();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strategies: Vec<&str> = rows
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    for s in ["native", "blocked", "serial"] {
        assert!(
            strategies.iter().any(|t| t.starts_with(s)),
            "{s} missing: {strategies:?}"
        );
    }
    for row in &rows {
        assert_eq!(row["backend"], compiled_backend(), "{row}");
        assert_eq!(row["agrees"], true, "{row}");
        let got = row["result"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs(),
            "{}: {got} vs {want}",
            row["strategy"]
        );
    }
}

#[test]
fn a_bad_input_is_one_line_and_exit_2() {
    let o = rayblas(&["compare", "--n", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("at least 1"), "{}", stderr(&o));
}
