//! Calls through the CBLAS interface, shared by the OpenBLAS, netlib and (for level 1) BLIS
//! backends.
//!
//! CBLAS needs each matrix with one unit stride; [`super::gemm`] copies operands that are not
//! (checked with [`layout`]). A column-major C is handled by computing
//! `Cᵀ = Bᵀ·Aᵀ` in row-major order, so every call below is row-major.

use super::RawGemm;
use crate::element::Element;
use cblas_sys::{CBLAS_LAYOUT, CBLAS_TRANSPOSE, CBLAS_UPLO};
use std::ffi::c_int;

/// Declares the CBLAS functions rayblas calls under the linked library's names for them
/// (`blas_symbol!`: `cblas_dgemm`, or `scipy_cblas_dgemm` in the scipy-openblas wheel, which
/// `cblas-sys`'s fixed names cannot bind), with `cblas-sys`'s enums for the arguments.
macro_rules! cblas_functions {
    ($t:ty, $gemm:ident, $dot:ident, $nrm2:ident, $syrk:ident, $gemv:ident) => {
        extern "C" {
            #[link_name = blas_symbol!(stringify!($gemm))]
            fn $gemm(
                layout: CBLAS_LAYOUT,
                transa: CBLAS_TRANSPOSE,
                transb: CBLAS_TRANSPOSE,
                m: c_int,
                n: c_int,
                k: c_int,
                alpha: $t,
                a: *const $t,
                lda: c_int,
                b: *const $t,
                ldb: c_int,
                beta: $t,
                c: *mut $t,
                ldc: c_int,
            );
            #[link_name = blas_symbol!(stringify!($dot))]
            fn $dot(n: c_int, x: *const $t, incx: c_int, y: *const $t, incy: c_int) -> $t;
            #[link_name = blas_symbol!(stringify!($nrm2))]
            fn $nrm2(n: c_int, x: *const $t, incx: c_int) -> $t;
            #[link_name = blas_symbol!(stringify!($syrk))]
            fn $syrk(
                layout: CBLAS_LAYOUT,
                uplo: CBLAS_UPLO,
                trans: CBLAS_TRANSPOSE,
                n: c_int,
                k: c_int,
                alpha: $t,
                a: *const $t,
                lda: c_int,
                beta: $t,
                c: *mut $t,
                ldc: c_int,
            );
            #[link_name = blas_symbol!(stringify!($gemv))]
            fn $gemv(
                layout: CBLAS_LAYOUT,
                trans: CBLAS_TRANSPOSE,
                m: c_int,
                n: c_int,
                alpha: $t,
                a: *const $t,
                lda: c_int,
                x: *const $t,
                incx: c_int,
                beta: $t,
                y: *mut $t,
                incy: c_int,
            );
        }
    };
}

/// Whether CBLAS can take this operand without a copy.
#[inline]
pub(crate) fn accepts(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    layout(rows, cols, rs, cs).is_some()
}

/// Whether a CBLAS routine can take an operand of `rows`×`cols` with strides `rs`, `cs` as a
/// row-major matrix, possibly transposed. Returns `(transposed, leading dimension)`.
///
/// Dimensions of length ≤ 1 place no constraint on their stride.
#[inline]
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

/// The CBLAS functions of one element type (`cblas_d*` for f64, `cblas_s*` for f32).
pub(crate) trait Typed: Sized + Copy {
    /// The library's `cblas_?gemm_batch_strided`, looked up at run time (OpenBLAS 0.3.34 has
    /// it, 0.3.21 has not), or `None`.
    fn batch_strided() -> Option<BatchStrided<Self>>;
    /// `cblas_?gemm`, row-major.
    ///
    /// # Safety
    /// As `cblas_?gemm`: the pointers cover the described matrices; C does not alias A or B.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        ta: bool,
        tb: bool,
        m: i32,
        n: i32,
        k: i32,
        alpha: Self,
        a: *const Self,
        lda: i32,
        b: *const Self,
        ldb: i32,
        beta: Self,
        c: *mut Self,
        ldc: i32,
    );
    /// `cblas_?dot` of two unit-stride slices of equal length n.
    fn dot(n: i32, x: &[Self], y: &[Self]) -> Self;
    /// `cblas_?nrm2` of a unit-stride slice of length n.
    fn nrm2(n: i32, x: &[Self]) -> Self;
    /// `cblas_?syrk`, row-major, lower triangle, α = 1, β = 0.
    ///
    /// # Safety
    /// As `cblas_?syrk`: the pointers cover the described matrices; C does not alias X.
    #[allow(clippy::too_many_arguments)]
    unsafe fn syrk(n: i32, k: i32, x_trans: bool, x: *const Self, ldx: i32, c: *mut Self, ldc: i32);
    /// `y ← A·x` (or `Aᵀ·x`) through `cblas_?gemv`, A row-major m×n with leading dimension lda.
    #[allow(clippy::too_many_arguments)]
    fn gemv(transposed: bool, m: i32, n: i32, a: &[Self], lda: i32, x: &[Self], y: &mut [Self]);
}

macro_rules! typed {
    ($t:ty, $gemm:ident, $dot:ident, $nrm2:ident, $syrk:ident, $gemv:ident) => {
        cblas_functions!($t, $gemm, $dot, $nrm2, $syrk, $gemv);
        impl Typed for $t {
            fn batch_strided() -> Option<BatchStrided<$t>> {
                static FOUND: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
                // The wheel's header names it `scipy_cblas_?gemm_batch_strided`, but its
                // 0.3.34 library exports it unprefixed: try the linked library's name first.
                let p = *FOUND.get_or_init(|| {
                    find_symbol(&[
                        concat!(blas_symbol!(stringify!($gemm)), "_batch_strided\0"),
                        concat!(stringify!($gemm), "_batch_strided\0"),
                    ])
                });
                // SAFETY: `p` is the address of the library's `cblas_?gemm_batch_strided` for
                // this element type, whose C signature (OpenBLAS's cblas.h) is `BatchStrided`.
                (p != 0).then(|| unsafe { std::mem::transmute::<usize, BatchStrided<$t>>(p) })
            }
            unsafe fn gemm(
                ta: bool,
                tb: bool,
                m: i32,
                n: i32,
                k: i32,
                alpha: $t,
                a: *const $t,
                lda: i32,
                b: *const $t,
                ldb: i32,
                beta: $t,
                c: *mut $t,
                ldc: i32,
            ) {
                let row_major = CBLAS_LAYOUT::CblasRowMajor;
                // SAFETY: the caller guarantees the memory and dimensions (see the trait).
                unsafe {
                    $gemm(
                        row_major,
                        trans(ta),
                        trans(tb),
                        m,
                        n,
                        k,
                        alpha,
                        a,
                        lda,
                        b,
                        ldb,
                        beta,
                        c,
                        ldc,
                    )
                }
            }
            fn dot(n: i32, x: &[$t], y: &[$t]) -> $t {
                assert!(x.len() >= n as usize && y.len() >= n as usize);
                // SAFETY: both slices hold at least n elements, read with unit stride.
                unsafe { $dot(n, x.as_ptr(), 1, y.as_ptr(), 1) }
            }
            fn nrm2(n: i32, x: &[$t]) -> $t {
                assert!(x.len() >= n as usize);
                // SAFETY: the slice holds at least n elements, read with unit stride.
                unsafe { $nrm2(n, x.as_ptr(), 1) }
            }
            unsafe fn syrk(
                n: i32,
                k: i32,
                x_trans: bool,
                x: *const $t,
                ldx: i32,
                c: *mut $t,
                ldc: i32,
            ) {
                let row_major = CBLAS_LAYOUT::CblasRowMajor;
                let lower = CBLAS_UPLO::CblasLower;
                // SAFETY: the caller guarantees the memory and dimensions (see the trait).
                unsafe {
                    $syrk(
                        row_major,
                        lower,
                        trans(x_trans),
                        n,
                        k,
                        1.0,
                        x,
                        ldx,
                        0.0,
                        c,
                        ldc,
                    )
                }
            }
            fn gemv(transposed: bool, m: i32, n: i32, a: &[$t], lda: i32, x: &[$t], y: &mut [$t]) {
                let (in_len, out_len) = if transposed { (m, n) } else { (n, m) };
                let rows_span = (m.max(1) as usize - 1) * lda as usize + n as usize;
                assert!(lda >= n.max(1) && a.len() >= rows_span);
                assert!(x.len() >= in_len as usize && y.len() >= out_len as usize);
                let row_major = CBLAS_LAYOUT::CblasRowMajor;
                // SAFETY: a holds the m×n row-major matrix with leading dimension lda, x and y
                // the lengths gemv reads and writes for this transposition (asserted above).
                unsafe {
                    $gemv(
                        row_major,
                        trans(transposed),
                        m,
                        n,
                        1.0,
                        a.as_ptr(),
                        lda,
                        x.as_ptr(),
                        1,
                        0.0,
                        y.as_mut_ptr(),
                        1,
                    )
                }
            }
        }
    };
}

typed!(
    f64,
    cblas_dgemm,
    cblas_ddot,
    cblas_dnrm2,
    cblas_dsyrk,
    cblas_dgemv
);
typed!(
    f32,
    cblas_sgemm,
    cblas_sdot,
    cblas_snrm2,
    cblas_ssyrk,
    cblas_sgemv
);

/// `cblas_?gemm_batch_strided`: `C[i] ← α·A[i]·B[i] + β·C[i]` for `count` items, item `i` of
/// each operand at its pointer plus `i` times its batch stride (in elements).
pub(crate) type BatchStrided<T> = unsafe extern "C" fn(
    CBLAS_LAYOUT,
    CBLAS_TRANSPOSE,
    CBLAS_TRANSPOSE,
    c_int,
    c_int,
    c_int,
    T,
    *const T,
    c_int,
    c_int,
    *const T,
    c_int,
    c_int,
    T,
    *mut T,
    c_int,
    c_int,
    c_int,
);

/// The address of the first of `names` (NUL-terminated) the process has loaded, or 0.
fn find_symbol(names: &[&str]) -> usize {
    names
        .iter()
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks a symbol up.
        .map(|name| unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) } as usize)
        .find(|&p| p != 0)
        .unwrap_or(0)
}

/// `count` products through the library's `cblas_?gemm_batch_strided`, the items of each
/// operand `strides` = `[a, b, c]` elements apart; the item layouts as in [`gemm`]. Returns
/// `false`, having done nothing, where the library has no such call.
///
/// # Safety
/// As [`gemm`] for every item; the batch strides and `count` fit in `c_int`, are not negative,
/// and the items of C do not overlap.
pub(crate) unsafe fn gemm_batch<T: Typed>(
    g: &RawGemm<T>,
    count: usize,
    strides: [isize; 3],
) -> bool {
    let Some(batch) = T::batch_strided() else {
        return false;
    };
    let (c_trans, ldc) = layout(g.m, g.n, g.rsc, g.csc).expect("C layout checked by caller");
    let [sa, sb, sc] = strides;
    let (m, n, a, rsa, csa, sa, b, rsb, csb, sb) = if c_trans {
        (g.n, g.m, g.b, g.csb, g.rsb, sb, g.a, g.csa, g.rsa, sa)
    } else {
        (g.m, g.n, g.a, g.rsa, g.csa, sa, g.b, g.rsb, g.csb, sb)
    };
    let k = g.k;
    let (ta, lda) = layout(m, k, rsa, csa).expect("A layout checked by caller");
    let (tb, ldb) = layout(k, n, rsb, csb).expect("B layout checked by caller");
    let int = |v: usize| v as c_int;
    // SAFETY: the caller guarantees the memory, dimensions and strides of every item; the
    // layouts were just derived.
    unsafe {
        batch(
            CBLAS_LAYOUT::CblasRowMajor,
            trans(ta),
            trans(tb),
            int(m),
            int(n),
            int(k),
            g.alpha,
            a,
            int(lda),
            sa as c_int,
            b,
            int(ldb),
            sb as c_int,
            g.beta,
            g.c,
            int(ldc),
            sc as c_int,
            int(count),
        )
    };
    true
}

/// `C ← α·A·B + β·C` through `cblas_?gemm`.
///
/// The thread count is the library's process-wide setting (the plan leases it).
///
/// # Safety
/// `g` must describe valid, non-aliasing (A, B vs C) memory whose layouts `accepts` approved and
/// whose dimensions and leading dimensions fit in `c_int` (checked by `super::gemm`).
pub(crate) unsafe fn gemm<T: Typed>(g: &RawGemm<T>) {
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
    // SAFETY: the caller guarantees the memory and dimensions; the layouts were just derived.
    unsafe {
        T::gemm(
            ta, tb, m, n, k, g.alpha, a, lda as i32, b, ldb as i32, g.beta, g.c, ldc as i32,
        )
    }
}

/// `xᵀy` through `cblas_?dot` for slices of equal length; `None` beyond `c_int` lengths (the
/// caller then uses rayblas's kernels).
pub(crate) fn dot<T: Typed>(x: &[T], y: &[T]) -> Option<T> {
    assert_eq!(x.len(), y.len());
    Some(T::dot(i32::try_from(x.len()).ok()?, x, y))
}

/// ‖x‖₂ through `cblas_?nrm2` (scaled: no overflow or underflow); `None` beyond `c_int`
/// lengths.
pub(crate) fn nrm2<T: Typed>(x: &[T]) -> Option<T> {
    Some(T::nrm2(i32::try_from(x.len()).ok()?, x))
}

/// Lower triangle of `C ← X·Xᵀ` through `cblas_?syrk` (half the flops of a GEMM).
///
/// # Safety
/// As [`Routines::syrk_lower`](super::Routines::syrk_lower).
pub(crate) unsafe fn syrk_lower<T: Typed>(
    n: usize,
    k: usize,
    x: *const T,
    x_trans: bool,
    ldx: usize,
    c: *mut T,
    ldc: usize,
) {
    let (n, k, ldx, ldc) = (n as i32, k as i32, ldx as i32, ldc as i32);
    // SAFETY: the caller guarantees the memory and dimensions.
    unsafe { T::syrk(n, k, x_trans, x, ldx, c, ldc) }
}

/// `y ← Σⱼ A[i, j]` for every row i (`transposed`: for every column) of a contiguous row-major
/// `rows × cols` matrix, through `cblas_?gemv` with a ones vector: the BLAS route to axis sums.
/// `None` when a dimension is beyond `c_int`.
pub(crate) fn row_sums<T: Typed + Element>(
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
    T::gemv(transposed, m, n, a, n.max(1), &ones, &mut y);
    Some(y)
}

/// Implements [`Routines`](super::Routines) for `f32` and `f64` through CBLAS: the OpenBLAS and
/// netlib backends invoke it.
macro_rules! routines_through_cblas {
    () => {
        $crate::blas::cblas::routines_through_cblas!(f32);
        $crate::blas::cblas::routines_through_cblas!(f64);
    };
    ($t:ty) => {
        impl super::Routines for $t {
            unsafe fn gemm(g: &super::RawGemm<$t>, _threads: usize) {
                // SAFETY: forwarded; the caller upholds `Routines::gemm`'s contract.
                unsafe { super::cblas::gemm(g) }
            }
            fn has_gemm_batch() -> bool {
                <$t as super::cblas::Typed>::batch_strided().is_some()
            }
            unsafe fn gemm_batch(
                g: &super::RawGemm<$t>,
                count: usize,
                strides: [isize; 3],
            ) -> bool {
                // SAFETY: forwarded; the caller upholds `Routines::gemm_batch`'s contract.
                unsafe { super::cblas::gemm_batch(g, count, strides) }
            }
            unsafe fn syrk_lower(
                n: usize,
                k: usize,
                x: *const $t,
                x_trans: bool,
                ldx: usize,
                c: *mut $t,
                ldc: usize,
            ) -> bool {
                // SAFETY: forwarded; the caller upholds `Routines::syrk_lower`'s contract.
                unsafe { super::cblas::syrk_lower(n, k, x, x_trans, ldx, c, ldc) };
                true
            }
            $crate::blas::cblas::level12_through_cblas!($t);
        }
    };
}
pub(crate) use routines_through_cblas;

/// The level-1/2 methods of an `impl Routines for $t` through CBLAS: shared by the CBLAS
/// backends and BLIS (whose GEMM is its own).
macro_rules! level12_through_cblas {
    ($t:ty) => {
        fn dot(x: &[$t], y: &[$t]) -> Option<$t> {
            $crate::blas::cblas::dot(x, y)
        }
        fn nrm2(x: &[$t]) -> Option<$t> {
            $crate::blas::cblas::nrm2(x)
        }
        fn row_sums(a: &[$t], rows: usize, cols: usize, transposed: bool) -> Option<Vec<$t>> {
            $crate::blas::cblas::row_sums(a, rows, cols, transposed)
        }
    };
}
pub(crate) use level12_through_cblas;

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
