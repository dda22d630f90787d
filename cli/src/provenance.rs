//! Where and with what a row was measured: machine, system, rayblas build and BLAS library,
//! plus the content hash of input files. Every JSON/CSV row carries it, so a saved row says
//! what a rerun needs to match, and `compare --replay` can tell what changed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The environment of a measurement (flattened into each row).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Provenance {
    /// UTC time the measurement finished, RFC 3339.
    pub recorded_at: String,
    /// rayblas version and the git commit it was built from (`-dirty` with local changes).
    pub rayblas_version: String,
    pub rayblas_commit: String,
    /// CPU model (`/proc/cpuinfo`).
    pub cpu_model: String,
    /// Hardware threads and physical cores the process may use.
    pub logical_cores: usize,
    pub physical_cores: usize,
    /// The CPUs of the affinity mask, as a list (`0-1`).
    pub affinity: String,
    /// Operating system (`/etc/os-release`) and kernel release.
    pub os: String,
    /// BLAS library: backend, its version line, kernels, threading layer.
    pub backend: String,
    pub backend_version: String,
    pub corename: String,
    /// The kernels OpenBLAS picked by itself, where rayblas restarted with faster ones.
    pub corename_replaced: String,
    pub threading: String,
    /// rayblas's SIMD level for reductions.
    pub simd: String,
}

impl Provenance {
    /// The fields that must match for two measurements to be comparable, with their names.
    pub fn identity(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("rayblas", &self.rayblas_version),
            ("commit", &self.rayblas_commit),
            ("CPU", &self.cpu_model),
            ("affinity", &self.affinity),
            ("OS", &self.os),
            ("backend", &self.backend),
            ("BLAS version", &self.backend_version),
            ("kernels", &self.corename),
            ("threading", &self.threading),
            ("SIMD", &self.simd),
        ]
    }
}

/// Gathers the environment of this process now.
pub fn gather() -> Provenance {
    let info = rayblas::blas::info();
    Provenance {
        recorded_at: rfc3339_now(),
        rayblas_version: env!("CARGO_PKG_VERSION").to_string(),
        rayblas_commit: env!("RAYBLAS_COMMIT").to_string(),
        cpu_model: cpu_model(),
        logical_cores: rayblas::cpu::logical_cores(),
        physical_cores: rayblas::cpu::physical_cores(),
        affinity: cpu_list(rayblas::cpu::allowed_cpus()),
        os: os(),
        backend: info.backend.to_string(),
        backend_version: info.version.clone(),
        corename: info.corename.clone().unwrap_or_else(|| "-".into()),
        corename_replaced: rayblas::blas::replaced_kernel().unwrap_or_else(|| "-".into()),
        threading: info.threading.name().to_string(),
        simd: rayblas::simd::level()
            .map(|l| l.to_string())
            .unwrap_or_else(|e| format!("unavailable ({e})")),
    }
}

/// The CPU model from `/proc/cpuinfo`, or the architecture.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// `PRETTY_NAME` of `/etc/os-release` and the kernel release, e.g.
/// `Debian GNU/Linux 12 (bookworm), Linux 6.1.0-18-amd64`.
pub fn os() -> String {
    let name = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    match std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        Ok(release) => format!("{name}, Linux {}", release.trim()),
        Err(_) => name,
    }
}

/// CPU numbers as ranges: `[0, 1, 2, 5]` → `0-2,5`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", cpus[i], cpus[j])
        } else {
            cpus[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

/// SHA-256 of a file's bytes, in hex (what `sha256sum` prints).
pub fn file_sha256(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar, UTC).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cpu_lists_and_hashes() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_820_645), "2026-11-27T23:04:05Z");
        assert_eq!(cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(cpu_list(&[3]), "3");
        let dir = std::env::temp_dir().join(format!("rayblas-sha-{}", std::process::id()));
        std::fs::write(&dir, b"abc").unwrap();
        assert_eq!(
            file_sha256(&dir).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_file(&dir).unwrap();
    }
}
