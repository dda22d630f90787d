//! `rayblas info`: the linked BLAS, its threads and kernels, the CPU and the SIMD level.

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
    pub default_strategy: String,
}

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

pub fn gather() -> Result<MachineInfo, rayblas::Error> {
    Ok(MachineInfo {
        blas: blas::info(),
        cpu: cpu_model(),
        logical_cores: rayblas::cpu::logical_cores(),
        physical_cores: rayblas::cpu::physical_cores(),
        simd: rayblas::simd::level()?.to_string(),
        simd_best: rayblas::simd::Level::best().to_string(),
        default_strategy: rayblas::Strategy::from_env()?.to_string(),
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
        ("cpu", i.cpu.clone()),
        ("logical_cores", i.logical_cores.to_string()),
        ("physical_cores", i.physical_cores.to_string()),
        (
            "simd",
            format!("{} (best available: {})", i.simd, i.simd_best),
        ),
        ("default_strategy", i.default_strategy.clone()),
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
        println!("{k:<17} {v}");
    }
    if b.warnings.is_empty() {
        println!("{:<17} none", "warnings");
    }
    for w in &b.warnings {
        println!("{:<17} {w}", "warning");
    }
    Ok(())
}
