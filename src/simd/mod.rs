//! Run-time dispatched SIMD kernels for the reductions.
//!
//! The best level the CPU has is detected once; `RAYBLAS_SIMD=scalar|sse2|avx2|avx512` forces a
//! lower one for experiments (a level the CPU lacks is an error, never an illegal instruction).
//! The kernel bodies are written once (`portable`) over many independent accumulator lanes and
//! compiled once per level with that level's target features, so each level gets its own
//! machine code: AVX-512F (8 zmm accumulators), AVX2+FMA (8 ymm), SSE2 (8 xmm), and the portable
//! build for other CPUs and architectures (aarch64 gets it, vectorised by the compiler for NEON).
//!
//! Kernels here work on one contiguous leaf of at most [`LEAF`] elements; `kernels::reduce`
//! builds the pairwise tree, the strides and the parallelism on top.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(feature = "bench")]
pub(crate) mod fma_loop;
mod portable;
#[cfg(target_arch = "x86_64")]
mod sse2;

use crate::element::Element;
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Elements per leaf of the summation tree. Within a leaf each of `L` lanes adds `LEAF / L`
/// terms in order; above the leaves, sums combine pairwise.
///
/// Hidden from the docs: it is an implementation detail, not a promise. It is public only
/// because the reduction tests and the CLI's answer check derive their error bounds from the
/// shape of the summation tree, and those live in other targets.
#[doc(hidden)]
pub const LEAF: usize = 4096;

/// A SIMD instruction-set level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Portable code (what the compiler makes of it for the baseline target).
    Scalar,
    /// SSE2 (x86-64 baseline, 128-bit).
    Sse2,
    /// AVX2 with FMA (256-bit).
    Avx2,
    /// AVX-512F (512-bit).
    Avx512,
}

impl Level {
    /// Name as `RAYBLAS_SIMD` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Sse2 => "sse2",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the level.
    pub fn available(self) -> bool {
        use crate::cpu::{has, Feature};
        match self {
            Level::Scalar => true,
            Level::Sse2 => has(Feature::Sse2),
            Level::Avx2 => has(Feature::Avx2Fma),
            Level::Avx512 => has(Feature::Avx512F),
        }
    }

    /// The best level this CPU has.
    pub fn best() -> Level {
        [Level::Avx512, Level::Avx2, Level::Sse2]
            .into_iter()
            .find(|l| l.available())
            .unwrap_or(Level::Scalar)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = Error;
    fn from_str(s: &str) -> Result<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "portable" => Ok(Level::Scalar),
            "sse2" => Ok(Level::Sse2),
            "avx2" => Ok(Level::Avx2),
            "avx512" | "avx512f" => Ok(Level::Avx512),
            _ => Err(Error::Parse {
                what: "SIMD level",
                input: s.to_string(),
                reason: "expected scalar, sse2, avx2 or avx512".into(),
            }),
        }
    }
}

/// The environment variable that forces a SIMD level.
pub const SIMD_ENV: &str = "RAYBLAS_SIMD";

/// Checks that `level` can run here.
///
/// # Errors
/// [`Error::SimdUnavailable`] if this CPU lacks `level`.
pub fn check_level(level: Level) -> Result<Level> {
    if level.available() {
        Ok(level)
    } else {
        Err(Error::SimdUnavailable {
            requested: level.name().to_string(),
            available: Level::best().name().to_string(),
        })
    }
}

/// The level in use: `RAYBLAS_SIMD` if set (read once per process), else the best the CPU has.
/// A value that does not parse, or names a level this CPU lacks, is an [`Error::Environment`]
/// naming the variable.
///
/// ```
/// let level = rayblas::simd::level()?;
/// assert!(level <= rayblas::simd::Level::best());
/// # Ok::<(), rayblas::Error>(())
/// ```
///
/// # Errors
/// [`Error::Environment`] if `RAYBLAS_SIMD` does not parse or names a level this CPU lacks (the same error every call, as the variable is read once).
pub fn level() -> Result<Level> {
    level_in_force().clone()
}

/// [`level`]'s value, read once; borrowed, so the small-call path copies nothing.
pub(crate) fn level_in_force() -> &'static Result<Level> {
    static LEVEL: OnceLock<Result<Level>> = OnceLock::new();
    LEVEL.get_or_init(|| match std::env::var(SIMD_ENV) {
        Ok(s) if !s.trim().is_empty() => {
            s.parse()
                .and_then(check_level)
                .map_err(|e| Error::Environment {
                    var: SIMD_ENV,
                    value: s.clone(),
                    reason: match e {
                        Error::Parse { reason, .. } => reason,
                        other => other.to_string(),
                    },
                })
        }
        _ => Ok(Level::best()),
    })
}

/// The per-type kernel tables. `pub` inside this private module so that `Element` can name
/// them in its sealed bounds without making them public API.
mod dispatch {
    use super::Level;

    /// The leaf kernels of one level for one element type.
    pub struct Kernels<T> {
        pub sum: fn(&[T]) -> T,
        pub sumsq: fn(&[T]) -> T,
        pub sumsq_scaled: fn(&[T], T) -> T,
        pub dot: fn(&[T], &[T]) -> T,
        pub max: fn(&[T]) -> T,
        pub min: fn(&[T]) -> T,
        pub amax: fn(&[T]) -> T,
    }

    /// Element types with SIMD kernels (a sealed supertrait of `Element`).
    pub trait SimdElement: Sized + 'static {
        /// The kernels of `level` (which must be available).
        fn kernels(level: Level) -> &'static Kernels<Self>;
    }
}
pub(crate) use dispatch::{Kernels, SimdElement};

/// Builds the `Kernels` tables of one level: safe wrappers around `#[target_feature]` functions
/// instantiating the portable bodies with `$l64` / `$l32` lanes.
macro_rules! level_kernels {
    ($feature:literal, $l64:literal, $l32:literal) => {
        use super::portable as p;
        use super::Kernels;

        $crate::simd::kernel_fn!($feature, sum64, sum, f64, $l64, (x: &[f64]));
        $crate::simd::kernel_fn!($feature, sumsq64, sumsq, f64, $l64, (x: &[f64]));
        $crate::simd::kernel_fn!($feature, dot64, dot, f64, $l64, (x: &[f64], y: &[f64]));
        $crate::simd::kernel_fn!($feature, max64, max, f64, $l64, (x: &[f64]));
        $crate::simd::kernel_fn!($feature, min64, min, f64, $l64, (x: &[f64]));
        $crate::simd::kernel_fn!($feature, amax64, amax, f64, $l64, (x: &[f64]));
        $crate::simd::kernel_fn!($feature, sum32, sum, f32, $l32, (x: &[f32]));
        $crate::simd::kernel_fn!($feature, sumsq32, sumsq, f32, $l32, (x: &[f32]));
        $crate::simd::kernel_fn!($feature, dot32, dot, f32, $l32, (x: &[f32], y: &[f32]));
        $crate::simd::kernel_fn!($feature, max32, max, f32, $l32, (x: &[f32]));
        $crate::simd::kernel_fn!($feature, min32, min, f32, $l32, (x: &[f32]));
        $crate::simd::kernel_fn!($feature, amax32, amax, f32, $l32, (x: &[f32]));
        #[target_feature(enable = $feature)]
        unsafe fn sumsq_scaled64(x: &[f64], s: f64) -> f64 {
            p::sumsq_scaled::<f64, $l64>(x, s)
        }
        #[target_feature(enable = $feature)]
        unsafe fn sumsq_scaled32(x: &[f32], s: f32) -> f32 {
            p::sumsq_scaled::<f32, $l32>(x, s)
        }

        // SAFETY (all wrappers below): these tables are handed out only by `SimdElement::kernels`
        // for a level whose `available()` check passed (`super::level()` / `check_level`), so
        // the CPU has the target feature each function was compiled for.
        pub(super) static F64: Kernels<f64> = Kernels {
            sum: |x| unsafe { sum64(x) },
            sumsq: |x| unsafe { sumsq64(x) },
            sumsq_scaled: |x, s| unsafe { sumsq_scaled64(x, s) },
            dot: |x, y| unsafe { dot64(x, y) },
            max: |x| unsafe { max64(x) },
            min: |x| unsafe { min64(x) },
            amax: |x| unsafe { amax64(x) },
        };
        pub(super) static F32: Kernels<f32> = Kernels {
            sum: |x| unsafe { sum32(x) },
            sumsq: |x| unsafe { sumsq32(x) },
            sumsq_scaled: |x, s| unsafe { sumsq_scaled32(x, s) },
            dot: |x, y| unsafe { dot32(x, y) },
            max: |x| unsafe { max32(x) },
            min: |x| unsafe { min32(x) },
            amax: |x| unsafe { amax32(x) },
        };
    };
}
pub(crate) use level_kernels;

/// One `#[target_feature]` instantiation of a portable body.
macro_rules! kernel_fn {
    ($feature:literal, $name:ident, $body:ident, $t:ty, $l:literal, ($($arg:ident: $at:ty),*)) => {
        #[target_feature(enable = $feature)]
        unsafe fn $name($($arg: $at),*) -> $t {
            p::$body::<$t, $l>($($arg),*)
        }
    };
}
pub(crate) use kernel_fn;

/// The portable level: the same bodies with 8 lanes and no target features.
mod scalar {
    use super::portable as p;
    use super::Kernels;
    pub(super) static F64: Kernels<f64> = Kernels {
        sum: p::sum::<f64, 8>,
        sumsq: p::sumsq::<f64, 8>,
        sumsq_scaled: p::sumsq_scaled::<f64, 8>,
        dot: p::dot::<f64, 8>,
        max: p::max::<f64, 8>,
        min: p::min::<f64, 8>,
        amax: p::amax::<f64, 8>,
    };
    pub(super) static F32: Kernels<f32> = Kernels {
        sum: p::sum::<f32, 16>,
        sumsq: p::sumsq::<f32, 16>,
        sumsq_scaled: p::sumsq_scaled::<f32, 16>,
        dot: p::dot::<f32, 16>,
        max: p::max::<f32, 16>,
        min: p::min::<f32, 16>,
        amax: p::amax::<f32, 16>,
    };
}

impl SimdElement for f64 {
    fn kernels(level: Level) -> &'static Kernels<f64> {
        debug_assert!(level.available());
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => &avx512::F64,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => &avx2::F64,
            #[cfg(target_arch = "x86_64")]
            Level::Sse2 => &sse2::F64,
            _ => &scalar::F64,
        }
    }
}

impl SimdElement for f32 {
    fn kernels(level: Level) -> &'static Kernels<f32> {
        debug_assert!(level.available());
        match level {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => &avx512::F32,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => &avx2::F32,
            #[cfg(target_arch = "x86_64")]
            Level::Sse2 => &sse2::F32,
            _ => &scalar::F32,
        }
    }
}

/// The kernels for `T` at `level` (the portable ones if the CPU lacks it), dispatched through
/// `T`'s own tables.
pub(crate) fn kernels_for<T: Element>(level: Level) -> &'static Kernels<T> {
    T::kernels(if level.available() {
        level
    } else {
        Level::Scalar
    })
}
