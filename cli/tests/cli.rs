//! The `rayblas` binary: output formats, agreement, exit codes, messages, .npy inputs.

mod common;

use ndarray::Array2;
use std::process::{Command, Output};

fn rayblas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .env_remove("RAYBLAS_SIMD")
        .output()
        .expect("run rayblas")
}

/// `rayblas args` with one environment variable set.
fn rayblas_with(var: &str, value: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .env(var, value)
        .output()
        .expect("run rayblas")
}

/// `rayblas args…` under `ulimit <limit>` (e.g. `-v 2097152`), stopped after 60 s so a hang
/// fails the test instead of stalling it.
fn rayblas_under(limit: &str, args: &[&str]) -> Output {
    rayblas_under_with("1", limit, args)
}

/// [`rayblas_under`] with `RAYBLAS_QUICK_LIMITS` set to `quick`.
fn rayblas_under_with(quick: &str, limit: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .args([
            "-c",
            &format!("ulimit {limit} && exec timeout 60 \"$0\" \"$@\""),
        ])
        .arg(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .env("RAYBLAS_QUICK_LIMITS", quick)
        .output()
        .expect("run rayblas under a limit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The rows of `--format json` output: one JSON object per line.
fn json_rows(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn info_json_has_the_promised_keys() {
    let o = rayblas(&["info", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for key in [
        "backend",
        "version",
        "corename",
        "threading",
        "num_threads",
        "max_threads",
        "warnings",
        "cpu",
        "logical_cores",
        "physical_cores",
        "simd",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["backend"], rayblas::blas::BACKEND);
    let table = rayblas(&["info"]);
    assert!(stdout(&table).contains("simd"));
}

#[test]
fn compare_json_rows_agree_and_carry_every_field() {
    let strategies = if rayblas::blas::per_call_threads() {
        "native,blocked,hybrid:1x2,serial"
    } else {
        "native,blocked,serial"
    };
    let o = rayblas(&[
        "compare",
        "--n",
        "96",
        "--block",
        "40",
        "--repeat",
        "2",
        "--warmup",
        "0",
        "--strategies",
        strategies,
        "--format",
        "json",
        "--peak",
        "100",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_rows(&o);
    assert_eq!(rows.len(), strategies.split(',').count());
    let fields = "op dtype m k n block calls strategy backend corename threading workers blas_threads repeat wall_s wall_min_s wall_max_s gflops gbps peak_pct cpu_pct peak_rss_bytes result agrees";
    for r in &rows {
        for f in fields.split(' ') {
            assert!(r.get(f).is_some(), "missing {f} in {r}");
        }
        assert_eq!(r["agrees"], true);
        assert_eq!(r["repeat"], 2);
        assert!(r["gflops"].as_f64().unwrap() > 0.0);
        assert!(r["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
    // The library computes the same seed value.
    let x = rayblas::bench::uniform::<f64>(96, 96, 42);
    let want = x.dot(&x.t()).sum();
    let got = rows[0]["result"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-10 * want, "{got} vs {want}");
}

#[test]
fn csv_has_header_and_rows_and_reductions_report_gbps() {
    let o = rayblas(&[
        "compare",
        "--op",
        "sum",
        "--n",
        "300",
        "--repeat",
        "1",
        "--strategies",
        "blocked,serial",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    let gbps = header.iter().position(|h| *h == "gbps").unwrap();
    assert!(rows.iter().all(|r| r[gbps].parse::<f64>().unwrap() > 0.0));
}

/// The value `run` must report for `op` on these inputs (a matrix result is reported as its
/// sum), and the scale its rounding error is relative to.
fn reference(op: &str, a: &Array2<f64>, b: &Array2<f64>, d: &Array2<f64>) -> (f64, f64) {
    let abs = |x: &Array2<f64>| x.mapv(f64::abs);
    match op {
        "matmul" | "matmul-sum" => (a.dot(b).sum(), abs(a).dot(&abs(b)).sum()),
        "gram" | "gram-sum" => (a.dot(&a.t()).sum(), abs(a).dot(&abs(a).t()).sum()),
        "sum" => (a.sum(), abs(a).sum()),
        "norm" => {
            let n = a.mapv(|v| v * v).sum().sqrt();
            (n, n)
        }
        "max" => {
            let m = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (m, m.abs())
        }
        "min" => {
            let m = a.iter().copied().fold(f64::INFINITY, f64::min);
            (m, m.abs())
        }
        "mean" => (a.mean().unwrap(), abs(a).mean().unwrap()),
        // Row-major position of the first extreme, as the CLI reports it.
        "argmax" | "argmin" => {
            let best = a
                .iter()
                .copied()
                .enumerate()
                .fold((0, a[[0, 0]]), |b, (i, v)| {
                    if (op == "argmax" && v > b.1) || (op == "argmin" && v < b.1) {
                        (i, v)
                    } else {
                        b
                    }
                });
            (best.0 as f64, 0.0)
        }
        "dot" => ((a * d).sum(), (abs(a) * abs(d)).sum()),
        _ => unreachable!("{op}"),
    }
}

#[test]
fn run_every_op_and_dtype_gives_the_reference_value() {
    let dir = std::env::temp_dir().join(format!("rayblas-cli-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A is all negative, so a max that started from 0 would report 0; B and D mix signs.
    let a = Array2::<f64>::from_shape_fn((50, 30), |(i, j)| {
        -1.0 - ((i * 7 + j * 3) % 11) as f64 / 11.0
    });
    let b =
        Array2::<f64>::from_shape_fn((30, 20), |(i, j)| ((i * 5 + j * 9) % 13) as f64 / 6.5 - 1.0);
    let d = Array2::<f64>::from_shape_fn((50, 30), |(i, j)| ((i + 4 * j) % 7) as f64 / 3.5 - 1.0);
    let paths = |dtype: &str| {
        let p = |name: &str| dir.join(format!("{name}-{dtype}.npy"));
        if dtype == "f32" {
            for (name, m) in [("a", &a), ("b", &b), ("d", &d)] {
                ndarray_npy::write_npy(p(name), &m.mapv(|v| v as f32)).unwrap();
            }
        } else {
            for (name, m) in [("a", &a), ("b", &b), ("d", &d)] {
                ndarray_npy::write_npy(p(name), m).unwrap();
            }
        }
        (p("a"), p("b"), p("d"))
    };
    for (dtype, calls) in [("f32", "strips"), ("f64", "strips"), ("f64", "tiles")] {
        let (pa, pb, pd) = paths(dtype);
        // f32 inputs are the f64 values rounded; compare within f32's rounding of the terms.
        let rel = if dtype == "f32" { 1e-5 } else { 1e-12 };
        for op in [
            "matmul",
            "gram",
            "gram-sum",
            "matmul-sum",
            "sum",
            "norm",
            "max",
            "min",
            "mean",
            "argmax",
            "argmin",
            "dot",
        ] {
            let mut args = vec![
                "run",
                "--op",
                op,
                "--dtype",
                dtype,
                "--repeat",
                "1",
                "--format",
                "json",
                "--input",
                pa.to_str().unwrap(),
            ];
            // Only the options the op uses: any other is an error.
            if matches!(op, "matmul" | "gram" | "gram-sum" | "matmul-sum") {
                args.extend(["--block", "16x8", "--peak", "10"]);
            }
            if matches!(op, "matmul" | "gram" | "gram-sum" | "matmul-sum") {
                args.extend(["--calls", calls]);
            }
            match op {
                "matmul" | "matmul-sum" => args.extend(["--input-b", pb.to_str().unwrap()]),
                "dot" => args.extend(["--input-b", pd.to_str().unwrap()]),
                _ => {}
            }
            let o = rayblas(&args);
            assert!(o.status.success(), "{op} {dtype}: {}", stderr(&o));
            let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
            assert_eq!(v["op"], op);
            let want = match op {
                "matmul" | "gram" | "matmul-sum" | "gram-sum" => calls,
                _ => "", // reductions make no BLAS calls
            };
            assert_eq!(v["calls"], want, "{op}");
            let got = v["result"].as_f64().unwrap();
            let (want, scale) = reference(op, &a, &b, &d);
            assert!(
                (got - want).abs() <= rel * scale,
                "{op} {dtype}: result {got}, reference {want}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["compare", "--n", "0"],
        &["compare", "--block", "0"],
        &["compare", "--calls", "rows"],
        &["compare", "--strategies", "fast"],
        &["compare", "--strategies", "blocked:0"],
        &["run", "--strategy", "native:100000"],
        &["run", "--input", "/nonexistent/a.npy"],
        &["sweep", "--workers", "0"],
        &["compare", "--peak", "-5"],
        &["compare", "--strategies", "native,,blocked"],
        &["compare", "--strategies", "blocked,"],
        &["sweep", "--blocks", "100,,200"],
        // Options the op, the inputs or the strategies would ignore.
        &["run", "--op", "sum", "--block", "100"],
        &["run", "--op", "sum", "--peak", "10"],
        &["run", "--op", "norm", "--calls", "tiles"],
        &["run", "--op", "max", "--calls", "strips"],
        &["run", "--op", "gram", "--n", "10", "--m", "10", "--k", "10"],
        &["run", "--input-b", "/tmp/b.npy"],
        &["run", "--strategy", "native", "--block", "100"],
        &["sweep", "--block", "100"],
        &["sweep", "--op", "sum"],
        // Batches: matmul only, random items, at least one product.
        &["run", "--op", "gram", "--batch", "4"],
        &["run", "--op", "matmul", "--batch", "0", "--n", "4"],
        &[
            "run",
            "--op",
            "matmul",
            "--batch",
            "4",
            "--input",
            "/tmp/a.npy",
        ],
        &[
            "run",
            "--op",
            "matmul",
            "--batch",
            "4",
            "--output",
            "/tmp/c.npy",
        ],
    ];
    for args in cases {
        let o = rayblas(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line expected, got:\n{err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert!(stdout(&o).is_empty(), "{args:?}: nothing on stdout");
    }
    for (args, says) in [
        (&["compare", "--peak", "-5"][..], "positive"),
        (
            &["run", "--op", "sum", "--block", "100"],
            "--block does not apply",
        ),
        (
            &["compare", "--strategies", "native,,blocked"],
            "empty item",
        ),
    ] {
        let err = stderr(&rayblas(args));
        assert!(err.contains(says), "{args:?}: {err}");
    }
    if !rayblas::blas::per_call_threads() {
        let o = rayblas(&["compare", "--strategies", "hybrid:2x2"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("not supported"), "{}", stderr(&o));
    }
}

/// `--batch B` measures `Config::matmul_batch` on B random items: every strategy's rows agree
/// and pass the check of each item against the inputs; a row reports one item's shape and the
/// batch, and replays as a batch; `native` on a library without a batched GEMM says so.
#[test]
fn batched_products_are_measured_and_checked() {
    let o = rayblas(&[
        "compare",
        "--op",
        "matmul",
        "--m",
        "9",
        "--k",
        "7",
        "--n",
        "5",
        "--batch",
        "300",
        "--strategies",
        "serial,blocked:1,blocked:2",
        "--repeat",
        "1",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_rows(&o);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["agrees"], true, "{r}");
        assert_eq!(
            (r["m"].as_u64(), r["k"].as_u64(), r["n"].as_u64()),
            (Some(9), Some(7), Some(5))
        );
        assert_eq!(r["batch"], 300, "{r}");
        // The flops of the whole batch.
        let gflops = r["gflops"].as_f64().unwrap();
        let want = 2.0 * 300.0 * 9.0 * 7.0 * 5.0 / r["wall_s"].as_f64().unwrap() / 1e9;
        assert!((gflops - want).abs() <= 1e-9 * want, "{r}");
    }
    // Each item one BLAS call under serial and blocked: the same bits, so the same checksum.
    assert_eq!(rows[0]["result"], rows[1]["result"]);
    assert_eq!(rows[0]["result"], rows[2]["result"]);
    let dir = std::env::temp_dir().join(format!("rayblas-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("rows.json");
    std::fs::write(&saved, stdout(&o)).unwrap();
    let replay = rayblas(&[
        "compare",
        "--replay",
        saved.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    for r in json_rows(&replay) {
        assert_eq!(r["batch"], 300, "replayed as a batch: {r}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let table = stdout(&rayblas(&[
        "run", "--op", "matmul", "--n", "4", "--batch", "20", "--repeat", "1",
    ]));
    assert!(table.contains("batch of 20 products"), "{table}");
    let native = rayblas(&[
        "run",
        "--op",
        "matmul",
        "--n",
        "4",
        "--batch",
        "20",
        "--strategy",
        "native",
    ]);
    assert_ne!(native.status.code(), Some(0));
    assert!(
        stderr(&native).contains("batched GEMM"),
        "{}",
        stderr(&native)
    );
}

/// Argument errors keep clap's whole message: the hint, the possible values, the usage.
#[test]
fn argument_errors_keep_clap_hints() {
    for (args, says) in [
        (&["run", "--strategies", "serial"][..], "--strategy"),
        (&["compare", "--op", "nope"], "gram-sum"),
        (&["compare", "--n", "ten"], "invalid digit"),
        (&["compare", "--n", "-3"], "'-3'"),
        (
            &["compare", "--replay", "x.jsonl", "--n", "5"],
            "cannot be used with",
        ),
    ] {
        let o = rayblas(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(
            err.contains("For more information, try '--help'"),
            "{args:?}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
    let err = stderr(&rayblas(&["compare", "--op", "nope"]));
    assert!(err.contains("possible values"), "{err}");
}

#[test]
fn npy_inputs_and_their_errors() {
    let dir = std::env::temp_dir().join(format!("rayblas-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = ndarray::Array2::<f64>::from_shape_fn((30, 20), |(i, j)| (i + 2 * j) as f64 / 50.0);
    let f64_path = dir.join("a64.npy");
    ndarray_npy::write_npy(&f64_path, &a).unwrap();
    let o = rayblas(&[
        "run",
        "--op",
        "gram-sum",
        "--input",
        f64_path.to_str().unwrap(),
        "--repeat",
        "1",
        "--format",
        "json",
        "--peak",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let want = a.dot(&a.t()).sum();
    assert!((v["result"].as_f64().unwrap() - want).abs() <= 1e-12 * want);
    assert_eq!(v["m"], 30);
    // Wrong dtype.
    let o = rayblas(&[
        "run",
        "--input",
        f64_path.to_str().unwrap(),
        "--dtype",
        "f32",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("a64.npy") && err.contains("<f8") && err.contains("--dtype"),
        "{err}"
    );
    // Wrong rank: said plainly, with no dtype hint.
    let one_d = dir.join("v.npy");
    ndarray_npy::write_npy(&one_d, &ndarray::Array1::<f64>::zeros(5)).unwrap();
    let o = rayblas(&["run", "--input", one_d.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("1-D") && err.contains("2-D") && !err.contains("--dtype"),
        "{err}"
    );
    // Sizes come from the file: --n with --input is refused, not ignored.
    let o = rayblas(&["run", "--input", f64_path.to_str().unwrap(), "--n", "7"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--n does not apply"), "{}", stderr(&o));
    // Corrupt file.
    let bad = dir.join("bad.npy");
    std::fs::write(&bad, b"\x93NUMPY garbage").unwrap();
    let o = rayblas(&["run", "--input", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim().lines().count(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sweep_writes_csv_and_svg() {
    let dir = std::env::temp_dir().join(format!("rayblas-sweep-{}", std::process::id()));
    let o = rayblas(&[
        "sweep",
        "--op",
        "matmul",
        "--n",
        "64",
        "--blocks",
        "16,32",
        "--workers",
        "1,2",
        "--repeat",
        "1",
        "--warmup",
        "0",
        "--peak",
        "10",
        "--out",
        dir.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    // 2 blocks × (blocked:1, blocked:2), and native:1, native:2 once each (they use no
    // block), native:2 only where the library has 2 threads.
    let natives = if rayblas::blas::info().max_threads >= 2 {
        2
    } else {
        1
    };
    assert_eq!(csv.lines().count(), 1 + 2 * 2 + natives, "{csv}");
    let svg = std::fs::read_to_string(dir.join("sweep.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("blocked:2"));
    assert!(
        svg.contains("native:1 (no blocks)"),
        "native drawn as a line"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn strategy_env_sets_the_default() {
    let o = rayblas_with("RAYBLAS_STRATEGY", "serial", &["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["default_strategy"], "serial");
    let o = rayblas_with("RAYBLAS_STRATEGY", "warp", &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("RAYBLAS_STRATEGY=`warp`"),
        "{}",
        stderr(&o)
    );
    let o = rayblas_with("RAYBLAS_SIMD", "sse2", &["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["simd"], "sse2");
    let o = rayblas_with("RAYBLAS_SIMD", "neon", &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RAYBLAS_SIMD=`neon`"), "{}", stderr(&o));
    // The tests' quick limits: only 1 or 0, refused before anything is measured.
    for args in [
        &["info"][..],
        &["compare", "--n", "64", "--repeat", "1"][..],
    ] {
        let o = rayblas_with("RAYBLAS_QUICK_LIMITS", "yes", args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
        assert!(
            stderr(&o).contains("RAYBLAS_QUICK_LIMITS=`yes`"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn table_header_says_what_a_call_covers_and_no_nan() {
    let header = |args: &[&str]| {
        let o = rayblas(args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().next().unwrap().to_string()
    };
    let common = [
        "run", "--n", "64", "--block", "16", "--repeat", "1", "--peak", "10",
    ];
    let sum = header(&["run", "--n", "64", "--repeat", "1", "--op", "sum"]);
    assert!(!sum.contains("NaN") && !sum.contains("call"), "{sum}");
    let matmul = header(&[&common[..], &["--op", "matmul"]].concat());
    assert!(
        matmul.contains("one BLAS call per strip of tiles"),
        "{matmul}"
    );
    let tiles = header(&[&common[..], &["--op", "gram", "--calls", "tiles"]].concat());
    assert!(tiles.contains("one BLAS call per tile"), "{tiles}");
    // Parsed as the library parses it, and reported in its canonical spelling.
    let upper = header(&[&common[..], &["--op", "gram", "--calls", "Tiles"]].concat());
    assert!(upper.contains("one BLAS call per tile"), "{upper}");
}

/// NaN and ±Inf results are reported (as numpy prints them) and agree between strategies: the
/// measurement protocol used to turn them into JSON `null`, which killed the run.
#[test]
fn nan_and_inf_results_are_reported_and_agree() {
    let dir = std::env::temp_dir().join(format!("rayblas-cli-nan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut a = Array2::<f64>::from_shape_fn((20, 12), |(i, j)| (i * 12 + j) as f64 / 100.0);
    a[[3, 4]] = f64::NAN;
    let nan = dir.join("nan.npy");
    ndarray_npy::write_npy(&nan, &a).unwrap();
    a[[3, 4]] = f64::INFINITY;
    let inf = dir.join("inf.npy");
    ndarray_npy::write_npy(&inf, &a).unwrap();
    for (path, op, want) in [
        (&nan, "max", "NaN"),
        (&nan, "sum", "NaN"),
        (&inf, "sum", "inf"),
        (&inf, "max", "inf"),
    ] {
        let o = rayblas(&[
            "compare",
            "--op",
            op,
            "--input",
            path.to_str().unwrap(),
            "--strategies",
            "serial,blocked,native",
            "--repeat",
            "1",
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{op} {want}: {}", stderr(&o));
        let rows = json_rows(&o);
        assert_eq!(rows.len(), 3);
        for r in rows {
            assert_eq!(r["result"], want, "{op}: {r}");
            assert_eq!(r["agrees"], true, "{op}: {r}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A reader that goes away (`rayblas info | true`) ends rayblas quietly, as it does Unix tools:
/// no panic, no backtrace.
#[test]
fn a_closed_pipe_ends_quietly() {
    let exe = env!("CARGO_BIN_EXE_rayblas");
    for args in ["info", "compare --n 64 --block 16 --repeat 1 --peak 1"] {
        let o = Command::new("bash")
            .arg("-c")
            .arg(format!("'{exe}' {args} | true"))
            .env_remove("RAYBLAS_STRATEGY")
            .env("RAYBLAS_QUICK_LIMITS", "1")
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(stderr(&o).is_empty(), "{args}: {}", stderr(&o));
    }
}

/// Every format `info` offers works: `key,value` CSV with quoted fields where needed.
#[test]
fn info_offers_csv_too() {
    let o = rayblas(&["info", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("key,value"));
    let keys: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    for key in [
        "backend",
        "version",
        "config",
        "threading",
        "physical_cores",
        "default_strategy",
    ] {
        assert!(keys.contains(&key), "{key} missing: {out}");
    }
}

fn run_json(vars: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .args(["--format", "json"])
        .env_remove("RAYBLAS_STRATEGY")
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap()
}

/// `run --strategy S` on a tiny gram-sum (n=64, block 16, one process, --peak 1), as JSON.
fn run_tiny(vars: &[(&str, &str)], strategy: &str) -> serde_json::Value {
    run_json(
        vars,
        &[
            "run",
            "--strategy",
            strategy,
            "--n",
            "64",
            "--block",
            "16",
            "--repeat",
            "1",
            "--peak",
            "1",
        ],
    )
}

/// The affinity mask and the standard thread variables set the defaults, `info` says which, and
/// an explicit count that overrides a variable is named in the row's warnings.
#[test]
fn thread_variables_and_the_affinity_mask_set_the_defaults() {
    let info = run_json(&[("RAYON_NUM_THREADS", "1")], &["info"]);
    assert_eq!(info["default_workers"], 1);
    assert_eq!(info["default_workers_source"], "RAYON_NUM_THREADS=1");
    let row = run_tiny(&[("RAYON_NUM_THREADS", "1")], "blocked");
    assert_eq!(row["workers"], 1);
    let row = run_tiny(&[("RAYON_NUM_THREADS", "1")], "blocked:2");
    let warnings = row["warnings"].to_string();
    assert!(
        warnings.contains("RAYON_NUM_THREADS=1 is set"),
        "{warnings}"
    );
    if let Some(var) = rayblas::blas::THREAD_ENV.first() {
        let info = run_json(&[(var, "1")], &["info"]);
        assert_eq!(info["default_native_threads"], 1);
        assert_eq!(info["default_native_threads_source"], format!("{var}=1"));
    }
    let o = rayblas_with("RAYON_NUM_THREADS", "lots", &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RAYON_NUM_THREADS"), "{}", stderr(&o));
    // One CPU in the mask: one worker by default, and a peak for one core.
    if rayblas::cpu::logical_cores() >= 2 {
        let exe = env!("CARGO_BIN_EXE_rayblas");
        let o = Command::new("taskset")
            .args([
                "-c", "0", exe, "run", "--n", "64", "--block", "16", "--repeat", "1",
            ])
            .args(["--strategy", "blocked", "--format", "json"])
            .env_remove("RAYBLAS_STRATEGY")
            .env("RAYBLAS_QUICK_LIMITS", "1")
            .env_remove("RAYON_NUM_THREADS")
            .output();
        if let Some(o) = o.ok().filter(|o| o.status.success()) {
            let row: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
            assert_eq!(row["workers"], 1, "{row}");
            assert_eq!(row["logical_cores"], 1);
            assert!(
                row["peak_source"]
                    .as_str()
                    .unwrap()
                    .contains("× 1 physical"),
                "{row}"
            );
        }
    }
}

/// Sub-millisecond ops are timed in batches long enough to measure, CPU % stays within what
/// the cores can give, and each row says what it did: useful and performed flops, samples,
/// seed, peak and its source, the environment.
#[test]
fn rows_are_measured_long_enough_and_say_how() {
    let row = run_json(&[], &["run", "--op", "sum", "--n", "10", "--repeat", "2"]);
    assert!(row["iters"].as_u64().unwrap() > 1, "{row}");
    assert!(row["wall_s"].as_f64().unwrap() > 0.0);
    let cores = row["logical_cores"].as_f64().unwrap();
    assert!(row["cpu_pct"].as_f64().unwrap() <= 125.0 * cores, "{row}");
    for key in [
        "seed",
        "warmup",
        "samples",
        "peak_source",
        "rayblas_version",
        "rayblas_commit",
        "cpu_model",
        "affinity",
        "os",
        "backend_version",
        "corename",
        "threading",
        "recorded_at",
    ] {
        assert!(!row[key].is_null(), "{key} missing: {row}");
    }
    assert_eq!(row["seed"], 42);
    // gram: useful m(m+1)k, one triangle; a native gram through a full GEMM (no syrk in
    // BLIS and pure-rust) performs 2m²k, and its useful rate is the lower one.
    let row = run_json(
        &[],
        &[
            "run",
            "--op",
            "gram",
            "--n",
            "64",
            "--strategy",
            "native",
            "--repeat",
            "1",
            "--peak",
            "7",
        ],
    );
    let useful = row["useful_flops"].as_f64().unwrap();
    assert_eq!(useful, 64.0 * 65.0 * 64.0);
    let performed = row["performed_flops"].as_f64().unwrap();
    if rayblas::blas::has_syrk() {
        assert_eq!(performed, useful);
    } else {
        assert_eq!(performed, 2.0 * 64.0 * 64.0 * 64.0);
        assert!(row["performed_gflops"].as_f64().unwrap() > row["gflops"].as_f64().unwrap());
    }
    assert_eq!(row["peak_source"], "--peak");
    // The table names its units; a fast op is not printed as 0.0000.
    let o = rayblas(&["run", "--op", "sum", "--n", "10", "--repeat", "1"]);
    let table = stdout(&o);
    assert!(
        table.contains("W×T") && !table.contains("0.0000 "),
        "{table}"
    );
    assert!(
        stderr(&o).contains("workers × BLAS threads"),
        "legend: {}",
        stderr(&o)
    );
}

/// The limits are measured in the same run (in a process of their own): the one-thread GEMM,
/// the FMA loop and the streaming read rate; rows report % of each GFLOP/s limit and % of the
/// op's own limit, naming which binds; `info` reports the FMA loop and the read rate too.
#[test]
fn rows_report_percent_of_the_measured_fma_loop_and_of_their_own_limit() {
    let row = run_json(
        &[],
        &[
            "run", "--op", "gram-sum", "--n", "96", "--block", "32", "--repeat", "1",
        ],
    );
    let fma = row["fma_peak_gflops"].as_f64().unwrap();
    assert!(fma > 0.0, "{row}");
    let pct = row["fma_pct"].as_f64().unwrap();
    let want = 100.0 * row["gflops"].as_f64().unwrap() / fma;
    assert!((pct - want).abs() <= 1e-9 * want, "{row}");
    assert!(
        row["peak_source"].as_str().unwrap().contains("FMA loop"),
        "{row}"
    );
    // The limit: the larger of the useful flops at the FMA loop and the bytes moved at the
    // measured streaming read rate, named, and the run's time as % of it.
    let read = row["read_gbps"].as_f64().unwrap();
    assert!(read > 0.0, "{row}");
    let (m, k) = (96.0, 96.0);
    assert_eq!(row["min_bytes"].as_f64().unwrap(), 8.0 * m * k, "{row}");
    let compute = row["useful_flops"].as_f64().unwrap() / (fma * 1e9);
    let memory = 8.0 * m * k / (read * 1e9);
    let limit = row["limit_s"].as_f64().unwrap();
    assert!(
        (limit - compute.max(memory)).abs() <= 1e-12 * limit,
        "{row}"
    );
    let binds = if compute >= memory {
        "compute"
    } else {
        "memory"
    };
    assert_eq!(row["limit_binds"], binds, "{row}");
    let want = 100.0 * limit / row["wall_s"].as_f64().unwrap();
    assert!(
        (row["limit_pct"].as_f64().unwrap() - want).abs() <= 1e-9 * want,
        "{row}"
    );
    // A product's output counts as written once; a reduction is bound by memory alone.
    let product = run_json(
        &[],
        &[
            "run", "--op", "matmul", "--m", "40", "--k", "30", "--n", "20", "--repeat", "1",
        ],
    );
    assert_eq!(
        product["min_bytes"].as_f64().unwrap(),
        8.0 * (40.0 * 30.0 + 30.0 * 20.0 + 40.0 * 20.0),
        "{product}"
    );
    let sum = run_json(
        &[],
        &[
            "run", "--op", "sum", "--n", "64", "--dtype", "f32", "--repeat", "1",
        ],
    );
    assert_eq!(sum["limit_binds"], "memory", "{sum}");
    assert_eq!(
        sum["min_bytes"].as_f64().unwrap(),
        4.0 * 64.0 * 64.0,
        "{sum}"
    );
    let want = 100.0 * 4.0 * 64.0 * 64.0
        / (sum["read_gbps"].as_f64().unwrap() * 1e9)
        / sum["wall_s"].as_f64().unwrap();
    assert!(
        (sum["limit_pct"].as_f64().unwrap() - want).abs() <= 1e-9 * want,
        "{sum}"
    );
    // Given --peak, nothing is measured, and no limit is claimed.
    let given = run_json(
        &[],
        &[
            "run", "--op", "gram-sum", "--n", "64", "--repeat", "1", "--peak", "10",
        ],
    );
    assert!(
        given["limit_pct"].is_null() && given["read_gbps"].is_null(),
        "{given}"
    );
    let info = run_json(&[], &["info"]);
    // Positive figures only: the quick limits take milliseconds, and the other tests of this
    // binary run beside them, so the all-core figure can fall below one thread's (it read less
    // than half of it once, with benchmarks running on the same cores).
    for key in ["fma_f64_all", "fma_f64_one_thread"] {
        let v = info[key].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "{key}: {info}");
    }
    assert!(info["fma_f32_one_thread"].as_f64().unwrap() > 0.0);
    assert!(
        info["read_gbps_one_thread"].as_f64().unwrap() > 0.0,
        "{info}"
    );
    assert!(info["read_gbps_all"].as_f64().unwrap() > 0.0, "{info}");
}

/// Threads beyond the cores and a busy machine are warned about.
#[test]
fn oversubscription_and_a_busy_machine_are_warned_about() {
    let cores = rayblas::cpu::logical_cores();
    let many = format!("blocked:{}", cores + 1);
    let row = run_tiny(&[], &many);
    assert!(
        row["warnings"].to_string().contains("oversubscribed"),
        "{row}"
    );
    // Busy loops on every CPU while a reduction is measured: the row says the machine was busy.
    let hogs: Vec<_> = (0..cores)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    let row = run_json(
        &[],
        &[
            "run",
            "--op",
            "sum",
            "--n",
            "2000",
            "--repeat",
            "3",
            "--strategy",
            "serial",
        ],
    );
    for mut h in hogs {
        h.kill().ok();
        h.wait().ok();
    }
    assert!(row["foreign_cpu_cores"].as_f64().unwrap() > 0.3, "{row}");
    assert!(row["warnings"].to_string().contains("busy"), "{row}");
}

/// On OpenBLAS's single-threaded build (Debian installs it beside the others), a tiled
/// strategy's calls are serialised, and the row says so.
#[test]
fn serialised_blas_calls_are_warned_about() {
    let dir = "/usr/lib/x86_64-linux-gnu/openblas-serial";
    // Only the system OpenBLAS is swapped by LD_LIBRARY_PATH (the wheel of `openblas-scipy`
    // has its own name and an rpath).
    if !cfg!(feature = "openblas-system") || !std::path::Path::new(dir).exists() {
        return;
    }
    let row = run_tiny(&[("LD_LIBRARY_PATH", dir)], "blocked:2");
    assert!(
        row["warnings"].to_string().contains("one at a time"),
        "{row}"
    );
}

/// Saved rows replay: the same workload measured again, old and new side by side; an input
/// file that changed since is refused.
#[test]
fn compare_replays_saved_rows() {
    let dir = std::env::temp_dir().join(format!("rayblas-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = Array2::<f64>::from_shape_fn((40, 24), |(i, j)| (i * 3 + j) as f64 / 97.0);
    let input = dir.join("a.npy");
    ndarray_npy::write_npy(&input, &a).unwrap();
    let rows_path = dir.join("rows.jsonl");
    let o = rayblas(&[
        "compare",
        "--op",
        "gram",
        "--input",
        input.to_str().unwrap(),
        "--block",
        "8",
        "--strategies",
        "serial,blocked",
        "--repeat",
        "1",
        "--peak",
        "3",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&rows_path, &o.stdout).unwrap();
    let first = &json_rows(&o)[0];
    assert_eq!(first["input"], input.to_str().unwrap());
    assert_eq!(
        first["input_sha256"],
        rayblas_cli_sha256(&std::fs::read(&input).unwrap())
    );
    let o = rayblas(&["compare", "--replay", rows_path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains("old time") && table.contains("new time"),
        "{table}"
    );
    assert!(
        table.contains("serial") && table.contains("blocked"),
        "{table}"
    );
    let o = rayblas(&[
        "compare",
        "--replay",
        rows_path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let new = json_rows(&o);
    assert_eq!(new.len(), 2);
    assert_eq!(new[1]["block"], "8");
    assert_eq!(new[1]["peak_gflops"], 3.0);
    // Changed input: refused.
    ndarray_npy::write_npy(&input, &(&a * 2.0)).unwrap();
    let o = rayblas(&["compare", "--replay", rows_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("changed since"), "{}", stderr(&o));
    std::fs::write(&rows_path, "{\"op\": 1}\n").unwrap();
    let o = rayblas(&["compare", "--replay", rows_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rows.jsonl:1"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).ok();
}

fn rayblas_cli_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Guarantee (issue 12, resource limits): a workload too big for this process is refused
/// before anything is allocated, in one line that names what it needs and what the limit is.
#[test]
fn workloads_beyond_memory_are_refused_before_allocating() {
    let o = rayblas(&["run", "--op", "gram-sum", "--n", "99999999"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("gram-sum with m=99999999 k=99999999 f64 needs 71.1 PiB"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
    // An address-space limit is a limit too: 20000² f64 is 3 GiB of input plus 3 GiB of Gram
    // matrix, above 2 GiB, and it is refused without starting a measuring process.
    let o = rayblas_under(
        "-v 2097152",
        &[
            "run",
            "--op",
            "gram",
            "--n",
            "20000",
            "--strategy",
            "blocked",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("needs 6.0 GiB") && stderr(&o).contains("RLIMIT_AS"),
        "{}",
        stderr(&o)
    );
    // Under native the fused product is stored whole; blocked needs only the input.
    let o = rayblas(&[
        "compare",
        "--op",
        "matmul-sum",
        "--n",
        "200000",
        "--strategies",
        "blocked,native",
    ]);
    assert!(stderr(&o).contains("(under `native`)"), "{}", stderr(&o));
}

/// Guarantee (issue 12, faults): a measuring process that dies is reported with how it died,
/// not with whatever it printed last.
#[test]
fn a_killed_measuring_process_is_reported_as_killed() {
    let parent = Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .args([
            "run",
            "--op",
            "gram-sum",
            "--n",
            "6000",
            "--strategy",
            "serial",
        ])
        .args(["--repeat", "1", "--peak", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Find the measuring child (`rayblas … measure --spec …`) and kill it.
    let child = common::wait_for_process("the measuring process", |pid, cmd, _| {
        common::parent_of(pid) == Some(parent.id()) && common::has_entry(cmd, b"measure")
    });
    // SAFETY: kill(2) with a pid read from /proc and a valid signal number.
    assert_eq!(unsafe { libc::kill(child as i32, libc::SIGKILL) }, 0);
    let o = parent.wait_with_output().unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("serial: the measuring process was killed by signal 9 (SIGKILL)"),
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

/// Reliability: a data limit that leaves OpenBLAS no room for its per-thread work buffers is
/// refused up front. Under such a limit OpenBLAS retries its mapping forever: the process hung
/// at 100 % CPU before this check.
#[test]
fn a_limit_too_small_for_openblas_buffers_is_refused_instead_of_hanging() {
    let info = rayblas(&["info", "--format", "json"]);
    let info: serde_json::Value = serde_json::from_str(stdout(&info).trim()).unwrap();
    if info["backend"] != "openblas" {
        return; // Only OpenBLAS maps 128 MiB per calling thread.
    }
    let o = rayblas_under(
        "-d 196608",
        &[
            "run",
            "--op",
            "gram-sum",
            "--n",
            "100",
            "--strategy",
            "blocked:2",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("RLIMIT_DATA") && err.contains("work buffer for each of the 3 threads"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(stdout(&o).is_empty());
}

/// A streaming read that cannot be measured (its buffer of at least 512 MiB refused, here by an
/// address-space limit that still leaves room for OpenBLAS's buffers) costs a reduction only
/// its limit column, and the user is told why; `info` says so too.
#[test]
fn a_read_rate_that_cannot_be_measured_leaves_rows_without_a_limit_and_says_why() {
    // The full measurement: the quick one's buffer would fit under the limit.
    let o = rayblas_under_with(
        "0",
        "-v 350000",
        &[
            "run",
            "--op",
            "sum",
            "--n",
            "64",
            "--strategy",
            "serial",
            "--repeat",
            "1",
            "--format",
            "json",
        ],
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("no limit in these rows: the streaming read rate could not be measured"),
        "{err}"
    );
    let row: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert!(row["read_gbps"].is_null(), "{row}");
    assert!(row["limit_pct"].is_null(), "{row}");
    assert!(row["gbps"].as_f64().unwrap() > 0.0, "{row}");
    // `info` names the reason in place of the rate.
    let o = rayblas_under_with("0", "-v 350000", &["info"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("streaming_read"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains("- (cannot allocate"), "{line}");
}

/// `speedup_vs_serial` is the serial row's time over each row's, only where a serial row of the
/// same workload was measured; the table shows it as `×serial`, with the kernel ceiling (cores ×
/// serial's `% limit`) under it.
#[test]
fn rows_report_their_speedup_over_serial_and_the_kernel_ceiling() {
    let args = |strategies: &'static str, format: &'static str| {
        let mut a: Vec<&str> = "compare --op gram-sum --n 96 --block 40 --repeat 2 --warmup 0"
            .split(' ')
            .collect();
        a.extend(["--strategies", strategies, "--format", format]);
        a
    };
    let peak = |mut a: Vec<&'static str>| {
        a.extend(["--peak", "100"]);
        a
    };
    let o = rayblas(&peak(args("blocked,serial", "json")));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_rows(&o);
    let serial = rows[1]["wall_s"].as_f64().unwrap();
    assert_eq!(
        rows[1]["speedup_vs_serial"].as_f64(),
        Some(1.0),
        "{}",
        rows[1]
    );
    let want = serial / rows[0]["wall_s"].as_f64().unwrap();
    let got = rows[0]["speedup_vs_serial"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");

    let o = rayblas(&peak(args("native,blocked", "json")));
    assert!(o.status.success(), "{}", stderr(&o));
    for r in json_rows(&o) {
        assert!(r["speedup_vs_serial"].is_null(), "{r}");
    }
    let o = rayblas(&peak(args("native,blocked", "table")));
    assert!(!stdout(&o).contains("×serial"), "{}", stdout(&o));
    assert!(!stderr(&o).contains("kernel ceiling"), "{}", stderr(&o));

    // Limits measured (no --peak): the ceiling line is cores × the serial row's % limit.
    let o = rayblas(&args("blocked,serial", "table"));
    assert!(o.status.success(), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let lines: Vec<&str> = out.lines().collect();
    let head = cells(lines[1]);
    assert!(head.contains(&"×serial".to_string()), "{out}");
    let at = head
        .iter()
        .position(|c| c == "% limit")
        .expect("% limit column");
    let row = lines
        .iter()
        .find(|l| l.starts_with("serial"))
        .expect("serial row");
    let serial_pct: f64 = cells(row)[at].parse().unwrap();
    let cores = rayblas::cpu::physical_cores() as f64;
    let line = err
        .lines()
        .find(|l| l.starts_with("kernel ceiling:"))
        .unwrap_or_else(|| panic!("no ceiling line: {err}"));
    // "would be X % of the limit", or past 100 %: "would pass the limit (X %)".
    let ceiling: f64 = line
        .split(" would be ")
        .nth(1)
        .or_else(|| line.split("would pass the limit (").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // The past-100 % form is rounded to a whole percent.
    assert!(
        (ceiling - serial_pct * cores).abs() <= 0.5 * cores + 0.5,
        "{line} vs {serial_pct} % × {cores}"
    );
    assert_eq!(ceiling > 100.0, line.contains("pass the limit"), "{line}");
}
