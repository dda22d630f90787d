//! The one error type of the library.
//!
//! Every fallible public function returns [`Result<T>`](crate::Result). Errors say what was wrong
//! with the input and, where there is one, what to do instead; the library never panics on bad
//! input and never silently clamps or truncates.

use thiserror::Error;

/// Everything that can go wrong in rayblas.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The operands of a product do not fit together (`a` is m×k, `b` must be k×n).
    #[error("shape mismatch: {op} needs {expected}, got {got}")]
    ShapeMismatch {
        /// The operation that checked the shapes.
        op: &'static str,
        /// What the operation needs, e.g. `b with 4 rows (a is 3x4)`.
        expected: String,
        /// What it got.
        got: String,
    },
    /// A block (tile) dimension of zero.
    #[error("block size must be at least 1 in each dimension, got {rows}x{cols}")]
    ZeroBlock {
        /// Block rows.
        rows: usize,
        /// Block columns.
        cols: usize,
    },
    /// A thread or worker count that the library cannot use.
    #[error("invalid thread count {requested}: {reason}")]
    InvalidThreads {
        /// The count asked for.
        requested: usize,
        /// Why it cannot be used.
        reason: String,
    },
    /// A dimension or leading dimension beyond the BLAS integer range; rayblas refuses rather than
    /// truncating it.
    #[error("dimension {value} of {what} exceeds the BLAS integer limit {limit}")]
    DimensionTooLarge {
        /// Which dimension.
        what: &'static str,
        /// Its value.
        value: usize,
        /// The largest value the linked BLAS accepts.
        limit: usize,
    },
    /// A strategy the linked backend cannot run faithfully.
    #[error("strategy `{strategy}` is not supported by the {backend} backend: {reason}")]
    UnsupportedStrategy {
        /// The strategy as text (e.g. `hybrid:2x2`).
        strategy: String,
        /// The linked backend.
        backend: &'static str,
        /// Why not.
        reason: String,
    },
    /// Text that does not parse as a strategy, SIMD level, reduction or size.
    #[error("cannot parse {what} from `{input}`: {reason}")]
    Parse {
        /// What was being parsed.
        what: &'static str,
        /// The text.
        input: String,
        /// Why it failed, with the accepted forms.
        reason: String,
    },
    /// An environment variable rayblas reads (once per process) has a value it cannot use.
    #[error("environment variable {var}=`{value}` is invalid: {reason}")]
    Environment {
        /// The variable, e.g. `RAYBLAS_STRATEGY`.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why, with what it accepts.
        reason: String,
    },
    /// A SIMD level the CPU does not have was requested.
    #[error(
        "SIMD level `{requested}` is not available on this CPU (best available: `{available}`)"
    )]
    SimdUnavailable {
        /// The level asked for.
        requested: String,
        /// The best level the CPU has.
        available: String,
    },
    /// The reduction needs at least one element (min, max, argmin, argmax, mean of nothing).
    #[error("{op} of an empty array is undefined")]
    EmptyReduction {
        /// The reduction.
        op: &'static str,
    },
    /// The linked BLAS library misbehaved or is an unsupported version.
    #[error("BLAS backend error: {0}")]
    Backend(String),
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// An output too large to allocate: beyond the address space, or refused by the allocator.
    #[error("cannot allocate the {what} of {rows}x{cols} elements ({}): not enough memory", human_bytes(*bytes))]
    OutOfMemory {
        /// Which output.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
        /// The bytes it needs (`u128::MAX` when the element count itself overflows).
        bytes: u128,
    },
    /// A measurement of the machine (the FMA-loop peak) did not check out.
    #[error("measurement failed: {0}")]
    Measurement(String),
    /// MPI could not be started, a call spanning ranks failed on some rank, or a message would
    /// exceed MPI's count limit (feature `mpi`).
    #[error("MPI: {0}")]
    Mpi(String),
}

/// `bytes` as people read it, the way rayblas's errors say it: "1.5 GiB", "80.0 PiB";
/// "more than the address space" for `u128::MAX` (what a size computation that overflowed
/// saturates to).
///
/// ```
/// assert_eq!(rayblas::human_bytes(512), "512 bytes");
/// assert_eq!(rayblas::human_bytes(3 << 29), "1.5 GiB");
/// assert_eq!(rayblas::human_bytes(u128::MAX), "more than the address space");
/// ```
pub fn human_bytes(bytes: u128) -> String {
    if bytes == u128::MAX {
        return "more than the address space".into();
    }
    let units = [
        "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB",
    ];
    let (mut v, mut u) = (bytes as f64, 0);
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `Result` with the library's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
