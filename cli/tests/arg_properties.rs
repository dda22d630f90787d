//! Guarantee "no panic from the CLI, whatever the arguments", as a property test: random
//! argument vectors drawn from every flag of `run`, `compare` and `sweep` (valid values, edge
//! values and junk), in random order and number, with random values of the environment
//! variables rayblas reads, each run with `--dry-run`, which makes every check a real run makes
//! (arguments, strategies, environment, input files, memory, output room) and stops before
//! measuring. Each case must:
//! - end within a time limit (no hang);
//! - exit 0 (accepted: one `dry run:` line on stdout) or 2 (refused: nothing on stdout), never
//!   101 (a panic) or a signal;
//! - print no panic message or backtrace hint;
//! - when refused by rayblas itself, say so in one line (`rayblas: error: …`; clap's own
//!   messages keep clap's format);
//! - leave no file behind.
//!
//! Running the accepted workloads is the job of the `ops` fuzz target (`fuzz/`), which drives
//! the library with random shapes, blocks and strategies. `RAYBLAS_ARG_CASES` sets the number of
//! cases (default 300); `RAYBLAS_ARG_SEED` the first seed.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A case that takes longer than this has hung (a dry run takes milliseconds).
const CASE_LIMIT: Duration = Duration::from_secs(60);

const OPS: &[&str] = &[
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
    "GRAM",
    "",
    "trace",
];
const SIZES: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "64",
    "500",
    "1000",
    "10000",
    "99999999",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    "",
    "1e3",
    "0x10",
    " 5",
    "5 ",
    "abc",
    "٣",
];
const BLOCKS: &[&str] = &[
    "1",
    "16",
    "250",
    "500",
    "16x8",
    "1x1000000",
    "0",
    "0x5",
    "5x0",
    "x",
    "8x",
    "x8",
    "8x8x8",
    "1000000000000",
    "18446744073709551615x2",
    "-3",
    "",
    "auto",
];
const STRATEGIES: &[&str] = &[
    "native",
    "blocked",
    "serial",
    "hybrid:1x2",
    "hybrid:2x1",
    "blocked:1",
    "blocked:3",
    "native:1",
    "native+rayon",
    "blocked:0",
    "native:100000",
    "hybrid:0x2",
    "hybrid:2x",
    "hybrid:x",
    "hybrid",
    "blocked:-1",
    "blocked:18446744073709551616",
    "fast",
    "",
    " blocked ",
    "BLOCKED",
];
const COUNTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "1000000",
    "18446744073709551615",
    "-1",
    "",
    "x",
];
const PEAKS: &[&str] = &[
    "10", "0", "-5", "nan", "NaN", "inf", "-inf", "1e300", "1e-300", "", "ten",
];
const SIMD: &[&str] = &["avx512", "avx2", "sse2", "scalar", "avx9", "", "AVX2"];

fn pick<'a>(rng: &mut SmallRng, pool: &[&'a str]) -> &'a str {
    pool[rng.random_range(0..pool.len())]
}

/// A comma-separated list of 1–4 items of `pool`, sometimes with an empty item.
fn list(rng: &mut SmallRng, pool: &[&str]) -> String {
    let n = rng.random_range(1..=4);
    let mut items: Vec<&str> = (0..n).map(|_| pick(rng, pool)).collect();
    if rng.random_ratio(1, 8) {
        items.push("");
    }
    items.join(",")
}

/// Files a case may name: a valid input, broken ones, a directory, missing paths and outputs.
struct Files {
    dir: PathBuf,
    paths: Vec<String>,
}

impl Files {
    fn new() -> Files {
        let dir = std::env::temp_dir().join(format!("rayblas-arg-props-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a-directory")).unwrap();
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        let a = ndarray::Array2::<f64>::from_shape_fn((6, 5), |(i, j)| (i * 5 + j) as f64);
        ndarray_npy::write_npy(path("a.npy"), &a).unwrap();
        let b = ndarray::Array2::<f32>::from_shape_fn((5, 4), |(i, j)| (i + j) as f32);
        ndarray_npy::write_npy(path("b32.npy"), &b).unwrap();
        let whole = std::fs::read(path("a.npy")).unwrap();
        std::fs::write(path("truncated.npy"), &whole[..whole.len() - 9]).unwrap();
        std::fs::write(path("text.npy"), "not a numpy file\n").unwrap();
        std::fs::write(path("empty.npy"), "").unwrap();
        let paths = [
            "a.npy",
            "b32.npy",
            "truncated.npy",
            "text.npy",
            "empty.npy",
            "a-directory",
            "missing.npy",
            "out.npy",
            "sub/missing/out.npy",
        ]
        .iter()
        .map(|n| path(n))
        .chain(["".to_string(), "/".to_string()])
        .collect();
        Files { dir, paths }
    }

    fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = walk(&self.dir);
        v.sort();
        v
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.display().to_string());
        if p.is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One random case: the arguments and the environment.
fn case(rng: &mut SmallRng, files: &Files) -> (Vec<String>, Vec<(&'static str, String)>) {
    let command = match rng.random_range(0..20) {
        0..=6 => "run",
        7..=13 => "compare",
        14..=17 => "sweep",
        18 => "gen",
        _ => "frobnicate",
    };
    let mut flags: Vec<String> = Vec::new();
    let path = |rng: &mut SmallRng| files.paths[rng.random_range(0..files.paths.len())].clone();
    for _ in 0..rng.random_range(0..=7) {
        let (flag, value) = match rng.random_range(0..22) {
            0 | 1 => ("--op", pick(rng, OPS).to_string()),
            2 => ("--n", pick(rng, SIZES).to_string()),
            3 => ("--m", pick(rng, SIZES).to_string()),
            4 => ("--k", pick(rng, SIZES).to_string()),
            5 | 6 => ("--block", pick(rng, BLOCKS).to_string()),
            7 => (
                "--calls",
                pick(rng, &["strips", "tiles", "Tiles", "rows", ""]).to_string(),
            ),
            8 => ("--dtype", pick(rng, &["f64", "f32", "f16", ""]).to_string()),
            9 => ("--seed", pick(rng, SIZES).to_string()),
            10 => ("--strategy", pick(rng, STRATEGIES).to_string()),
            11 | 12 => ("--strategies", list(rng, STRATEGIES)),
            13 => ("--repeat", pick(rng, COUNTS).to_string()),
            14 => ("--warmup", pick(rng, COUNTS).to_string()),
            15 => ("--peak", pick(rng, PEAKS).to_string()),
            16 => ("--input", path(rng)),
            17 => ("--input-b", path(rng)),
            18 => ("--output", path(rng)),
            19 => (
                "--format",
                pick(rng, &["table", "json", "csv", "xml"]).to_string(),
            ),
            20 => match rng.random_range(0..4) {
                0 => ("--blocks", list(rng, BLOCKS)),
                1 => ("--workers", list(rng, COUNTS)),
                2 => ("--out", path(rng)),
                _ => ("--replay", path(rng)),
            },
            _ => (
                pick(
                    rng,
                    &["--frobnicate", "-x", "--", "--n=3", "--keep-blas-core"],
                ),
                String::new(),
            ),
        };
        flags.push(flag.to_string());
        if !value.is_empty() || rng.random_ratio(1, 4) {
            flags.push(value);
        }
    }
    // Small sizes by default, so that an accepted workload's checks stay cheap; the random
    // flags above may override them (clap keeps the last).
    let mut args: Vec<String> = Vec::new();
    args.push(command.into());
    if command != "gen" && rng.random_bool(0.7) {
        args.extend(["--n".into(), "64".into()]);
    }
    args.extend(flags);
    // `gen` takes no --dry-run: clap refuses it (exit 2), so gen never writes a file here.
    args.push("--dry-run".into());
    let mut env = Vec::new();
    if rng.random_ratio(1, 5) {
        env.push(("RAYBLAS_STRATEGY", pick(rng, STRATEGIES).to_string()));
    }
    if rng.random_ratio(1, 5) {
        env.push(("RAYBLAS_SIMD", pick(rng, SIMD).to_string()));
    }
    if rng.random_ratio(1, 5) {
        env.push(("RAYON_NUM_THREADS", pick(rng, COUNTS).to_string()));
    }
    (args, env)
}

#[test]
fn guarantee_random_cli_arguments_never_panic_hang_or_write() {
    let cases: u64 = std::env::var("RAYBLAS_ARG_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let first: u64 = std::env::var("RAYBLAS_ARG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let files = Files::new();
    let before = files.listing();
    let (mut accepted, mut refused) = (0u64, 0u64);
    let started = Instant::now();
    for seed in first..first + cases {
        let mut rng = SmallRng::seed_from_u64(seed);
        let (args, env) = case(&mut rng, &files);
        let what = format!("seed {seed}: env {env:?} args {args:?}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rayblas"));
        cmd.args(&args)
            .current_dir(&files.dir)
            .env_remove("RAYBLAS_STRATEGY")
            .env("RAYBLAS_QUICK_LIMITS", "1")
            .env_remove("RAYBLAS_SIMD")
            .env_remove("RAYON_NUM_THREADS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start rayblas");
        let t = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if t.elapsed() > CASE_LIMIT {
                let _ = child.kill();
                panic!("{what}: still running after {CASE_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let out = child.wait_with_output().expect("output");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
            "{what}: a panic:\n{stderr}"
        );
        match out.status.code() {
            Some(0) => {
                accepted += 1;
                assert!(
                    stdout.lines().all(|l| l.starts_with("dry run: ")) && !stdout.is_empty(),
                    "{what}: accepted, but stdout is not the dry run's lines:\n{stdout}"
                );
            }
            Some(2) => {
                refused += 1;
                assert!(
                    stdout.is_empty(),
                    "{what}: refused, yet wrote stdout:\n{stdout}"
                );
                if stderr.starts_with("rayblas: error:") {
                    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}:\n{stderr}");
                } else {
                    // clap's own refusal: its format, which starts with `error:`.
                    assert!(stderr.starts_with("error:"), "{what}:\n{stderr}");
                }
            }
            other => panic!("{what}: exit {other:?} (signal or unexpected code)\n{stderr}"),
        }
        assert_eq!(files.listing(), before, "{what}: left a file behind");
    }
    eprintln!(
        "{cases} cases (seeds {first}..{}): {accepted} accepted, {refused} refused, in {:.1} s",
        first + cases,
        started.elapsed().as_secs_f64()
    );
    // The generator reaches both sides: a test that only ever saw refusals would prove little.
    assert!(
        accepted * 20 >= cases,
        "only {accepted} of {cases} accepted"
    );
    assert!(refused * 20 >= cases, "only {refused} of {cases} refused");
}
