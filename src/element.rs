//! The element types rayblas computes with: `f32` and `f64`.

use std::fmt::{Debug, Display};

/// Which floating-point type an [`Element`] is, for dispatch into typed C and SIMD routines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

impl Dtype {
    /// The name as numpy spells it (`float32`, `float64`) shortened to `f32` / `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

/// The per-type pieces generic code dispatches through, so that no code matches on a dtype tag
/// and casts pointers: the linked BLAS's routines, the SIMD kernel tables, and the fused
/// kernels' per-thread scratch buffer. Sealed: `f32` and `f64` only.
mod sealed {
    use std::cell::Cell;
    use std::thread::LocalKey;

    /// What an element needs to travel between MPI ranks (feature `mpi`): an MPI datatype.
    #[cfg(feature = "mpi")]
    pub trait Wire: mpi::traits::Equivalence {}
    /// What an element needs to travel between MPI ranks: nothing without the `mpi` feature.
    #[cfg(not(feature = "mpi"))]
    pub trait Wire {}
    impl Wire for f32 {}
    impl Wire for f64 {}

    pub trait Sealed: crate::blas::Routines + crate::simd::SimdElement + Wire {
        /// This thread's reusable tile buffer of the fused kernels (empty while in use).
        fn scratch() -> &'static LocalKey<Cell<Vec<Self>>>;
        /// The 2-D array an `.npy` file's bytes hold, if its elements are of this type.
        #[cfg(feature = "npy")]
        fn view_npy(buf: &[u8])
            -> Result<ndarray::ArrayView2<'_, Self>, ndarray_npy::ViewNpyError>;
    }

    macro_rules! sealed {
        ($t:ty) => {
            impl Sealed for $t {
                fn scratch() -> &'static LocalKey<Cell<Vec<$t>>> {
                    thread_local! {
                        static SCRATCH: Cell<Vec<$t>> = const { Cell::new(Vec::new()) };
                    }
                    &SCRATCH
                }
                #[cfg(feature = "npy")]
                fn view_npy(
                    buf: &[u8],
                ) -> Result<ndarray::ArrayView2<'_, $t>, ndarray_npy::ViewNpyError> {
                    <ndarray::ArrayView2<'_, $t> as ndarray_npy::ViewNpyExt>::view_npy(buf)
                }
            }
        };
    }
    sealed!(f32);
    sealed!(f64);
}

/// A floating-point element type: `f32` or `f64` (sealed).
///
/// The kernels are generic over it; typed C and SIMD code is reached through its sealed
/// supertraits, one implementation per type. [`Element::DTYPE`] names the type for reports.
pub trait Element:
    sealed::Sealed
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + num_like::Float
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + PartialOrd
    + Default
    + 'static
{
    /// Which type this is.
    const DTYPE: Dtype;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
}

impl Element for f32 {
    const DTYPE: Dtype = Dtype::F32;
    const EPSILON: Self = f32::EPSILON;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    const DTYPE: Dtype = Dtype::F64;
    const EPSILON: Self = f64::EPSILON;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// The few float operations the generic kernels need, without pulling in `num-traits` directly.
pub mod num_like {
    /// Float operations used by generic code.
    pub trait Float: Copy + PartialOrd {
        /// Is this a NaN?
        fn is_nan(self) -> bool;
        /// Absolute value.
        fn abs(self) -> Self;
        /// Square root.
        fn sqrt(self) -> Self;
        /// Positive infinity.
        fn infinity() -> Self;
        /// Negative infinity.
        fn neg_infinity() -> Self;
        /// A quiet NaN.
        fn nan() -> Self;
    }
    macro_rules! float_impl {
        ($t:ty) => {
            impl Float for $t {
                fn is_nan(self) -> bool {
                    <$t>::is_nan(self)
                }
                fn abs(self) -> Self {
                    <$t>::abs(self)
                }
                fn sqrt(self) -> Self {
                    <$t>::sqrt(self)
                }
                fn infinity() -> Self {
                    <$t>::INFINITY
                }
                fn neg_infinity() -> Self {
                    <$t>::NEG_INFINITY
                }
                fn nan() -> Self {
                    <$t>::NAN
                }
            }
        };
    }
    float_impl!(f32);
    float_impl!(f64);
}
