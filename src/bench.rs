//! Helpers for benchmarks and tests (feature `bench`): seeded random matrices and a median.
//!
//! The matrices are reproducible by row: row `i` of `uniform(rows, cols, seed)` depends only on
//! `seed`, `i` and `cols`, so [`uniform_rows`] can make any band of rows on its own (a process
//! that owns a band, a file written band by band) and get the same numbers as the whole matrix.
//! Rows are made in parallel.
//!
//! ```
//! use rayblas::bench::{median, uniform, uniform_rows};
//!
//! let x = uniform::<f64>(6, 4, 42);
//! assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)));
//! assert_eq!(uniform_rows::<f64>(2..5, 4, 42), x.slice(ndarray::s![2..5, ..]));
//! assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
//! ```

use crate::element::{Dtype, Element};
use crate::error::{Error, Result};
use crate::simd::fma_loop::{FmaLoop, CHAINS};
use crate::simd::Level;
use ndarray::{Array2, Axis};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rayon::prelude::*;
use std::ops::Range;

/// A `rows × cols` matrix of values uniform in [0, 1), from `seed`.
pub fn uniform<T: Element>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    uniform_rows(0..rows, cols, seed)
}

/// Rows `range` of [`uniform`]`(_, cols, seed)`, made without the others.
pub fn uniform_rows<T: Element>(range: Range<usize>, cols: usize, seed: u64) -> Array2<T> {
    let mut out = Array2::<T>::zeros((range.len(), cols));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(range)
        .for_each(|(mut row, i)| {
            let mut rng = SmallRng::seed_from_u64(row_seed(seed, i));
            row.iter_mut()
                .for_each(|v| *v = below_one(rng.random::<f64>()));
        });
    out
}

/// An independent stream per row: SplitMix64's finaliser of (seed, row), so neighbouring rows
/// and neighbouring seeds do not start from related states.
fn row_seed(seed: u64, row: usize) -> u64 {
    let mut z = seed ^ (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x` in [0, 1) as a `T` still in [0, 1): f64 values within half an f32 ulp of 1 round up to
/// exactly 1.0 in f32, so they become the largest f32 below 1 instead.
fn below_one<T: Element>(x: f64) -> T {
    let v = T::from_f64(x);
    if v < T::one() {
        v
    } else {
        T::one() - T::EPSILON / (T::one() + T::one())
    }
}

/// The median of `values` (the mean of the middle two for an even count; NaN for none). NaNs
/// sort last, as `f64::total_cmp` orders them.
pub fn median(values: &[f64]) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_all_core_figure_is_measured_again_until_it_reaches_the_floor_or_runs_out() {
        let mut runs = [30.0, 50.0, 95.0, 99.0].into_iter();
        let mut count = 0;
        let mut next = || {
            count += 1;
            Ok(runs.next().unwrap())
        };
        assert_eq!(best_while_below(48.0, 70.0, 20, &mut next).unwrap(), 95.0);
        assert_eq!(count, 3);
        // At the floor already: no run; out of runs: the best seen.
        assert_eq!(
            best_while_below(90.0, 70.0, 20, || unreachable!()).unwrap(),
            90.0
        );
        assert_eq!(best_while_below(40.0, 70.0, 2, || Ok(45.0)).unwrap(), 45.0);
        let failed = best_while_below(40.0, 70.0, 2, || Err(Error::Measurement("x".into())));
        assert!(failed.is_err());
    }

    #[test]
    fn read_rate_checks_its_sums_and_splits_any_buffer_over_threads() {
        let level = crate::simd::level().unwrap();
        // Parts of unequal length (3 words over 2 threads) and more threads than words.
        for (threads, bytes) in [(1, 8 << 20), (2, 24), (3, 16), (2, 8 << 20)] {
            let gbps = read_rate(level, threads, bytes, 2).unwrap();
            assert!(gbps.is_finite() && gbps > 0.0, "{threads} {bytes}: {gbps}");
        }
        assert!(matches!(
            read_bandwidth(0),
            Err(Error::InvalidThreads { requested: 0, .. })
        ));
        assert!(last_level_cache_bytes().is_none_or(|b| b >= 1024));
    }

    #[test]
    fn f32_values_stay_below_one() {
        assert_eq!(below_one::<f32>(1.0 - 1e-12), 1.0 - f32::EPSILON / 2.0);
        assert!(uniform::<f32>(64, 64, 1)
            .iter()
            .all(|&v| (0.0..1.0).contains(&v)));
    }

    #[test]
    fn seeds_and_rows_differ() {
        let a = uniform::<f64>(3, 8, 1);
        assert_ne!(a.row(0), a.row(1));
        assert_ne!(a, uniform::<f64>(3, 8, 2));
        assert_eq!(uniform_rows::<f64>(3..3, 8, 1).dim(), (0, 8));
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}

/// How long a limit measurement ([`fma_peak_with`], [`read_bandwidth_with`]) takes, and so how
/// far its figure can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Effort {
    /// The figures to report: FMA-loop runs of about 0.15 s, best of five (more while a core
    /// looks taken); a read buffer of at least [`READ_BUFFER_BYTES`], best of five passes.
    /// About 1.5 s per FMA dtype and 1 s for the read on a 2-core machine.
    #[default]
    Full,
    /// A rough figure in milliseconds, for tests of code that needs *a* limit rather than a
    /// good one: FMA-loop runs of about 5 ms, one each; a read of [`QUICK_READ_BUFFER_BYTES`]
    /// (caches hold part of it, so the rate is too high), best of two passes. Every check of
    /// the full measurement is still made.
    Quick,
}

/// The buffer [`Effort::Quick`] reads.
pub const QUICK_READ_BUFFER_BYTES: usize = 8 << 20;

/// The FMA-loop limit of this machine: what its cores reach on fused multiply-adds alone, the
/// ceiling every GEMM sits under. Measured by [`fma_peak`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FmaPeak {
    /// Element type.
    pub dtype: Dtype,
    /// The SIMD level whose registers the loop used.
    pub level: Level,
    /// GFLOP/s of one thread alone.
    pub one_thread_gflops: f64,
    /// Threads run at once for [`FmaPeak::gflops`].
    pub threads: usize,
    /// GFLOP/s of `threads` threads at once (an FMA counts 2 flops).
    pub gflops: f64,
}

/// Measures the FMA-loop peak for `dtype`: one thread alone, then `threads` at once (pass the
/// physical core count), each running 12 independent chains of FMAs in the widest registers
/// the CPU has ([`crate::simd::level`]), best of five runs of about 0.15 s (up to 20 more while
/// all threads give less than 3/4 of `threads` × one, as when another process holds a core).
/// Every chain's final value is checked exactly, so chains a compiler merged or skipped cannot
/// inflate the figure.
///
/// ```no_run
/// let peak = rayblas::bench::fma_peak(rayblas::Dtype::F64, rayblas::cpu::physical_cores())?;
/// println!("{:.1} GFLOP/s per core, {:.1} on {}", peak.one_thread_gflops, peak.gflops, peak.threads);
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// [`Error::Environment`] if `RAYBLAS_SIMD` is invalid, [`Error::InvalidThreads`] for 0
/// threads, [`Error::Measurement`] if a chain's final value is not what its steps give.
pub fn fma_peak(dtype: Dtype, threads: usize) -> Result<FmaPeak> {
    fma_peak_with(dtype, threads, Effort::Full)
}

/// [`fma_peak`] at a chosen [`Effort`]: `Effort::Quick` gives a rough figure in milliseconds.
///
/// ```
/// use rayblas::bench::{fma_peak_with, Effort};
/// let rough = fma_peak_with(rayblas::Dtype::F32, 1, Effort::Quick)?;
/// assert!(rough.gflops > 0.0);
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// As [`fma_peak`].
pub fn fma_peak_with(dtype: Dtype, threads: usize, effort: Effort) -> Result<FmaPeak> {
    if threads == 0 {
        return Err(Error::InvalidThreads {
            requested: 0,
            reason: "the FMA loop needs at least one thread".into(),
        });
    }
    let level = crate::simd::level()?;
    let (one, all) = match dtype {
        Dtype::F64 => fma_rates::<f64>(level, threads, effort)?,
        Dtype::F32 => fma_rates::<f32>(level, threads, effort)?,
    };
    Ok(FmaPeak {
        dtype,
        level,
        one_thread_gflops: one,
        threads,
        gflops: all,
    })
}

/// (one thread, `threads` at once) in GFLOP/s.
fn fma_rates<T: Element + FmaLoop>(
    level: Level,
    threads: usize,
    effort: Effort,
) -> Result<(f64, f64)> {
    // (seconds a calibration pass must pass, seconds of a timed run, runs, extra runs)
    let (calibrate_s, run_s, runs, extra) = match effort {
        Effort::Full => (0.02, 0.15, 5, 20),
        Effort::Quick => (0.002, 0.005, 1, 0),
    };
    let lanes = T::lanes(level);
    // Steps of 2⁻²⁰ from below 2 stay exact while values stay below 16 (f32 has 24 bits), so
    // one pass is at most 13·2²⁰ steps; a timing runs several passes from fresh values.
    let step = T::from_f64(2f64.powi(-20));
    let max_iters: u64 = 13 << 20;
    // `passes` passes of `iters` steps; returns the flops done, after checking every lane.
    let run = |iters: u64, passes: u32, id: usize| -> Result<f64> {
        let start: Vec<T> = (0..CHAINS * lanes)
            .map(|i| T::from_f64(1.0 + (i + id) as f64 / 1024.0))
            .collect();
        let grown = T::from_f64(iters as f64 * 2f64.powi(-20));
        for _ in 0..passes {
            let mut x = start.clone();
            T::run(
                level,
                &mut x,
                std::hint::black_box(T::one()),
                std::hint::black_box(step),
                iters,
            );
            if x.iter().zip(&start).any(|(v, s)| *v != *s + grown) {
                return Err(Error::Measurement(format!(
                    "the FMA loop's chains did not each run {iters} steps ({level})"
                )));
            }
        }
        Ok((CHAINS * lanes) as f64 * 2.0 * iters as f64 * f64::from(passes))
    };
    // Calibrate: steps per pass up to the exact limit, then passes for about `run_s`.
    let mut iters: u64 = 1 << 12;
    let seconds = loop {
        let t = std::time::Instant::now();
        run(iters, 1, 0)?;
        let s = t.elapsed().as_secs_f64();
        if s > calibrate_s || iters >= max_iters {
            break s;
        }
        iters = (iters * 4).min(max_iters);
    };
    let passes = (run_s / seconds.max(1e-9)).ceil().clamp(1.0, 1000.0) as u32;
    let timed = |threads: usize| -> Result<f64> {
        let t = std::time::Instant::now();
        let flops: Vec<Result<f64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|id| s.spawn(move || run(iters, passes, id)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(Error::Measurement("an FMA thread panicked".into()))
                    })
                })
                .collect()
        });
        let total = flops.into_iter().sum::<Result<f64>>()?;
        Ok(total / t.elapsed().as_secs_f64() / 1e9)
    };
    // Best of five: on a shared machine, the fastest run is the one least disturbed.
    let (mut one, mut all) = (0.0f64, 0.0f64);
    for _ in 0..runs {
        one = one.max(timed(1)?);
        all = all.max(timed(threads)?);
    }
    // On a shared host a core can be taken through all five runs: one core's worth on two was
    // seen on this machine kind, which would double every "% FMA". The loop scales with free
    // cores (no memory, no shared units between physical cores), so measure again, up to 20
    // more runs, while `threads` at once give less than 3/4 of `threads` × one thread.
    let all = best_while_below(all, 0.75 * threads as f64 * one, extra, || timed(threads))?;
    Ok((one, all))
}

/// The best of `best` and up to `extra` more `measure` runs, stopping once the best reaches
/// `floor`.
fn best_while_below(
    mut best: f64,
    floor: f64,
    extra: usize,
    mut measure: impl FnMut() -> Result<f64>,
) -> Result<f64> {
    for _ in 0..extra {
        if best >= floor {
            break;
        }
        best = best.max(measure()?);
    }
    Ok(best)
}

/// The streaming read rate of this machine: what its cores reach reading memory that no cache
/// holds, the ceiling of every op that touches each byte once. Measured by [`read_bandwidth`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadBandwidth {
    /// The SIMD level of the sum that did the reading.
    pub level: Level,
    /// Bytes read per pass: at least [`READ_BUFFER_BYTES`] and four times the last-level cache.
    pub bytes: usize,
    /// GB/s (10⁹ bytes) of one thread reading the whole buffer alone.
    pub one_thread_gbps: f64,
    /// Threads reading at once for [`ReadBandwidth::gbps`], each its own part.
    pub threads: usize,
    /// GB/s of `threads` threads at once.
    pub gbps: f64,
}

/// The smallest buffer [`read_bandwidth`] reads, far beyond the caches of the CPUs it runs on.
pub const READ_BUFFER_BYTES: usize = 512 << 20;

/// Measures the streaming read rate: one thread alone, then `threads` at once (pass the
/// physical core count), each adding up its own part of a buffer of [`READ_BUFFER_BYTES`] (or
/// four times the last-level cache, if larger) with rayblas's own sum kernel at the SIMD level
/// [`crate::simd::level`] picks, best of five passes. Each thread writes its part before reading
/// it, so the pages are its own (first touch), and every sum is checked exactly, so a pass that
/// skipped memory cannot inflate the figure.
///
/// ```no_run
/// let read = rayblas::bench::read_bandwidth(rayblas::cpu::physical_cores())?;
/// println!("{:.1} GB/s on one core, {:.1} on {}", read.one_thread_gbps, read.gbps, read.threads);
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// [`Error::Environment`] if `RAYBLAS_SIMD` is invalid, [`Error::InvalidThreads`] for 0
/// threads, [`Error::OutOfMemory`] if the buffer cannot be allocated, [`Error::Measurement`] if
/// a sum is not what the buffer holds.
pub fn read_bandwidth(threads: usize) -> Result<ReadBandwidth> {
    read_bandwidth_with(threads, Effort::Full)
}

/// [`read_bandwidth`] at a chosen [`Effort`]: `Effort::Quick` reads
/// [`QUICK_READ_BUFFER_BYTES`], so caches inflate its rough figure.
///
/// ```
/// use rayblas::bench::{read_bandwidth_with, Effort, QUICK_READ_BUFFER_BYTES};
/// let rough = read_bandwidth_with(1, Effort::Quick)?;
/// assert_eq!(rough.bytes, QUICK_READ_BUFFER_BYTES);
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// As [`read_bandwidth`].
pub fn read_bandwidth_with(threads: usize, effort: Effort) -> Result<ReadBandwidth> {
    if threads == 0 {
        return Err(Error::InvalidThreads {
            requested: 0,
            reason: "the read-bandwidth measurement needs at least one thread".into(),
        });
    }
    let level = crate::simd::level()?;
    let (bytes, passes) = match effort {
        Effort::Full => (
            READ_BUFFER_BYTES.max(4 * last_level_cache_bytes().unwrap_or(0)),
            5,
        ),
        Effort::Quick => (QUICK_READ_BUFFER_BYTES, 2),
    };
    let one = read_rate(level, 1, bytes, passes)?;
    let all = if threads == 1 {
        one
    } else {
        read_rate(level, threads, bytes, passes)?
    };
    Ok(ReadBandwidth {
        level,
        bytes,
        one_thread_gbps: one,
        threads,
        gbps: all,
    })
}

/// GB/s of `threads` threads reading their parts of `bytes` at once, best of `passes` passes.
fn read_rate(level: Level, threads: usize, bytes: usize, passes: usize) -> Result<f64> {
    let sum = crate::simd::kernels_for::<f64>(level).sum;
    let words = bytes / 8;
    // Near-equal parts, each with its length; allocated here, written by the thread that
    // reads it (its pages, on its node).
    let mut parts = Vec::with_capacity(threads);
    for t in 0..threads {
        let len = words * (t + 1) / threads - words * t / threads;
        let mut part: Vec<f64> = Vec::new();
        part.try_reserve_exact(len)
            .map_err(|_| Error::OutOfMemory {
                what: "read-bandwidth buffer",
                rows: threads,
                cols: len,
                bytes: (bytes as u128),
            })?;
        parts.push((len, part));
    }
    let barrier = std::sync::Barrier::new(threads + 1);
    let mut best = f64::INFINITY;
    let sums: Vec<Vec<(usize, f64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|(len, mut part)| {
                let barrier = &barrier;
                s.spawn(move || {
                    part.resize(len, 1.0);
                    barrier.wait();
                    (0..passes)
                        .map(|_| {
                            barrier.wait();
                            let total = sum(std::hint::black_box(&part));
                            barrier.wait();
                            (len, total)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        barrier.wait();
        for _ in 0..passes {
            barrier.wait();
            let t = std::time::Instant::now();
            barrier.wait();
            best = best.min(t.elapsed().as_secs_f64());
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Every element is 1.0 and every part is below 2⁵³ elements: each sum is exactly its length.
    let all_exact = sums.len() == threads
        && sums
            .iter()
            .all(|p| p.len() == passes && p.iter().all(|&(len, s)| s == len as f64));
    if !all_exact {
        return Err(Error::Measurement(format!(
            "the read-bandwidth sums did not each add every element once ({level})"
        )));
    }
    Ok((words * 8) as f64 / best / 1e9)
}

/// The largest cache of CPU 0 (Linux sysfs), in bytes; `None` where sysfs does not say.
fn last_level_cache_bytes() -> Option<usize> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|entry| {
        let text = std::fs::read_to_string(entry.ok()?.path().join("size")).ok()?;
        let text = text.trim();
        let (digits, scale) = match text.strip_suffix('K') {
            Some(d) => (d, 1 << 10),
            None => match text.strip_suffix('M') {
                Some(d) => (d, 1 << 20),
                None => (text, 1),
            },
        };
        digits.parse::<usize>().ok()?.checked_mul(scale)
    })
    .max()
}
