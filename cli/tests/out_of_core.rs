//! Out of core: `.npy` inputs larger than the memory a process may allocate are memory-mapped
//! and streamed, give the in-memory answer, and keep resident memory near one chunk.

use std::path::PathBuf;
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `rayblas args…` under `ulimit -d` of `data_kib` (RLIMIT_DATA: heap and private writable
/// mappings; a read-only file mapping does not count, so only streaming stays within it).
fn limited(data_kib: u64, args: &[&str]) -> Output {
    Command::new("sh")
        .args(["-c", &format!("ulimit -d {data_kib} && exec \"$0\" \"$@\"")])
        .arg(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .output()
        .unwrap()
}

fn rayblas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rayblas-ooc-{}-{name}", std::process::id()))
}

#[test]
fn a_file_larger_than_the_memory_limit_is_streamed_with_the_in_memory_answer() {
    // 1000 × 100000 f64 = 763 MiB, against a data limit of 512 MiB. (Not lower: OpenBLAS
    // reserves a 128 MiB buffer per calling thread, and under a limit that refuses it, it
    // retries forever.)
    let (m, k) = ("1000", "100000");
    let file = temp("big.npy");
    let f = file.to_str().unwrap();
    let o = rayblas(&["gen", "--m", m, "--n", k, "--out", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file_bytes = std::fs::metadata(&file).unwrap().len();
    assert!(file_bytes > 760 << 20);
    let limit_kib = 512 * 1024;

    // The same workload in memory does not fit under the limit: it is refused up front.
    let o = limited(limit_kib, &["run", "--op", "gram-sum", "--m", m, "--k", k]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("RLIMIT_DATA"), "{}", stderr(&o));

    for (op, strategy) in [
        ("gram-sum", "blocked"),
        ("gram-sum", "serial"),
        ("sum", "blocked"),
        ("norm", "native"),
    ] {
        let common = [
            "--op", op, "--repeat", "1", "--warmup", "0", "--format", "json",
        ];
        let streamed = json(&limited(
            limit_kib,
            &[
                &["run", "--input", f, "--strategy", strategy][..],
                &common[..],
            ]
            .concat(),
        ));
        let in_memory = json(&rayblas(
            &[
                &["run", "--m", m, "--k", k, "--strategy", strategy][..],
                &common[..],
            ]
            .concat(),
        ));
        let (s, r) = (
            streamed["result"].as_f64().unwrap(),
            in_memory["result"].as_f64().unwrap(),
        );
        assert!(
            (s - r).abs() <= 1e-10 * r.abs(),
            "{op} {strategy}: {s} vs {r}"
        );
        // Checked against the f64 reference too (a DIFFERS row exits 1, caught above).
        assert_eq!(streamed["agrees"], true);
        assert_eq!(streamed["input_file_bytes"].as_u64(), Some(file_bytes));
        // Resident memory: near two 64 MiB chunks, far below the file.
        let rss = streamed["peak_rss_bytes"].as_u64().unwrap();
        assert!(
            rss < file_bytes / 2,
            "{op} {strategy}: peak RSS {rss} of a {file_bytes}-byte file"
        );
    }
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn gen_refuses_what_does_not_fit_and_leaves_nothing_behind() {
    let file = temp("huge.npy");
    let o = rayblas(&["gen", "--n", "100000000", "--out", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("needs 71.1 PiB") && err.contains("free"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    assert!(!file.exists());
    let o = rayblas(&["gen", "--n", "10", "--out", "/nonexistent-dir/x.npy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
}

#[test]
fn bad_files_are_refused_with_what_is_wrong() {
    let file = temp("cut.npy");
    let f = file.to_str().unwrap();
    let o = rayblas(&["gen", "--m", "30", "--n", "40", "--out", f]);
    assert!(o.status.success());
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let o = rayblas(&["run", "--input", f, "--op", "sum"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("shorter than its header says") && err.contains("cut.npy"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(o.stdout.is_empty());
    std::fs::remove_file(&file).unwrap();
}
