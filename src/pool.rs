//! Worker pools, built once per (size, pinning) and reused by every call.
//!
//! Workers change no BLAS setting of their own: every BLAS call aligns the calling thread's
//! per-thread setting (OpenBLAS's OpenMP build) with the count in force as it starts
//! (`blas::enter_call`). With pinning on, worker `i` is bound to the `i`-th CPU the process may use (wrapping; Linux), so its effect can be
//! measured against the default of letting the OS place threads.

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

type PoolKey = (usize, bool);

fn pools() -> &'static Mutex<HashMap<PoolKey, Arc<ThreadPool>>> {
    static POOLS: OnceLock<Mutex<HashMap<PoolKey, Arc<ThreadPool>>>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The shared pool with `threads` workers, optionally pinned to cores.
pub(crate) fn get(threads: usize, pin: bool) -> Arc<ThreadPool> {
    let mut map = pools().lock().unwrap_or_else(|e| e.into_inner());
    map.entry((threads, pin))
        .or_insert_with(|| {
            let pool = ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| {
                    format!("rayblas-{threads}{}-{i}", if pin { "p" } else { "" })
                })
                .start_handler(move |i| {
                    if pin {
                        crate::cpu::pin_current_thread(i);
                    }
                })
                .build()
                .expect("spawning rayblas worker threads");
            Arc::new(pool)
        })
        .clone()
}

/// Whether the current thread is a worker of a rayon pool that is not one of rayblas's own
/// (asked through rayon: each pool knows its own workers).
pub(crate) fn in_foreign_pool() -> bool {
    rayon::current_thread_index().is_some()
        && !pools()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|p| p.current_thread_index().is_some())
}
