//! The library's entry point: a [`Config`] (strategy, block shape, SIMD level) and its methods,
//! one per operation. The free functions at the crate root use `Config::default()`.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::kernels::reduce::{self, Reduction};
use crate::kernels::{batch, fused, gram, matmul, small};
use crate::plan::Plan;
use crate::simd::{self, Level};
use crate::strategy::{Kind, Resolved, Strategy};
use crate::tiling::{BlockShape, Calls, Cut};
use ndarray::{
    Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, AsArray, Axis, Ix2, Ix3,
};

/// How to run an operation: strategy, block shape and SIMD level, each with a default.
///
/// - strategy: given here, else `RAYBLAS_STRATEGY`, else the compiled default (`blocked`, or
///   `native` with the `native-threading` feature);
/// - block: given here, else at most 1000×1000 and small enough to give every physical core a
///   row of tiles ([`BlockShape::auto`]; never dependent on the worker count). The block is the
///   largest tile: tile rows are evened out so the cores get equal work
///   ([`Config::balance_for`]);
/// - SIMD level: given here, else `RAYBLAS_SIMD`, else the best the CPU has.
///
/// # Errors every operation can return
/// Each operation resolves the configuration first, and fails before touching the data if:
/// - the strategy cannot run on the linked backend ([`Error::UnsupportedStrategy`]) or has a
///   thread count of 0 ([`Error::InvalidThreads`]);
/// - `RAYBLAS_STRATEGY` or `RAYBLAS_SIMD` is read and invalid ([`Error::Environment`]);
/// - the SIMD level given is one this CPU lacks ([`Error::SimdUnavailable`]).
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
    balance: Option<std::num::NonZeroUsize>,
    simd: Option<Level>,
    /// Test-only fault injection, handed to the plan (see `Plan::panic_at_item`).
    #[cfg(test)]
    panic_at_item: Option<usize>,
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

    /// How many tiles one BLAS call of the tiled strategies covers (default
    /// [`Calls::Strips`]). Under `Strips`, `matmul` and `gram` also merge tile rows of fewer
    /// than 1024 rows into bands of about 1024 rows (their count still a multiple of the cores),
    /// since every call packs the columns of B it reads again. The fused products
    /// (`matmul_reduce`, `gram_reduce` and their shorthands) merge only tiles narrower than
    /// 1024 columns, up to that width, so a worker holds no more than a few tiles of the
    /// product.
    pub fn calls(mut self, calls: Calls) -> Self {
        self.calls = calls;
        self
    }

    /// Evens tiles out for `cores` cores instead of this machine's physical core count.
    ///
    /// The block is the largest tile: tile rows are evened out so their count is a multiple of
    /// the core count and the cores get equal work (5000 rows in blocks of 1000 on 2 cores
    /// become 6 rows of 834, not 5 rows that leave one core idle for a fifth of the time). So
    /// the cut, and the last bits of a tiled result, depend on the shape, the block and this
    /// count, never on the worker count. Give the same count on every machine for results that
    /// agree bit for bit between machines with different core counts.
    ///
    /// ```
    /// use rayblas::{BlockShape, Config};
    /// use std::num::NonZeroUsize;
    /// let x = ndarray::Array2::<f64>::from_elem((50, 3), 0.5);
    /// let two = NonZeroUsize::new(2).unwrap();
    /// let cfg = Config::new().block(BlockShape::square(16)?).balance_for(two);
    /// assert_eq!(cfg.gram_sum(&x)?, 50.0 * 50.0 * 0.75);
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    pub fn balance_for(mut self, cores: std::num::NonZeroUsize) -> Self {
        self.balance = Some(cores);
        self
    }

    /// Uses the reduction kernels of `level` (checked against the CPU when an operation runs).
    pub fn simd(mut self, level: Level) -> Self {
        self.simd = Some(level);
        self
    }

    /// The strategy in force, resolved against the backend.
    pub(crate) fn plan(&self) -> Result<Resolved> {
        match self.strategy {
            Some(s) => s.resolve(),
            None => Strategy::from_env()?.resolve(),
        }
    }

    /// The execution plan of one call: built once per call, handed to one kernel.
    pub(crate) fn execution(&self) -> Result<Plan> {
        #[allow(unused_mut)]
        let mut plan = Plan::new(self.plan()?, self.simd_level()?);
        #[cfg(test)]
        {
            plan.panic_at_item = self.panic_at_item;
        }
        Ok(plan)
    }

    /// Test-only: the `item`-th tile to start panics (a fault inside a BLAS tile).
    #[cfg(test)]
    pub(crate) fn panic_at_item(mut self, item: Option<usize>) -> Self {
        self.panic_at_item = item;
        self
    }

    pub(crate) fn cut(&self) -> Cut {
        Cut {
            block: self.block,
            calls: self.calls,
            balance: self.balance,
        }
    }

    /// Whether a call too small to share runs on the calling thread at one BLAS thread under
    /// this configuration with nothing left to resolve that could fail: the strategy (given, or
    /// the default in force) `blocked` unpinned or `serial`, the block rayblas's to choose, and
    /// the SIMD level in force (returned) one this CPU has. The small-call path
    /// ([`crate::kernels::small`]) then skips the plan; anything else, an error to report
    /// included, takes the general path.
    pub(crate) fn small_calls_here(&self) -> Option<Level> {
        let strategy = match &self.strategy {
            Some(s) => s,
            None => Strategy::env_strategy().as_ref().ok()?,
        };
        if self.block.is_some() || !strategy.runs_small_here() {
            return None;
        }
        match self.simd {
            Some(l) => l.available().then_some(l),
            None => simd::level_in_force().as_ref().ok().copied(),
        }
    }

    /// The SIMD level in force.
    ///
    /// # Errors
    /// [`Error::SimdUnavailable`] if the level given with [`Config::simd`] is one this CPU lacks; [`Error::Environment`] if `RAYBLAS_SIMD` is invalid.
    pub fn simd_level(&self) -> Result<Level> {
        match self.simd {
            Some(l) => simd::check_level(l),
            None => simd::level(),
        }
    }

    /// `A·B`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `a` is m×k and `b` is k×n; [`Error::DimensionTooLarge`] for a dimension beyond the BLAS integer range; and the configuration errors listed on [`Config`].
    pub fn matmul<'a, 'b, T: Element>(
        &self,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
    ) -> Result<Array2<T>> {
        let (a, b): (ArrayView2<'a, T>, ArrayView2<'b, T>) = (a.into(), b.into());
        crate::kernels::check_product("matmul", a.dim(), b.dim())?;
        let mut c = crate::alloc::zeros::<T>("matmul output", a.nrows(), b.ncols())?;
        if small::matmul(self, &a, &b, &mut c) {
            return Ok(c);
        }
        matmul::matmul_into(
            &self.execution()?,
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
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `a` is m×k, `b` k×n and `c` m×n; [`Error::DimensionTooLarge`] for a dimension beyond the BLAS integer range; and the configuration errors listed on [`Config`].
    pub fn matmul_into<'a, 'b, T: Element>(
        &self,
        alpha: T,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
        beta: T,
        c: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        let (a, b): (ArrayView2<'a, T>, ArrayView2<'b, T>) = (a.into(), b.into());
        matmul::matmul_into(&self.execution()?, self.cut(), alpha, &a, &b, beta, c)
    }

    /// `C[i] = A[i]·B[i]` for every item `i` of a batch: 3-D arrays whose axis 0 is the item
    /// (`a` count×m×k, `b` count×k×n, any strides), the result count×m×n.
    ///
    /// The mission's pattern applied to many small products: under `blocked` the items are
    /// dealt to the workers, each item one BLAS call at one thread, consecutive small items
    /// grouped so each task is worth its hand-off (a batch too small to share runs on the
    /// calling thread); `serial` runs them in order; `native` makes one call of the library's
    /// own batched GEMM (`cblas_?gemm_batch_strided`, in the `openblas-scipy` backend's OpenBLAS
    /// 0.3.34), threaded by the library. Each item is one GEMM call, so `blocked` and `serial`
    /// give the same bits for any worker count. An item is not tiled: for a few large products,
    /// call [`Config::matmul`] on each.
    ///
    /// ```
    /// use ndarray::{Array3, Axis};
    ///
    /// let a = Array3::from_shape_fn((100, 4, 3), |(i, r, c)| (i + r * c) as f64);
    /// let b = Array3::from_shape_fn((100, 3, 2), |(i, r, c)| (i * r + c) as f64);
    /// let c = rayblas::Config::new().matmul_batch(&a, &b)?;
    /// assert_eq!(c.dim(), (100, 4, 2));
    /// let (a7, b7) = (a.index_axis(Axis(0), 7), b.index_axis(Axis(0), 7));
    /// assert_eq!(c.index_axis(Axis(0), 7), a7.dot(&b7));
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `a` and `b` have as many items and the items can be
    /// multiplied; [`Error::UnsupportedStrategy`] for `native` where the library has no batched
    /// GEMM; [`Error::OutOfMemory`] for an output too large; [`Error::DimensionTooLarge`]; and
    /// the configuration errors listed on [`Config`].
    pub fn matmul_batch<'a, 'b, T: Element>(
        &self,
        a: impl AsArray<'a, T, Ix3>,
        b: impl AsArray<'b, T, Ix3>,
    ) -> Result<Array3<T>> {
        const OP: &str = "matmul_batch";
        let (a, b): (ArrayView3<'a, T>, ArrayView3<'b, T>) = (a.into(), b.into());
        let (count, m, k) = a.dim();
        let (count_b, k2, n) = b.dim();
        batch::check_counts(OP, count, count_b)?;
        batch::check_item(OP, 0, (m, k), (k2, n))?;
        let plan = self.execution()?;
        let mut c = batch::output::<T>(count, m, n)?;
        if plan.strategy.kind == Kind::Native {
            batch::strided(&plan, self.strategy_name()?, a, b, c.view_mut())?;
            return Ok(c);
        }
        let items = a
            .outer_iter()
            .zip(b.outer_iter())
            .zip(c.outer_iter_mut())
            .map(|((a, b), c)| batch::Item { a, b: Some(b), c })
            .collect();
        batch::items(&plan, items)?;
        Ok(c)
    }

    /// The Gram products of a batch, `G[i] = X[i]·X[i]ᵀ`, for a count×n×k array of any strides:
    /// a count×n×n array. Under `blocked` (and `hybrid`) the items are dealt to the workers and
    /// under `serial` run in order, each item one call of its lower triangle (a `syrk`, or a GEMM
    /// where the item is small enough for the library's small-matrix kernels), mirrored: the
    /// bits of [`Config::gram`] on that item whenever it is one call there (under 2 MFLOP with
    /// the automatic block), and the same bits for any worker count. Under `native`, one call
    /// of the library's batched GEMM on `X[i]` and `X[i]ᵀ` where it has one (there is no
    /// batched `syrk`), else [`Error::UnsupportedStrategy`].
    ///
    /// ```
    /// use ndarray::Array3;
    /// use rayblas::Config;
    /// let x = Array3::from_shape_fn((3, 2, 4), |(i, j, p)| (i + j * p) as f64);
    /// let g = Config::new().gram_batch(&x)?;
    /// assert_eq!(g.dim(), (3, 2, 2));
    /// for (gi, xi) in g.outer_iter().zip(x.outer_iter()) {
    ///     assert_eq!(gi, Config::new().gram(xi)?);
    /// }
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] for an output beyond memory, [`Error::UnsupportedStrategy`] as
    /// above, [`Error::DimensionTooLarge`], and the configuration errors listed on [`Config`].
    pub fn gram_batch<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix3>) -> Result<Array3<T>> {
        let x: ArrayView3<'a, T> = x.into();
        let (count, n, _) = x.dim();
        let plan = self.execution()?;
        let mut g = batch::output::<T>(count, n, n)?;
        if plan.strategy.kind == Kind::Native {
            let xt = x.permuted_axes([0, 2, 1]);
            batch::strided(&plan, self.strategy_name()?, x, xt, g.view_mut())?;
            return Ok(g);
        }
        let items = x
            .outer_iter()
            .zip(g.outer_iter_mut())
            .map(|(a, c)| batch::Item { a, b: None, c })
            .collect();
        batch::items(&plan, items)?;
        Ok(g)
    }

    /// [`Config::matmul_batch`] over items given as slices of views, each item of its own shape
    /// and layout: `C[i] = A[i]·B[i]`, one output array per item.
    ///
    /// ```
    /// use ndarray::array;
    ///
    /// let (a0, a1) = (array![[1.0, 2.0]], array![[1.0], [2.0], [3.0]]);
    /// let (b0, b1) = (array![[3.0], [4.0]], array![[5.0, 6.0]]);
    /// let c = rayblas::Config::new()
    ///     .matmul_batch_views(&[a0.view(), a1.view()], &[b0.view(), b1.view()])?;
    /// assert_eq!(c[0], array![[11.0]]);
    /// assert_eq!(c[1], array![[5.0, 6.0], [10.0, 12.0], [15.0, 18.0]]);
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the first item that cannot be multiplied, or when the
    /// slices differ in length; [`Error::UnsupportedStrategy`] for `native` (the library's
    /// batched call takes one strided 3-D array: use [`Config::matmul_batch`]); and the errors
    /// of [`Config::matmul_batch`].
    pub fn matmul_batch_views<T: Element>(
        &self,
        a: &[ArrayView2<'_, T>],
        b: &[ArrayView2<'_, T>],
    ) -> Result<Vec<Array2<T>>> {
        const OP: &str = "matmul_batch_views";
        batch::check_counts(OP, a.len(), b.len())?;
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            batch::check_item(OP, i, a.dim(), b.dim())?;
        }
        let plan = self.execution()?;
        if plan.strategy.kind == Kind::Native {
            return Err(batch::no_batch_views(self.strategy_name()?));
        }
        let mut out = a
            .iter()
            .zip(b)
            .map(|(a, b)| crate::alloc::zeros::<T>("batch output", a.nrows(), b.ncols()))
            .collect::<Result<Vec<_>>>()?;
        let items = a
            .iter()
            .zip(b)
            .zip(out.iter_mut())
            .map(|((a, b), c)| batch::Item {
                a: a.view(),
                b: Some(b.view()),
                c: c.view_mut(),
            })
            .collect();
        batch::items(&plan, items)?;
        Ok(out)
    }

    /// The strategy in force, as text (for errors).
    fn strategy_name(&self) -> Result<String> {
        Ok(match self.strategy {
            Some(s) => s.to_string(),
            None => Strategy::from_env()?.to_string(),
        })
    }

    /// `X·Xᵀ`, computing only tiles on and below the diagonal.
    ///
    /// # Errors
    /// [`Error::DimensionTooLarge`] for a dimension beyond the BLAS integer range, and the configuration errors listed on [`Config`].
    pub fn gram<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
        let x: ArrayView2<'a, T> = x.into();
        if let Some(g) = small::gram(self, &x) {
            return g;
        }
        gram::gram(&self.execution()?, self.cut(), &x)
    }

    /// `Xᵀ·X`, computing only tiles on and below the diagonal.
    ///
    /// # Errors
    /// [`Error::DimensionTooLarge`] for a dimension beyond the BLAS integer range, and the configuration errors listed on [`Config`].
    pub fn gram_t<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<Array2<T>> {
        let x: ArrayView2<'a, T> = x.into();
        if let Some(g) = small::gram(self, &x.t()) {
            return g;
        }
        gram::gram(&self.execution()?, self.cut(), &x.t())
    }

    /// `r(A·B)` without storing `A·B` (except under `Native`, which stores it as numpy does).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `a` is m×k and `b` is k×n; [`Error::EmptyReduction`] for max or min of an empty product; [`Error::DimensionTooLarge`]; and the configuration errors listed on [`Config`].
    pub fn matmul_reduce<'a, 'b, T: Element>(
        &self,
        a: impl AsArray<'a, T, Ix2>,
        b: impl AsArray<'b, T, Ix2>,
        r: Reduction,
    ) -> Result<T> {
        let (a, b): (ArrayView2<'a, T>, ArrayView2<'b, T>) = (a.into(), b.into());
        if let Some(v) = small::matmul_reduce(self, &a, &b, r) {
            return Ok(v);
        }
        fused::matmul_reduce(&self.execution()?, self.cut(), &a, &b, r)
    }

    /// `r(X·Xᵀ)` without storing `X·Xᵀ`, using its symmetry.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for max or min of an empty product; [`Error::DimensionTooLarge`]; and the configuration errors listed on [`Config`].
    pub fn gram_reduce<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        r: Reduction,
    ) -> Result<T> {
        let x: ArrayView2<'a, T> = x.into();
        if let Some(v) = small::gram_reduce(self, &x, r) {
            return Ok(v);
        }
        fused::gram_reduce(&self.execution()?, self.cut(), &x, r)
    }

    /// Floating-point operations that [`Config::gram`] / [`Config::gram_reduce`] perform for an
    /// n×k `X` under this configuration (`2·n²·k` for a full product; about half that where the tiles below
    /// the diagonal are skipped and the diagonal uses `syrk`), so rates can be reported against
    /// the work actually done..
    ///
    /// # Errors
    /// The configuration errors listed on [`Config`] (the count depends on the strategy).
    pub fn gram_flops(&self, n: usize, k: usize) -> Result<f64> {
        Ok(crate::kernels::gram_flops(&self.plan()?, self.cut(), n, k))
    }

    /// `sum(X·Xᵀ)`: the seed workload, `x.dot(x.T).sum()`.
    ///
    /// # Errors
    /// [`Error::DimensionTooLarge`], and the configuration errors listed on [`Config`].
    pub fn gram_sum<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        self.gram_reduce(x, Reduction::Sum)
    }

    /// Σ xᵢⱼ (0 for an empty matrix).
    ///
    /// # Errors
    /// The configuration errors listed on [`Config`].
    pub fn sum<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        Ok(reduce::full_under(
            &self.execution()?,
            &x.into(),
            Reduction::Sum,
        ))
    }

    /// Mean of all elements; an empty matrix is an error.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for an empty matrix, and the configuration errors listed on [`Config`].
    pub fn mean<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "mean")?;
        Ok(self.sum(x)? / T::from_f64(x.len() as f64))
    }

    /// Σ xᵢⱼ².
    ///
    /// # Errors
    /// The configuration errors listed on [`Config`].
    pub fn sum_of_squares<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        Ok(reduce::full_under(
            &self.execution()?,
            &x.into(),
            Reduction::SumOfSquares,
        ))
    }

    /// Frobenius norm ‖X‖₂, without overflow or underflow. Under `Native` it goes through BLAS
    /// `nrm2` when the matrix is contiguous and the backend has one.
    ///
    /// # Errors
    /// The configuration errors listed on [`Config`].
    pub fn norm<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        Ok(reduce::norm_under(&self.execution()?, &x.into()))
    }

    /// Largest element (NaN if any is NaN); an empty matrix is an error.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for an empty matrix, and the configuration errors listed on [`Config`].
    pub fn max<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "max")?;
        Ok(reduce::full_under(&self.execution()?, &x, Reduction::Max))
    }

    /// Smallest element (NaN if any is NaN); an empty matrix is an error.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for an empty matrix, and the configuration errors listed on [`Config`].
    pub fn min<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<T> {
        let x = x.into();
        reduce::non_empty(&x, "min")?;
        Ok(reduce::full_under(&self.execution()?, &x, Reduction::Min))
    }

    /// `(row, col)` of the first largest element in row-major order, or of the first NaN.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for an empty matrix, and the configuration errors listed on [`Config`].
    pub fn argmax<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<(usize, usize)> {
        let x = x.into();
        reduce::non_empty(&x, "argmax")?;
        let i = reduce::arg_extreme_under(&self.execution()?, &x, true);
        Ok((i / x.ncols(), i % x.ncols()))
    }

    /// `(row, col)` of the first smallest element in row-major order, or of the first NaN.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for an empty matrix, and the configuration errors listed on [`Config`].
    pub fn argmin<'a, T: Element>(&self, x: impl AsArray<'a, T, Ix2>) -> Result<(usize, usize)> {
        let x = x.into();
        reduce::non_empty(&x, "argmin")?;
        let i = reduce::arg_extreme_under(&self.execution()?, &x, false);
        Ok((i / x.ncols(), i % x.ncols()))
    }

    /// Σ xᵢⱼ·yᵢⱼ over two matrices of one shape. Under `Native` it goes through BLAS `dot` when
    /// both are contiguous in the same order.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless `x` and `y` have one shape, and the configuration errors listed on [`Config`].
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
        Ok(reduce::dot_under(&self.execution()?, &x, &y))
    }

    /// Sum along an axis: `Axis(0)` gives one sum per column, `Axis(1)` one per row. Under
    /// `Native` a contiguous matrix goes through BLAS `gemv` with a ones vector where the backend
    /// has one.
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1, and the configuration errors listed on [`Config`].
    pub fn sum_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let x: ArrayView2<'a, T> = x.into();
        check_axis(axis)?;
        Ok(reduce::sum_axis_under(&self.execution()?, &x, axis))
    }

    /// Reduction `r` along an axis. Max and min of an empty lane are errors.
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1; [`Error::EmptyReduction`] for max or min over lanes of length 0; and the configuration errors listed on [`Config`].
    pub fn reduce_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
        r: Reduction,
    ) -> Result<Array1<T>> {
        let x = x.into();
        check_axis(axis)?;
        if x.len_of(Axis(1 - axis.index())) > 0 {
            reduce::defined_over(r, x.len_of(axis))?;
        }
        Ok(reduce::axis_under(&self.execution()?, &x, axis, r))
    }

    /// Mean along an axis; lanes of length 0 are an error.
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1; [`Error::EmptyReduction`] for lanes of length 0; and the configuration errors listed on [`Config`].
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
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1, and the configuration errors listed on [`Config`].
    pub fn norm_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<T>> {
        let x = x.into();
        check_axis(axis)?;
        let plan = self.execution()?;
        Ok(reduce::per_lane(&plan, &x, axis, |lane, _| {
            reduce::norm(&lane, plan.level, false)
        }))
    }

    /// Dot product of matching lanes of `x` and `y` along an axis.
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1; [`Error::ShapeMismatch`] unless `x` and `y` have one shape; and the configuration errors listed on [`Config`].
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
        let plan = self.execution()?;
        let ly = if axis == Axis(0) { y.t() } else { y.view() };
        Ok(reduce::per_lane(&plan, &x, axis, |lane, i| {
            let other = ly.row(i).insert_axis(Axis(0));
            reduce::dot(&lane, &other, plan.level, false)
        }))
    }

    /// Index of the first maximum of each lane along an axis (of the first NaN if any).
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1; [`Error::EmptyReduction`] for lanes of length 0; and the configuration errors listed on [`Config`].
    pub fn argmax_axis<'a, T: Element>(
        &self,
        x: impl AsArray<'a, T, Ix2>,
        axis: Axis,
    ) -> Result<Array1<usize>> {
        self.arg_axis(x.into(), axis, true)
    }

    /// Index of the first minimum of each lane along an axis (of the first NaN if any).
    ///
    /// # Errors
    /// [`Error::Parse`] for an axis other than 0 or 1; [`Error::EmptyReduction`] for lanes of length 0; and the configuration errors listed on [`Config`].
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
        let plan = self.execution()?;
        Ok(reduce::per_lane(&plan, &x, axis, |lane, _| {
            reduce::arg_extreme(&lane, max, plan.level, false)
        }))
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
