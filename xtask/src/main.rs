//! `cargo xtask <command>`: set-up and project chores in plain Rust (dependencies: `csv`,
//! `serde_json`).
//!
//! - `setup [--backend B|--all] [--variants] [--features mpi]`: installs the system BLAS a
//!   backend needs when it is missing (apt-get on Debian/Ubuntu as root or through sudo, brew on
//!   macOS), else nothing; with `--features mpi`, Open MPI too.
//! - `demo`: setup + the main job, `rayblas compare` on the seed workload (release build).
//! - `test`: setup for every backend, then every check in tiers (once on the default backend,
//!   on every backend, on every run-time library build, under MPI), each step timed, failing if
//!   a step of the tier list did not run (see `test.rs` for which test runs where and why).
//! - `variants`: one `rayblas compare` under each of Debian's OpenBLAS builds (pthreads, OpenMP,
//!   serial) without rebuilding, as one table with a variant column.
//! - `bench-report [--reps N] [--quick] [--out DIR]`: one interleaved run of rayblas (every
//!   strategy and backend) against its peers and the machine's limits, written to
//!   `BENCHMARKS.md` and `benchmarks/*.svg` (see `bench_report`).
//! - `balance-grid [--ns L] [--blocks L] [--ops L] [--dtypes L] [--reps N] [--backend B] [--out FILE]`:
//!   blocked ÷ native speed over a grid of sizes and blocks, each cell one interleaved
//!   `rayblas compare` (see `balance_grid`).

mod balance_grid;
mod bench_report;
mod docs;
mod test;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};

const BACKENDS: &[&str] = &[
    "openblas-system",
    "openblas-scipy",
    "blis-system",
    "netlib-system",
    "pure-rust",
];

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r.to_vec()),
        None => usage(),
    };
    let result = match cmd {
        "setup" => setup_cmd(&rest),
        "demo" => demo(&rest),
        "test" => test::test(&rest),
        "variants" => variants(&rest),
        "bench-report" => bench_report::bench_report(&rest),
        "balance-grid" => balance_grid::balance_grid(&rest),
        "-h" | "--help" | "help" => usage(),
        other => Err(format!("unknown xtask command `{other}`")),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e}");
        exit(1);
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo xtask <command>\n\n\
         setup [--backend B | --all] [--variants] [--features mpi]  install the BLAS the backend needs (default openblas-system; openblas-scipy: fetch the wheel; mpi: Open MPI)\n\
         demo [rayblas compare options]           setup + `rayblas compare` on the seed workload\n\
         test [--no-cache]                        setup + fmt + clippy + tests with every backend, in tiers (see test.rs)\n\
         variants [rayblas compare options]       compare under Debian's pthreads, OpenMP and serial OpenBLAS\n\
         bench-report [--reps N] [--quick] [--out DIR]  BENCHMARKS.md: rayblas against peers and the limits\n\
         balance-grid [--ns L] [--blocks L] [--ops L] [--dtypes L] [--reps N] [--backend B] [--out FILE]  blocked ÷ native over sizes × blocks"
    );
    exit(2)
}

/// A virtual environment at `venv` with `packages` (pinned versions) installed, made once:
/// a marker file naming the packages says it is ready. Returns its python.
pub fn python_venv(venv: &Path, packages: &[&str]) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let ready = venv.join(format!("ready-{}", packages.join("+")));
    if ready.exists() {
        return Ok(python);
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .map_err(|e| format!("python3 not found ({e})"))?;
    if !status.success() {
        return Err(format!("python3 -m venv failed ({status})"));
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("pip install failed ({status})"));
    }
    std::fs::write(&ready, "").map_err(|e| e.to_string())?;
    Ok(python)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: {what}");
    let status = c
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

// ---------- setup ----------

/// Debian packages and Homebrew formulae per backend.
fn packages(backend: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match backend {
        "openblas-system" => (
            &["libopenblas-dev", "pkg-config"],
            &["openblas", "pkg-config"],
        ),
        "blis-system" => (&["libblis-dev"], &["blis"]),
        "netlib-system" => (&["libblas-dev"], &["lapack"]),
        // Not a backend: the `mpi` feature's Open MPI (and libclang, which rsmpi's bindgen
        // needs), installed by `setup --features mpi`.
        "mpi" => (
            &["libopenmpi-dev", "openmpi-bin", "libclang-dev"],
            &["open-mpi", "llvm"],
        ),
        _ => (&[], &[]),
    }
}

const VARIANT_PACKAGES: &[&str] = &[
    "libopenblas0-pthread",
    "libopenblas0-openmp",
    "libopenblas0-serial",
    "libblis4-pthread",
    "libblis4-openmp",
    "libblis4-serial",
];

/// The value of a `--backend` option: one of [`BACKENDS`], or an error that lists them.
fn parse_backend(value: Option<&String>) -> Result<String, String> {
    let b = value.ok_or("--backend needs a value")?;
    if BACKENDS.contains(&b.as_str()) {
        Ok(b.clone())
    } else {
        Err(format!(
            "unknown backend `{b}` (one of {})",
            BACKENDS.join(", ")
        ))
    }
}

/// Builds the release CLI on `backend` and copies it to `dir/rayblas-{backend}`, so that a
/// later build on another backend cannot swap the binary while a benchmark runs it.
fn build_cli(backend: &str, dir: &Path) -> Result<PathBuf, String> {
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "-p", "rayblas-cli"]);
    build.args(["--no-default-features", "--features", backend]);
    run(build, &format!("build rayblas ({backend}, release)"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = dir.join(format!("rayblas-{backend}"));
    std::fs::copy(root().join("target/release/rayblas"), &exe)
        .map_err(|e| format!("copy the {backend} build: {e}"))?;
    Ok(exe)
}

fn setup_cmd(args: &[String]) -> Result<(), String> {
    let mut backends = vec!["openblas-system".to_string()];
    let mut variants = false;
    let mut features = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--all" => backends = BACKENDS.iter().map(|s| s.to_string()).collect(),
            "--backend" => backends = vec![parse_backend(it.next())?],
            "--variants" => variants = true,
            "--features" => match it.next().map(String::as_str) {
                Some("mpi") => features.push("mpi".to_string()),
                Some(other) => {
                    return Err(format!(
                        "setup --features: `{other}` needs nothing installed; only `mpi` does"
                    ))
                }
                None => return Err("--features needs a value (mpi)".into()),
            },
            other => return Err(format!("unknown setup option `{other}`")),
        }
    }
    let refs: Vec<&str> = backends
        .iter()
        .chain(&features)
        .map(String::as_str)
        .collect();
    setup(&refs, variants)
}

fn setup(backends: &[&str], variants: bool) -> Result<(), String> {
    install_packages(backends, variants)?;
    if backends.contains(&"openblas-scipy") {
        fetch_scipy_openblas()?;
    }
    Ok(())
}

/// The scipy-openblas32 wheel the `openblas-scipy` backend links: version and the SHA-256 of
/// its manylinux x86-64 build. The version is in one file, which build.rs reads too (it looks
/// for the same version in the same cache).
const SCIPY_OPENBLAS_VERSION: &str = include_str!("../../scipy-openblas.version").trim_ascii();
const SCIPY_OPENBLAS_SHA256: &str =
    "5b5df658f32271b3115d845ea91b19bed190591b55d27d9b5399b83071c68ea1";

/// Where xtask keeps what it fetches: `$RAYBLAS_CACHE_DIR`, else `$XDG_CACHE_HOME/rayblas`,
/// else `~/.cache/rayblas` (the same rule as build.rs).
fn cache_dir() -> Result<PathBuf, String> {
    env::var_os("RAYBLAS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("rayblas")))
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rayblas")))
        .ok_or_else(|| "no cache directory: set RAYBLAS_CACHE_DIR or HOME".to_string())
}

/// Fetches the pinned scipy-openblas32 wheel from PyPI with pip (which honours the machine's
/// index and certificate settings), checks its SHA-256 and unpacks it into the cache, once.
fn fetch_scipy_openblas() -> Result<(), String> {
    let cache = cache_dir()?;
    let dest = cache.join(format!("scipy-openblas32-{SCIPY_OPENBLAS_VERSION}"));
    let lib = dest.join("scipy_openblas32/lib/libscipy_openblas.so");
    if lib.exists() {
        eprintln!("xtask: setup: already fetched: {}", lib.display());
        return Ok(());
    }
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return Err(format!(
            "the openblas-scipy backend pins the manylinux x86-64 wheel of scipy-openblas32 \
             {SCIPY_OPENBLAS_VERSION}; on this platform, unpack the wheel yourself and put its \
             lib/pkgconfig directory on PKG_CONFIG_PATH"
        ));
    }
    let download = cache.join("download");
    std::fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
    ])
    .arg(&download)
    .arg(format!("scipy-openblas32=={SCIPY_OPENBLAS_VERSION}"));
    run(pip, "pip download scipy-openblas32")?;
    let wheel = std::fs::read_dir(&download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&format!("scipy_openblas32-{SCIPY_OPENBLAS_VERSION}-"))
                    && n.ends_with("x86_64.whl")
            })
        })
        .ok_or("pip downloaded no manylinux x86-64 wheel of scipy-openblas32")?;
    let sum = Command::new("sha256sum")
        .arg(&wheel)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    let sum = String::from_utf8_lossy(&sum.stdout);
    if sum.split_whitespace().next() != Some(SCIPY_OPENBLAS_SHA256) {
        return Err(format!(
            "{}: SHA-256 {} is not the pinned {SCIPY_OPENBLAS_SHA256}",
            wheel.display(),
            sum.split_whitespace().next().unwrap_or("(none)")
        ));
    }
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let mut unzip = Command::new("python3");
    unzip
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(&partial);
    run(unzip, "unpack the scipy-openblas32 wheel")?;
    std::fs::rename(&partial, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    eprintln!("xtask: setup: fetched {}", lib.display());
    Ok(())
}

fn install_packages(backends: &[&str], variants: bool) -> Result<(), String> {
    if cfg!(target_os = "macos") {
        let formulae: Vec<&str> = backends
            .iter()
            .flat_map(|b| packages(b).1.iter().copied())
            .collect();
        return brew_install(&formulae);
    }
    let mut debs: Vec<&str> = backends
        .iter()
        .flat_map(|b| packages(b).0.iter().copied())
        .collect();
    if variants {
        debs.extend(VARIANT_PACKAGES);
    }
    // The wheel is fetched with pip: Debian's, unless a Python with pip is already on PATH.
    let has_pip = || {
        Command::new("python3")
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if backends.contains(&"openblas-scipy") && !has_pip() {
        debs.push("python3-pip");
    }
    debs.dedup();
    if debs.is_empty() {
        eprintln!(
            "xtask: setup: no system package to install for {}",
            backends.join(", ")
        );
        return Ok(());
    }
    if !Path::new("/etc/debian_version").exists() {
        return Err(format!(
            "automatic set-up supports Debian/Ubuntu (apt-get) and macOS (brew); install the \
             equivalent of these Debian packages with your package manager: {}",
            debs.join(" ")
        ));
    }
    let missing: Vec<&str> = debs.iter().copied().filter(|p| !deb_installed(p)).collect();
    if missing.is_empty() {
        eprintln!("xtask: setup: already installed: {}", debs.join(" "));
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let sudo = |args: &[&str]| {
        let mut c = if is_root {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        c.args(&args[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if !is_root
        && Command::new("sudo")
            .arg("-n")
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
    {
        eprintln!("xtask: setup: not root; sudo may ask for a password");
    }
    run(sudo(&["apt-get", "update", "-qq"]), "apt-get update")?;
    let mut install = vec!["apt-get", "install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    run(
        sudo(&install),
        &format!("apt-get install {}", missing.join(" ")),
    )
}

fn deb_installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn brew_install(formulae: &[&str]) -> Result<(), String> {
    for f in formulae {
        let present = Command::new("brew")
            .args(["list", "--versions", f])
            .output()
            .map(|o| o.status.success() && !o.stdout.is_empty())
            .unwrap_or(false);
        if !present {
            let mut c = Command::new("brew");
            c.args(["install", f]);
            run(c, &format!("brew install {f}"))?;
        }
    }
    Ok(())
}

// ---------- demo ----------

fn demo(args: &[String]) -> Result<(), String> {
    setup(&["openblas-system"], false)?;
    run(rayblas(&["info"]), "rayblas info")?;
    let mut compare = rayblas(&["compare"]);
    compare.args(args);
    run(
        compare,
        "rayblas compare (the seed workload: sum of x·xᵀ, fused)",
    )
}

/// `cargo run --release` of the rayblas binary with `args`.
fn rayblas(args: &[&str]) -> Command {
    let mut c = cargo();
    c.args(["run", "--release", "--quiet", "--bin", "rayblas", "--"])
        .args(args);
    c
}

// ---------- variants ----------

/// Debian's multiarch triple (`x86_64-linux-gnu`).
fn multiarch() -> String {
    Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{}-linux-gnu", std::env::consts::ARCH))
}

fn variants(args: &[String]) -> Result<(), String> {
    setup(&["openblas-system"], true)?;
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "--bin", "rayblas"]);
    run(build, "build rayblas (release)")?;
    let exe = root().join("target/release/rayblas");
    let multiarch = multiarch();
    let mut rows: Vec<(String, Row)> = Vec::new();
    let mut failed = Vec::new();
    for variant in ["pthread", "openmp", "serial"] {
        let dir = PathBuf::from(format!("/usr/lib/{multiarch}/openblas-{variant}"));
        if !dir.join("libopenblas.so.0").exists() {
            failed.push(format!("{variant}: {} not found", dir.display()));
            continue;
        }
        eprintln!(
            "xtask: compare with the {variant} OpenBLAS ({})",
            dir.display()
        );
        let out = Command::new(&exe)
            .args(["compare", "--format", "csv"])
            .args(args)
            .env("LD_LIBRARY_PATH", &dir)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| e.to_string())?;
        let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
        let header = reader.headers().map_err(|e| e.to_string())?.clone();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{variant}: compare's CSV: {e}"))?;
            let fields = header
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            rows.push((variant.to_string(), fields));
        }
        if !out.status.success() {
            failed.push(format!("{variant}: compare exited with {}", out.status));
        }
    }
    print_variant_table(&rows);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// One row of `rayblas compare --format csv`: column name → value.
type Row = std::collections::HashMap<String, String>;

/// One table: variant, strategy, threading reported by the library, rate, CPU %, RSS, vs best.
fn print_variant_table(rows: &[(String, Row)]) {
    let cols = [
        "strategy",
        "threading",
        "workers",
        "blas_threads",
        "wall_s",
        "gflops",
        "gbps",
        "cpu_pct",
        "peak_rss_bytes",
        "ratio_to_best",
        "agrees",
    ];
    let mut table = vec![std::iter::once("variant".to_string())
        .chain(cols.iter().map(|c| c.to_string()))
        .collect::<Vec<_>>()];
    for (variant, fields) in rows {
        let mut row = vec![variant.clone()];
        for c in cols {
            let v = fields.get(c).cloned().unwrap_or_default();
            row.push(match c {
                "wall_s" | "gflops" | "gbps" | "cpu_pct" | "ratio_to_best" => {
                    v.parse::<f64>().map(|x| format!("{x:.3}")).unwrap_or(v)
                }
                "peak_rss_bytes" => v
                    .parse::<f64>()
                    .map(|x| format!("{:.0}MiB", x / 1048576.0))
                    .unwrap_or(v),
                _ if v.is_empty() => "-".to_string(),
                _ => v,
            });
        }
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &table {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}"))
            .collect();
        println!("{}", line.join("  "));
    }
}
