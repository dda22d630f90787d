//! `rayblas info`: the linked BLAS, its threads and kernels, the CPU and the SIMD level.

use crate::provenance;
use crate::report::{csv_text, Format};
use rayblas::blas::{self, BlasInfo};
use serde::Serialize;

/// Everything `info` reports.
#[derive(Serialize)]
pub struct MachineInfo {
    #[serde(flatten)]
    pub blas: BlasInfo,
    pub cpu: String,
    pub logical_cores: usize,
    pub physical_cores: usize,
    pub simd: String,
    pub simd_best: String,
    pub affinity: String,
    pub os: String,
    pub rayblas_version: String,
    pub rayblas_commit: String,
    /// The strategy used when none is given, and where that came from.
    pub default_strategy: String,
    pub default_strategy_source: String,
    /// The worker count of `blocked` and the thread count of `native` when none is given.
    pub default_workers: usize,
    pub default_workers_source: String,
    pub default_native_threads: usize,
    pub default_native_threads_source: String,
    /// The FMA-loop limit (GFLOP/s): one thread, and all physical cores at once.
    pub fma_f64_one_thread: f64,
    pub fma_f64_all: f64,
    pub fma_f32_one_thread: f64,
    pub fma_f32_all: f64,
    /// The streaming read rate (GB/s): one thread, and all physical cores at once (`None` when
    /// its buffer could not be had).
    pub read_gbps_one_thread: Option<f64>,
    pub read_gbps_all: Option<f64>,
    /// Why the read rate is missing, when it is.
    pub read_error: Option<String>,
}

pub fn gather() -> Result<MachineInfo, rayblas::Error> {
    let strategy_source = match std::env::var(rayblas::STRATEGY_ENV) {
        Ok(v) if !v.trim().is_empty() => format!("{}={v}", rayblas::STRATEGY_ENV),
        _ => format!("compiled default ({} unset)", rayblas::STRATEGY_ENV),
    };
    let workers = rayblas::Strategy::default_workers()?;
    let threads = rayblas::Strategy::default_native_threads()?;
    let p = provenance::gather();
    let cores = rayblas::cpu::physical_cores();
    let effort = crate::measure::effort()?;
    // The measurements take seconds: say so first, on stderr (stdout stays the report).
    if effort == rayblas::bench::Effort::Full {
        eprintln!(
            "rayblas: measuring the FMA loop (f64, f32) and the streaming read rate, about 5 s \
             on 2 cores; RAYBLAS_QUICK_LIMITS=1 takes milliseconds (rough figures)"
        );
    }
    let f64_peak = rayblas::bench::fma_peak_with(rayblas::Dtype::F64, cores, effort)?;
    let f32_peak = rayblas::bench::fma_peak_with(rayblas::Dtype::F32, cores, effort)?;
    let (read, read_error) = crate::measure::read_rate_or_reason(cores, effort);
    Ok(MachineInfo {
        blas: blas::info(),
        cpu: p.cpu_model,
        logical_cores: p.logical_cores,
        physical_cores: p.physical_cores,
        simd: rayblas::simd::level()?.to_string(),
        simd_best: rayblas::simd::Level::best().to_string(),
        affinity: p.affinity,
        os: p.os,
        rayblas_version: p.rayblas_version,
        rayblas_commit: p.rayblas_commit,
        default_strategy: rayblas::Strategy::from_env()?.to_string(),
        default_strategy_source: strategy_source,
        default_workers: workers.count,
        default_workers_source: workers.source,
        default_native_threads: threads.count,
        default_native_threads_source: threads.source,
        fma_f64_one_thread: f64_peak.one_thread_gflops,
        fma_f64_all: f64_peak.gflops,
        fma_f32_one_thread: f32_peak.one_thread_gflops,
        fma_f32_all: f32_peak.gflops,
        read_gbps_one_thread: read.map(|r| r.one_thread_gbps),
        read_gbps_all: read.map(|r| r.gbps),
        read_error,
    })
}

/// Prints the report as a table, one JSON object, or `key,value` CSV lines.
pub fn print(format: Format) -> Result<(), rayblas::Error> {
    let i = gather()?;
    if format == Format::Json {
        println!("{}", serde_json::to_string(&i).expect("serialisable"));
        return Ok(());
    }
    let b = &i.blas;
    let rows: Vec<(&str, String)> = vec![
        ("backend", b.backend.to_string()),
        ("version", b.version.clone()),
        ("config", b.config.clone()),
        ("corename", b.corename.clone().unwrap_or_else(|| "-".into())),
        (
            "corename_replaced",
            rayblas::blas::replaced_kernel().unwrap_or_else(|| "-".into()),
        ),
        ("threading", b.threading.name().to_string()),
        ("num_threads", b.num_threads.to_string()),
        ("max_threads", b.max_threads.to_string()),
        ("per_call_threads", b.per_call_threads.to_string()),
        ("threads_on_rayon", b.threads_on_rayon.to_string()),
        ("cpu", i.cpu.clone()),
        ("logical_cores", i.logical_cores.to_string()),
        ("physical_cores", i.physical_cores.to_string()),
        ("affinity", i.affinity.clone()),
        (
            "simd",
            format!("{} (best available: {})", i.simd, i.simd_best),
        ),
        (
            "fma_loop_peak",
            format!(
                "f64 {:.1} GFLOP/s on one thread, {:.1} on {} cores; f32 {:.1}, {:.1}{}",
                i.fma_f64_one_thread,
                i.fma_f64_all,
                i.physical_cores,
                i.fma_f32_one_thread,
                i.fma_f32_all,
                if crate::measure::effort()? == rayblas::bench::Effort::Quick {
                    " (quick and rough: RAYBLAS_QUICK_LIMITS=1)"
                } else {
                    ""
                }
            ),
        ),
        (
            "streaming_read",
            match (i.read_gbps_one_thread, i.read_gbps_all) {
                (Some(one), Some(all)) => format!(
                    "{one:.1} GB/s on one thread, {all:.1} on {} cores",
                    i.physical_cores
                ),
                _ => format!("- ({})", i.read_error.as_deref().unwrap_or("not measured")),
            },
        ),
        ("os", i.os.clone()),
        (
            "rayblas",
            format!("{} ({})", i.rayblas_version, i.rayblas_commit),
        ),
        (
            "default_strategy",
            format!("{} ({})", i.default_strategy, i.default_strategy_source),
        ),
        (
            "default_workers",
            format!("{} ({})", i.default_workers, i.default_workers_source),
        ),
        (
            "default_native_threads",
            format!(
                "{} ({})",
                i.default_native_threads, i.default_native_threads_source
            ),
        ),
    ];
    if format == Format::Csv {
        let warnings = b.warnings.iter().map(|w| ("warning", w.clone()));
        let records = std::iter::once(("key", "value".to_string()))
            .chain(rows)
            .chain(warnings)
            .map(|(k, v)| [k.to_string(), v]);
        print!("{}", csv_text(records));
        return Ok(());
    }
    for (k, v) in rows {
        println!("{k:<22} {v}");
    }
    if b.warnings.is_empty() {
        println!("{:<22} none", "warnings");
    }
    for w in &b.warnings {
        println!("{:<22} {w}", "warning");
    }
    Ok(())
}
