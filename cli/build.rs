//! Two jobs:
//! - The git commit the binary is built from goes into `RAYBLAS_COMMIT` (with `-dirty` for
//!   local changes, `unknown` outside a git checkout), so every measurement row names it.
//! - With the `netlib-system` backend, the library's build script finds the reference BLAS
//!   directory and passes it on (`DEP_RAYBLAS_NETLIB_DIR`). An rpath to it makes this binary load
//!   the reference BLAS it was linked against, not whatever Debian's `libblas.so.3` alternative
//!   points to at run time (often OpenBLAS). With `openblas-scipy`, the same for the wheel's
//!   library directory (`DEP_RAYBLAS_RPATH_DIR`), which is on no loader path at all.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!("{hash}{}", if dirty { "-dirty" } else { "" })
        }
        None => "unknown".to_string(),
    };
    println!("cargo:rustc-env=RAYBLAS_COMMIT={commit}");
    // Rebuild when HEAD moves or the index changes (a commit, a checkout, an add).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for file in ["HEAD", "index"] {
            println!("cargo:rerun-if-changed={dir}/{file}");
        }
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or(dir);
            println!("cargo:rerun-if-changed={common}/{reference}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["DEP_RAYBLAS_NETLIB_DIR", "DEP_RAYBLAS_RPATH_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
        if let Some(dir) = std::env::var_os(var) {
            println!(
                "cargo:rustc-link-arg=-Wl,-rpath,{}",
                std::path::Path::new(&dir).display()
            );
        }
    }
}
