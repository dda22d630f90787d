//! The library's tests that change nothing process-wide (no BLAS thread count set, no
//! environment variable, no process-wide measurement such as RSS), built as one test binary:
//! each file of `tests/` is a binary of its own that links the library and instantiates its
//! generic kernels again, once per backend. A test that changes process-wide state goes in a file of its
//! own in `tests/` instead (as `threads.rs`, `concurrency.rs`, `reliability.rs`,
//! `rayon_jobs.rs` and `strategy.rs` do). Run one part with a filter:
//! `cargo test --test library matmul::`.

#[path = "../common/mod.rs"]
mod common;

mod batch;
mod mapped;
mod matmul;
mod public_api;
mod recorded;
mod reductions;
mod small;
