//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)] // Each test crate that includes this module uses a part of it.

use std::time::{Duration, Instant};

/// The first process in `/proc` for which `matches(pid, cmdline, environ)` holds (the last two
/// as raw NUL-separated bytes), polled every 20 ms; panics naming `what` after 30 s.
pub fn wait_for_process(what: &str, matches: impl Fn(u32, &[u8], &[u8]) -> bool) -> u32 {
    let started = Instant::now();
    loop {
        let found = std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            matches(pid, &cmd, &env).then_some(pid)
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The parent process id of `pid`, from `/proc/PID/stat` (`None` once it is gone).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether a NUL-separated list (a cmdline or environ) holds `item` as one of its entries.
pub fn has_entry(list: &[u8], item: &[u8]) -> bool {
    list.split(|b| *b == 0).any(|a| a == item)
}
