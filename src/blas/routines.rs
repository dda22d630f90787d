//! What rayblas needs of a BLAS library for one element type.
//!
//! The backend file compiled in implements [`Routines`] for `f32` and `f64`. Generic code reaches
//! it through [`Element`](crate::Element), whose sealed supertraits include it (`T::gemm(..)`),
//! so element types dispatch through traits: no dtype tags, no pointer casts between types.
//! The items are `pub` in this private module so that they can appear in `Element`'s bounds
//! while staying out of the public API.

/// One GEMM on raw parts: `C ← α·A·B + β·C`, A m×k, B k×n, C m×n, strides in elements.
///
/// Built only by `super::gemm` after it has checked shapes, strides and integer ranges.
pub struct RawGemm<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub a: *const T,
    pub rsa: isize,
    pub csa: isize,
    pub b: *const T,
    pub rsb: isize,
    pub csb: isize,
    pub beta: T,
    pub c: *mut T,
    pub rsc: isize,
    pub csc: isize,
}

/// The routines of the linked library for one element type.
pub trait Routines: Sized {
    /// `C ← α·A·B + β·C` with `threads` threads where the backend has per-call threads (else
    /// the library's process-wide count applies).
    ///
    /// # Safety
    /// `g` must describe live memory: A m×k and B k×n, C m×n not aliasing them, in layouts the
    /// backend's `accepts` approved, with dimensions and leading dimensions within its integer
    /// range.
    unsafe fn gemm(g: &RawGemm<Self>, threads: usize);

    /// Whether the library has a batched GEMM over strided items ([`Routines::gemm_batch`]).
    fn has_gemm_batch() -> bool {
        false
    }

    /// `count` products `C[i] ← α·A[i]·B[i] + β·C[i]` in one call of the library's own
    /// batched GEMM (`cblas_?gemm_batch_strided`), threaded by the library; item `i` of each
    /// operand lies `i × strides[·]` elements after the item `g` describes. Returns `false`,
    /// having done nothing, where the library has none.
    ///
    /// # Safety
    /// As [`Routines::gemm`] for every item; the strides are not negative and fit the backend's
    /// integers, as does `count`; the items of C do not overlap.
    unsafe fn gemm_batch(_g: &RawGemm<Self>, _count: usize, _strides: [isize; 3]) -> bool {
        false
    }

    /// The lower triangle of `C ← X·Xᵀ` through `syrk`; X is n×k in the CBLAS layout
    /// `(x_trans, ldx)`, C row-major n×n with leading dimension `ldc`. Returns `false`, having
    /// done nothing, where the library has no `syrk` for rayblas (the caller runs a GEMM).
    ///
    /// # Safety
    /// The pointers must cover the described matrices; C must not alias X; n, k, ldx, ldc fit
    /// the backend's integers.
    #[allow(clippy::too_many_arguments)]
    unsafe fn syrk_lower(
        _n: usize,
        _k: usize,
        _x: *const Self,
        _x_trans: bool,
        _ldx: usize,
        _c: *mut Self,
        _ldc: usize,
    ) -> bool {
        false
    }

    /// `xᵀy` through BLAS `dot`, or `None` where the library has no such route (rayblas's own
    /// kernels then run).
    fn dot(_x: &[Self], _y: &[Self]) -> Option<Self> {
        None
    }

    /// ‖x‖₂ through BLAS `nrm2`, or `None` (as for `dot`).
    fn nrm2(_x: &[Self]) -> Option<Self> {
        None
    }

    /// Row sums (or, `transposed`, column sums) of a contiguous row-major `rows × cols`
    /// matrix through BLAS `gemv` with a ones vector, or `None` (as for `dot`).
    fn row_sums(_a: &[Self], _rows: usize, _cols: usize, _transposed: bool) -> Option<Vec<Self>> {
        None
    }
}
