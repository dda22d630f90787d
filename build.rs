//! Finds the system BLAS library for the chosen backend feature and fails with one clear message
//! (naming the package to install) when it is missing, instead of a wall of linker errors.
//!
//! - `openblas-system`: links `-lopenblas` from the directory pkg-config gives, else from the
//!   usual library directories. (No `openblas-src`: its build dependencies, an HTTP and TLS stack
//!   for downloading OpenBLAS, doubled a dependent's clean build time.)
//! - `openblas-scipy`: links `libscipy_openblas.so` of PyPI's `scipy-openblas32` wheel, from
//!   the directory its pkg-config file (`scipy-openblas`) names, else from the cache that
//!   `cargo xtask setup --backend openblas-scipy` fills, with an rpath to it (the wheel is not
//!   on the loader's path); the directory is passed on as `links` metadata like netlib's.
//! - `blis-system`: links `-lblis` from the directory where it is found.
//! - `netlib-system`: links `-lblas` from the *reference* directory (Debian:
//!   `/usr/lib/<triple>/blas`) with an rpath to it, so Debian's alternatives cannot swap in
//!   OpenBLAS at run time. `RAYBLAS_NETLIB_DIR` overrides the directory. The rpath reaches only
//!   this package's own targets, so the directory is also passed on as `links` metadata: a
//!   dependent's build script reads it as `DEP_RAYBLAS_NETLIB_DIR` and adds the rpath to its
//!   binaries (the CLI's `cli/build.rs` does).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=scipy-openblas.version");
    println!("cargo:rerun-if-env-changed=RAYBLAS_NETLIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let on = |f: &str| {
        env::var_os(format!(
            "CARGO_FEATURE_{}",
            f.to_uppercase().replace('-', "_")
        ))
        .is_some()
    };
    let chosen: Vec<&str> = [
        "openblas-system",
        "openblas-scipy",
        "blis-system",
        "netlib-system",
        "pure-rust",
    ]
    .into_iter()
    .filter(|f| on(f))
    .collect();
    if chosen.len() != 1 || env::var_os("DOCS_RS").is_some() {
        // src/blas/mod.rs reports the clash (or the missing backend) with compile_error!.
        return;
    }
    match chosen[0] {
        "openblas-system" => {
            let dir = pkg_config_lib_dir("openblas").or_else(|| find_lib(&lib_dirs(), "openblas"));
            match dir {
                Some(dir) => {
                    println!("cargo:rustc-link-search=native={}", dir.display());
                    println!("cargo:rustc-link-lib=dylib=openblas");
                }
                None => missing("openblas-system", "OpenBLAS", "libopenblas-dev", "openblas"),
            }
        }
        "openblas-scipy" => {
            println!("cargo:rerun-if-env-changed=RAYBLAS_CACHE_DIR");
            let from_pkg_config = Command::new("pkg-config")
                .args(["--variable=libdir", "scipy-openblas"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
            let dir = from_pkg_config
                .into_iter()
                .chain(scipy_openblas_cache())
                .find(|d| d.join("libscipy_openblas.so").exists());
            match dir {
                Some(dir) => {
                    let dir = dir.canonicalize().unwrap_or(dir);
                    println!("cargo:rustc-link-search=native={}", dir.display());
                    println!("cargo:rustc-link-lib=dylib=scipy_openblas");
                    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
                    println!("cargo:rpath_dir={}", dir.display());
                }
                None => {
                    eprintln!(
                        "\nerror: rayblas feature `openblas-scipy` needs libscipy_openblas.so from \
                         PyPI's scipy-openblas32 wheel (scipy-openblas32 {}), which was not found.\n\
                         Fetch it with:  cargo xtask setup --backend openblas-scipy\n\
                         or unpack the wheel yourself and put its lib/pkgconfig directory on \
                         PKG_CONFIG_PATH.\n",
                        SCIPY_OPENBLAS_VERSION.trim()
                    );
                    std::process::exit(1);
                }
            }
        }
        "blis-system" => match find_lib(&lib_dirs(), "blis") {
            Some(dir) => {
                println!("cargo:rustc-link-search=native={}", dir.display());
                println!("cargo:rustc-link-lib=dylib=blis");
            }
            None => missing("blis-system", "BLIS", "libblis-dev", "blis"),
        },
        "netlib-system" => {
            let dir = env::var_os("RAYBLAS_NETLIB_DIR")
                .map(PathBuf::from)
                .or_else(|| {
                    lib_dirs()
                        .into_iter()
                        .map(|d| d.join("blas"))
                        .find(|d| d.join("libblas.so").exists() || d.join("libblas.so.3").exists())
                });
            match dir {
                Some(dir) => {
                    let so = dir.join("libblas.so");
                    let lib = if so.exists() {
                        "blas".to_string()
                    } else {
                        ":libblas.so.3".to_string()
                    };
                    println!("cargo:rustc-link-search=native={}", dir.display());
                    println!("cargo:rustc-link-lib=dylib={lib}");
                    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
                    println!("cargo:rustc-env=RAYBLAS_NETLIB_DIR={}", dir.display());
                    println!("cargo:netlib_dir={}", dir.display());
                }
                None => missing(
                    "netlib-system",
                    "the reference BLAS",
                    "libblas-dev",
                    "lapack",
                ),
            }
        }
        _ => {}
    }
}

/// The version of the scipy-openblas32 wheel `cargo xtask setup --backend openblas-scipy`
/// fetches: one file, which xtask reads too.
const SCIPY_OPENBLAS_VERSION: &str = include_str!("scipy-openblas.version");

/// The library directory of the wheel in xtask's cache: `$RAYBLAS_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rayblas`, else `~/.cache/rayblas`.
fn scipy_openblas_cache() -> Option<PathBuf> {
    let cache = env::var_os("RAYBLAS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("rayblas")))
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/rayblas")))?;
    Some(cache.join(format!(
        "scipy-openblas32-{}/scipy_openblas32/lib",
        SCIPY_OPENBLAS_VERSION.trim()
    )))
}

fn missing(feature: &str, what: &str, apt: &str, brew: &str) -> ! {
    eprintln!(
        "\nerror: rayblas feature `{feature}` needs {what}, which is not installed.\n\
         Install it with one of:\n  \
         Debian/Ubuntu: sudo apt-get install {apt}\n  \
         macOS:         brew install {brew}\n  \
         or run:        cargo xtask setup --backend {feature}\n\
         Or build without a system BLAS: cargo build --no-default-features --features pure-rust\n"
    );
    std::process::exit(1);
}

/// The directory pkg-config gives for `name` (its `-L`), if pkg-config knows it and the library
/// is there.
fn pkg_config_lib_dir(name: &str) -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--libs-only-L", name])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let dirs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|f| f.strip_prefix("-L"))
        .map(PathBuf::from)
        .collect();
    if dirs.is_empty() {
        // pkg-config knows it but it sits in a default directory.
        return find_lib(&lib_dirs(), name);
    }
    find_lib(&dirs, name)
}

/// Library directories to search: the multiarch directory, the usual prefixes, Homebrew.
fn lib_dirs() -> Vec<PathBuf> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let mut dirs = vec![
        PathBuf::from(format!("/usr/lib/{arch}-{os}-gnu")),
        PathBuf::from("/usr/lib64"),
        PathBuf::from("/usr/lib"),
        PathBuf::from("/usr/local/lib"),
        PathBuf::from("/opt/homebrew/lib"),
        PathBuf::from("/opt/homebrew/opt/openblas/lib"),
        PathBuf::from("/usr/local/opt/openblas/lib"),
    ];
    if let Some(extra) = env::var_os("LIBRARY_PATH") {
        dirs.extend(env::split_paths(&extra));
    }
    dirs
}

fn find_lib(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    let candidates = [
        format!("lib{name}.so"),
        format!("lib{name}.dylib"),
        format!("lib{name}.a"),
    ];
    dirs.iter()
        .find(|d| candidates.iter().any(|c| Path::new(d).join(c).exists()))
        .cloned()
}
