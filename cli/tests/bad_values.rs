//! Guarantee "every CLI input path refuses bad values": each flag, the strategy grammar, the
//! environment variables rayblas reads, `.npy` inputs and outputs, and `gen`. A bad value exits
//! 2 with one line on stderr that names the value and says what is accepted, writes nothing
//! to stdout and leaves no file behind. (Values clap itself rejects, such as `--dtype f16`,
//! keep clap's message, which names the value and lists the possible ones: see `cli.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rayblas(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rayblas"));
    c.args(args).env("RAYBLAS_QUICK_LIMITS", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run rayblas")
}

/// A directory of its own for this test's files, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("rayblas-bad-values-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn write_npy(path: &Path, rows: usize, cols: usize) {
    let a = ndarray::Array2::<f64>::from_shape_fn((rows, cols), |(i, j)| (i + j) as f64);
    ndarray_npy::write_npy(path, &a).unwrap();
}

#[test]
fn guarantee_every_cli_input_path_refuses_bad_values() {
    let dir = Scratch::new();
    let a = dir.path("a.npy");
    let b = dir.path("b.npy");
    write_npy(Path::new(&a), 30, 20);
    write_npy(Path::new(&b), 21, 5);
    let truncated = dir.path("truncated.npy");
    let bytes = std::fs::read(&a).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let not_npy = dir.path("notes.npy");
    std::fs::write(&not_npy, b"just text").unwrap();
    let out = dir.path("out.npy");
    let gone = dir.path("missing/out.npy");

    // (environment, arguments, what stderr must say: the value and what is accepted)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<&'a str>);
    let mut cases: Vec<Case> = vec![
        // Sizes and shapes.
        (vec![], vec!["run", "--n", "0"], vec!["m=0", "at least 1"]),
        (vec![], vec!["run", "--k", "0"], vec!["k=0", "at least 1"]),
        (
            vec![],
            vec!["run", "--block", "0x5"],
            vec!["0x5", "at least 1"],
        ),
        (vec![], vec!["run", "--block", "abc"], vec!["`abc`", "RxC"]),
        (
            vec![],
            vec!["run", "--calls", "rows"],
            vec!["`rows`", "strips or tiles"],
        ),
        (
            vec![],
            vec!["run", "--repeat", "0"],
            vec!["--repeat", "1 to 1000", "got 0"],
        ),
        (
            // Found by tests/arg_properties.rs: a count this large overflowed the number of
            // measuring processes (a panic in sweep).
            vec![],
            vec!["sweep", "--repeat", "18446744073709551615"],
            vec!["--repeat", "1 to 1000", "got 18446744073709551615"],
        ),
        (
            vec![],
            vec!["run", "--warmup", "1001"],
            vec!["--warmup", "0 to 1000", "got 1001"],
        ),
        (
            vec![],
            vec!["run", "--peak", "0"],
            vec!["got 0", "positive"],
        ),
        (
            vec![],
            vec!["run", "--peak", "nan"],
            vec!["NaN", "positive"],
        ),
        // The strategy grammar.
        (
            vec![],
            vec!["run", "--strategy", "fast"],
            vec!["`fast`", "expected native"],
        ),
        (
            vec![],
            vec!["run", "--strategy", "native:0"],
            vec!["`native:0`", "at least 1"],
        ),
        (
            vec![],
            vec!["run", "--strategy", "blocked:2+pinn"],
            vec!["`blocked:2+pinn`", "expected native"],
        ),
        (
            vec![],
            vec!["run", "--strategy", "hybrid:2"],
            vec!["`hybrid:2`", "WORKERSxTHREADS"],
        ),
        (
            vec![],
            vec!["compare", "--strategies", "native,,blocked"],
            vec!["`native,,blocked`", "empty item"],
        ),
        (
            vec![],
            vec!["sweep", "--workers", "1,,2"],
            vec!["`1,,2`", "empty item"],
        ),
        (
            vec![],
            vec!["sweep", "--blocks", "0"],
            vec!["0x0", "at least 1"],
        ),
        // Options the op or the command would ignore.
        (
            vec![],
            vec!["run", "--op", "sum", "--block", "100"],
            vec!["--block", "does not apply"],
        ),
        (
            vec![],
            vec!["run", "--op", "sum", "--output", &out],
            vec!["--output", "matmul and gram"],
        ),
        (
            vec![],
            vec!["sweep", "--output", &out],
            vec!["--output", "--out"],
        ),
        // Environment variables.
        (
            vec![("RAYBLAS_STRATEGY", "bogus")],
            vec!["run", "--n", "8"],
            vec!["RAYBLAS_STRATEGY", "`bogus`", "expected native"],
        ),
        (
            vec![("RAYBLAS_SIMD", "avx9")],
            vec!["run", "--n", "8"],
            vec!["RAYBLAS_SIMD", "`avx9`", "expected scalar"],
        ),
        (
            vec![("RAYON_NUM_THREADS", "x")],
            vec!["run", "--n", "8"],
            vec!["RAYON_NUM_THREADS", "`x`", "positive integer"],
        ),
        // .npy inputs.
        (
            vec![],
            vec!["run", "--input", "/nonexistent/a.npy"],
            vec!["/nonexistent/a.npy", "No such file"],
        ),
        (
            vec![],
            vec!["run", "--input", dir.0.to_str().unwrap()],
            vec![dir.0.to_str().unwrap(), "is a directory"],
        ),
        (
            vec![],
            vec!["run", "--input", &truncated, "--op", "sum"],
            vec!["truncated.npy", "shorter than its header"],
        ),
        (vec![], vec!["run", "--input", &not_npy], vec!["notes.npy"]),
        (
            vec![],
            vec!["run", "--input", &a, "--dtype", "f32"],
            vec!["a.npy", "<f8", "--dtype"],
        ),
        (
            vec![],
            vec!["run", "--input", &a, "--input-b", &b, "--op", "matmul"],
            vec!["30x20", "21x5"],
        ),
        (
            vec![],
            vec!["run", "--input", &a, "--n", "7"],
            vec!["--n", "does not apply"],
        ),
        // Outputs.
        (
            vec![],
            vec!["run", "--input", &a, "--op", "gram", "--output", &gone],
            vec!["missing", "not a directory"],
        ),
        (
            vec![],
            vec!["run", "--input", &a, "--op", "gram", "--output", &a],
            vec!["a.npy", "--input", "another file"],
        ),
        (
            vec![],
            vec!["compare", "--replay", "/nonexistent.jsonl"],
            vec!["/nonexistent.jsonl", "No such file"],
        ),
        // gen.
        (
            vec![],
            vec!["gen", "--n", "0", "--out", &out],
            vec!["n=0", "at least 1"],
        ),
        (
            vec![],
            vec!["gen", "--n", "10", "--m", "0", "--out", &out],
            vec!["m=0", "at least 1"],
        ),
        (
            vec![],
            vec!["gen", "--n", "10", "--out", &gone],
            vec!["missing", "not a directory"],
        ),
    ];
    // MPI ranks: the grammar and --ranks always; without the `mpi` feature every use of ranks
    // says how to get it; with it, the ops and options ranks do not run and a missing mpirun.
    cases.extend([
        (
            vec![],
            vec!["compare", "--op", "gram-sum", "--n", "8", "--ranks", "0"],
            vec!["--ranks", "0", "1 to 1024"],
        ),
        (
            vec![],
            vec!["compare", "--op", "gram-sum", "--n", "8", "--ranks", "1,,2"],
            vec!["`1,,2`", "empty item"],
        ),
        (
            vec![],
            vec!["run", "--op", "gram-sum", "--n", "8", "--strategy", "mpi:2"],
            vec!["`mpi:2`", "mpi:R+LOCAL"],
        ),
        (
            vec![],
            vec![
                "run",
                "--op",
                "gram-sum",
                "--n",
                "8",
                "--strategy",
                "mpi:2+fast",
            ],
            vec!["`fast`", "expected native"],
        ),
        (
            vec![],
            vec![
                "compare",
                "--strategies",
                "mpi:2+serial",
                "--ranks",
                "2",
                "--n",
                "8",
            ],
            vec!["`mpi:2+serial`", "already on ranks"],
        ),
    ]);
    if cfg!(feature = "mpi") {
        cases.extend([
            (
                vec![],
                vec![
                    "run",
                    "--op",
                    "norm",
                    "--n",
                    "8",
                    "--strategy",
                    "mpi:2+serial",
                ],
                vec!["norm", "does not run on ranks", "gram-sum"],
            ),
            (
                vec![("RAYBLAS_MPIRUN", "/nonexistent/mpirun")],
                vec!["compare", "--op", "gram-sum", "--n", "8", "--ranks", "2"],
                vec!["RAYBLAS_MPIRUN=/nonexistent/mpirun", "path of mpirun"],
            ),
            (
                vec![("PATH", "/nonexistent")],
                vec!["compare", "--op", "gram-sum", "--n", "8", "--ranks", "2"],
                vec!["mpirun is not on PATH", "openmpi-bin"],
            ),
        ]);
    } else {
        cases.push((
            vec![],
            vec!["compare", "--op", "gram-sum", "--n", "8", "--ranks", "1,2"],
            vec!["`mpi:1+", "built without", "--features mpi"],
        ));
    }
    // The library's own thread variable, where it has one (netlib has none).
    if let Some(var) = rayblas::blas::THREAD_ENV.first() {
        cases.push((
            vec![(var, "two")],
            vec!["run", "--n", "8", "--strategy", "native"],
            vec![var, "`two`", "positive integer"],
        ));
    }
    if rayblas::blas::run_blas_threads_on_rayon().is_err() {
        cases.push((
            vec![],
            vec!["run", "--strategy", "native+rayon", "--n", "8"],
            vec!["native+rayon", "0.3.28"],
        ));
    }
    let before = dir.files();
    for (env, args, says) in &cases {
        let o = rayblas(env, args);
        let err = String::from_utf8_lossy(&o.stderr);
        let at = format!("{env:?} {args:?}");
        assert_eq!(o.status.code(), Some(2), "{at}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{at}: one line expected:\n{err}"
        );
        assert!(err.starts_with("rayblas: error: "), "{at}: {err}");
        for s in says {
            assert!(err.contains(s), "{at}: `{s}` not in: {err}");
        }
        assert!(o.stdout.is_empty(), "{at}: wrote to stdout");
        assert_eq!(dir.files(), before, "{at}: left a file behind");
    }
}
