//! Running a BLAS call's parallel jobs on rayon's pool: one thread pool per process.
//!
//! OpenBLAS ≥ 0.3.28 can hand the jobs of a multithreaded call to a callback instead of its
//! own threads ([`super::run_blas_threads_on_rayon`] installs ours). The jobs of one call wait
//! for each other while they run (they exchange packed panels through shared flags), so **all
//! of them must run at the same time**: queued behind one another on a busy pool, the first
//! would wait forever for the second. [`run_together`] therefore never queues a job behind
//! other work:
//!
//! 1. It asks the pool the caller runs in (or the global pool) for `jobs - 1` helper threads by
//!    spawning that many claims, and waits briefly ([`CLAIM_WAIT`]) for all of them to start.
//!    It skips this when the pool cannot have them: fewer threads than helpers, or a caller
//!    inside the pool whose own worker has queued tasks nobody stole (every worker busy, as
//!    inside a `par_iter` over many products).
//! 2. If all start, they and the calling thread run the jobs together: the call ran on
//!    rayon's threads.
//! 3. If not (the pool is busy with other work, or too small), the claims are cancelled (a
//!    claim that starts later returns at once) and the jobs run on threads started for this
//!    call instead, beside the calling thread: slower to start, never stuck.
//!
//! So a call never deadlocks, whether it comes from a busy rayon worker, a user's own pool or
//! many threads at once; [`counts`] tells how many calls took each path. Calls are serialised
//! (one at a time, process-wide), as OpenBLAS's shared job buffers need.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a call waits for the pool's threads to take its jobs before it starts threads of
/// its own: long enough for idle workers to wake (tens of µs), short beside a threaded call.
pub const CLAIM_WAIT: Duration = Duration::from_millis(2);

static ON_POOL: AtomicU64 = AtomicU64::new(0);
static ON_NEW_THREADS: AtomicU64 = AtomicU64::new(0);

/// Calls whose jobs ran on rayon's threads, and calls whose jobs ran on threads started for
/// them because the pool could not take them all at once, since the process started.
pub fn counts() -> (u64, u64) {
    (
        ON_POOL.load(Ordering::Relaxed),
        ON_NEW_THREADS.load(Ordering::Relaxed),
    )
}

/// What the claims of one call see: still waiting for the others, go, or cancelled.
const WAITING: usize = 0;
const GO: usize = 1;
const CANCELLED: usize = 2;

struct Claim {
    /// Claims that started (each takes the next job number).
    arrived: AtomicUsize,
    state: AtomicUsize,
    /// Jobs finished by claims.
    finished: AtomicUsize,
}

/// The job function as the claims share it: a `'static` handle whose pointee outlives every
/// use (see the SAFETY comment in [`run_together`]).
#[derive(Clone, Copy)]
struct JobRef(*const (dyn Fn(usize) + Sync));

// SAFETY: the pointee is `Sync`, so calling it from several threads is allowed; the pointer
// itself is only dereferenced while `run_together` keeps the pointee alive.
unsafe impl Send for JobRef {}
// SAFETY: as above.
unsafe impl Sync for JobRef {}

/// Runs `job(0)`, …, `job(jobs - 1)` all at the same time, `job(0)` on the calling thread, and
/// returns when every one has finished. See the module docs for where the others run.
pub fn run_together(jobs: usize, job: &(dyn Fn(usize) + Sync)) {
    static ONE_CALL: Mutex<()> = Mutex::new(());
    if jobs <= 1 {
        if jobs == 1 {
            job(0);
        }
        return;
    }
    let _serial = ONE_CALL.lock().unwrap_or_else(|e| e.into_inner());
    let helpers = jobs - 1;
    let pool_threads = rayon::current_num_threads();
    // A caller inside the pool occupies one of its threads.
    let free = pool_threads - usize::from(rayon::current_thread_index().is_some());
    // Work queued on the caller's own worker that no other worker has stolen means the pool's
    // threads are all busy: a claim would only wait out its deadline, so skip it.
    let pool_busy = rayon_core::current_thread_has_pending_tasks() == Some(true);
    if helpers <= free && !pool_busy && on_pool(helpers, job) {
        ON_POOL.fetch_add(1, Ordering::Relaxed);
        return;
    }
    ON_NEW_THREADS.fetch_add(1, Ordering::Relaxed);
    std::thread::scope(|s| {
        for i in 1..jobs {
            s.spawn(move || job(i));
        }
        job(0);
    });
}

/// Tries to run the jobs on `helpers` threads of the pool plus the caller; `false` (nothing
/// run) when they did not all start within [`CLAIM_WAIT`].
fn on_pool(helpers: usize, job: &(dyn Fn(usize) + Sync)) -> bool {
    let claim = Arc::new(Claim {
        arrived: AtomicUsize::new(0),
        state: AtomicUsize::new(WAITING),
        finished: AtomicUsize::new(0),
    });
    // SAFETY: the claims call `job` only after seeing GO, and this function sets GO only after
    // all of them arrived and then waits until all of them finished (`finished == helpers`)
    // before returning, so `job` (borrowed for this call) outlives every call through the
    // pointer. A claim that sees CANCELLED never touches it. Erasing the lifetime is what lets
    // `rayon::spawn` (which needs `'static`) carry it.
    let job_ref = JobRef(unsafe {
        std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(job)
    });
    for _ in 0..helpers {
        let claim = Arc::clone(&claim);
        rayon::spawn(move || {
            let job_ref = job_ref;
            let me = claim.arrived.fetch_add(1, Ordering::AcqRel);
            let state = loop {
                match claim.state.load(Ordering::Acquire) {
                    WAITING => std::hint::spin_loop(),
                    s => break s,
                }
            };
            if state == GO {
                // SAFETY: GO means the caller waits for `finished` (see above).
                unsafe { (*job_ref.0)(me + 1) };
                claim.finished.fetch_add(1, Ordering::AcqRel);
            }
        });
    }
    let start = Instant::now();
    loop {
        if claim.arrived.load(Ordering::Acquire) == helpers {
            break;
        }
        if start.elapsed() >= CLAIM_WAIT {
            // A claim may arrive between the check above and this store: it then sees
            // CANCELLED and returns, as do the ones that arrived before.
            claim.state.store(CANCELLED, Ordering::Release);
            return false;
        }
        std::hint::spin_loop();
    }
    claim.state.store(GO, Ordering::Release);
    job(0);
    while claim.finished.load(Ordering::Acquire) < helpers {
        std::hint::spin_loop();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Jobs that, like OpenBLAS's, each wait until all of them have started: they finish only
    /// if they really run at the same time.
    fn barrier_jobs(n: usize, runs: &AtomicUsize) -> impl Fn(usize) + Sync + '_ {
        let started = AtomicUsize::new(0);
        let seen = (0..n).map(|_| AtomicBool::new(false)).collect::<Vec<_>>();
        move |i| {
            assert!(!seen[i].swap(true, Ordering::AcqRel), "job {i} ran twice");
            started.fetch_add(1, Ordering::AcqRel);
            while started.load(Ordering::Acquire) < n {
                std::hint::spin_loop();
            }
            runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    #[test]
    fn jobs_that_wait_for_each_other_finish_on_an_idle_pool_and_a_busy_one() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let runs = AtomicUsize::new(0);
        pool.install(|| run_together(3, &barrier_jobs(3, &runs)));
        assert_eq!(runs.load(Ordering::Acquire), 3);
        // Every worker busy with tasks that each run a call of 3 jobs: the pool cannot give
        // any of them two free threads, so they fall back, and still finish.
        let runs = AtomicUsize::new(0);
        pool.install(|| {
            rayon::scope(|s| {
                for _ in 0..6 {
                    s.spawn(|_| run_together(3, &barrier_jobs(3, &runs)));
                }
            })
        });
        assert_eq!(runs.load(Ordering::Acquire), 18);
        // More jobs than the pool has threads.
        let runs = AtomicUsize::new(0);
        pool.install(|| run_together(8, &barrier_jobs(8, &runs)));
        assert_eq!(runs.load(Ordering::Acquire), 8);
    }
}
