//! Thread control in Python's vocabulary: `info()`, the limit behind `rayblas.limit(n)`, and
//! the C functions threadpoolctl's controller calls (`rayblas/_threadpoolctl.py`) to read and
//! set how many threads rayblas uses, at run time.
//!
//! A limit of `n` sets both run-time defaults of the library: the worker count of `blocked`
//! ([`Strategy::set_default_workers`]) and the thread count of `native`
//! ([`Strategy::set_default_native_threads`]), so the default strategy, whichever it is, keeps
//! at most `n` threads busy. A strategy that names its counts (`"blocked:4"`) keeps them.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayblas::Strategy;
use std::ffi::{c_char, c_int, CStr};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The limit set through this module (0: none, the library's defaults apply).
static LIMIT: AtomicUsize = AtomicUsize::new(0);

fn set_limit(n: Option<NonZeroUsize>) {
    LIMIT.store(n.map_or(0, |n| n.get()), Ordering::Relaxed);
    Strategy::set_default_workers(n);
    Strategy::set_default_native_threads(n);
}

/// Threads the default strategy keeps busy: workers × BLAS threads per call (`blocked`: its
/// workers; `native`: its threads). 1 if the environment's settings do not parse (the call
/// itself would then report the error).
fn default_threads() -> usize {
    Strategy::from_env()
        .and_then(|s| s.counts())
        .map_or(1, |(w, t)| w * t)
}

/// For threadpoolctl: the threads rayblas's default strategy uses now.
#[no_mangle]
pub extern "C" fn rayblas_get_num_threads() -> c_int {
    c_int::try_from(default_threads()).unwrap_or(c_int::MAX)
}

/// For threadpoolctl: limit rayblas's default strategy to `n` threads (`n` ≤ 0: back to the
/// defaults from the environment and the cores). threadpoolctl restores a limit by setting the
/// count it read before; a count equal to the defaults' lifts the limit instead of pinning
/// it, so leaving `threadpool_limits` leaves no limit behind where there was none.
#[no_mangle]
pub extern "C" fn rayblas_set_num_threads(n: c_int) {
    let n = usize::try_from(n).ok().and_then(NonZeroUsize::new);
    set_limit(None);
    if n.is_some_and(|n| n.get() != default_threads()) {
        set_limit(n);
    }
}

/// For threadpoolctl: the package version (a static NUL-terminated string).
#[no_mangle]
pub extern "C" fn rayblas_get_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version has no NUL inside"),
        };
    VERSION.as_ptr()
}

/// The limit set by `rayblas.limit` or threadpoolctl, or `None`.
#[pyfunction]
pub fn _get_limit() -> Option<usize> {
    match LIMIT.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// Sets (a positive int) or clears (`None`) the limit; what `rayblas.limit` calls.
#[pyfunction]
#[pyo3(signature = (n))]
pub fn _set_limit(n: Option<usize>) -> PyResult<()> {
    match n {
        Some(0) => Err(crate::errors::value_error(
            "a thread limit must be at least 1 (None lifts it)".into(),
        )),
        n => {
            set_limit(n.and_then(NonZeroUsize::new));
            Ok(())
        }
    }
}

/// The fields of `rayblas info` that need no measuring, and with `measure=True` the FMA-loop
/// peaks and the streaming read rate too (about 5 s on 2 cores). CPU and OS come from Python.
#[pyfunction]
#[pyo3(signature = (measure=false))]
pub fn _info<'py>(py: Python<'py>, measure: bool) -> PyResult<Bound<'py, PyDict>> {
    use crate::errors::to_py;
    let d = PyDict::new(py);
    let b = rayblas::blas::info();
    d.set_item("backend", b.backend)?;
    d.set_item("version", &b.version)?;
    d.set_item("config", &b.config)?;
    d.set_item("corename", &b.corename)?;
    d.set_item("corename_replaced", rayblas::blas::replaced_kernel())?;
    d.set_item("threading", b.threading.name())?;
    d.set_item("num_threads", b.num_threads)?;
    d.set_item("max_threads", b.max_threads)?;
    d.set_item("per_call_threads", b.per_call_threads)?;
    d.set_item("threads_on_rayon", b.threads_on_rayon)?;
    d.set_item("warnings", &b.warnings)?;
    d.set_item("logical_cores", rayblas::cpu::logical_cores())?;
    d.set_item("physical_cores", rayblas::cpu::physical_cores())?;
    d.set_item("affinity", rayblas::cpu::allowed_cpus().to_vec())?;
    d.set_item("simd", rayblas::simd::level().map_err(to_py)?.name())?;
    d.set_item("simd_best", rayblas::simd::Level::best().name())?;
    d.set_item("rayblas_version", env!("CARGO_PKG_VERSION"))?;
    let strategy = Strategy::from_env().map_err(to_py)?;
    d.set_item("default_strategy", strategy.to_string())?;
    d.set_item(
        "default_strategy_source",
        match std::env::var(rayblas::STRATEGY_ENV) {
            Ok(v) if !v.trim().is_empty() => format!("{}={v}", rayblas::STRATEGY_ENV),
            _ => format!("compiled default ({} unset)", rayblas::STRATEGY_ENV),
        },
    )?;
    let workers = Strategy::default_workers().map_err(to_py)?;
    let threads = Strategy::default_native_threads().map_err(to_py)?;
    d.set_item("default_workers", workers.count)?;
    d.set_item("default_workers_source", workers.source)?;
    d.set_item("default_native_threads", threads.count)?;
    d.set_item("default_native_threads_source", threads.source)?;
    d.set_item("limit", _get_limit())?;
    if measure {
        let cores = rayblas::cpu::physical_cores();
        let (f64_peak, f32_peak, read) = py.detach(|| {
            use rayblas::bench::{fma_peak, read_bandwidth};
            (
                fma_peak(rayblas::Dtype::F64, cores),
                fma_peak(rayblas::Dtype::F32, cores),
                read_bandwidth(cores),
            )
        });
        let (f64_peak, f32_peak) = (f64_peak.map_err(to_py)?, f32_peak.map_err(to_py)?);
        d.set_item("fma_f64_one_thread", f64_peak.one_thread_gflops)?;
        d.set_item("fma_f64_all", f64_peak.gflops)?;
        d.set_item("fma_f32_one_thread", f32_peak.one_thread_gflops)?;
        d.set_item("fma_f32_all", f32_peak.gflops)?;
        match read {
            Ok(r) => {
                d.set_item("read_gbps_one_thread", r.one_thread_gbps)?;
                d.set_item("read_gbps_all", r.gbps)?;
            }
            Err(e) => d.set_item("read_error", e.to_string())?,
        }
    }
    Ok(d)
}
