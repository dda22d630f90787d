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
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .output()
        .unwrap()
}

fn rayblas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .env("RAYBLAS_QUICK_LIMITS", "1")
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

/// `rayblas args…` under the `ulimit` option `limit` (e.g. `-f 10240`).
fn under(limit: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .args(["-c", &format!("ulimit {limit} && exec \"$0\" \"$@\"")])
        .arg(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env_remove("RAYBLAS_STRATEGY")
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .output()
        .unwrap()
}

/// Files in the temporary directory whose names contain `stem` (outputs and partial files).
fn files_named(stem: &str) -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(stem))
        .collect()
}

#[test]
fn a_product_larger_than_the_memory_limit_is_written_to_a_file_block_by_block() {
    // X is 12000 × 500 f64 (48 MB); X·Xᵀ is 12000² f64 = 1.07 GiB, against a 768 MiB data
    // limit (the output's shared file mapping does not count in it, its resident pages do in
    // RSS, which is checked).
    let (m, k) = ("12000", "500");
    let limit_kib = 768 * 1024;
    let input = temp("wide.npy");
    let x = input.to_str().unwrap();
    assert!(rayblas(&["gen", "--m", m, "--n", k, "--out", x])
        .status
        .success());
    let output = temp("product.npy");
    let out = output.to_str().unwrap();
    let out_bytes = 12000 * 12000 * 8 + 128;
    let common = ["--repeat", "1", "--warmup", "0", "--format", "json"];
    for (op, strategy) in [("gram", "blocked"), ("matmul", "native")] {
        // In memory, the product alone would not fit under the limit: refused up front (on
        // every backend, not only where OpenBLAS's buffers tip it over). Random matmul inputs
        // need n given: its default (4000) would make a smaller product.
        let sizes: &[&str] = if op == "matmul" {
            &["--m", m, "--k", k, "--n", m]
        } else {
            &["--m", m, "--k", k]
        };
        let o = limited(limit_kib, &[&["run", "--op", op][..], sizes].concat());
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("RLIMIT_DATA"), "{}", stderr(&o));
        let written = json(&limited(
            limit_kib,
            &[
                &[
                    "run",
                    "--op",
                    op,
                    "--input",
                    x,
                    "--output",
                    out,
                    "--strategy",
                    strategy,
                ][..],
                &common[..],
            ]
            .concat(),
        ));
        // Freivalds' test ran on the file (a wrong product exits 1 and fails `json`).
        assert_eq!(written["agrees"], true);
        assert_eq!(written["output"], out);
        assert_eq!(written["output_file_bytes"].as_u64(), Some(out_bytes));
        assert_eq!(std::fs::metadata(&output).unwrap().len(), out_bytes);
        let rss = written["peak_rss_bytes"].as_u64().unwrap();
        assert!(
            rss < out_bytes / 2,
            "{op} {strategy}: peak RSS {rss} writing a {out_bytes}-byte output"
        );
        // Without --input-b, matmul's B is Aᵀ: both products are X·Xᵀ.
        let in_memory = json(&rayblas(
            &[
                &[
                    "run",
                    "--op",
                    "gram",
                    "--m",
                    m,
                    "--k",
                    k,
                    "--strategy",
                    strategy,
                ][..],
                &common[..],
            ]
            .concat(),
        ));
        let (w, r) = (
            written["result"].as_f64().unwrap(),
            in_memory["result"].as_f64().unwrap(),
        );
        assert!((w - r).abs() <= 1e-10 * r.abs(), "{op}: {w} vs {r}");
        let map = rayblas::mapped::NpyMap::<f64>::open(&output).unwrap();
        assert_eq!(map.dim(), (12000, 12000));
        let v = map.view();
        assert_eq!(v[(17, 11500)], v[(11500, 17)]);
    }
    assert!(files_named("partial")
        .iter()
        .all(|n| !n.contains("product.npy")));
    std::fs::remove_file(&output).unwrap();
    std::fs::remove_file(&input).unwrap();
}

#[test]
fn an_output_that_cannot_be_written_is_refused_and_leaves_no_file() {
    let stem = format!("rayblas-ooc-{}-refused", std::process::id());
    let output = std::env::temp_dir().join(format!("{stem}.npy"));
    let out = output.to_str().unwrap();
    let refused = |o: &Output, says: &str| {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "wanted {says:?} in {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(o.stdout.is_empty());
        assert_eq!(files_named(&stem), Vec::<String>::new());
    };
    refused(
        &rayblas(&["run", "--op", "sum", "--n", "10", "--output", out]),
        "--output does not apply here: sum has no matrix to write",
    );
    refused(
        &rayblas(&[
            "run",
            "--op",
            "gram",
            "--n",
            "10",
            "--output",
            "/nonexistent-dir/g.npy",
        ]),
        "is not a directory",
    );
    // A 3000000 × 1 input makes a 65.5 TiB Gram matrix.
    let tall = temp("tall.npy");
    let t = tall.to_str().unwrap();
    assert!(rayblas(&["gen", "--m", "3000000", "--n", "1", "--out", t])
        .status
        .success());
    refused(
        &rayblas(&["run", "--op", "gram", "--input", t, "--output", out]),
        "needs 65.5 TiB on disk",
    );
    // The disk has room, but a file-size limit (10 MiB) stops the 32 MB reservation, as a
    // full disk would: exit 2, the temporary file removed.
    let small = temp("small.npy");
    let s = small.to_str().unwrap();
    assert!(rayblas(&["gen", "--m", "2000", "--n", "10", "--out", s])
        .status
        .success());
    refused(
        &under(
            "-f 10240",
            &[
                "run", "--op", "gram", "--input", s, "--output", out, "--repeat", "1",
            ],
        ),
        "File too large",
    );
    std::fs::remove_file(&tall).unwrap();
    std::fs::remove_file(&small).unwrap();
}
