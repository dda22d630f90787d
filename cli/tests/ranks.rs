//! (feature `mpi`) The CLI on MPI ranks: `compare --ranks` starts mpirun itself and its rows
//! agree with one process bit for bit; `rayblas run` under a user's mpirun reports once, from
//! rank 0; a rank killed mid-run ends the command with one line and a non-zero exit, no hang.
#![cfg(feature = "mpi")]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn rayblas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .output()
        .expect("rayblas runs")
}

fn rows(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect()
}

#[test]
fn compare_ranks_runs_mpirun_and_agrees_with_one_process_bit_for_bit() {
    for op in ["gram-sum", "gram", "matmul-sum", "matmul", "sum", "max"] {
        let product = op.starts_with("gram") || op.starts_with("matmul");
        let summa = op.starts_with("matmul");
        let mut common = vec!["--op", op, "--n", "700", "--repeat", "1"];
        common.extend(["--warmup", "0", "--format", "json"]);
        if product {
            common.extend(["--peak", "1", "--block", "128"]);
        }
        let mut args = vec![
            "compare",
            "--strategies",
            "blocked:1,serial",
            "--ranks",
            "1,2",
        ];
        args.extend(&common);
        let ranked = rows(&rayblas(&args));
        let labels: Vec<_> = ranked
            .iter()
            .map(|r| r["strategy"].as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            [
                "mpi:1+blocked:1",
                "mpi:1+serial",
                "mpi:2+blocked:1",
                "mpi:2+serial"
            ],
            "{op}"
        );
        let mut args = vec!["run", "--strategy", "blocked:1"];
        args.extend(&common);
        let single = rows(&rayblas(&args));
        for (r, want) in ranked.iter().zip([1, 1, 2, 2]) {
            assert_eq!(r["ranks"], want);
            // No warm-up run: the ranks made their random rows inside the timed one.
            assert!(
                r["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w.as_str().unwrap().contains("inside the timed run")),
                "{op} {r}"
            );
            assert_eq!(r["agrees"], true, "{op} {r}");
            assert!(r["comm_s"].as_f64().unwrap() >= 0.0, "{r}");
            let got = r["result"].as_f64().unwrap();
            if summa {
                // SUMMA adds panels of k in turn: within rounding of one process (and the rows
                // were checked against the inputs: `agrees`).
                let one = single[0]["result"].as_f64().unwrap();
                assert!((got - one).abs() <= 1e-12 * one.abs(), "{op} {r}");
                continue;
            }
            if product {
                // The same calls, combined in the same order: the same bits.
                assert_eq!(
                    got.to_bits(),
                    single[0]["result"].as_f64().unwrap().to_bits(),
                    "{op} {r}"
                );
            }
            // Any rank count, any local strategy: the same bits.
            assert_eq!(
                got.to_bits(),
                ranked[0]["result"].as_f64().unwrap().to_bits(),
                "{op} {r}"
            );
        }
    }
}

#[test]
fn ranks_with_a_warm_up_run_make_their_rows_before_the_timing() {
    let out = rayblas(&[
        "compare",
        "--strategies",
        "blocked:1",
        "--ranks",
        "2",
        "--op",
        "gram-sum",
        "--n",
        "300",
        "--repeat",
        "1",
        "--warmup",
        "1",
        "--format",
        "json",
    ]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 1);
    let warnings = rows[0]["warnings"].as_array().unwrap();
    assert!(
        !warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("inside the timed run")),
        "{warnings:?}"
    );
}

#[test]
fn run_under_a_users_mpirun_reports_once_from_rank_0() {
    let out = Command::new("mpirun")
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_pml", "ob1")
        .env("OMPI_MCA_btl", "self,vader")
        .args(["--oversubscribe", "--bind-to", "none", "-np", "3"])
        .arg(env!("CARGO_BIN_EXE_rayblas"))
        .args([
            "run",
            "--op",
            "gram-sum",
            "--n",
            "500",
            "--block",
            "100",
            "--strategy",
            "serial",
            "--peak",
            "1",
            "--warmup",
            "0",
            "--format",
            "json",
        ])
        .output()
        .expect("mpirun runs");
    let rows = rows(&out);
    assert_eq!(rows.len(), 1, "one report");
    assert_eq!(rows[0]["strategy"], "mpi:3+serial");
    assert_eq!(rows[0]["ranks"], 3);
    assert_eq!(rows[0]["agrees"], true);
}

#[test]
fn a_killed_rank_ends_the_command_with_one_line_and_no_hang() {
    let parent = Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .args([
            "run",
            "--op",
            "gram-sum",
            "--n",
            "5000",
            "--block",
            "500",
            "--seed",
            "777123",
            "--strategy",
            "mpi:2+serial",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--peak",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Rank 1 of this job: a `measure` process whose spec has our seed and whose MPI rank is 1.
    let started = Instant::now();
    let rank1 = common::wait_for_process("rank 1", |_, cmd, env| {
        let cmd = String::from_utf8_lossy(cmd);
        cmd.contains("measure")
            && cmd.contains("777123")
            && common::has_entry(env, b"OMPI_COMM_WORLD_RANK=1")
    });
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-KILL", &rank1.to_string()])
        .status()
        .unwrap();
    let out = parent.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "no hang");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("rayblas: error: mpi:2+serial:"),
        "{stderr}"
    );
    assert!(
        lines[0].contains("signal 9") || lines[0].contains("Killed"),
        "{stderr}"
    );
}

/// `--input` on ranks: each rank reads its rows of the file (the header says so), every row is
/// checked against the file read by bands on rank 0 (`agrees`), and the results equal one
/// process's on the same file; `--output` is written by every rank into one file; a file of
/// the other dtype is one line naming it.
#[test]
fn an_input_file_on_ranks_is_read_by_rows_and_checked() {
    let dir = std::env::temp_dir().join(format!("rayblas-ranks-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.npy");
    let path = file.to_str().unwrap();
    let gen = rayblas(&["gen", "--m", "300", "--n", "170", "--out", path]);
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    for op in ["gram-sum", "gram", "matmul-sum", "matmul", "sum", "max"] {
        let mut common = vec![
            "--op", op, "--input", path, "--repeat", "1", "--warmup", "0",
        ];
        common.extend(["--format", "json"]);
        if op.starts_with("gram") || op.starts_with("matmul") {
            common.extend(["--peak", "1", "--block", "64"]);
        }
        let mut args = vec!["compare", "--strategies", "serial", "--ranks", "1,3"];
        args.extend(&common);
        let ranked = rows(&rayblas(&args));
        let mut args = vec!["run", "--strategy", "serial"];
        args.extend(&common);
        let single = rows(&rayblas(&args));
        assert_eq!(ranked.len(), 2, "{op}");
        for r in &ranked {
            assert_eq!(r["agrees"], true, "{op} {r}");
            assert_eq!(r["input_file_bytes"], single[0]["input_file_bytes"], "{op}");
            let (got, one) = (
                r["result"].as_f64().unwrap(),
                single[0]["result"].as_f64().unwrap(),
            );
            assert!(
                (got - one).abs() <= 1e-12 * one.abs(),
                "{op}: {got} against {one}"
            );
        }
    }
    let mut table = vec!["compare", "--op", "gram-sum", "--input", path];
    table.extend([
        "--strategies",
        "mpi:2+serial",
        "--peak",
        "1",
        "--repeat",
        "1",
    ]);
    table.extend(["--warmup", "0"]);
    let text = rayblas(&table);
    assert!(text.status.success());
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("each rank reads its rows"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    table.extend(["--dtype", "f32"]);
    let wrong = rayblas(&table);
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("x.npy") && err.contains("--dtype"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
