//! The cores this process may use and what they can run: the one place that asks the machine.
//!
//! The SIMD dispatch and the check of OpenBLAS's kernel choice read the instruction sets from
//! here; strategy defaults, block shapes and worker pinning read the core counts from here. So
//! they cannot disagree about the machine.
//!
//! Core counts follow the process's CPU affinity mask and cgroup quota: under
//! `taskset -c 0`, rayblas sees one core and defaults to one worker.
//!
//! ```
//! let logical = rayblas::cpu::logical_cores();
//! let physical = rayblas::cpu::physical_cores();
//! assert!(physical >= 1 && physical <= logical);
//! assert_eq!(rayblas::cpu::allowed_cpus().len(), logical);
//! ```

use std::sync::OnceLock;

/// Instruction-set extensions rayblas cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// SSE2 (every x86-64 CPU).
    Sse2,
    /// AVX2 with FMA (the `avx2` SIMD level; OpenBLAS's Haswell kernels).
    Avx2Fma,
    /// AVX-512F (the `avx512` SIMD level).
    Avx512F,
    /// AVX-512 F, DQ, BW and VL: what OpenBLAS's SkylakeX kernels and BLIS's `skx` need.
    Avx512Skx,
}

/// Whether this CPU has `feature` (std caches the CPUID answers).
pub(crate) fn has(feature: Feature) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        match feature {
            Feature::Sse2 => has!("sse2"),
            Feature::Avx2Fma => has!("avx2") && has!("fma"),
            Feature::Avx512F => has!("avx512f"),
            Feature::Avx512Skx => {
                has!("avx512f") && has!("avx512dq") && has!("avx512bw") && has!("avx512vl")
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        false
    }
}

/// The CPUs (kernel numbering) the process may run on: its main thread's affinity mask, read
/// once. A pinned worker's own narrower mask does not change it.
pub fn allowed_cpus() -> &'static [usize] {
    static CPUS: OnceLock<Vec<usize>> = OnceLock::new();
    CPUS.get_or_init(|| {
        let from_mask = affinity::process_mask();
        if from_mask.is_empty() {
            (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
        } else {
            from_mask
        }
    })
}

/// Hardware threads the process may use: the allowed CPUs, capped by a cgroup CPU quota.
pub fn logical_cores() -> usize {
    let quota = std::thread::available_parallelism().map_or(usize::MAX, |n| n.get());
    allowed_cpus().len().min(quota).max(1)
}

/// Physical cores among the allowed CPUs (hyper-threads of one core count once), capped like
/// [`logical_cores`]. The default worker count of the strategies and the default block shape
/// follow it. Read once.
pub fn physical_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        let cores: std::collections::BTreeSet<String> = allowed_cpus()
            .iter()
            .map(|cpu| {
                let topology = format!("/sys/devices/system/cpu/cpu{cpu}/topology");
                std::fs::read_to_string(format!("{topology}/core_cpus_list"))
                    .or_else(|_| {
                        std::fs::read_to_string(format!("{topology}/thread_siblings_list"))
                    })
                    // Without topology, every CPU is its own core.
                    .unwrap_or_else(|_| format!("cpu{cpu}"))
                    .trim()
                    .to_string()
            })
            .collect();
        cores.len().min(logical_cores()).max(1)
    })
}

/// Pins the calling thread to the `index`-th allowed CPU (wrapping), on Linux; elsewhere, or if
/// the kernel refuses, the thread stays unpinned, which only loses the pinning's effect.
pub(crate) fn pin_current_thread(index: usize) {
    let cpus = allowed_cpus();
    affinity::pin_current_thread(cpus[index % cpus.len()]);
}

/// The affinity system calls (the only unsafe code of this module).
mod affinity {
    /// The CPUs in the process's (main thread's) affinity mask; empty if it cannot be read.
    #[cfg(target_os = "linux")]
    pub(super) fn process_mask() -> Vec<usize> {
        // SAFETY: cpu_set_t is plain data, valid when zeroed; sched_getaffinity writes at most
        // size_of::<cpu_set_t>() bytes into it, and CPU_ISSET only reads inside it. getpid has
        // no preconditions; its pid names the main thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(
                libc::getpid(),
                std::mem::size_of::<libc::cpu_set_t>(),
                &mut set,
            ) != 0
            {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn process_mask() -> Vec<usize> {
        Vec::new()
    }

    #[cfg(target_os = "linux")]
    pub(super) fn pin_current_thread(cpu: usize) {
        // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it (cpu comes from the
        // mask, so it is below CPU_SETSIZE), and sched_setaffinity(0, ..) only changes the
        // calling thread's affinity.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_ZERO(&mut set);
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn pin_current_thread(_cpu: usize) {}
}
