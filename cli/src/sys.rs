//! Process resource usage (CPU time, peak and current RSS): the only unsafe code in the CLI.

/// User + system CPU seconds of this process so far, and its peak RSS in bytes.
pub fn rusage() -> (f64, u64) {
    // SAFETY: getrusage writes into the zero-initialised struct we pass; RUSAGE_SELF is valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    let cpu = secs(ru.ru_utime) + secs(ru.ru_stime);
    // Linux reports ru_maxrss in KiB.
    (cpu, ru.ru_maxrss.max(0) as u64 * 1024)
}

/// Current resident set size in bytes (Linux: /proc/self/statm), 0 where unknown.
pub fn current_rss() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * page)
        .unwrap_or(0)
}
