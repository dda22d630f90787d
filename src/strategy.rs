//! Threading strategies: who runs the tiles.
//!
//! | strategy | tiles run by | BLAS threads per call | text |
//! |---|---|---|---|
//! | [`Strategy::Native`] | one call over the whole operands | `threads` (default: physical cores) | `native`, `native:4` |
//! | [`Strategy::Blocked`] | `workers` rayon threads | 1 | `blocked`, `blocked:8`, `blocked:2+pin` |
//! | [`Strategy::Hybrid`] | `workers` tiles at once | `blas_threads` | `hybrid:2x2`, `hybrid:2x2+pin` |
//! | [`Strategy::Serial`] | the calling thread, in order | 1 | `serial` |
//!
//! The default is `Blocked` with one worker per physical core, or `Native` when the crate is
//! built with the `native-threading` feature. `RAYBLAS_STRATEGY` in the environment overrides
//! the default; an explicit strategy overrides both.
//!
//! # Cost model
//! `Blocked` pays for splitting (each BLAS call packs its own operands, and small tiles run below
//! the BLAS peak) and gains perfect parallelism between tiles with no synchronisation inside
//! BLAS. `Native` lets the library split one big call, sharing packed panels between its threads.
//! To pack less, `matmul` and `gram` make one call per [`Strip`](crate::Strip) of adjacent tiles
//! rather than per tile ([`Calls`](crate::Calls)). Which wins depends on the library, the sizes
//! and the machine: measure with `rayblas compare`.
//!
//! Under `Blocked` and `Hybrid` the calls go through a work queue: they start in a fixed order,
//! at most `workers` at once, and a worker that finishes early takes the next one.
//!
//! # Nesting
//! Called from inside a rayon pool that is not rayblas's own (a user's `par_iter`), tiles run in
//! that pool instead of a second one, so the machine is not oversubscribed and nothing waits on a
//! pool that cannot make progress.

use crate::blas;
use crate::error::{Error, Result};
use crate::pool;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

/// How the tiles of an operation are run. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One BLAS call over the whole operands, threaded by the library.
    Native {
        /// Library threads (`None`: one per physical core).
        threads: Option<usize>,
    },
    /// Rayon workers over tiles, BLAS pinned to one thread for the whole operation.
    Blocked {
        /// Worker threads (`None`: one per physical core).
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
    /// A value that does not parse is an error (not silently ignored).
    pub fn from_env() -> Result<Strategy> {
        match std::env::var(STRATEGY_ENV) {
            Ok(s) if !s.trim().is_empty() => s.parse(),
            _ => Ok(Self::compiled_default()),
        }
    }

    /// Checks the strategy against the linked backend and fills in defaults.
    pub fn resolve(&self) -> Result<Resolved> {
        let physical = blas::threads::physical_cores();
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
            Strategy::Native { threads } => {
                let t = positive(threads.unwrap_or(physical.min(max)), "native threads")?;
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
                workers: positive(workers.unwrap_or(physical), "workers")?,
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
        let err = |reason: &str| Error::Parse {
            what: "strategy",
            input: input.to_string(),
            reason: format!(
                "{reason}; expected native[:T], blocked[:W][+pin], hybrid:WxT[+pin] or serial"
            ),
        };
        let lower = input.trim().to_ascii_lowercase();
        let (body, pin) = match lower.strip_suffix("+pin") {
            Some(b) => (b, true),
            None => (lower.as_str(), false),
        };
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
pub enum Kind {
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
pub struct Resolved {
    /// The kind.
    pub kind: Kind,
    /// Tiles in flight at once (1 for native and serial).
    pub workers: usize,
    /// BLAS threads per call.
    pub blas_threads: usize,
    /// Workers pinned to CPUs.
    pub pin: bool,
}

impl Resolved {
    /// Threads busy at once: `workers × blas_threads`.
    pub fn total_threads(&self) -> usize {
        self.workers * self.blas_threads
    }

    /// Runs `f` once, as the single natively threaded call: the library's thread count is
    /// leased to `blas_threads` for the duration (or, on backends with per-call threads that
    /// take them from rayon, a pool of that size is installed).
    pub(crate) fn run_native<R: Send>(&self, f: impl FnOnce(usize) -> R + Send) -> R {
        let t = self.blas_threads;
        let _lease = (!blas::per_call_threads()).then(|| blas::threads::lease(t));
        if blas::CALL_THREADS_FROM_RAYON && t > 1 {
            pool::get(t, false).install(|| f(t))
        } else {
            f(t)
        }
    }

    /// Runs `f(item, blas_threads)` for every item under this strategy and returns the results
    /// in item order, whatever order they ran in.
    pub(crate) fn run_tiles<I, R, F>(&self, items: Vec<I>, f: F) -> Vec<R>
    where
        I: Send,
        R: Send,
        F: Fn(I, usize) -> R + Sync + Send,
    {
        let t = self.blas_threads;
        let per_call = blas::per_call_threads();
        // Process-wide settings are leased for the whole operation.
        let _lease = (!per_call).then(|| blas::threads::lease(t));
        let call = |item: I| f(item, t);
        match self.kind {
            Kind::Serial | Kind::Native => items.into_iter().map(call).collect(),
            Kind::Blocked | Kind::Hybrid => {
                let w = self.workers;
                let run = || work_queue(items, w, &call);
                // Calls threaded through rayon need room for w×t threads in the pool.
                let pool_size = if blas::CALL_THREADS_FROM_RAYON {
                    w * t
                } else {
                    w
                };
                if in_foreign_pool() {
                    run()
                } else {
                    pool::get(pool_size, self.pin).install(run)
                }
            }
        }
    }
}

/// Runs `f` on every item with `workers` rayon tasks, each taking the next item in order until
/// none are left: items start in order, at most `workers` run at once, and a worker that
/// finishes early takes more. Results come back in item order.
fn work_queue<I: Send, R: Send>(
    items: Vec<I>,
    workers: usize,
    f: &(impl Fn(I) -> R + Sync),
) -> Vec<R> {
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let done = Mutex::new(Vec::with_capacity(n));
    // Neither lock is held while `f` runs, so a panic in `f` poisons neither; rayon re-raises
    // it when the scope ends.
    rayon::scope(|scope| {
        for _ in 0..workers.min(n) {
            scope.spawn(|_| loop {
                let Some((i, item)) = queue.lock().unwrap_or_else(PoisonError::into_inner).next()
                else {
                    break;
                };
                let r = f(item);
                done.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((i, r));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(done.len(), n, "every item ran");
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Whether the current thread is a worker of a rayon pool that is not one of rayblas's own.
fn in_foreign_pool() -> bool {
    rayon::current_thread_index().is_some()
        && !std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("rayblas-"))
}

#[cfg(test)]
mod tests {
    use super::work_queue;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn work_queue_caps_concurrency_and_keeps_item_order() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for workers in [1, 2, 3] {
            let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let out = pool.install(|| {
                work_queue((0..40).collect(), workers, &|i: usize| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                })
            });
            assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
            assert!(most.load(Ordering::SeqCst) <= workers, "{workers} workers");
        }
        assert!(work_queue(Vec::<u8>::new(), 2, &|i| i).is_empty());
    }

    #[test]
    #[should_panic(expected = "item 3")]
    fn a_panic_in_an_item_reaches_the_caller() {
        work_queue((0..8).collect(), 2, &|i: usize| {
            assert!(i != 3, "item 3");
            i
        });
    }
}
