//! Reductions over matrices: sum, mean, sum of squares, 2-norm, min, max, argmin, argmax, dot;
//! over the whole matrix or along an axis; for any layout (contiguous, strided, transposed).
//!
//! # Summation order and error bound
//! A contiguous run of `n` elements is summed as a fixed tree: leaves of [`LEAF`] elements, each
//! summed by a SIMD kernel with `L` independent lane accumulators (`LEAF/L` terms each, then the
//! lanes pairwise), and leaves combined pairwise. The computed sum `ŝ` of `xᵢ` satisfies
//!
//! `|ŝ − Σxᵢ| ≤ (LEAF/L + log₂L + ⌈log₂(n/LEAF)⌉ + 1) · ε · Σ|xᵢ|`
//!
//! with `L` ≥ 8 (portable level; 64 f64 lanes on AVX-512), i.e. about `(520 + log₂ n)·ε` in the
//! worst case and far less on AVX-512, against `n·ε` for a plain loop. The tree depends only on the
//! data's shape and layout, never on the number of workers, so every strategy gives bitwise the
//! same answer at a given SIMD level.
//!
//! # NaN
//! As in numpy: a NaN anywhere makes `sum`, `mean`, `min`, `max`, `norm` and `dot` NaN;
//! `argmin`/`argmax` return the index of the first NaN (in row-major order).

use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::simd::{kernels_for, Kernels, Level, LEAF};
use crate::strategy::Kind;
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Below this many elements a subtree is not split across workers.
const PAR_GRAIN: usize = 1 << 16;

/// How to reduce a tile or matrix to one number (used by the fused kernels and the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// Σ xᵢ.
    Sum,
    /// Σ xᵢ².
    SumOfSquares,
    /// max xᵢ (NaN propagates).
    Max,
    /// min xᵢ (NaN propagates).
    Min,
}

impl Reduction {
    /// `sum`, `sumsq`, `max`, `min`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::SumOfSquares => "sumsq",
            Reduction::Max => "max",
            Reduction::Min => "min",
        }
    }

    /// The identity of the combine step (0, 0, −∞, +∞).
    pub(crate) fn identity<T: Element>(self) -> T {
        match self {
            Reduction::Sum | Reduction::SumOfSquares => T::zero(),
            Reduction::Max => T::neg_infinity(),
            Reduction::Min => T::infinity(),
        }
    }

    /// Combines two partial results.
    pub(crate) fn combine<T: Element>(self, a: T, b: T) -> T {
        match self {
            Reduction::Sum | Reduction::SumOfSquares => a + b,
            Reduction::Max => nan_max(a, b),
            Reduction::Min => nan_min(a, b),
        }
    }

    /// The SIMD kernel that reduces one leaf.
    fn leaf<T: Element>(self, k: &Kernels<T>) -> fn(&[T]) -> T {
        match self {
            Reduction::Sum => k.sum,
            Reduction::SumOfSquares => k.sumsq,
            Reduction::Max => k.max,
            Reduction::Min => k.min,
        }
    }

    /// Reduces a contiguous slice with the fixed tree.
    pub(crate) fn slice<T: Element>(self, k: &Kernels<T>, x: &[T], par: bool) -> T {
        tree(
            x,
            &self.leaf(k),
            &|a, b| self.combine(a, b),
            self.identity(),
            par,
        )
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Reduction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sum" => Ok(Reduction::Sum),
            "sumsq" | "sum-of-squares" | "sum_of_squares" => Ok(Reduction::SumOfSquares),
            "max" => Ok(Reduction::Max),
            "min" => Ok(Reduction::Min),
            _ => Err(Error::Parse {
                what: "reduction",
                input: s.to_string(),
                reason: "expected sum, sumsq, max or min".into(),
            }),
        }
    }
}

#[allow(clippy::eq_op)]
fn nan_max<T: Element>(a: T, b: T) -> T {
    if a != a || b > a || b != b {
        if a != a {
            a
        } else {
            b
        }
    } else {
        a
    }
}

#[allow(clippy::eq_op)]
fn nan_min<T: Element>(a: T, b: T) -> T {
    if a != a || b < a || b != b {
        if a != a {
            a
        } else {
            b
        }
    } else {
        a
    }
}

/// How [`fixed_tree`] cuts an index range. It depends on the range alone, never on the number of
/// workers, which is what makes every reduction's result independent of the strategy.
#[derive(Clone, Copy)]
struct TreeShape {
    /// A range of at most this many indices is one leaf.
    leaf: usize,
    /// Split at the leaf boundary nearest the middle (`true`), or at the middle index.
    at_leaf_boundary: bool,
    /// Work per index, for deciding whether a subtree is worth a second worker.
    weight: usize,
}

impl TreeShape {
    /// Over the elements of one contiguous run: leaves of [`LEAF`] elements.
    const ELEMENTS: TreeShape = TreeShape {
        leaf: LEAF,
        at_leaf_boundary: true,
        weight: 1,
    };

    /// Over parts that are already reduced, each worth `weight` elements: halves, down to one.
    fn parts(weight: usize) -> TreeShape {
        TreeShape {
            leaf: 1,
            at_leaf_boundary: false,
            weight,
        }
    }
}

/// The one fixed pairwise tree every reduction uses: a range `lo..hi` of at most `shape.leaf`
/// indices is a leaf, `leaf(lo, hi)`; a larger one splits in two (see [`TreeShape`]) and its
/// halves combine as `combine(left, right)`. The halves run on two workers when `par` and the
/// range holds at least [`PAR_GRAIN`] of work; the result is the same either way.
fn fixed_tree<R: Send>(
    lo: usize,
    hi: usize,
    shape: TreeShape,
    leaf: &(dyn Fn(usize, usize) -> R + Sync),
    combine: &(dyn Fn(R, R) -> R + Sync),
    par: bool,
) -> R {
    let n = hi - lo;
    if n <= shape.leaf {
        return leaf(lo, hi);
    }
    let mid = lo
        + if shape.at_leaf_boundary {
            (n.div_ceil(shape.leaf) / 2) * shape.leaf
        } else {
            n / 2
        };
    let left = || fixed_tree(lo, mid, shape, leaf, combine, par);
    let right = || fixed_tree(mid, hi, shape, leaf, combine, par);
    let (a, b) = if par && n * shape.weight >= PAR_GRAIN {
        rayon::join(left, right)
    } else {
        (left(), right())
    };
    combine(a, b)
}

/// The fixed summation tree over a slice: leaves of [`LEAF`] elements.
fn tree<T: Element>(
    x: &[T],
    leaf: &(dyn Fn(&[T]) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
    identity: T,
    par: bool,
) -> T {
    let leaf = |lo: usize, hi: usize| if lo == hi { identity } else { leaf(&x[lo..hi]) };
    fixed_tree(0, x.len(), TreeShape::ELEMENTS, &leaf, combine, par)
}

/// The fixed pairwise tree over parts `lo..hi` (`f(i)` gives part `i`), each worth `weight`
/// elements of work.
fn tree_over<T: Element>(
    lo: usize,
    hi: usize,
    f: &(dyn Fn(usize) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
    identity: T,
    par: bool,
    weight: usize,
) -> T {
    let leaf = |lo: usize, hi: usize| if lo == hi { identity } else { f(lo) };
    fixed_tree(lo, hi, TreeShape::parts(weight), &leaf, combine, par)
}

/// Combines partial results in a fixed pairwise tree (for tile results in tile order).
pub(crate) fn combine_fixed<T: Element>(parts: &[T], r: Reduction) -> T {
    tree_over(
        0,
        parts.len(),
        &|i| parts[i],
        &|a, b| r.combine(a, b),
        r.identity(),
        false,
        1,
    )
}

/// The contiguous runs ("lanes") a matrix is read in: the whole buffer when it is contiguous,
/// else its rows or columns, whichever has unit stride, else gathered rows.
enum Lanes<'a, T> {
    Flat(&'a [T]),
    Rows(ArrayView2<'a, T>),
    Cols(ArrayView2<'a, T>),
}

fn lanes<'a, T: Element>(x: &ArrayView2<'a, T>) -> Lanes<'a, T> {
    if let Some(s) = x.to_slice_memory_order() {
        return Lanes::Flat(s);
    }
    if x.ncols() <= 1 || x.strides()[1] == 1 {
        Lanes::Rows(*x)
    } else if x.nrows() <= 1 || x.strides()[0] == 1 {
        Lanes::Cols(*x)
    } else {
        Lanes::Rows(*x)
    }
}

/// A lane as a slice, gathered into a buffer when it is strided.
fn lane_slice<'a, T: Element>(v: ArrayView1<'a, T>) -> Cow<'a, [T]> {
    match v.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(v.iter().copied().collect()),
    }
}

fn reduce_lanes<T: Element>(
    x: &ArrayView2<'_, T>,
    leaf: &(dyn Fn(&[T]) -> T + Sync),
    combine: &(dyn Fn(T, T) -> T + Sync),
    identity: T,
    par: bool,
) -> T {
    match lanes(x) {
        Lanes::Flat(s) => tree(s, leaf, combine, identity, par),
        Lanes::Rows(v) => tree_over(
            0,
            v.nrows(),
            &|i| tree(&lane_slice(v.row(i)), leaf, combine, identity, false),
            combine,
            identity,
            par,
            v.ncols().max(1),
        ),
        Lanes::Cols(v) => tree_over(
            0,
            v.ncols(),
            &|j| tree(&lane_slice(v.column(j)), leaf, combine, identity, false),
            combine,
            identity,
            par,
            v.nrows().max(1),
        ),
    }
}

/// Full-matrix reduction with the kernels of `level`.
pub(crate) fn full<T: Element>(x: &ArrayView2<'_, T>, r: Reduction, level: Level, par: bool) -> T {
    let leaf = r.leaf(kernels_for::<T>(level));
    reduce_lanes(x, &leaf, &|a, b| r.combine(a, b), r.identity(), par)
}

/// ‖x‖₂ without overflow or underflow: Σx² directly when it is safely in range, else rescaled
/// by a power of two near 1/max|xᵢ| (exact), as BLAS nrm2 does.
pub(crate) fn norm<T: Element>(x: &ArrayView2<'_, T>, level: Level, par: bool) -> T {
    let k = kernels_for::<T>(level);
    let ss = full(x, Reduction::SumOfSquares, level, par);
    let tiny = T::from_f64(if T::DTYPE == crate::Dtype::F64 {
        1e-290
    } else {
        1e-30
    });
    if ss.is_nan() || (ss > tiny && ss < T::infinity()) {
        return ss.sqrt();
    }
    let amax = reduce_lanes(x, &k.amax, &|a, b| nan_max(a, b), T::zero(), par);
    if amax.is_nan() || amax == T::zero() || amax == T::infinity() {
        return amax;
    }
    let limit = if T::DTYPE == crate::Dtype::F64 {
        1015
    } else {
        119
    };
    let e = (amax.to_f64().log2().floor() as i32).clamp(-limit, limit);
    let s = T::from_f64(2f64.powi(-e));
    let scaled = reduce_lanes(
        x,
        &|v: &[T]| (k.sumsq_scaled)(v, s),
        &|a, b| a + b,
        T::zero(),
        par,
    );
    scaled.sqrt() * T::from_f64(2f64.powi(e))
}

/// Σ xᵢyᵢ over two matrices of the same shape.
pub(crate) fn dot<T: Element>(
    x: &ArrayView2<'_, T>,
    y: &ArrayView2<'_, T>,
    level: Level,
    par: bool,
) -> T {
    let k = kernels_for::<T>(level);
    let same_flat =
        x.strides() == y.strides() || (x.is_standard_layout() && y.is_standard_layout());
    if same_flat {
        if let (Some(a), Some(b)) = (x.to_slice_memory_order(), y.to_slice_memory_order()) {
            return dot_tree(k, a, b, par);
        }
    }
    tree_over(
        0,
        x.nrows(),
        &|i| dot_tree(k, &lane_slice(x.row(i)), &lane_slice(y.row(i)), false),
        &|a, b| a + b,
        T::zero(),
        par,
        x.ncols().max(1),
    )
}

fn dot_tree<T: Element>(k: &Kernels<T>, a: &[T], b: &[T], par: bool) -> T {
    let leaf = |lo: usize, hi: usize| (k.dot)(&a[lo..hi], &b[lo..hi]);
    fixed_tree(0, a.len(), TreeShape::ELEMENTS, &leaf, &|x, y| x + y, par)
}

/// Flat row-major index of the first maximum (or minimum); of the first NaN if there is one.
pub(crate) fn arg_extreme<T: Element>(
    x: &ArrayView2<'_, T>,
    max: bool,
    level: Level,
    par: bool,
) -> usize {
    let r = if max { Reduction::Max } else { Reduction::Min };
    let target = full(x, r, level, par);
    let ncols = x.ncols();
    for (i, row) in x.rows().into_iter().enumerate() {
        let hit = if target.is_nan() {
            row.iter().position(|v| v.is_nan())
        } else {
            row.iter().position(|&v| v == target)
        };
        if let Some(j) = hit {
            return i * ncols + j;
        }
    }
    unreachable!("the extreme of a non-empty matrix is one of its elements")
}

/// Reduction along `axis` (0: down the columns, one result per column; 1: along the rows).
pub(crate) fn along_axis<T: Element>(
    x: &ArrayView2<'_, T>,
    axis: Axis,
    r: Reduction,
    level: Level,
    par: bool,
) -> Array1<T> {
    let k = kernels_for::<T>(level);
    // Lanes along `axis`; output index runs over the other axis.
    let lanes_view = if axis == Axis(0) { x.t() } else { x.view() };
    let n_out = lanes_view.nrows();
    let lane_contiguous = lanes_view.ncols() <= 1 || lanes_view.strides()[1] == 1;
    let one = |i: usize| -> T {
        let lane = lanes_view.row(i);
        if lane.is_empty() {
            return r.identity();
        }
        r.slice(k, &lane_slice(lane), false)
    };
    if lane_contiguous || matches!(r, Reduction::Max | Reduction::Min) || lanes_view.ncols() < 64 {
        let out: Vec<T> = if par && n_out * lanes_view.ncols() >= PAR_GRAIN {
            use rayon::prelude::*;
            (0..n_out).into_par_iter().map(one).collect()
        } else {
            (0..n_out).map(one).collect()
        };
        return Array1::from(out);
    }
    // Strided lanes of sums: add whole contiguous cross-sections in a pairwise tree over the
    // lane positions (the cross-sections vectorise; reading lanes one by one would not).
    vertical(&lanes_view, r, 0, lanes_view.ncols(), par)
}

/// Sums of the strided lanes `v[i, lo..hi]` for every row i, adding whole columns (contiguous
/// cross-sections) 32 at a time at the leaves of the fixed tree over lane positions.
fn vertical<T: Element>(
    v: &ArrayView2<'_, T>,
    r: Reduction,
    lo: usize,
    hi: usize,
    par: bool,
) -> Array1<T> {
    const LEAF_COLUMNS: usize = 32;
    let leaf = |lo: usize, hi: usize| {
        let mut acc = Array1::<T>::zeros(v.nrows());
        for j in lo..hi {
            let col = v.column(j);
            match r {
                Reduction::SumOfSquares => acc.zip_mut_with(&col, |a, &b| *a = *a + b * b),
                _ => acc.zip_mut_with(&col, |a, &b| *a = *a + b),
            }
        }
        acc
    };
    let shape = TreeShape {
        leaf: LEAF_COLUMNS,
        at_leaf_boundary: false,
        weight: v.nrows(),
    };
    let combine = |mut a: Array1<T>, b: Array1<T>| {
        a.zip_mut_with(&b, |x, &y| *x = *x + y);
        a
    };
    fixed_tree(lo, hi, shape, &leaf, &combine, par)
}

/// Max and min of no elements are undefined (sums of none are 0): an error for `r` over `len`
/// elements, for the fused products and the per-lane reductions, as `non_empty` is for a matrix.
pub(crate) fn defined_over(r: Reduction, len: usize) -> Result<()> {
    if len == 0 && matches!(r, Reduction::Max | Reduction::Min) {
        return Err(Error::EmptyReduction { op: r.name() });
    }
    Ok(())
}

/// Errors for reductions that need at least one element.
pub(crate) fn non_empty<T>(x: &ArrayView2<'_, T>, op: &'static str) -> Result<()> {
    if x.is_empty() {
        Err(Error::EmptyReduction { op })
    } else {
        Ok(())
    }
}

// ---------- entry points: one per `Config` reduction, run under a plan ----------

/// `r` over the whole matrix, in parallel where the plan has several threads.
pub(crate) fn full_under<T: Element>(plan: &Plan, x: &ArrayView2<'_, T>, r: Reduction) -> T {
    plan.for_reduction(x.len())
        .reduction(|par| full(x, r, plan.level, par))
}

/// ‖x‖₂: under `Native`, BLAS `nrm2` when `x` is contiguous and the backend has one.
pub(crate) fn norm_under<T: Element>(plan: &Plan, x: &ArrayView2<'_, T>) -> T {
    if plan.strategy.kind == Kind::Native {
        if let Some(s) = x.to_slice_memory_order() {
            if let Some(v) = plan.native_call(|t| blas::nrm2(s, t)) {
                // Libraries disagree where the input is not finite (BLIS's nrm2 gives NaN
                // for +Inf and -Inf together, where the norm is +Inf): a non-finite answer
                // is taken from rayblas's own kernel, so every strategy and backend agree.
                if v.to_f64().is_finite() {
                    return v;
                }
            }
        }
    }
    plan.for_reduction(x.len())
        .reduction(|par| norm(x, plan.level, par))
}

/// Σ xᵢⱼ·yᵢⱼ (same shapes, checked by the caller): under `Native`, BLAS `dot` when both are
/// contiguous in the same order.
pub(crate) fn dot_under<T: Element>(
    plan: &Plan,
    x: &ArrayView2<'_, T>,
    y: &ArrayView2<'_, T>,
) -> T {
    if plan.strategy.kind == Kind::Native && x.strides() == y.strides() {
        if let (Some(a), Some(b)) = (x.to_slice_memory_order(), y.to_slice_memory_order()) {
            if let Some(v) = plan.native_call(|t| blas::dot(a, b, t)) {
                return v;
            }
        }
    }
    plan.for_reduction(x.len())
        .reduction(|par| dot(x, y, plan.level, par))
}

/// Flat row-major index of the first maximum (`max`) or minimum; of the first NaN if any.
pub(crate) fn arg_extreme_under<T: Element>(
    plan: &Plan,
    x: &ArrayView2<'_, T>,
    max: bool,
) -> usize {
    plan.for_reduction(x.len())
        .reduction(|par| arg_extreme(x, max, plan.level, par))
}

/// Sums along `axis`: under `Native`, a contiguous matrix goes through BLAS `gemv` with a ones
/// vector where the backend has one.
pub(crate) fn sum_axis_under<T: Element>(
    plan: &Plan,
    x: &ArrayView2<'_, T>,
    axis: Axis,
) -> Array1<T> {
    if plan.strategy.kind == Kind::Native && !x.is_empty() {
        // Row-major data: rows are lanes of axis 1. Column-major: the transpose is row-major.
        let xt = x.t();
        let routed = match (x.as_slice(), xt.as_slice()) {
            (Some(s), _) => Some((s, x.nrows(), x.ncols(), axis == Axis(1))),
            (None, Some(s)) => Some((s, x.ncols(), x.nrows(), axis == Axis(0))),
            _ => None,
        };
        if let Some((data, rows, cols, by_rows)) = routed {
            if let Some(v) = plan.native_call(|t| blas::row_sums(data, rows, cols, !by_rows, t)) {
                return Array1::from(v);
            }
        }
    }
    axis_under(plan, x, axis, Reduction::Sum)
}

/// `r` along `axis`, in parallel where the plan has several threads.
pub(crate) fn axis_under<T: Element>(
    plan: &Plan,
    x: &ArrayView2<'_, T>,
    axis: Axis,
    r: Reduction,
) -> Array1<T> {
    plan.for_reduction(x.len())
        .reduction(|par| along_axis(x, axis, r, plan.level, par))
}

/// `f` on each lane along `axis` (one result per lane), lanes in parallel where the plan has
/// several threads; each lane's own reduction is the same either way.
pub(crate) fn per_lane<T: Element, R: Send>(
    plan: &Plan,
    x: &ArrayView2<'_, T>,
    axis: Axis,
    f: impl Fn(ArrayView2<'_, T>, usize) -> R + Sync,
) -> Array1<R> {
    let lanes = if axis == Axis(0) { x.t() } else { x.view() };
    let one = |i: usize| f(lanes.row(i).insert_axis(Axis(0)), i);
    plan.for_reduction(x.len()).reduction(|par| {
        let out: Vec<R> = if par && lanes.len() >= PAR_GRAIN {
            use rayon::prelude::*;
            (0..lanes.nrows()).into_par_iter().map(one).collect()
        } else {
            (0..lanes.nrows()).map(one).collect()
        };
        Array1::from(out)
    })
}
