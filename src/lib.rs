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
//! Backends (one Cargo feature): `openblas-system` (default), `blis-system`, `netlib-system`,
//! `pure-rust`. See [`blas`] for thread control, [`Strategy`] for the threading strategies.

pub mod blas;
mod config;
mod cpu;
mod element;
mod error;
pub mod kernels;
mod plan;
mod pool;
pub mod simd;
pub mod strategy;
pub mod tiling;

pub use config::Config;
pub use element::{Dtype, Element};
pub use error::{Error, Result};
pub use kernels::reduce::Reduction;
pub use strategy::Strategy;
pub use tiling::{BlockShape, Calls, Strip, Tile, Tiling};

use ndarray::{Array2, AsArray, Ix2};

/// The README's Rust examples run as doctests, so the README stays true to the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// `A·B` with the default [`Config`].
pub fn matmul<'a, 'b, T: Element>(
    a: impl AsArray<'a, T, Ix2>,
    b: impl AsArray<'b, T, Ix2>,
) -> Result<Array2<T>> {
    Config::default().matmul(a, b)
}

/// `X·Xᵀ` with the default [`Config`].
pub fn gram<'a, T: Element>(x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
    Config::default().gram(x)
}

/// `sum(X·Xᵀ)`, fused, with the default [`Config`].
pub fn gram_sum<'a, T: Element>(x: impl AsArray<'a, T, Ix2>) -> Result<T> {
    Config::default().gram_sum(x)
}
