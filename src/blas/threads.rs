//! BLAS thread control: the Rust counterpart of Python's threadpoolctl (guide:
//! `docs/thread-pools.md` in the repository).
//!
//! [`info`] reports the linked library, its version and config string, the CPU kernel set it
//! chose, its threading layer and thread counts, with warnings about slow configurations.
//! [`set_num_threads`] changes the count; [`limit`] changes it for a scope and restores it when
//! the guard drops, also when a panic unwinds.
//!
//! # The setting is process-wide
//! OpenBLAS and BLIS keep one thread count for the whole process. rayblas therefore hands the
//! setting out as *leases*: any number of scopes may hold the same count at once (two blocked
//! operations both pinning BLAS to one thread run concurrently), while a scope that wants a
//! different count waits until the others end. The value from before the first lease comes back
//! when the last one ends. A thread that already holds a lease and asks again (nested calls)
//! never waits: it keeps the outer count, so nesting cannot deadlock.
//!
//! On OpenBLAS's OpenMP build each thread also has its own OpenMP count, and a call whose thread
//! disagrees with the global count makes the library change it mid-flight, freeing buffers that
//! other threads' calls use. Every rayblas BLAS call therefore aligns its thread's OpenMP count
//! with the count in force first (`super::enter_call`; the reasons are in `openblas.rs`). Change
//! the count with [`set_num_threads`] or [`limit`], which wait for running rayblas operations,
//! not with `openblas_set_num_threads` directly while rayblas runs.

use super::coretype;
use super::{Library, Linked};
use crate::error::{Error, Result};
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// How the linked library runs its threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Threading {
    /// Built without threads.
    Serial,
    /// POSIX threads managed by the library.
    Pthreads,
    /// OpenMP threads (per-thread settings).
    #[cfg_attr(feature = "serde", serde(rename = "openmp"))]
    OpenMp,
    /// Rayon (the pure-Rust backend).
    Rayon,
    /// The library did not say.
    Unknown,
}

impl Threading {
    /// Lower-case name: `serial`, `pthreads`, `openmp`, `rayon`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Threading::Serial => "serial",
            Threading::Pthreads => "pthreads",
            Threading::OpenMp => "openmp",
            Threading::Rayon => "rayon",
            Threading::Unknown => "unknown",
        }
    }
}

/// What a backend reports about its library.
pub(crate) struct LibraryInfo {
    pub version: String,
    pub config: String,
    pub corename: Option<String>,
    pub threading: Threading,
}

/// What is linked and how it is set up. See [`info`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BlasInfo {
    /// `openblas`, `blis`, `netlib` or `pure-rust`.
    pub backend: &'static str,
    /// Library version, e.g. `0.3.21`.
    pub version: String,
    /// The library's own configuration string.
    pub config: String,
    /// The CPU kernel set the library chose (OpenBLAS corename, BLIS arch), if it has one.
    pub corename: Option<String>,
    /// Threading layer.
    pub threading: Threading,
    /// Current thread count.
    pub num_threads: usize,
    /// Largest count [`set_num_threads`] accepts.
    pub max_threads: usize,
    /// Whether each call can have its own thread count (needed by `Strategy::Hybrid`).
    pub per_call_threads: bool,
    /// Whether multithreaded calls run their jobs on rayon's pool
    /// ([`run_blas_threads_on_rayon`](super::run_blas_threads_on_rayon)), not the library's
    /// own threads.
    pub threads_on_rayon: bool,
    /// Configurations that make the library slow or wrong, each with the fix.
    pub warnings: Vec<String>,
}

/// Reports the linked BLAS library and its thread settings.
///
/// ```
/// let info = rayblas::blas::info();
/// assert_eq!(info.backend, rayblas::blas::BACKEND);
/// assert!(info.num_threads >= 1 && info.num_threads <= info.max_threads);
/// for w in &info.warnings {
///     eprintln!("warning: {w}");
/// }
/// ```
pub fn info() -> BlasInfo {
    let lib = Linked::library_info();
    let mut warnings = Vec::new();
    if let Some(core) = &lib.corename {
        warnings.extend(coretype::kernel_warning(super::BACKEND, core));
    }
    if !Linked::reentrant() {
        warnings.push(format!(
            "this {} build is single-threaded and not safe to call from several threads at once \
             (concurrent calls returned wrong results): rayblas serialises its BLAS calls, so \
             `blocked` and `hybrid` run them one at a time; use the pthreads or OpenMP build to \
             compare strategies",
            super::BACKEND
        ));
    }
    if lib.config.contains("loaded in its place") {
        warnings.push(format!(
            "the netlib-system build is running another BLAS ({}); the reference library must be \
             found through the rpath set at build time",
            lib.config
        ));
    }
    BlasInfo {
        backend: super::BACKEND,
        version: lib.version,
        config: lib.config,
        corename: lib.corename,
        threading: lib.threading,
        num_threads: num_threads(),
        max_threads: max_threads(),
        per_call_threads: Linked::per_call_threads(),
        threads_on_rayon: super::rayon_jobs().is_some(),
        warnings,
    }
}

/// The library's current thread count (for pure-rust: rayblas's default per call).
pub fn num_threads() -> usize {
    Linked::get_num_threads()
}

/// The largest thread count the library accepts (constant for the process, so cached).
pub(crate) fn max_threads() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(Linked::max_threads)
}

fn check(n: usize) -> Result<()> {
    let max = max_threads();
    if n == 0 {
        return Err(Error::InvalidThreads {
            requested: 0,
            reason: "at least one thread is needed".into(),
        });
    }
    if n > max {
        return Err(Error::InvalidThreads {
            requested: n,
            reason: format!("the {} backend allows at most {max}", super::BACKEND),
        });
    }
    Ok(())
}

struct LeaseState {
    /// Scopes currently holding the setting.
    holders: usize,
    /// The count they hold.
    value: usize,
    /// The count from before the first of them, restored after the last.
    saved: usize,
    /// Whether the library's global count was set to `value` (and so must be restored).
    applied: bool,
    /// Threads waiting on `RELEASED`: the last holder wakes them only if there are any, since
    /// a wake is a system call that a small call would otherwise pay every time.
    waiting: usize,
}

static STATE: Mutex<LeaseState> = Mutex::new(LeaseState {
    holders: 0,
    value: 0,
    saved: 0,
    applied: false,
    waiting: 0,
});
static RELEASED: Condvar = Condvar::new();

thread_local! {
    /// Leases held by this thread (for re-entrant calls).
    static HELD: Cell<usize> = const { Cell::new(0) };
}

fn state() -> MutexGuard<'static, LeaseState> {
    // A panic never happens while the lock is held, but recover anyway: the state stays valid.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until the last holder releases, counted in `waiting` so that it knows to wake us.
fn wait_for_release(mut st: MutexGuard<'static, LeaseState>) -> MutexGuard<'static, LeaseState> {
    st.waiting += 1;
    st = RELEASED.wait(st).unwrap_or_else(|e| e.into_inner());
    st.waiting -= 1;
    st
}

/// Sets the library's thread count for the whole process.
///
/// Waits while scoped limits ([`limit`], or a running rayblas operation) hold another count.
/// Called inside such a scope on the same thread, it changes the count until that scope ends.
///
/// ```
/// let before = rayblas::blas::num_threads();
/// rayblas::blas::set_num_threads(1)?;
/// assert_eq!(rayblas::blas::num_threads(), 1);
/// assert!(rayblas::blas::set_num_threads(0).is_err());
/// rayblas::blas::set_num_threads(before)?;
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidThreads`] for 0 or more than the library's maximum ([`BlasInfo::max_threads`]).
pub fn set_num_threads(n: usize) -> Result<()> {
    check(n)?;
    if HELD.with(|h| h.get()) > 0 {
        Linked::set_num_threads(n);
        return Ok(());
    }
    let mut st = state();
    while st.holders > 0 {
        st = wait_for_release(st);
    }
    Linked::set_num_threads(n);
    Ok(())
}

/// A scoped thread limit; restores the previous count when dropped. See [`limit`].
///
/// Not `Send`: it must be dropped on the thread that took it.
#[must_use = "the limit ends when this guard is dropped"]
#[derive(Debug)]
pub struct ThreadLimit {
    active: bool,
    _not_send: PhantomData<*const ()>,
}

/// Limits the library to `n` threads until the returned guard drops (panics included).
///
/// Guards for the same count coexist; a guard for another count waits for them to end. A nested
/// guard on a thread that already holds one keeps the outer count.
///
/// ```
/// let before = rayblas::blas::num_threads();
/// {
///     let _one = rayblas::blas::limit(1)?;
///     assert_eq!(rayblas::blas::num_threads(), 1);
/// }
/// assert_eq!(rayblas::blas::num_threads(), before);
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidThreads`] for 0 or more than the library's maximum ([`BlasInfo::max_threads`]).
pub fn limit(n: usize) -> Result<ThreadLimit> {
    check(n)?;
    Ok(take_lease(n, true))
}

/// The lease a rayblas operation holds around its BLAS calls: count `n` (already checked),
/// waiting for holders of other counts.
///
/// Where the library takes the count from the calling thread (OpenBLAS's OpenMP build), the
/// global count is left alone: each call sets its own thread's count instead
/// (`super::enter_call`), and changing the global count would free buffers that other threads'
/// running calls use, the user's own included. The lease then only keeps operations with
/// different counts, and [`limit`]s, from running at the same time.
pub(crate) fn lease(n: usize) -> ThreadLimit {
    take_lease(n, !Linked::count_is_per_thread())
}

/// Takes a lease on count `n`; `apply`: also set the library's global count to `n`.
fn take_lease(n: usize, apply: bool) -> ThreadLimit {
    if HELD.with(|h| h.get()) > 0 {
        HELD.with(|h| h.set(h.get() + 1));
        return ThreadLimit {
            active: false,
            _not_send: PhantomData,
        };
    }
    let mut st = state();
    while st.holders > 0 && st.value != n {
        st = wait_for_release(st);
    }
    if st.holders == 0 {
        st.saved = Linked::get_num_threads();
        st.value = n;
        st.applied = false;
    }
    // Setting the count the holders already run with is safe while they run: their calls use
    // at most n threads and the buffers of those, which a change to n neither frees nor moves.
    if apply && !st.applied {
        if Linked::get_num_threads() != n {
            Linked::set_num_threads(n);
        }
        st.applied = true;
    }
    st.holders += 1;
    HELD.with(|h| h.set(h.get() + 1));
    ThreadLimit {
        active: true,
        _not_send: PhantomData,
    }
}

/// The library's count once no lease is held (waits for running operations to end): what a
/// test compares with the count from before, to see that a call restored it.
#[cfg(test)]
pub(crate) fn count_when_idle() -> usize {
    let mut st = state();
    while st.holders > 0 {
        st = wait_for_release(st);
    }
    Linked::get_num_threads()
}

impl Drop for ThreadLimit {
    fn drop(&mut self) {
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        if !self.active {
            return;
        }
        let mut st = state();
        st.holders -= 1;
        if st.holders == 0 {
            if st.applied && Linked::get_num_threads() != st.saved {
                Linked::set_num_threads(st.saved);
            }
            if st.waiting > 0 {
                RELEASED.notify_all();
            }
        }
    }
}
