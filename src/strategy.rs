//! Threading strategies: who runs the tiles.
//!
//! The user-facing explanation (table, cost model, nesting) is on [`Strategy`]; this module
//! also resolves a strategy against the machine and the backend (`Resolved`).

use crate::blas;
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// How the tiles of an operation are run.
///
/// | strategy | tiles run by | BLAS threads per call | text |
/// |---|---|---|---|
/// | [`Strategy::Native`] | one call over the whole operands | `threads` (default: the library's variable, e.g. `OPENBLAS_NUM_THREADS`, else physical cores) | `native`, `native:4` |
/// | [`Strategy::NativeOnRayon`] | one call, its jobs on rayon's pool (OpenBLAS ≥ 0.3.28) | as `Native` | `native+rayon`, `native:4+rayon` |
/// | [`Strategy::Blocked`] | `workers` rayon threads (default: `RAYON_NUM_THREADS`, else physical cores) | 1 | `blocked`, `blocked:8`, `blocked:2+pin` |
/// | [`Strategy::Hybrid`] | `workers` tiles at once | `blas_threads` | `hybrid:2x2`, `hybrid:2x2+pin` |
/// | [`Strategy::Serial`] | the calling thread, in order | 1 | `serial` |
///
/// The default is `Blocked` with one worker per physical core, or `Native` when the crate is
/// built with the `native-threading` feature. Physical cores are those of the process's affinity
/// mask, so `taskset -c 0` means one; the standard variables `RAYON_NUM_THREADS` and the
/// library's own (e.g. `OPENBLAS_NUM_THREADS`) set the default counts when they are set
/// ([`Strategy::default_workers`], [`Strategy::default_native_threads`]). `RAYBLAS_STRATEGY` in the environment overrides
/// the default; an explicit strategy overrides both.
///
/// # Cost model
/// `Blocked` pays for splitting (each BLAS call packs its own operands, and small tiles run below
/// the BLAS peak) and gains perfect parallelism between tiles with no synchronisation inside
/// BLAS. `Native` lets the library split one big call, sharing packed panels between its threads.
/// To pack less, `matmul` and `gram` make one call per strip of adjacent tiles
/// rather than per tile ([`Calls`](crate::Calls)). Which wins depends on the library, the sizes
/// and the machine: measure with `rayblas compare`.
///
/// Under `Blocked` and `Hybrid` the calls go through a work queue: they start in a fixed order,
/// at most `workers` at once, and a worker that finishes early takes the next one. Where that
/// runs, and under which BLAS thread lease, is decided in one place, the execution plan (see ARCHITECTURE.md).
///
/// # Nesting
/// Called from inside a rayon pool that is not rayblas's own (a user's `par_iter`), tiles run in
/// that pool instead of a second one, so the machine is not oversubscribed and nothing waits on a
/// pool that cannot make progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One BLAS call over the whole operands, threaded by the library.
    Native {
        /// Library threads (`None`: [`Strategy::default_native_threads`]).
        threads: Option<usize>,
    },
    /// One BLAS call over the whole operands as [`Strategy::Native`], whose parallel jobs run
    /// on rayon's pool instead of the library's own threads
    /// ([`blas::run_blas_threads_on_rayon`], installed for the process when the strategy is
    /// first used). Needs OpenBLAS 0.3.28 or newer (the `openblas-scipy` backend).
    NativeOnRayon {
        /// Library threads, which is also the jobs per call (`None`:
        /// [`Strategy::default_native_threads`]).
        threads: Option<usize>,
    },
    /// Rayon workers over tiles, BLAS pinned to one thread for the whole operation.
    Blocked {
        /// Worker threads (`None`: [`Strategy::default_workers`]).
        workers: Option<usize>,
        /// Bind worker `i` to CPU `i`.
        pin: bool,
    },
    /// `workers` tiles at once, each BLAS call with `blas_threads` threads. Needs a backend with
    /// per-call threads (BLIS, pure-rust).
    Hybrid {
        /// Tiles in flight at once.
        workers: usize,
        /// BLAS threads per tile call.
        blas_threads: usize,
        /// Bind worker threads to CPUs.
        pin: bool,
    },
    /// One thread, tiles in order.
    Serial,
}

/// The environment variable that overrides the default strategy.
pub const STRATEGY_ENV: &str = "RAYBLAS_STRATEGY";

/// The environment variable that sets the default worker count of `blocked`, as it sets the
/// size of rayon's global pool.
pub const WORKERS_ENV: &str = "RAYON_NUM_THREADS";

/// A default thread count and where it came from, for reports such as `rayblas info`.
///
/// ```
/// let d = rayblas::Strategy::default_workers()?;
/// assert!(d.count >= 1);
/// println!("blocked runs {} workers ({})", d.count, d.source);
/// # Ok::<(), rayblas::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DefaultCount {
    /// The count.
    pub count: usize,
    /// Where it came from: `RAYON_NUM_THREADS=1`, or the physical cores in the affinity mask.
    pub source: String,
}

/// The count set with [`Strategy::set_default_workers`] (0: none).
static SET_WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The count set with [`Strategy::set_default_native_threads`] (0: none).
static SET_NATIVE_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A count set at run time, if any (0 stands for none).
fn set_count(cell: &std::sync::atomic::AtomicUsize) -> Option<usize> {
    match cell.load(std::sync::atomic::Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}

/// The count set with [`Strategy::set_default_workers`], if any.
fn set_workers() -> Option<usize> {
    set_count(&SET_WORKERS)
}

/// [`Strategy::default_workers`]'s count: the one set at run time, else the variable's or the
/// cores' (read once).
fn default_worker_count() -> Result<usize> {
    match set_workers() {
        Some(n) => Ok(n),
        None => count_of(workers_default()),
    }
}

/// The environment's or the cores' worker count, read once; borrowed, so a call that only
/// needs the count copies no string (see [`count_of`]).
fn workers_default() -> &'static Result<DefaultCount> {
    static WORKERS: std::sync::OnceLock<Result<DefaultCount>> = std::sync::OnceLock::new();
    WORKERS.get_or_init(|| default_from(&[WORKERS_ENV]))
}

/// [`Strategy::default_native_threads`], read once.
fn native_threads_default() -> &'static Result<DefaultCount> {
    static THREADS: std::sync::OnceLock<Result<DefaultCount>> = std::sync::OnceLock::new();
    THREADS.get_or_init(|| {
        let mut d = default_from(blas::THREAD_ENV)?;
        let max = blas::threads::max_threads();
        if d.count > max {
            d.source = format!("{}, capped at the library's {max}", d.source);
            d.count = max;
        }
        Ok(d)
    })
}

/// The count of a cached default (every call resolves its strategy: this keeps that free of
/// allocation).
fn count_of(d: &'static Result<DefaultCount>) -> Result<usize> {
    match d {
        Ok(d) => Ok(d.count),
        Err(e) => Err(e.clone()),
    }
}

/// A thread-count variable's value: `None` when unset, empty or 0 (which rayon and OpenBLAS
/// read as "choose for me"), the count when it is a positive integer (OpenMP's list form
/// `4,2` gives its first level), an [`Error::Environment`] otherwise.
fn env_count(var: &'static str, value: Option<&str>) -> Result<Option<usize>> {
    let Some(raw) = value else { return Ok(None) };
    let first = raw.split(',').next().unwrap_or("").trim();
    if first.is_empty() {
        return Ok(None);
    }
    match first.parse::<usize>() {
        Ok(0) => Ok(None),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(Error::Environment {
            var,
            value: raw.to_string(),
            reason: "expected a positive integer thread count".to_string(),
        }),
    }
}

/// The first of `vars` that is set to a count, or the physical cores of the affinity mask.
fn default_from(vars: &[&'static str]) -> Result<DefaultCount> {
    for &var in vars {
        let value = std::env::var(var).ok();
        if let Some(count) = env_count(var, value.as_deref())? {
            return Ok(DefaultCount {
                count,
                source: format!("{var}={count}"),
            });
        }
    }
    let physical = crate::cpu::physical_cores();
    Ok(DefaultCount {
        count: physical,
        source: format!(
            "physical cores among the {} CPUs of the affinity mask",
            crate::cpu::logical_cores()
        ),
    })
}

impl Strategy {
    /// The compiled-in default: `Blocked` (or `Native` with the `native-threading` feature).
    pub const fn compiled_default() -> Strategy {
        if cfg!(feature = "native-threading") {
            Strategy::Native { threads: None }
        } else {
            Strategy::Blocked {
                workers: None,
                pin: false,
            }
        }
    }

    /// The default in force: `RAYBLAS_STRATEGY` if set, else [`Strategy::compiled_default`].
    ///
    /// The variable is read once per process, on first use, like `RAYON_NUM_THREADS`. A value
    /// that does not parse is an [`Error::Environment`] naming the variable and what it accepts
    /// (not silently ignored), and every operation that would use the default returns it.
    ///
    /// # Errors
    /// [`Error::Environment`] if `RAYBLAS_STRATEGY` does not parse.
    pub fn from_env() -> Result<Strategy> {
        Self::env_strategy().clone()
    }

    /// Whether this strategy runs a call too small to share on the calling thread at one BLAS
    /// thread, with nothing left to resolve that could fail: `serial`, or `blocked` unpinned with
    /// a valid worker count. The small-call path takes it ([`crate::kernels::small`]).
    pub(crate) fn runs_small_here(&self) -> bool {
        match *self {
            Strategy::Serial => true,
            Strategy::Blocked { workers, pin } => {
                !pin && match workers {
                    Some(w) => w > 0,
                    None => set_workers().is_some() || workers_default().is_ok(),
                }
            }
            _ => false,
        }
    }

    /// [`Strategy::from_env`]'s value, read once; borrowed, so the small-call path copies
    /// nothing.
    pub(crate) fn env_strategy() -> &'static Result<Strategy> {
        static FROM_ENV: std::sync::OnceLock<Result<Strategy>> = std::sync::OnceLock::new();
        FROM_ENV.get_or_init(|| match std::env::var(STRATEGY_ENV) {
            Ok(s) if !s.trim().is_empty() => s.parse().map_err(|e| match e {
                Error::Parse { reason, .. } => Error::Environment {
                    var: STRATEGY_ENV,
                    value: s.clone(),
                    reason,
                },
                other => other,
            }),
            _ => Ok(Strategy::compiled_default()),
        })
    }

    /// The worker count of `blocked` when none is given: the count set with
    /// [`Strategy::set_default_workers`] if any, else `RAYON_NUM_THREADS` if it is set to a
    /// positive integer, else one per physical core the process may use
    /// ([`crate::cpu::physical_cores`]). The variable is read once per process.
    ///
    /// # Errors
    /// [`Error::Environment`] if `RAYON_NUM_THREADS` is set to something other than a count.
    pub fn default_workers() -> Result<DefaultCount> {
        match set_workers() {
            Some(count) => Ok(DefaultCount {
                count,
                source: "set at run time (Strategy::set_default_workers)".into(),
            }),
            None => workers_default().clone(),
        }
    }

    /// Sets, for the whole process and at run time, the worker count that `blocked` uses when
    /// the strategy names none; `None` goes back to `RAYON_NUM_THREADS` or the physical
    /// cores. Calls already running keep their workers; the next ones use the
    /// new count (a pool of that size is built once and kept). This is the knob a thread-pool
    /// controller turns (Python's threadpoolctl limits a library's threads this way). Results
    /// under `blocked` do not depend on the worker count, so they keep their bits.
    ///
    /// ```
    /// use rayblas::Strategy;
    /// use std::num::NonZeroUsize;
    ///
    /// Strategy::set_default_workers(NonZeroUsize::new(1));
    /// assert_eq!("blocked".parse::<Strategy>()?.counts()?, (1, 1));
    /// Strategy::set_default_workers(None);
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    pub fn set_default_workers(workers: Option<std::num::NonZeroUsize>) {
        SET_WORKERS.store(
            workers.map_or(0, |w| w.get()),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The thread count of `native` when none is given: the linked library's own variable
    /// ([`blas::THREAD_ENV`], e.g. `OPENBLAS_NUM_THREADS`) if set, else one per physical core
    /// the process may use; capped at what the library allows. Read once per process.
    ///
    /// # Errors
    /// [`Error::Environment`] if the first of those variables that is set is not a count.
    pub fn default_native_threads() -> Result<DefaultCount> {
        match set_count(&SET_NATIVE_THREADS) {
            Some(count) => Ok(DefaultCount {
                count,
                source: "set at run time (Strategy::set_default_native_threads)".into(),
            }),
            None => native_threads_default().clone(),
        }
    }

    /// Sets, for the whole process and at run time, the thread count that `native` (and
    /// `native+rayon`) use when the strategy names none; `None` goes back to the library's
    /// variable or the physical cores. The partner of [`Strategy::set_default_workers`]: a
    /// thread-pool controller that limits rayblas to `n` threads sets both, so neither the
    /// tiles in flight nor one threaded call exceeds `n`. A count above what the library
    /// allows is refused when a call resolves its strategy ([`Error::UnsupportedStrategy`]).
    ///
    /// ```
    /// use rayblas::Strategy;
    /// use std::num::NonZeroUsize;
    ///
    /// Strategy::set_default_native_threads(NonZeroUsize::new(1));
    /// assert_eq!("native".parse::<Strategy>()?.counts()?, (1, 1));
    /// Strategy::set_default_native_threads(None);
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    pub fn set_default_native_threads(threads: Option<std::num::NonZeroUsize>) {
        SET_NATIVE_THREADS.store(
            threads.map_or(0, |t| t.get()),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// `(workers, BLAS threads per call)` of this strategy, with its defaults filled in from
    /// [`Strategy::default_workers`] and [`Strategy::default_native_threads`] and checked
    /// against the linked backend: tiles in flight at
    /// once, and the threads each BLAS call may use. Their product is the number of threads
    /// kept busy. `serial` is `(1, 1)`; `blocked` on a 4-core machine is `(4, 1)`.
    ///
    /// ```
    /// use rayblas::Strategy;
    /// assert_eq!(Strategy::Serial.counts()?, (1, 1));
    /// assert_eq!("hybrid:2x1".parse::<Strategy>()?.counts()?, (2, 1));
    /// assert!("native:0".parse::<Strategy>().and_then(|s| s.counts()).is_err());
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidThreads`] for a count of 0, [`Error::UnsupportedStrategy`] when the
    /// backend cannot run the strategy (more threads than the library allows, per-call thread
    /// counts on a library without them), [`Error::Environment`] when a default comes from a
    /// thread-count variable that does not parse.
    pub fn counts(&self) -> Result<(usize, usize)> {
        let r = self.resolve()?;
        Ok((r.workers, r.blas_threads))
    }

    /// Checks the strategy against the linked backend and fills in defaults.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let max = blas::threads::max_threads();
        let unsupported = |reason: String| Error::UnsupportedStrategy {
            strategy: self.to_string(),
            backend: blas::BACKEND,
            reason,
        };
        let positive = |n: usize, what: &str| {
            if n == 0 {
                Err(Error::InvalidThreads {
                    requested: 0,
                    reason: format!("{what} must be at least 1"),
                })
            } else {
                Ok(n)
            }
        };
        let r = match *self {
            Strategy::Native { threads } | Strategy::NativeOnRayon { threads } => {
                if matches!(self, Strategy::NativeOnRayon { .. }) {
                    blas::run_blas_threads_on_rayon().map_err(|e| {
                        unsupported(match e {
                            Error::Backend(reason) => reason,
                            other => other.to_string(),
                        })
                    })?;
                }
                let t = match threads {
                    Some(t) => t,
                    None => match set_count(&SET_NATIVE_THREADS) {
                        Some(t) => t,
                        None => count_of(native_threads_default())?,
                    },
                };
                let t = positive(t, "native threads")?;
                if t > max {
                    return Err(unsupported(format!(
                        "the library allows at most {max} threads"
                    )));
                }
                Resolved {
                    kind: Kind::Native,
                    workers: 1,
                    blas_threads: t,
                    pin: false,
                }
            }
            Strategy::Blocked { workers, pin } => Resolved {
                kind: Kind::Blocked,
                workers: positive(
                    match workers {
                        Some(w) => w,
                        None => default_worker_count()?,
                    },
                    "workers",
                )?,
                blas_threads: 1,
                pin,
            },
            Strategy::Hybrid {
                workers,
                blas_threads,
                pin,
            } => {
                positive(workers, "workers")?;
                positive(blas_threads, "BLAS threads")?;
                if blas_threads > max {
                    return Err(unsupported(format!(
                        "the library allows at most {max} threads"
                    )));
                }
                if blas_threads > 1 && !blas::per_call_threads() {
                    return Err(unsupported(
                        "its thread count is process-wide and its multithreaded calls from \
                         several threads queue behind one lock, so tiles cannot each have their \
                         own threads; use `blocked` or `native`, or build with `blis-system` or \
                         `pure-rust`"
                            .to_string(),
                    ));
                }
                Resolved {
                    kind: Kind::Hybrid,
                    workers,
                    blas_threads,
                    pin,
                }
            }
            Strategy::Serial => Resolved {
                kind: Kind::Serial,
                workers: 1,
                blas_threads: 1,
                pin: false,
            },
        };
        Ok(r)
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Self::compiled_default()
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pin = |p: bool| if p { "+pin" } else { "" };
        match *self {
            Strategy::Native { threads: None } => write!(f, "native"),
            Strategy::Native { threads: Some(t) } => write!(f, "native:{t}"),
            Strategy::NativeOnRayon { threads: None } => write!(f, "native+rayon"),
            Strategy::NativeOnRayon { threads: Some(t) } => write!(f, "native:{t}+rayon"),
            Strategy::Blocked {
                workers: None,
                pin: p,
            } => write!(f, "blocked{}", pin(p)),
            Strategy::Blocked {
                workers: Some(w),
                pin: p,
            } => write!(f, "blocked:{w}{}", pin(p)),
            Strategy::Hybrid {
                workers,
                blas_threads,
                pin: p,
            } => write!(f, "hybrid:{workers}x{blas_threads}{}", pin(p)),
            Strategy::Serial => write!(f, "serial"),
        }
    }
}

impl FromStr for Strategy {
    type Err = Error;
    /// `native`, `native:4`, `blocked`, `blocked:8`, `blocked:2+pin`, `hybrid:2x2`,
    /// `hybrid:2x2+pin`, `serial` (case-insensitive).
    ///
    /// ```
    /// use rayblas::Strategy;
    /// for s in ["native", "native:4", "blocked", "blocked:8", "hybrid:2x2", "serial", "blocked:2+pin"] {
    ///     assert_eq!(s.parse::<Strategy>()?.to_string(), s);
    /// }
    /// assert!("blocked:0".parse::<Strategy>().is_err());
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    fn from_str(input: &str) -> Result<Self> {
        let err = |reason: &str| {
            Error::Parse {
            what: "strategy",
            input: input.to_string(),
            reason: format!(
                "{reason}; expected native[:T][+rayon], blocked[:W][+pin], hybrid:WxT[+pin] or serial"
            ),
        }
        };
        let lower = input.trim().to_ascii_lowercase();
        let (body, pin) = match lower.strip_suffix("+pin") {
            Some(b) => (b, true),
            None => (lower.as_str(), false),
        };
        let (body, rayon) = match body.strip_suffix("+rayon") {
            Some(b) => (b, true),
            None => (body, false),
        };
        if rayon && (pin || !body.starts_with("native")) {
            return Err(err("+rayon applies only to native"));
        }
        let (name, arg) = match body.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (body, None),
        };
        let count = |a: &str| -> Result<usize> {
            match a.parse::<usize>() {
                Ok(0) => Err(err("counts must be at least 1")),
                Ok(n) => Ok(n),
                Err(_) => Err(err("counts must be positive integers")),
            }
        };
        match (name, arg) {
            ("native", None) if rayon => Ok(Strategy::NativeOnRayon { threads: None }),
            ("native", Some(a)) if rayon => Ok(Strategy::NativeOnRayon {
                threads: Some(count(a)?),
            }),
            ("native", None) if !pin => Ok(Strategy::Native { threads: None }),
            ("native", Some(a)) if !pin => Ok(Strategy::Native {
                threads: Some(count(a)?),
            }),
            ("blocked", None) => Ok(Strategy::Blocked { workers: None, pin }),
            ("blocked", Some(a)) => Ok(Strategy::Blocked {
                workers: Some(count(a)?),
                pin,
            }),
            ("hybrid", Some(a)) => {
                let (w, t) = a
                    .split_once('x')
                    .ok_or_else(|| err("hybrid needs WORKERSxTHREADS"))?;
                Ok(Strategy::Hybrid {
                    workers: count(w)?,
                    blas_threads: count(t)?,
                    pin,
                })
            }
            ("hybrid", None) => Err(err("hybrid needs WORKERSxTHREADS, e.g. hybrid:2x2")),
            ("serial", None) if !pin => Ok(Strategy::Serial),
            ("native" | "serial", _) => Err(err("+pin applies only to blocked and hybrid")),
            _ => Err(err("unknown strategy")),
        }
    }
}

/// Which kind of strategy, after resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One threaded call.
    Native,
    /// Rayon over tiles, BLAS at one thread.
    Blocked,
    /// Several tiles at once, several BLAS threads each.
    Hybrid,
    /// One thread.
    Serial,
}

/// A strategy with every count filled in and checked against the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The kind.
    pub(crate) kind: Kind,
    /// Tiles in flight at once (1 for native and serial).
    pub(crate) workers: usize,
    /// BLAS threads per call.
    pub(crate) blas_threads: usize,
    /// Workers pinned to CPUs.
    pub(crate) pin: bool,
}

impl Resolved {
    /// Threads busy at once: `workers × blas_threads`.
    pub(crate) fn total_threads(&self) -> usize {
        self.workers * self.blas_threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_variables_parse_like_the_libraries_read_them() {
        let v = "RAYON_NUM_THREADS";
        assert_eq!(env_count(v, None).unwrap(), None);
        assert_eq!(env_count(v, Some("")).unwrap(), None);
        assert_eq!(env_count(v, Some("0")).unwrap(), None);
        assert_eq!(env_count(v, Some(" 3 ")).unwrap(), Some(3));
        assert_eq!(env_count(v, Some("4,2")).unwrap(), Some(4));
        let e = env_count(v, Some("many")).unwrap_err().to_string();
        assert!(e.contains("RAYON_NUM_THREADS") && e.contains("many"), "{e}");
    }

    #[test]
    fn resolution_fills_defaults_and_checks_counts() {
        let physical = Strategy::default_workers().unwrap().count;
        let r = Strategy::Blocked {
            workers: None,
            pin: false,
        }
        .resolve()
        .unwrap();
        assert_eq!((r.workers, r.blas_threads), (physical, 1));
        let r = Strategy::Serial.resolve().unwrap();
        assert_eq!(r.total_threads(), 1);
        assert!(Strategy::Blocked {
            workers: Some(0),
            pin: false
        }
        .resolve()
        .is_err());
        assert!(Strategy::Native { threads: Some(0) }.resolve().is_err());
        let hybrid = Strategy::Hybrid {
            workers: 2,
            blas_threads: 1,
            pin: false,
        }
        .resolve()
        .unwrap();
        assert_eq!(hybrid.kind, Kind::Hybrid);
    }
}
