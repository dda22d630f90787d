//! `cargo xtask test`: every check the project makes, in tiers, each step timed.
//!
//! # Tiers: which test runs where, and why
//!
//! A test lands in the tier of what it checks. What passes through the backend boundary (an
//! op, a dtype, a layout, a strategy, thread control, faults, NaN, concurrency: anything whose
//! answer or behaviour depends on the linked BLAS) runs on **every backend**; what does not
//! (argument parsing, reports, files, documentation examples) runs **once**, on the default
//! backend, where it still goes through a real BLAS.
//!
//! | tier | what runs | where a new test goes |
//! |---|---|---|
//! | once | `cargo fmt --check`; `cargo doc` with warnings and broken links as errors; clippy of the fuzz targets and of xtask; the library's doctests; the CLI's whole suite (`cli/tests/*.rs`, its unit tests); xtask's tests; two backends at once refused; the dependency budget; `cargo package` | a CLI behaviour, a report, a file format, an example |
//! | every backend (5) | clippy `-D warnings` on the library and the CLI, all targets; the library's unit tests and every test target in `tests/` (each `*.rs`, and `library/`, the tests that change nothing process-wide, as one binary); the CLI's smoke test (`cli/tests/smoke.rs`: `info`, one `compare` of every default strategy against a reference, one bad input) | a library test: any file in `tests/` is picked up here by itself |
//! | every run-time library build (6) | the backend's own test binaries `library` (its `matmul::` and `reductions::` tests), `threads` and `concurrency`, run again with `LD_LIBRARY_PATH` on Debian's pthreads, OpenMP and serial builds of OpenBLAS and BLIS (no rebuild), after checking that the build loaded reports its threading layer | a test whose answer depends on the library's threading layer: add it to [`VARIANT_TESTS`] |
//! | mpi | clippy with `mpi`; `tests/mpi.rs` (1, 2, 4 and 8 ranks under `mpirun`), the library's unit tests and doctests with `mpi`; the CLI's `ranks.rs`, `bad_values.rs` and unit tests with `mpi`; the docs with `mpi` | anything under `mpirun` |
//! | python | the package built and installed by `pip install ./python` into a venv with pinned numpy, threadpoolctl, pytest and dask (`target/python-venv`); clippy on `python/`; pytest on `python/tests/` (every function against numpy, the GIL, errors, threadpoolctl, `python -m rayblas compare`) | anything a Python user calls |
//! | native-threading | `tests/strategy.rs` and `tests/library/matmul.rs` with `native` as the compiled default | a test of the default strategy |
//!
//! Every step that runs tests must run at least one, and every step of the plan must have run
//! before the command passes: a step skipped by a change to this file fails with a line naming
//! it. The per-backend steps use one package set and one feature set, so the run-time library
//! steps reuse the binaries those steps built.

use crate::{cargo, multiarch, root, setup, BACKENDS};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The backend whose build runs the "once" tier.
const DEFAULT_BACKEND: &str = "openblas-system";

/// Builds of a backend's library that `test` switches to at run time (`LD_LIBRARY_PATH`, no
/// rebuild): the backend feature, the directory under `/usr/lib/<multiarch>/`, and the threading
/// layer the library must then report (so a run that silently loaded another build fails).
pub const RUNTIME_VARIANTS: &[(&str, &str, &str)] = &[
    ("openblas-system", "openblas-pthread", "pthreads"),
    ("openblas-system", "openblas-openmp", "openmp"),
    ("openblas-system", "openblas-serial", "serial"),
    ("blis-system", "blis-pthread", "pthreads"),
    ("blis-system", "blis-openmp", "openmp"),
    ("blis-system", "blis-serial", "serial"),
];

/// The library's tests run against every run-time variant, as (test binary, name filters):
/// results, thread control, reductions, and mixed strategies from several threads.
pub const VARIANT_TESTS: &[(&str, &[&str])] = &[
    ("library", &["matmul::", "reductions::"]),
    ("threads", &[]),
    ("concurrency", &[]),
];

/// The Python packages the Python tests run with (the package itself is built from
/// `python/`): the build tool, numpy, the thread-pool controller, the test runner, and dask for
/// `python -m rayblas compare`'s peer.
const PYTHON_TEST_PACKAGES: &[&str] = &[
    "maturin==1.16.0",
    "numpy==2.4.6",
    "threadpoolctl==3.8.0",
    "pytest==9.2.0",
    "dask[array]==2026.8.0",
];

/// The CLI's test file that runs on every backend; the CLI's other test files run once.
const CLI_SMOKE_TEST: &str = "smoke";

/// The steps of the plan, each named as it is printed, in order.
fn planned_steps() -> Vec<String> {
    let mut steps: Vec<String> = [
        "setup",
        "fmt",
        "doc",
        "clippy (fuzz targets)",
        "clippy (xtask)",
        "tests (xtask)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for backend in BACKENDS {
        steps.push(format!("clippy ({backend})"));
        steps.push(format!("tests ({backend})"));
        for &(b, dir, threading) in RUNTIME_VARIANTS {
            if b == *backend {
                steps.push(format!("tests against {dir} ({threading})"));
            }
        }
    }
    steps.extend(
        [
            "clippy (mpi)",
            "tests (mpi: library, 1, 2, 4 and 8 ranks under mpirun)",
            "doctests (mpi)",
            "CLI tests (mpi)",
            "doc (mpi)",
            "tests (native-threading default)",
            "python package (pip install ./python)",
            "clippy (python)",
            "tests (python)",
            "two backends at once are refused",
            "dependency budget",
            "cargo package",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    steps
}

/// Test steps that already passed on exactly these inputs, as Go's test cache does: a second
/// `cargo xtask test` with nothing changed reports them instead of running them again.
///
/// The key of a step is its name and commands plus everything its outcome can depend on: the
/// commit, every uncommitted change and untracked file, the toolchain, the system libraries'
/// package versions, the scipy-openblas wheel, the CPU, and the environment variables that
/// rayblas, its libraries and its tests read. A change to any of them runs the step again.
/// `cargo xtask test --no-cache` (and every CI run, from a fresh clone) runs every step.
struct Cache {
    dir: Option<PathBuf>,
    inputs: u64,
}

impl Cache {
    fn new(enabled: bool) -> Result<Self, String> {
        if !enabled {
            return Ok(Cache {
                dir: None,
                inputs: 0,
            });
        }
        Ok(Cache {
            dir: Some(root().join("target/xtask-test-cache")),
            inputs: inputs_hash()?,
        })
    }

    fn key(&self, name: &str, commands: &[Command]) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.inputs.hash(&mut h);
        name.hash(&mut h);
        for c in commands {
            format!("{c:?}").hash(&mut h);
        }
        h.finish()
    }

    /// The passed count recorded for `key`, if the step passed with these inputs before.
    fn passed(&self, key: u64) -> Option<usize> {
        let dir = self.dir.as_ref()?;
        std::fs::read_to_string(dir.join(format!("{key:016x}")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Records a pass, unless the inputs changed while the step ran (a file edited during the
    /// run: the pass then belongs to neither state).
    fn record(&self, key: u64, passed: usize) {
        if let Some(dir) = &self.dir {
            if inputs_hash().ok() != Some(self.inputs) {
                eprintln!("xtask: the sources changed during this run: the pass is not cached");
                return;
            }
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join(format!("{key:016x}")), passed.to_string());
        }
    }
}

/// A hash of what a test's outcome can depend on besides its command (see [`Cache`]).
fn inputs_hash() -> Result<u64, String> {
    let mut h = std::hash::DefaultHasher::new();
    let output = |program: &str, args: &[&str]| -> Result<Vec<u8>, String> {
        let out = Command::new(program)
            .args(args)
            .current_dir(root())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        Ok(out.stdout)
    };
    output("git", &["rev-parse", "HEAD"])?.hash(&mut h);
    output("git", &["diff", "HEAD", "--binary"])?.hash(&mut h);
    let untracked = output("git", &["ls-files", "--others", "--exclude-standard", "-z"])?;
    for path in untracked.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let path = String::from_utf8_lossy(path).into_owned();
        path.hash(&mut h);
        std::fs::read(root().join(&path))
            .unwrap_or_default()
            .hash(&mut h);
    }
    output("rustc", &["-vV"])?.hash(&mut h);
    let mut dpkg = vec![
        "-W",
        "-f=${Package} ${Version}\n",
        "libopenblas0",
        "libblis4",
        "libblas3",
        "openmpi-bin",
    ];
    dpkg.extend(crate::VARIANT_PACKAGES);
    output("dpkg-query", &dpkg).unwrap_or_default().hash(&mut h);
    let mut wheel: Vec<String> = crate::cache_dir()
        .ok()
        .and_then(|d| std::fs::read_dir(d.join("download")).ok())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    wheel.sort();
    wheel.hash(&mut h);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    for key in ["model name", "flags"] {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_default()
            .hash(&mut h);
    }
    let prefixes = [
        "RAYBLAS_",
        "OPENBLAS_",
        "BLIS_",
        "OMP_",
        "RAYON_",
        "PROPTEST_",
        "OMPI_",
        "RUST",
        "CARGO_",
    ];
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p)) || k == "LD_LIBRARY_PATH")
        .collect();
    vars.sort();
    vars.hash(&mut h);
    Ok(h.finish())
}

/// The steps run so far, with their times.
struct Steps {
    started: Instant,
    done: Vec<(String, f64, Option<usize>, bool)>,
    cache: Cache,
}

impl Steps {
    fn new(cache: Cache) -> Self {
        Steps {
            started: Instant::now(),
            done: Vec::new(),
            cache,
        }
    }

    fn record(&mut self, name: &str, t: Instant, tests: Option<usize>, cached: bool) {
        let s = t.elapsed().as_secs_f64();
        eprintln!(
            "xtask: [{s:7.1} s, {:7.1} s in all] {name}{}",
            self.started.elapsed().as_secs_f64(),
            if cached {
                " (passed before with these inputs: cached)"
            } else {
                ""
            }
        );
        self.done.push((name.to_string(), s, tests, cached));
    }

    /// Runs a step that is not a test run.
    fn run(&mut self, name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        eprintln!("xtask: {name}");
        let t = Instant::now();
        f().map_err(|e| format!("{name}: {e}"))?;
        self.record(name, t, None, false);
        Ok(())
    }

    /// [`Steps::run`] for a step that depends on nothing but the inputs the cache hashes (the
    /// package check): reported as cached when it passed before with these inputs.
    fn run_cached(
        &mut self,
        name: &str,
        f: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        let key = self.cache.key(name, &[]);
        if self.cache.passed(key).is_some() {
            eprintln!("xtask: {name}");
            self.record(name, Instant::now(), None, true);
            return Ok(());
        }
        self.run(name, f)?;
        self.cache.record(key, 0);
        Ok(())
    }

    /// Runs a command that runs tests (cargo test, or test binaries), echoing its output, and
    /// fails if it fails or ran no test at all.
    fn tests(&mut self, name: &str, commands: Vec<Command>) -> Result<(), String> {
        eprintln!("xtask: {name}");
        let t = Instant::now();
        let key = self.cache.key(name, &commands);
        if let Some(passed) = self.cache.passed(key) {
            self.record(name, t, Some(passed), true);
            return Ok(());
        }
        let mut passed = 0;
        for c in commands {
            passed += run_counting_tests(c).map_err(|e| format!("{name}: {e}"))?;
        }
        if passed == 0 {
            return Err(format!(
                "{name}: no test ran (a filter that matches nothing?)"
            ));
        }
        self.cache.record(key, passed);
        self.record(name, t, Some(passed), false);
        Ok(())
    }

    /// Fails naming every planned step that did not run; prints the time of each step and the
    /// total.
    fn finish(&self) -> Result<(), String> {
        eprintln!("\nxtask: steps, seconds, tests passed:");
        for (name, s, tests, cached) in &self.done {
            let tests = tests.map(|n| n.to_string()).unwrap_or_default();
            let cached = if *cached { " (cached)" } else { "" };
            eprintln!("  {s:7.1}  {tests:>5}  {name}{cached}");
        }
        let total = self.started.elapsed().as_secs_f64();
        let passed: usize = self.done.iter().filter_map(|d| d.2).sum();
        let cached = self.done.iter().filter(|d| d.3).count();
        eprintln!(
            "  {total:7.1}  {passed:>5}  total ({:.1} min; {cached} test steps cached, \
             `cargo xtask test --no-cache` runs them all)",
            total / 60.0
        );
        let missing: Vec<String> = planned_steps()
            .into_iter()
            .filter(|p| !self.done.iter().any(|d| &d.0 == p))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "these steps of the tier list did not run: {}",
                missing.join("; ")
            ));
        }
        Ok(())
    }
}

/// Runs `c` with its stdout echoed, adding up the `passed` counts of libtest's `test result:`
/// lines.
fn run_counting_tests(mut c: Command) -> Result<usize, String> {
    let mut child = c
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut passed = 0;
    let stdout = child.stdout.take().expect("piped");
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let _ = writeln!(out, "{line}");
        passed += passed_in(&line);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("failed ({status})"));
    }
    Ok(passed)
}

/// The `N` of a libtest summary line `test result: ok. N passed; …` or of pytest's
/// `N passed in 1.2s` (`-q`; `=== N passed, 1 skipped in … ===` without it), else 0.
fn passed_in(line: &str) -> usize {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("test result: ") {
        return rest
            .split_once(". ")
            .and_then(|(_, counts)| counts.split_once(" passed"))
            .and_then(|(n, _)| n.trim().parse().ok())
            .unwrap_or(0);
    }
    let pytest = line.trim_matches(|c| c == '=' || c == ' ');
    match pytest.split_once(" passed") {
        Some((n, rest)) if rest.is_empty() || rest.starts_with(',') || rest.starts_with(" in ") => {
            n.parse().unwrap_or(0)
        }
        _ => 0,
    }
}

/// A cargo command with `--no-default-features --features backend` on the library and the CLI
/// (one package set and feature set for every step of a backend, so steps share their builds).
fn cargo_on(sub: &str, backend: &str) -> Command {
    let mut c = cargo();
    c.args([sub, "-p", "rayblas", "-p", "rayblas-cli"]).args([
        "--no-default-features",
        "--features",
        backend,
    ]);
    c
}

/// The names of the integration test targets cargo finds in `dir`: each `*.rs` file and each
/// directory with a `main.rs` (`tests/threads.rs` → `threads`, `tests/library/main.rs` →
/// `library`).
fn test_files(dir: &Path) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().join("main.rs").is_file() {
                return Some(name);
            }
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The test selection of a backend's step: everything on the default backend (the once tier
/// with it); elsewhere the library's unit and integration tests, the CLI's unit tests and its
/// smoke test, no doctests.
fn backend_targets(backend: &str) -> Result<Vec<String>, String> {
    if backend == DEFAULT_BACKEND {
        return Ok(Vec::new());
    }
    let mut args = vec!["--lib".to_string(), "--bins".to_string()];
    for name in test_files(&root().join("tests"))? {
        args.extend(["--test".to_string(), name]);
    }
    args.extend(["--test".to_string(), CLI_SMOKE_TEST.to_string()]);
    Ok(args)
}

/// The executables a backend's test step built, by target name (`matmul`, `rayblas`, …),
/// asked of cargo with the same selection (nothing is rebuilt).
fn built_executables(backend: &str) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut c = cargo_on("test", backend);
    c.args(backend_targets(backend)?)
        .args(["--no-run", "--message-format", "json"])
        .stderr(Stdio::inherit());
    let out = c
        .output()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    if !out.status.success() {
        return Err("cargo test --no-run failed".into());
    }
    let mut found = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(exe), Some(name)) = (v["executable"].as_str(), v["target"]["name"].as_str()) {
            let is_cli_bin = v["target"]["kind"][0] == "bin" && v["profile"]["test"] == false;
            let key = if is_cli_bin {
                format!("bin:{name}")
            } else {
                name.to_string()
            };
            found.insert(key, PathBuf::from(exe));
        }
    }
    Ok(found)
}

pub fn test(args: &[String]) -> Result<(), String> {
    let use_cache = match args {
        [] => true,
        [flag] if flag == "--no-cache" => false,
        _ => return Err("test takes one option: --no-cache".into()),
    };
    let mut steps = Steps::new(Cache::new(false)?);
    steps.run("setup", || setup(&[BACKENDS, &["mpi"]].concat(), true))?;
    // After the set-up, which may install the libraries and the wheel the inputs include.
    steps.cache = Cache::new(use_cache)?;
    steps.run("fmt", || {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check"]);
        status(fmt)?;
        let mut python = cargo();
        python.args(["fmt", "--manifest-path", "python/Cargo.toml", "--check"]);
        status(python)
    })?;
    steps.run("doc", || {
        let mut doc = cargo();
        doc.args(["doc", "--no-deps", "-p", "rayblas"])
            .env("RUSTDOCFLAGS", "-D warnings");
        status(doc)
    })?;
    // The fuzz targets (a crate of their own, run with `cargo afl`) must at least build and
    // pass clippy with plain cargo.
    steps.run("clippy (fuzz targets)", || {
        let mut fuzz = cargo();
        fuzz.args(["clippy", "--manifest-path", "fuzz/Cargo.toml", "--bins"])
            .args(["--", "-D", "warnings"]);
        status(fuzz)
    })?;
    steps.run("clippy (xtask)", || {
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "-p",
            "xtask",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        status(clippy)
    })?;
    let mut xtask_tests = cargo();
    xtask_tests.args(["test", "-p", "xtask"]);
    steps.tests("tests (xtask)", vec![xtask_tests])?;

    for backend in BACKENDS {
        steps.run(&format!("clippy ({backend})"), || {
            let mut clippy = cargo_on("clippy", backend);
            clippy.args(["--all-targets", "--", "-D", "warnings"]);
            status(clippy)
        })?;
        let mut t = cargo_on("test", backend);
        t.args(backend_targets(backend)?);
        steps.tests(&format!("tests ({backend})"), vec![t])?;
        let variants: Vec<_> = RUNTIME_VARIANTS
            .iter()
            .filter(|v| v.0 == *backend)
            .collect();
        if variants.is_empty() {
            continue;
        }
        let exes = built_executables(backend)?;
        for &&(_, dir, threading) in &variants {
            let name = format!("tests against {dir} ({threading})");
            let lib_dir = format!("/usr/lib/{}/{dir}", multiarch());
            // A missing build is an error, not a skip: `setup` installed them.
            if !Path::new(&lib_dir).is_dir() {
                return Err(format!(
                    "{lib_dir} is missing: the {backend} {threading} build is not installed \
                     (cargo xtask setup --all --variants installs it)"
                ));
            }
            let cli = exes
                .get("bin:rayblas")
                .ok_or("the backend's step built no rayblas binary")?;
            check_variant_loaded(cli, &lib_dir, threading)?;
            let mut commands = Vec::new();
            for (test, filters) in VARIANT_TESTS {
                let exe = exes
                    .get(*test)
                    .ok_or_else(|| format!("the {backend} step built no `{test}` test"))?;
                let mut c = Command::new(exe);
                c.args(*filters)
                    .current_dir(root())
                    .env("LD_LIBRARY_PATH", &lib_dir);
                commands.push(c);
            }
            steps.tests(&name, commands)?;
        }
    }

    // MPI: the distributed operations under `mpirun` with 1, 2, 4 and 8 ranks (tests/mpi.rs), and
    // the module's own tests and docs.
    steps.run("clippy (mpi)", || {
        let mut clippy = cargo();
        clippy
            .args([
                "clippy",
                "--all-targets",
                "-p",
                "rayblas",
                "-p",
                "rayblas-cli",
            ])
            .args([
                "--features",
                "rayblas/mpi,rayblas-cli/mpi",
                "--",
                "-D",
                "warnings",
            ]);
        status(clippy)
    })?;
    let mut t = cargo();
    t.args(["test", "-p", "rayblas", "--features", "mpi"])
        .args(["--lib", "--test", "mpi"]);
    steps.tests(
        "tests (mpi: library, 1, 2, 4 and 8 ranks under mpirun)",
        vec![t],
    )?;
    let mut t = cargo();
    t.args(["test", "-p", "rayblas", "--features", "mpi", "--doc"]);
    steps.tests("doctests (mpi)", vec![t])?;
    let mut t = cargo();
    t.args(["test", "-p", "rayblas-cli", "--features", "mpi"])
        .args(["--bins", "--test", "ranks", "--test", "bad_values"]);
    steps.tests("CLI tests (mpi)", vec![t])?;
    steps.run("doc (mpi)", || {
        let mut doc = cargo();
        doc.args(["doc", "--no-deps", "-p", "rayblas", "--features", "mpi"])
            .env("RUSTDOCFLAGS", "-D warnings");
        status(doc)
    })?;
    let flipped = |test: &str, filter: &[&str]| {
        let mut c = cargo();
        c.args(["test", "-p", "rayblas", "--features", "native-threading"])
            .args(["--test", test, "--"])
            .args(filter);
        c
    };
    steps.tests(
        "tests (native-threading default)",
        vec![flipped("strategy", &[]), flipped("library", &["matmul::"])],
    )?;
    // Python: the package built and installed as the README says (`pip install ./python`) in
    // a venv with the test tools, its crate under clippy, then pytest.
    let venv = root().join("target/python-venv");
    let python = venv.join("bin/python");
    steps.run("python package (pip install ./python)", || {
        crate::python_venv(&venv, PYTHON_TEST_PACKAGES)?;
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--force-reinstall")
        .arg("--no-deps")
        .arg(root().join("python"));
        status(pip)
    })?;
    steps.run("clippy (python)", || {
        let mut clippy = cargo();
        clippy
            .args([
                "clippy",
                "--manifest-path",
                "python/Cargo.toml",
                "--all-targets",
            ])
            .args(["--", "-D", "warnings"])
            .env("PYO3_PYTHON", &python)
            .env("PYO3_BUILD_EXTENSION_MODULE", "1");
        status(clippy)
    })?;
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root().join("python/tests"))
        .current_dir(root());
    steps.tests("tests (python)", vec![pytest])?;
    steps.run("two backends at once are refused", check_feature_clash)?;
    steps.run("dependency budget", check_dependency_budget)?;
    steps.run_cached("cargo package", || {
        remove_stale_package_sources()?;
        // Verified in a target directory of its own, emptied first: cargo takes a crate from
        // its temporary registry as unchanged whenever its name, version and registry path
        // are, so a CLI verified earlier left a compiled library of the same version that the
        // next verification reused, old API and all (it failed on `matmul_batch`).
        let verify = root().join("target/package-verify");
        let _ = std::fs::remove_dir_all(&verify);
        let mut package = cargo();
        package.env("CARGO_TARGET_DIR", &verify);
        package.args(["package", "-p", "rayblas", "-p", "rayblas-cli"]);
        package.args(["--allow-dirty", "--quiet"]);
        status(package)
    })?;
    steps.finish()?;
    eprintln!(
        "xtask: all checks passed with every backend: {}",
        BACKENDS.join(", ")
    );
    Ok(())
}

/// Runs `c` to completion; an error unless it succeeds.
fn status(mut c: Command) -> Result<(), String> {
    let s = c.status().map_err(|e| format!("cannot start: {e}"))?;
    if s.success() {
        Ok(())
    } else {
        Err(format!("failed ({s})"))
    }
}

/// Fails unless the library loaded from `dir` reports the `threading` layer expected of it.
fn check_variant_loaded(cli: &Path, dir: &str, threading: &str) -> Result<(), String> {
    let out = Command::new(cli)
        .args(["info", "--format", "json"])
        .env("LD_LIBRARY_PATH", dir)
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("rayblas info: cannot start: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("\"threading\":\"{threading}\"");
    if !out.status.success() || !text.contains(&want) {
        return Err(format!(
            "with LD_LIBRARY_PATH={dir} the library does not report {want}: {text}"
        ));
    }
    Ok(())
}

/// Most crates a dependent compiles for the library with its default features (issue 14's
/// target: a numeric crate must not build the CLI's dependencies).
const DEPENDENCY_BUDGET: usize = 25;

/// Fails if the library's normal dependency tree grew past [`DEPENDENCY_BUDGET`] crates.
fn check_dependency_budget() -> Result<(), String> {
    let out = cargo()
        .args(["tree", "-p", "rayblas", "-e", "normal", "--prefix", "none"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo tree: cannot start: {e}"))?;
    if !out.status.success() {
        return Err("cargo tree failed".into());
    }
    let crates: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").to_string())
        .filter(|l| !l.is_empty())
        .collect();
    eprintln!(
        "xtask: the library's normal dependency tree has {} crates (budget {DEPENDENCY_BUDGET})",
        crates.len()
    );
    if crates.len() > DEPENDENCY_BUDGET {
        return Err(format!(
            "the library pulls in {} crates, more than {DEPENDENCY_BUDGET}:\n{}",
            crates.len(),
            crates.into_iter().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(())
}

/// Two backends at once must fail with a message naming both features.
fn check_feature_clash() -> Result<(), String> {
    let out = cargo()
        .args([
            "check",
            "-p",
            "rayblas",
            "--lib",
            "--features",
            "blis-system",
        ])
        .args(["--message-format", "short"])
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success()
        || !(stderr.contains("openblas-system") && stderr.contains("blis-system"))
    {
        return Err(format!(
            "two backends did not fail with a message naming both:\n{stderr}"
        ));
    }
    Ok(())
}

/// Removes the copies of this workspace's crates that an earlier `cargo package` unpacked.
///
/// To verify several packages of one workspace, cargo puts them in a temporary registry under
/// `target/package/` and unpacks them into `$CARGO_HOME/registry/src/-<hash of that path>/`, and
/// it reuses a copy already there. A later `cargo package` from a checkout at the same path (a CI
/// clone made in the same place) then verified the new CLI against the old library and failed
/// on names that exist only in the new one. Those directories hold nothing but our own crates.
fn remove_stale_package_sources() -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        // Local registries have no host name: their directory name starts with '-'.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for entry in std::fs::read_dir(registry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("rayblas-") {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_give_their_passed_count() {
        assert_eq!(
            passed_in("test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured"),
            12
        );
        assert_eq!(passed_in("test result: FAILED. 3 passed; 1 failed;"), 3);
        assert_eq!(passed_in("running 12 tests"), 0);
        assert_eq!(passed_in("test foo ... ok"), 0);
        assert_eq!(passed_in("149 passed in 5.07s"), 149);
        assert_eq!(passed_in("===== 7 passed, 1 skipped in 0.3s ====="), 7);
        assert_eq!(passed_in("1 failed, 7 passed in 0.3s"), 0);
        assert_eq!(passed_in("the step passed"), 0);
    }

    #[test]
    fn a_step_is_cached_only_for_the_same_inputs_and_commands() {
        let dir = std::env::temp_dir().join(format!("xtask-cache-{}", std::process::id()));
        let now = inputs_hash().unwrap();
        let cache = |inputs| Cache {
            dir: Some(dir.clone()),
            inputs: now.wrapping_add(inputs - 1u64),
        };
        let command = |arg: &str, env: &str| {
            let mut c = Command::new("true");
            c.arg(arg).env("LD_LIBRARY_PATH", env);
            c
        };
        let key = cache(1).key("tests (x)", &[command("a", "/lib")]);
        assert_eq!(cache(1).passed(key), None);
        cache(1).record(key, 12);
        assert_eq!(cache(1).passed(key), Some(12));
        for other in [
            cache(2).key("tests (x)", &[command("a", "/lib")]),
            cache(1).key("tests (y)", &[command("a", "/lib")]),
            cache(1).key("tests (x)", &[command("b", "/lib")]),
            cache(1).key("tests (x)", &[command("a", "/other")]),
            cache(1).key("tests (x)", &[command("a", "/lib"), command("a", "/lib")]),
        ] {
            assert_ne!(other, key);
            assert_eq!(cache(1).passed(other), None);
        }
        let off = Cache::new(false).unwrap();
        off.record(key, 3);
        assert_eq!(off.passed(key), None);
        // A pass recorded after the inputs changed is not kept.
        let stale = cache(2).key("tests (z)", &[]);
        cache(2).record(stale, 5);
        assert_eq!(cache(2).passed(stale), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_plan_has_every_backend_and_every_runtime_build() {
        let plan = planned_steps();
        for b in BACKENDS {
            assert!(plan.contains(&format!("tests ({b})")), "{b}");
            assert!(plan.contains(&format!("clippy ({b})")), "{b}");
        }
        for (_, dir, threading) in RUNTIME_VARIANTS {
            assert!(plan.contains(&format!("tests against {dir} ({threading})")));
        }
        let unique: std::collections::BTreeSet<_> = plan.iter().collect();
        assert_eq!(unique.len(), plan.len(), "step names are unique");
    }

    #[test]
    fn a_non_default_backend_runs_every_library_test_file_and_the_cli_smoke_test() {
        let args = backend_targets("pure-rust").unwrap();
        for name in test_files(&root().join("tests")).unwrap() {
            assert!(args.contains(&name), "{name}");
        }
        assert!(args.contains(&CLI_SMOKE_TEST.to_string()));
        assert!(!args.contains(&"cli".to_string()));
        assert!(backend_targets(DEFAULT_BACKEND).unwrap().is_empty());
    }
}
