//! Process resource usage (CPU time, peak and current RSS): the only unsafe code in the CLI.

/// User + system CPU seconds of this process so far, and its peak RSS in bytes.
pub fn rusage() -> (f64, u64) {
    // SAFETY: getrusage writes into the zero-initialised struct we pass; RUSAGE_SELF is valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    // Linux reports ru_maxrss in KiB.
    (process_cpu_seconds(), ru.ru_maxrss.max(0) as u64 * 1024)
}

/// CPU seconds of all threads of this process, from `CLOCK_PROCESS_CPUTIME_ID`: it includes
/// what threads running right now on other CPUs have used so far, where getrusage's figure
/// can lag by what they ran since their last accounting (a large share when a pool's threads
/// wake and sleep thousands of times a second).
fn process_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime writes one timespec into the zero-initialised value we pass.
    let t = unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t);
        t
    };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
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

/// Time the given CPUs spent busy since boot, in seconds, from `/proc/stat`: user, nice, system
/// and steal (time a hypervisor gave to other machines). Interrupt time is left out: waking
/// threads thousands of times a second (a fast op's pool) raises it on its own. `None` where
/// unknown.
/// Minus this process's own CPU time, the change over a run is what others took from it.
pub fn busy_cpu_seconds(cpus: &[usize]) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut jiffies = 0u64;
    let mut seen = 0;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields
            .next()
            .and_then(|name| name.strip_prefix("cpu"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if !cpus.contains(&cpu) {
            continue;
        }
        let v: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal …
        if v.len() < 8 {
            return None;
        }
        jiffies += v[0] + v[1] + v[2] + v[7];
        seen += 1;
    }
    (seen > 0).then(|| jiffies as f64 / clock_ticks_per_second())
}

/// The unit of `/proc/stat` (USER_HZ, 100 on Linux).
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// How many bytes this process may still allocate, and what limits it: the smallest of the
/// kernel's estimate of available memory (`MemAvailable` in /proc/meminfo) and the
/// address-space and data-segment limits (`RLIMIT_AS`, `RLIMIT_DATA`) where they are set.
/// `None` where none of them can be read.
pub fn memory_limit() -> Option<(u128, &'static str)> {
    let mut best: Option<(u128, &'static str)> = None;
    let mut consider = |bytes: u128, what: &'static str| {
        if best.is_none_or(|(b, _)| bytes < b) {
            best = Some((bytes, what));
        }
    };
    if let Some(kib) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u128>().ok())
    }) {
        consider(
            kib * 1024,
            "available memory (MemAvailable in /proc/meminfo)",
        );
    }
    for (resource, what) in [
        (
            libc::RLIMIT_AS,
            "the address-space limit (RLIMIT_AS, ulimit -v)",
        ),
        (
            libc::RLIMIT_DATA,
            "the data-segment limit (RLIMIT_DATA, ulimit -d)",
        ),
    ] {
        // SAFETY: getrlimit writes one rlimit into the zero-initialised value we pass.
        let lim = unsafe {
            let mut lim: libc::rlimit = std::mem::zeroed();
            (libc::getrlimit(resource, &mut lim) == 0).then_some(lim)
        };
        if let Some(lim) = lim {
            if lim.rlim_cur != libc::RLIM_INFINITY {
                consider(lim.rlim_cur as u128, what);
            }
        }
    }
    best
}

/// Whether this process runs as root (Open MPI refuses root without its consent variables).
pub fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments, cannot fail and only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}
