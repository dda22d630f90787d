//! The small-call path: a product too small to share, under a configuration that runs such
//! products on the calling thread at one BLAS thread (the default, `blocked` unpinned or
//! `serial`, with rayblas's block: [`Config::small_calls_here`]).
//!
//! The general path would make the same single BLAS call for it ([`Plan::one_call`]), so the
//! results are the same bits; this path only leaves out what that call does not need: building
//! the plan, the thread lease (the library runs so small a product on one thread whatever its
//! count), copy-on-write operands and the second round of checks. A numeric crate makes mostly
//! such calls (issue 38: a 4×4 product took 0.17 µs through the general path against 0.05 µs
//! for one direct CBLAS call with its output allocated). Anything this path cannot take as it
//! lies (an operand BLAS cannot read without a copy, a stride beyond its integers) goes the
//! general way, which copies or reports.
//!
//! [`Plan::one_call`]: crate::plan::Plan::one_call

use super::fused::reduce_small;
use super::gram::mirror_diagonal;
use super::reduce::{self, Reduction};
use crate::blas;
use crate::config::Config;
use crate::element::Element;
use crate::error::Result;
use crate::plan::{gram_work, product_work, too_small_to_share};
use ndarray::{Array2, ArrayView2};

/// `C ← A·B` into `c`, the new m×n output (shapes checked by the caller), through the
/// small-call path; `false`, with nothing done, where the general path must run it.
pub(crate) fn matmul<T: Element>(
    config: &Config,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    c: &mut Array2<T>,
) -> bool {
    let ((m, k), n) = (a.dim(), b.ncols());
    if !too_small_to_share(product_work(m, n, k)) || config.small_calls_here().is_none() {
        return false;
    }
    c.as_slice_mut()
        .is_some_and(|out| blas::gemm_small(a, b, out))
}

/// `X·Xᵀ` through the small-call path: one GEMM (a Gram product this small is no `syrk`,
/// [`blas::gram_by_syrk`]) mirrored from its lower triangle, as the general path's one call;
/// `None` where the general path must run it.
pub(crate) fn gram<T: Element>(
    config: &Config,
    x: &ArrayView2<'_, T>,
) -> Option<Result<Array2<T>>> {
    let (n, k) = x.dim();
    if !too_small_to_share(gram_work(n, k)) || blas::gram_by_syrk(n, k) {
        return None;
    }
    config.small_calls_here()?;
    let mut g = match crate::alloc::zeros::<T>("Gram matrix", n, n) {
        Ok(g) => g,
        Err(e) => return Some(Err(e)),
    };
    if !g
        .as_slice_mut()
        .is_some_and(|out| blas::gemm_small(x, &x.t(), out))
    {
        return None;
    }
    mirror_diagonal(&mut g.view_mut());
    Some(Ok(g))
}

/// `r(A·B)` through the small-call path, or `None` where the general path must run it (an
/// error to report included: shapes that do not multiply, max or min of an empty product).
pub(crate) fn matmul_reduce<T: Element>(
    config: &Config,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    r: Reduction,
) -> Option<T> {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2
        || !too_small_to_share(product_work(m, n, k))
        || reduce::defined_over(r, m * n).is_err()
    {
        return None;
    }
    reduce_small(a, b, r, config.small_calls_here()?)
}

/// `r(X·Xᵀ)` through the small-call path: the whole product in one GEMM, reduced flat, as the
/// general path's one call, where the product is no `syrk` ([`blas::gram_by_syrk`]); `None`
/// where the general path must run it.
pub(crate) fn gram_reduce<T: Element>(
    config: &Config,
    x: &ArrayView2<'_, T>,
    r: Reduction,
) -> Option<T> {
    let (n, k) = x.dim();
    if !too_small_to_share(gram_work(n, k))
        || blas::gram_by_syrk(n, k)
        || reduce::defined_over(r, n).is_err()
    {
        return None;
    }
    reduce_small(x, &x.t(), r, config.small_calls_here()?)
}
