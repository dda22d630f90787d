//! Detecting OpenBLAS running slow generic kernels, and the fix.
//!
//! A DYNAMIC_ARCH OpenBLAS picks its kernels when it loads, from the CPU it recognises. An
//! older build on a newer CPU (Debian's 0.3.21 on recent Xeons) does not recognise it and falls
//! back to its oldest kernels (`Prescott`: SSE3), about 5× slower than the AVX-512 ones. The
//! environment variable `OPENBLAS_CORETYPE` overrides the choice, but only if it is set before
//! the library loads, i.e. before the process starts: a program must re-execute itself to apply
//! it ([`reexec_with_fast_kernels`]).

use crate::cpu::{self, Feature};
use std::ffi::OsString;

/// OpenBLAS kernel sets that use AVX2 + FMA or better (lower case).
const FAST_CORES: &[&str] = &[
    "haswell",
    "zen",
    "skylakex",
    "cooperlake",
    "sapphirerapids",
    "zen4",
    "zen5",
];

/// The SIMD class of this CPU as far as BLAS kernels care.
fn cpu_has_avx512() -> bool {
    cpu::has(Feature::Avx512Skx)
}

fn cpu_has_avx2_fma() -> bool {
    cpu::has(Feature::Avx2Fma)
}

/// The `OPENBLAS_CORETYPE` value that gives this CPU fast kernels: `SkylakeX` with AVX-512,
/// `Haswell` with AVX2 + FMA, none otherwise (or off x86-64).
pub fn recommended_coretype() -> Option<&'static str> {
    if cpu_has_avx512() {
        Some("SkylakeX")
    } else if cpu_has_avx2_fma() {
        Some("Haswell")
    } else {
        None
    }
}

/// Whether `corename` is a kernel set far below what this CPU can run.
pub fn is_slow_kernel(corename: &str) -> bool {
    recommended_coretype().is_some()
        && !FAST_CORES.contains(&corename.to_ascii_lowercase().as_str())
}

/// The warning for a backend running `corename` kernels, if they are slow for this CPU.
pub fn kernel_warning(backend: &str, corename: &str) -> Option<String> {
    match backend {
        "openblas" if is_slow_kernel(corename) => {
            let fix = recommended_coretype().unwrap_or("Haswell");
            Some(format!(
                "OpenBLAS runs its generic `{corename}` kernels on a CPU with {}: about 5x slower. \
                 Start the process with OPENBLAS_CORETYPE={fix} in the environment (the rayblas \
                 CLI does this itself)",
                if cpu_has_avx512() { "AVX-512" } else { "AVX2" }
            ))
        }
        "blis" if cpu_has_avx512() && corename == "haswell" => Some(
            "BLIS runs its `haswell` (AVX2) kernels on a CPU with AVX-512: this BLIS build does \
             not pick `skx` here, so expect about half the AVX-512 rate"
                .to_string(),
        ),
        _ => None,
    }
}

/// Environment variable set on the re-executed process so it never loops. Its value is the
/// kernel set OpenBLAS had picked before the restart (see [`replaced_kernel`]).
pub(crate) const REEXEC_MARKER: &str = "RAYBLAS_REEXECUTED";

/// In a process that [`reexec_with_fast_kernels`] restarted: the slow kernel set OpenBLAS had
/// picked (e.g. `Prescott`), for reports to state next to the kernels now in use.
pub fn replaced_kernel() -> Option<String> {
    std::env::var(REEXEC_MARKER).ok().filter(|v| !v.is_empty())
}

/// If OpenBLAS picked slow kernels and `OPENBLAS_CORETYPE` is unset, re-executes the current
/// program with the recommended value. It prints nothing (a bad argument must still give exactly
/// one line on stderr); the restarted process reports the change where it reports the kernels
/// ([`replaced_kernel`]).
///
/// Returns normally (doing nothing) when there is nothing to fix, when the variable is already
/// set, or when this process is itself the re-executed one. On success it does not return. An
/// `Err` means the exec failed; the caller can carry on with the slow kernels.
///
/// Hidden from the docs: restarting the host process is not something a library does to its
/// users. It is public only for rayblas's own programs (the `rayblas` CLI crate and the
/// criterion benches), which are separate targets and need the same check.
///
/// # Errors
/// The error of the `exec` call, or of finding the current executable.
pub fn reexec_with_fast_kernels() -> std::io::Result<()> {
    let coretype_set = std::env::var_os("OPENBLAS_CORETYPE").is_some();
    let already = std::env::var_os(REEXEC_MARKER).is_some();
    if super::BACKEND != "openblas" || coretype_set || already {
        return Ok(());
    }
    let core = super::info().corename.unwrap_or_default();
    let Some(fix) = reexec_fix(super::BACKEND, &core, coretype_set, already) else {
        return Ok(());
    };
    reexec(&[("OPENBLAS_CORETYPE", fix), (REEXEC_MARKER, &core)])
}

/// The `OPENBLAS_CORETYPE` value to restart with, if the process should restart at all: only
/// for OpenBLAS on slow kernels, when the user has not set the variable, and never twice.
pub(crate) fn reexec_fix(
    backend: &str,
    corename: &str,
    coretype_set: bool,
    already_restarted: bool,
) -> Option<&'static str> {
    if backend != "openblas" || coretype_set || already_restarted || !is_slow_kernel(corename) {
        return None;
    }
    recommended_coretype()
}

#[cfg(unix)]
fn reexec(env: &[(&str, &str)]) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Err(cmd.exec())
}

#[cfg(not(unix))]
fn reexec(_env: &[(&str, &str)]) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_only_when_it_helps_and_only_once() {
        let fast_cpu = recommended_coretype();
        assert_eq!(reexec_fix("openblas", "Prescott", false, false), fast_cpu);
        assert_eq!(
            reexec_fix("openblas", "Prescott", true, false),
            None,
            "user's choice wins"
        );
        assert_eq!(
            reexec_fix("openblas", "Prescott", false, true),
            None,
            "never loops"
        );
        assert_eq!(reexec_fix("blis", "Prescott", false, false), None);
        assert_eq!(reexec_fix("openblas", "SkylakeX", false, false), None);
        assert_eq!(reexec_fix("openblas", "Haswell", false, false), None);
    }

    #[test]
    fn warning_names_the_fix() {
        if let Some(fix) = recommended_coretype() {
            let w = kernel_warning("openblas", "Prescott").expect("generic kernels warn");
            assert!(w.contains(fix) && w.contains("OPENBLAS_CORETYPE"), "{w}");
            assert!(kernel_warning("openblas", "Cooperlake").is_none());
        }
    }
}
