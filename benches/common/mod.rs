//! Shared bench helpers: the kernel check every bench does first, and interleaved medians.
#![allow(dead_code)]

use std::time::Instant;

/// Re-executes with fast OpenBLAS kernels if needed, prints what is linked, and returns a
/// one-line description. Every bench calls this before measuring anything.
pub fn check_kernels() -> String {
    if let Err(e) = rayblas::blas::reexec_with_fast_kernels() {
        eprintln!("bench: could not re-execute with fast kernels: {e}");
    }
    let info = rayblas::blas::info();
    let line = format!(
        "backend {} {} | kernels {} | {} | simd {}",
        info.backend,
        info.version,
        info.corename.clone().unwrap_or_else(|| "-".into()),
        info.threading.name(),
        rayblas::simd::level()
            .map(|l| l.to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    eprintln!("bench: {line}");
    for w in &info.warnings {
        eprintln!("bench: WARNING: {w}");
    }
    line
}

/// Runs each case once per round, interleaved (A B C A B C …), after one warm-up of each;
/// returns the median seconds per case.
pub fn interleaved(rounds: usize, cases: &mut [(&str, &mut dyn FnMut())]) -> Vec<f64> {
    interleaved_pausing_after(rounds, cases, &[])
}

/// [`interleaved`], pausing 150 ms, untimed, after each case whose index is in `threaded`
/// (those that let the BLAS library thread itself): OpenBLAS's idle threads spin for up to
/// about 0.1 s after such a call and would take a core from the next case.
pub fn interleaved_pausing_after(
    rounds: usize,
    cases: &mut [(&str, &mut dyn FnMut())],
    threaded: &[usize],
) -> Vec<f64> {
    let pause_after = |i: usize| {
        if threaded.contains(&i) {
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
    };
    for (i, (_, f)) in cases.iter_mut().enumerate() {
        f();
        pause_after(i);
    }
    let mut times = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            times[i].push(t.elapsed().as_secs_f64());
            pause_after(i);
        }
    }
    times.iter().map(|t| rayblas::bench::median(t)).collect()
}

/// Peak RSS of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A bench binary's `main`: check the kernels, print the interleaved report, then (unless
/// `RAYBLAS_BENCH_REPORT_ONLY` is set) run the criterion groups.
pub fn bench_main(report: fn(), groups: fn(&mut criterion::Criterion)) {
    check_kernels();
    report();
    if std::env::var_os("RAYBLAS_BENCH_REPORT_ONLY").is_none() {
        let mut c = criterion::Criterion::default().configure_from_args();
        groups(&mut c);
        c.final_summary();
    }
}
