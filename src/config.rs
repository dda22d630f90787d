//! The library's entry point: a [`Config`] (strategy, block shape, SIMD level) and its methods,
//! one per operation. The free functions at the crate root use `Config::default()`.

use crate::blas;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::kernels::reduce::{self, Reduction};
use crate::kernels::{fused, gram, matmul};
use crate::pool;
use crate::simd::{self, Level};
use crate::strategy::{Kind, Resolved, Strategy};
use crate::tiling::{BlockShape, Calls, Cut};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, AsArray, Axis, Ix2};

/// How to run an operation: strategy, block shape and SIMD level, each with a default.
///
/// - strategy: given here, else `RAYBLAS_STRATEGY`, else the compiled default (`blocked`, or
///   `native` with the `native-threading` feature);
/// - block: given here, else at most 1000×1000 and small enough to give every physical core a
///   row of tiles ([`BlockShape::auto`]; never dependent on the worker count);
/// - SIMD level: given here, else `RAYBLAS_SIMD`, else the best the CPU has.
///
/// ```
/// use ndarray::array;
/// use rayblas::{BlockShape, Config, Strategy};
///
/// let a = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
/// let cfg = Config::new()
///     .strategy("blocked:2".parse::<Strategy>()?)
///     .block(BlockShape::new(2, 1)?);
/// let g = cfg.gram(&a)?;                      // a·aᵀ, 3×3
/// assert_eq!(g[[2, 0]], 1.0 * 5.0 + 2.0 * 6.0);
/// assert_eq!(cfg.gram_sum(&a)?, g.sum());     // fused: the product is never stored
/// # Ok::<(), rayblas::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    strategy: Option<Strategy>,
    block: Option<BlockShape>,
    calls: Calls,
    simd: Option<Level>,
}

impl Config {
    /// All defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs with `strategy` (overrides `RAYBLAS_STRATEGY`).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = Some(strategy);
        self
    }

    /// Cuts matrices into tiles of `block`.
    pub fn block(mut self, block: BlockShape) -> Self {
        self.block = Some(block);
        self
    }

    /// How many tiles one BLAS call of `matmul`, `matmul_into`, `gram` and `gram_t` covers
    /// (default [`Calls::Strips`]). The fused products always make one call per tile: their
    /// point is to hold no more than a tile of the product per worker.
    pub fn calls(mut self, calls: Calls) -> Self {
        self.calls = calls;
        self
    }

    /// Uses the reduction kernels of `level` (checked against the CPU when an operation runs).
    pub fn simd(mut self, level: Level) -> Self {
        self.simd = Some(level);
        self
    }

    /// The strategy in force, resolved against the backend.
    pub fn plan(&self) -> Result<Resolved> {
        match self.strategy {
            Some(s) => s.resolve(),
            None => Strategy::from_env()?.resolve(),
        }
    }

    fn cut(&self) -> Cut {
        Cut {
            block: self.block,
            calls: self.calls,
        }
    }

    /// The SIMD level in force.
    pub fn simd_level(&self) -> Result<Level> {
        match self.simd {
            Some(l) => simd::check_level(l),
            None => simd::level(),
        }
    }

    /// `A·B`.
    pub fn matmul<'a, 'b, T: Element>(
        &self,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
    ) -> Result<Array2<T>> {
        let (a, b) = (a.into(), b.into());
        crate::kernels::check_product("matmul", &a, &b)?;
        let mut c = Array2::<T>::zeros((a.nrows(), b.ncols()));
        matmul::matmul_into(
            &self.plan()?,
            self.cut(),
            T::one(),
            &a,
            &b,
            T::zero(),
            c.view_mut(),
        )?;
        Ok(c)
    }

    /// `C ← α·A·B + β·C`, writing into `c` (any layout, strided views included).
    pub fn matmul_into<'a, 'b, T: Element>(
        &self,
        alpha: T,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        let (a, b) = (a.into(), b.into());
        matmul::matmul_into(&self.plan()?, self.cut(), alpha, &a, &b, beta, c)
    }

    /// `X·Xᵀ`, computing only tiles on and below the diagonal.
    pub fn gram<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
        gram::gram(&self.plan()?, self.cut(), &x.into())
    }

    /// `Xᵀ·X`, computing only tiles on and below the diagonal.
    pub fn gram_t<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
        let x: ArrayView2<'a, T> = x.into();
        gram::gram(&self.plan()?, self.cut(), &x.t())
    }

    /// `r(A·B)` without storing `A·B` (except under `Native`, which stores it as numpy does).
    pub fn matmul_reduce<'a, 'b, T: Element>(
        &self,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
        r: Reduction,
    ) -> Result<T> {
        let (a, b) = (a.into(), b.into());
        fused::matmul_reduce(&self.plan()?, self.block, &a, &b, r, self.simd_level()?)
    }

    /// `r(X·Xᵀ)` without storing `X·Xᵀ`, using its symmetry.
    pub fn gram_reduce<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        r: Reduction,
    ) -> Result<T> {
        fused::gram_reduce(&self.plan()?, self.block, &x.into(), r, self.simd_level()?)
    }

    /// Floating-point operations that [`Config::gram`] / [`Config::gram_reduce`] perform for an
    /// n×k `X` under this configuration (see [`crate::kernels::gram_flops`]).
    pub fn gram_flops(&self, n: usize, k: usize) -> Result<f64> {
        Ok(crate::kernels::gram_flops(&self.plan()?, self.block, n, k))
    }

    /// `sum(X·Xᵀ)`: the seed workload, `x.dot(x.T).sum()`.
    pub fn gram_sum<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        self.gram_reduce(x, Reduction::Sum)
    }

    /// Runs a reduction under the strategy: in parallel (a fixed tree, so the result does not
    /// depend on the worker count) for `Blocked`/`Hybrid`, on `blas_threads` for `Native`, on
    /// the calling thread for `Serial`.
    fn run_reduction<R: Send>(&self, f: impl FnOnce(Level, bool) -> R + Send) -> Result<R> {
        let plan = self.plan()?;
        let level = self.simd_level()?;
        let threads = match plan.kind {
            Kind::Serial => 1,
            Kind::Native => plan.blas_threads,
            Kind::Blocked | Kind::Hybrid => plan.total_threads(),
        };
        Ok(if threads > 1 && rayon::current_thread_index().is_none() {
            pool::get(threads, plan.pin).install(|| f(level, true))
        } else {
            f(level, threads > 1)
        })
    }

    /// Σ xᵢⱼ (0 for an empty matrix).
    pub fn sum<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        self.run_reduction(|l, p| reduce::full(&x, Reduction::Sum, l, p))
    }

    /// Mean of all elements; an empty matrix is an error.
    pub fn mean<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "mean")?;
        Ok(self.sum(x)? / T::from_f64(x.len() as f64))
    }

    /// Σ xᵢⱼ².
    pub fn sum_of_squares<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        self.run_reduction(|l, p| reduce::full(&x, Reduction::SumOfSquares, l, p))
    }

    /// Frobenius norm ‖X‖₂, without overflow or underflow. Under `Native` it goes through BLAS
    /// `nrm2` when the matrix is contiguous and the backend has one.
    pub fn norm<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        let plan = self.plan()?;
        if plan.kind == Kind::Native {
            if let Some(s) = x.to_slice_memory_order() {
                if let Some(v) = plan.run_native(|t| blas::nrm2(s, t)) {
                    return Ok(v);
                }
            }
        }
        self.run_reduction(|l, p| reduce::norm(&x, l, p))
    }

    /// Largest element (NaN if any is NaN); an empty matrix is an error.
    pub fn max<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "max")?;
        self.run_reduction(|l, p| reduce::full(&x, Reduction::Max, l, p))
    }

    /// Smallest element (NaN if any is NaN); an empty matrix is an error.
    pub fn min<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "min")?;
        self.run_reduction(|l, p| reduce::full(&x, Reduction::Min, l, p))
    }

    /// `(row, col)` of the first largest element in row-major order, or of the first NaN.
    pub fn argmax<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<(usize, usize)> {
        let x = x.into();
        reduce::non_empty(&x, "argmax")?;
        let i = self.run_reduction(|l, p| reduce::arg_extreme(&x, true, l, p))?;
        Ok((i / x.ncols(), i % x.ncols()))
    }

    /// `(row, col)` of the first smallest element in row-major order, or of the first NaN.
    pub fn argmin<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<(usize, usize)> {
        let x = x.into();
        reduce::non_empty(&x, "argmin")?;
        let i = self.run_reduction(|l, p| reduce::arg_extreme(&x, false, l, p))?;
        Ok((i / x.ncols(), i % x.ncols()))
    }

    /// Σ xᵢⱼ·yᵢⱼ over two matrices of one shape. Under `Native` it goes through BLAS `dot` when
    /// both are contiguous in the same order.
    pub fn dot<'a, 'b, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        y: impl AsArray<'b, T, Ix2>,
    ) -> Result<T> {
        let (x, y): (ArrayView2<'a, T>, ArrayView2<'b, T>) = (x.into(), y.into());
        if x.dim() != y.dim() {
            return Err(Error::ShapeMismatch {
                op: "dot",
                expected: format!("y of shape {}x{}", x.nrows(), x.ncols()),
                got: format!("y of shape {}x{}", y.nrows(), y.ncols()),
            });
        }
        let plan = self.plan()?;
        if plan.kind == Kind::Native && x.strides() == y.strides() {
            if let (Some(a), Some(b)) = (x.to_slice_memory_order(), y.to_slice_memory_order()) {
                if let Some(v) = plan.run_native(|t| blas::dot(a, b, t)) {
                    return Ok(v);
                }
            }
        }
        self.run_reduction(|l, p| reduce::dot(&x, &y, l, p))
    }

    /// Sum along an axis: `Axis(0)` gives one sum per column, `Axis(1)` one per row. Under
    /// `Native` a contiguous matrix goes through BLAS `gemv` with a ones vector where the backend
    /// has one.
    pub fn sum_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let x: ArrayView2<'a, T> = x.into();
        check_axis(axis)?;
        let plan = self.plan()?;
        if plan.kind == Kind::Native && !x.is_empty() {
            // Row-major data: rows are lanes of axis 1. Column-major: the transpose is row-major.
            let xt = x.t();
            let (data, rows, cols, by_rows) = match (x.as_slice(), xt.as_slice()) {
                (Some(s), _) => (Some(s), x.nrows(), x.ncols(), axis == Axis(1)),
                (None, Some(s)) => (Some(s), x.ncols(), x.nrows(), axis == Axis(0)),
                _ => (None, 0, 0, false),
            };
            if let Some(data) = data {
                if let Some(v) = plan.run_native(|t| blas::row_sums(data, rows, cols, !by_rows, t))
                {
                    return Ok(Array1::from(v));
                }
            }
        }
        self.reduce_axis(x, axis, Reduction::Sum)
    }

    /// Reduction `r` along an axis. Max and min of an empty lane are errors.
    pub fn reduce_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
        r: Reduction,
    ) -> Result<Array1<T>> {
        let x = x.into();
        check_axis(axis)?;
        if matches!(r, Reduction::Max | Reduction::Min)
            && x.len_of(axis) == 0
            && x.len_of(Axis(1 - axis.index())) > 0
        {
            return Err(Error::EmptyReduction { op: r.name() });
        }
        self.run_reduction(|l, p| reduce::along_axis(&x, axis, r, l, p))
    }

    /// Mean along an axis; lanes of length 0 are an error.
    pub fn mean_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let x = x.into();
        check_axis(axis)?;
        let n = x.len_of(axis);
        if n == 0 {
            return Err(Error::EmptyReduction { op: "mean" });
        }
        Ok(self.sum_axis(x, axis)? / T::from_f64(n as f64))
    }

    /// 2-norm of each lane along an axis (scaled: no overflow or underflow).
    pub fn norm_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let x = x.into();
        check_axis(axis)?;
        let lanes = if axis == Axis(0) { x.t() } else { x.view() };
        self.run_reduction(|l, _| {
            lanes
                .rows()
                .into_iter()
                .map(|row| reduce::norm(&row.insert_axis(Axis(0)), l, false))
                .collect()
        })
    }

    /// Dot product of matching lanes of `x` and `y` along an axis.
    pub fn dot_axis<'a, 'b, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        y: impl AsArray<'b, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let (x, y): (ArrayView2<'a, T>, ArrayView2<'b, T>) = (x.into(), y.into());
        check_axis(axis)?;
        if x.dim() != y.dim() {
            return Err(Error::ShapeMismatch {
                op: "dot_axis",
                expected: format!("y of shape {}x{}", x.nrows(), x.ncols()),
                got: format!("y of shape {}x{}", y.nrows(), y.ncols()),
            });
        }
        let (lx, ly) = if axis == Axis(0) {
            (x.t(), y.t())
        } else {
            (x.view(), y.view())
        };
        self.run_reduction(|l, _| {
            lx.rows()
                .into_iter()
                .zip(ly.rows())
                .map(|(a, b)| {
                    reduce::dot(&a.insert_axis(Axis(0)), &b.insert_axis(Axis(0)), l, false)
                })
                .collect()
        })
    }

    /// Index of the first maximum of each lane along an axis (of the first NaN if any).
    pub fn argmax_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<usize>> {
        self.arg_axis(x.into(), axis, true)
    }

    /// Index of the first minimum of each lane along an axis (of the first NaN if any).
    pub fn argmin_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<usize>> {
        self.arg_axis(x.into(), axis, false)
    }

    fn arg_axis<T: Element>(
        &self,
        x: ArrayView2<'_, T>,
        axis: Axis,
        max: bool,
    ) -> Result<Array1<usize>> {
        check_axis(axis)?;
        if x.len_of(axis) == 0 && x.len_of(Axis(1 - axis.index())) > 0 {
            return Err(Error::EmptyReduction {
                op: if max { "argmax" } else { "argmin" },
            });
        }
        let lanes = if axis == Axis(0) { x.t() } else { x.view() };
        self.run_reduction(|l, _| {
            lanes
                .rows()
                .into_iter()
                .map(|row| reduce::arg_extreme(&row.insert_axis(Axis(0)), max, l, false))
                .collect()
        })
    }
}

fn check_axis(axis: Axis) -> Result<()> {
    if axis.index() > 1 {
        return Err(Error::Parse {
            what: "axis",
            input: axis.index().to_string(),
            reason: "a matrix has axes 0 and 1".into(),
        });
    }
    Ok(())
}
