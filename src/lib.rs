//! # rayblas: blocked dense linear algebra on CPUs
//!
//! A matrix is cut into tiles. Products run each tile through a BLAS library pinned to one
//! thread while rayon runs tiles in parallel (`Strategy::Blocked`), or as one big call that the
//! library threads itself (`Strategy::Native`), or a mix (`Hybrid`), or on one thread (`Serial`).
//! Reductions are rayblas's own SIMD kernels, dispatched at run time.
//!
//! The seed workload, from dask.array: `x.dot(x.T).sum()` for a random 10000×10000 `x` in
//! 1000×1000 blocks. Here the fused [`Config::gram_sum`] computes it without ever storing the
//! 763 MiB product, using its symmetry:
//!
//! ```
//! use ndarray::Array2;
//! use rayblas::{BlockShape, Config};
//!
//! let n = 300; // 10000 in the real workload
//! let x = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 13) % 100) as f64 / 100.0);
//! let cfg = Config::new().block(BlockShape::square(100)?);
//! let s = cfg.gram_sum(&x)?;
//! let reference = x.dot(&x.t()).sum();
//! assert!((s - reference).abs() <= 1e-12 * reference.abs());
//! # Ok::<(), rayblas::Error>(())
//! ```
//!
//! See [`Strategy`] for the threading strategies, [`blas`] for the linked library and its
//! thread control, [`cpu`] for the cores rayblas counts, [`simd`] for the reduction kernels.
//!
//! The repository's guides (Markdown, beside this crate's source) go further than these API
//! pages: `docs/strategies.md` (when each strategy wins, tiles, strips, small calls, batches),
//! `docs/backends.md` (features, set-up, rpaths), `docs/out-of-core.md`, `docs/mpi.md`,
//! `docs/thread-pools.md` (several callers, one pool per process), `docs/guarantees.md`, and
//! `docs/cli.md` for the `rayblas` command.
//!
//! ## Cargo features
//!
//! Exactly one backend feature; the others add to it. To choose a backend other than the
//! default, turn the default off: `rayblas = { version = "0.1", default-features = false,
//! features = ["blis-system"] }`.
//!
//! | feature | default | what it does | needs on the system |
//! |---|---|---|---|
//! | `openblas-system` | yes | backend: the system OpenBLAS | `libopenblas-dev` (found by pkg-config) |
//! | `openblas-scipy` | | backend: OpenBLAS 0.3.34 from PyPI's `scipy-openblas32` wheel (prefixed symbols) | the wheel, fetched by `cargo xtask setup --backend openblas-scipy` or found by pkg-config (`scipy-openblas`) |
//! | `blis-system` | | backend: the system BLIS | `libblis-dev` |
//! | `netlib-system` | | backend: the reference BLAS (single-threaded; a baseline) | `libblas-dev` |
//! | `pure-rust` | | backend: the `gemm` crate; no system library | nothing |
//! | `native-threading` | | makes [`Strategy::Native`] the compiled default instead of [`Strategy::Blocked`] | |
//! | `serde` | | `Serialize` for [`blas::BlasInfo`] and [`blas::Threading`] | |
//! | `bench` | | `rayblas::bench`: seeded random matrices, reproducible by row, and a median | |
//! | `mpi` | | `rayblas::ranks`: MPI ranks that own tiles (`gram_reduce`, `gram`, `matmul_reduce` and `matmul` by SUMMA, reductions), each rank making or reading only its rows; turns on `bench` | Open MPI: `libopenmpi-dev openmpi-bin libclang-dev` |
//! | `npy` | | `rayblas::mapped`: `.npy` files memory-mapped, and the `*_mapped` methods of [`Config`] that stream them in bounded memory (out of core) | |
//!
//! With `netlib-system`, a binary must load the reference library it was linked against, not the
//! `libblas.so.3` that Debian's alternatives point to (often OpenBLAS). rayblas's build script
//! passes the directory to dependents' build scripts as `DEP_RAYBLAS_NETLIB_DIR`; add
//! `-Wl,-rpath,<that dir>` to your binary's link arguments, as the `rayblas` CLI does. With
//! `openblas-scipy`, the same for the wheel's library directory, `DEP_RAYBLAS_RPATH_DIR`.

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod alloc;
#[cfg(feature = "bench")]
pub mod bench;
pub mod blas;
mod config;
pub mod cpu;
mod element;
mod error;
#[cfg(test)]
mod fault_tests;
mod kernels;
#[cfg(feature = "npy")]
pub mod mapped;
mod plan;
mod pool;
#[cfg(feature = "mpi")]
pub mod ranks;
pub mod simd;
mod strategy;
mod tiling;

pub use config::Config;
pub use element::{Dtype, Element};
pub use error::{human_bytes, Error, Result};
pub use kernels::reduce::Reduction;
pub use strategy::{DefaultCount, Strategy, STRATEGY_ENV, WORKERS_ENV};
pub use tiling::{BlockShape, Calls};

use ndarray::{Array2, AsArray, Ix2};

/// The README's Rust examples run as doctests, so the README stays true to the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// `A·B` with the default [`Config`].
///
/// # Errors
/// As for the same method of [`Config`].
pub fn matmul<'a, 'b, T: Element>(
    a: impl AsArray<'a, T, Ix2>,
    b: impl AsArray<'b, T, Ix2>,
) -> Result<Array2<T>> {
    Config::default().matmul(a, b)
}

/// `X·Xᵀ` with the default [`Config`].
///
/// # Errors
/// As for the same method of [`Config`].
pub fn gram<'a, T: Element>(x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
    Config::default().gram(x)
}

/// `sum(X·Xᵀ)`, fused, with the default [`Config`].
///
/// # Errors
/// As for the same method of [`Config`].
pub fn gram_sum<'a, T: Element>(x: impl AsArray<'a, T, Ix2>) -> Result<T> {
    Config::default().gram_sum(x)
}
