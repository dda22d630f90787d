//! Calls through the CBLAS interface, shared by the OpenBLAS, netlib and (for level 1) BLIS
//! backends.
//!
//! CBLAS needs each matrix with one unit stride; [`super::gemm`] copies operands that are not
//! (checked with [`layout`]). A column-major C is handled by computing
//! `Cᵀ = Bᵀ·Aᵀ` in row-major order, so every call below is row-major.

use super::RawGemm;
use crate::element::{Dtype, Element};
use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE};

/// Whether CBLAS can take this operand without a copy.
pub(crate) fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    layout(rows, cols, rs, cs).is_some()
}

/// Whether a CBLAS routine can take an operand of `rows`×`cols` with strides `rs`, `cs` as a
/// row-major matrix, possibly transposed. Returns `(transposed, leading dimension)`.
///
/// Dimensions of length ≤ 1 place no constraint on their stride.
pub(crate) fn layout(rows: usize, cols: usize, rs: isize, cs: isize) -> Option<(bool, usize)> {
    let unit = |len: usize, s: isize| len <= 1 || s == 1;
    let ld_ok = |len_outer: usize, s: isize, len_inner: usize| {
        len_outer <= 1 || (s > 0 && s as usize >= len_inner.max(1))
    };
    if unit(cols, cs) && ld_ok(rows, rs, cols) {
        let ld = if rows <= 1 { cols.max(1) } else { rs as usize };
        return Some((false, ld));
    }
    if unit(rows, rs) && ld_ok(cols, cs, rows) {
        let ld = if cols <= 1 { rows.max(1) } else { cs as usize };
        return Some((true, ld));
    }
    None
}

fn trans(t: bool) -> CBLAS_TRANSPOSE {
    if t {
        CBLAS_TRANSPOSE::CblasTrans
    } else {
        CBLAS_TRANSPOSE::CblasNoTrans
    }
}

/// `C ← α·A·B + β·C` through `cblas_?gemm`.
///
/// The thread count is the library's process-wide setting (the strategy leases it), not
/// `_threads`.
///
/// # Safety
/// `g` must describe valid, non-aliasing (A, B vs C) memory whose layouts `accepts` approved and
/// whose dimensions and leading dimensions fit in `c_int` (checked by `super::gemm`).
pub(crate) unsafe fn gemm<T: Element>(g: &RawGemm<T>, _threads: usize) {
    let (c_trans, ldc) = layout(g.m, g.n, g.rsc, g.csc).expect("C layout checked by caller");
    // Reduce a column-major C to the row-major problem Cᵀ = Bᵀ·Aᵀ.
    let (m, n, a, rsa, csa, b, rsb, csb) = if c_trans {
        (g.n, g.m, g.b, g.csb, g.rsb, g.a, g.csa, g.rsa)
    } else {
        (g.m, g.n, g.a, g.rsa, g.csa, g.b, g.rsb, g.csb)
    };
    let k = g.k;
    let (ta, lda) = layout(m, k, rsa, csa).expect("A layout checked by caller");
    let (tb, ldb) = layout(k, n, rsb, csb).expect("B layout checked by caller");
    let (m, n, k) = (m as i32, n as i32, k as i32);
    let (lda, ldb, ldc) = (lda as i32, ldb as i32, ldc as i32);
    let layout = CBLAS_LAYOUT::CblasRowMajor;
    match T::DTYPE {
        Dtype::F64 => {
            // SAFETY: T is f64 (DTYPE), so the casts are identities; the caller guarantees the
            // memory and dimensions.
            unsafe {
                cblas_sys::cblas_dgemm(
                    layout,
                    trans(ta),
                    trans(tb),
                    m,
                    n,
                    k,
                    g.alpha.to_f64(),
                    a as *const f64,
                    lda,
                    b as *const f64,
                    ldb,
                    g.beta.to_f64(),
                    g.c as *mut f64,
                    ldc,
                )
            }
        }
        Dtype::F32 => {
            // SAFETY: T is f32 (DTYPE), so the casts are identities (and the f64 round trip of
            // alpha/beta exact); the caller guarantees the memory and dimensions.
            unsafe {
                cblas_sys::cblas_sgemm(
                    layout,
                    trans(ta),
                    trans(tb),
                    m,
                    n,
                    k,
                    g.alpha.to_f64() as f32,
                    a as *const f32,
                    lda,
                    b as *const f32,
                    ldb,
                    g.beta.to_f64() as f32,
                    g.c as *mut f32,
                    ldc,
                )
            }
        }
    }
}

/// `xᵀy` through `cblas_?dot` for slices of equal length; `None` beyond `c_int` lengths (the
/// caller then uses rayblas's kernels).
pub(crate) fn dot<T: Element>(x: &[T], y: &[T]) -> Option<T> {
    assert_eq!(x.len(), y.len());
    let n = i32::try_from(x.len()).ok()?;
    Some(match T::DTYPE {
        // SAFETY: T is f64; both slices hold n elements read with unit stride.
        Dtype::F64 => T::from_f64(unsafe {
            cblas_sys::cblas_ddot(n, x.as_ptr() as *const f64, 1, y.as_ptr() as *const f64, 1)
        }),
        // SAFETY: T is f32; both slices hold n elements read with unit stride.
        Dtype::F32 => T::from_f64(unsafe {
            cblas_sys::cblas_sdot(n, x.as_ptr() as *const f32, 1, y.as_ptr() as *const f32, 1)
        } as f64),
    })
}

/// ‖x‖₂ through `cblas_?nrm2` (scaled: no overflow or underflow); `None` beyond `c_int`
/// lengths.
pub(crate) fn nrm2<T: Element>(x: &[T]) -> Option<T> {
    let n = i32::try_from(x.len()).ok()?;
    Some(match T::DTYPE {
        // SAFETY: T is f64; the slice holds n elements read with unit stride.
        Dtype::F64 => {
            T::from_f64(unsafe { cblas_sys::cblas_dnrm2(n, x.as_ptr() as *const f64, 1) })
        }
        // SAFETY: T is f32; the slice holds n elements read with unit stride.
        Dtype::F32 => {
            T::from_f64(unsafe { cblas_sys::cblas_snrm2(n, x.as_ptr() as *const f32, 1) } as f64)
        }
    })
}

/// Lower triangle of `C ← α·X·Xᵀ + β·C` through `cblas_?syrk` (half the flops of a GEMM).
///
/// `x` is n×k with the CBLAS layout `(x_trans, ldx)` from [`layout`]; C is row-major n×n
/// with leading dimension `ldc`. Only the lower triangle of C is written.
///
/// # Safety
/// The pointers must cover the described matrices; C must not alias X; n, k, ldx, ldc fit c_int.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn syrk_lower<T: Element>(
    n: usize,
    k: usize,
    x: *const T,
    x_trans: bool,
    ldx: usize,
    c: *mut T,
    ldc: usize,
) {
    let (n, k, ldx, ldc) = (n as i32, k as i32, ldx as i32, ldc as i32);
    let layout = CBLAS_LAYOUT::CblasRowMajor;
    let uplo = cblas_sys::CBLAS_UPLO::CblasLower;
    match T::DTYPE {
        // SAFETY: T is f64; the caller guarantees the memory and dimensions.
        Dtype::F64 => unsafe {
            cblas_sys::cblas_dsyrk(
                layout,
                uplo,
                trans(x_trans),
                n,
                k,
                1.0,
                x as *const f64,
                ldx,
                0.0,
                c as *mut f64,
                ldc,
            )
        },
        // SAFETY: T is f32; the caller guarantees the memory and dimensions.
        Dtype::F32 => unsafe {
            cblas_sys::cblas_ssyrk(
                layout,
                uplo,
                trans(x_trans),
                n,
                k,
                1.0,
                x as *const f32,
                ldx,
                0.0,
                c as *mut f32,
                ldc,
            )
        },
    }
}

/// `y ← Σⱼ A[i, j]` for every row i (`transposed`: for every column) of a contiguous row-major
/// `rows × cols` matrix, through `cblas_?gemv` with a ones vector: the BLAS route to axis sums.
/// `None` when a dimension is beyond `c_int`.
pub(crate) fn row_sums<T: Element>(
    a: &[T],
    rows: usize,
    cols: usize,
    transposed: bool,
) -> Option<Vec<T>> {
    assert_eq!(a.len(), rows * cols);
    let out_len = if transposed { cols } else { rows };
    let in_len = if transposed { rows } else { cols };
    let ones = vec![T::one(); in_len];
    let mut y = vec![T::zero(); out_len];
    let (m, n) = (i32::try_from(rows).ok()?, i32::try_from(cols).ok()?);
    let lda = n.max(1);
    let t = trans(transposed);
    let layout = CBLAS_LAYOUT::CblasRowMajor;
    match T::DTYPE {
        // SAFETY: T is f64; a holds rows×cols elements with leading dimension cols, ones and y
        // have the lengths gemv reads and writes for this transposition; sizes fit c_int
        // (converted above).
        Dtype::F64 => unsafe {
            cblas_sys::cblas_dgemv(
                layout,
                t,
                m,
                n,
                1.0,
                a.as_ptr() as *const f64,
                lda,
                ones.as_ptr() as *const f64,
                1,
                0.0,
                y.as_mut_ptr() as *mut f64,
                1,
            )
        },
        // SAFETY: as above with T = f32.
        Dtype::F32 => unsafe {
            cblas_sys::cblas_sgemv(
                layout,
                t,
                m,
                n,
                1.0,
                a.as_ptr() as *const f32,
                lda,
                ones.as_ptr() as *const f32,
                1,
                0.0,
                y.as_mut_ptr() as *mut f32,
                1,
            )
        },
    }
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::layout;

    #[test]
    fn layout_accepts_exactly_the_blas_layouts() {
        assert_eq!(layout(3, 4, 4, 1), Some((false, 4)), "row-major");
        assert_eq!(layout(3, 4, 10, 1), Some((false, 10)), "row-major window");
        assert_eq!(layout(3, 4, 1, 3), Some((true, 3)), "column-major");
        assert_eq!(
            layout(1, 5, 0, 1),
            Some((false, 5)),
            "one row: its stride is free"
        );
        assert_eq!(layout(5, 1, 7, 3), Some((false, 7)), "one column, stride 7");
        assert_eq!(layout(1, 1, 0, 0), Some((false, 1)));
        assert_eq!(layout(3, 4, 8, 2), None, "no unit stride");
        assert_eq!(layout(3, 4, -4, 1), None, "negative stride");
        assert_eq!(layout(3, 4, 2, 1), None, "rows overlap");
        assert_eq!(layout(3, 4, 1, 2), None, "columns overlap");
    }
}
