//! Reductions on 1-D or 2-D arrays, numpy's way: `axis=None` reduces everything to a numpy
//! scalar, `axis=0` or `1` (or `-1`, `-2`) to a vector; `argmax`/`argmin` without an axis give
//! the index into the C-order flattened array, as `np.argmax` does.

use crate::convert::{mixed, operand, scalar, vector_or_matrix, Elem, Operand};
use crate::options::config;
use crate::products::released;
use ndarray::{Array1, ArrayView2, Axis};
use numpy::PyArray1;
use pyo3::prelude::*;
use rayblas::{Config, Reduction};

/// Which reduction.
#[derive(Clone, Copy)]
enum Op {
    Sum,
    SumOfSquares,
    Norm,
    Max,
    Min,
    Mean,
    ArgMax,
    ArgMin,
}

/// A reduction's answer before it becomes a Python object.
enum Out<T> {
    Scalar(T),
    Index(usize),
    Vector(Array1<T>),
    Indices(Array1<usize>),
}

/// The library's axis for numpy's `axis` on an array of `ndim` (1 or 2) dimensions: `None` for
/// the whole array (a 1-D array's only axis is the whole array too), numpy's `AxisError` for
/// an axis the array lacks.
fn axis(py: Python<'_>, axis: Option<isize>, ndim: usize) -> PyResult<Option<Axis>> {
    let Some(a) = axis else { return Ok(None) };
    let n = ndim as isize;
    if a < -n || a >= n {
        let err = py
            .import("numpy.exceptions")?
            .getattr("AxisError")?
            .call1((a, ndim))?;
        return Err(PyErr::from_value(err));
    }
    if ndim == 1 {
        return Ok(None);
    }
    Ok(Some(Axis(a.rem_euclid(n) as usize)))
}

fn run<T: Elem>(
    c: Config,
    x: ArrayView2<'_, T>,
    op: Op,
    ax: Option<Axis>,
) -> rayblas::Result<Out<T>> {
    let cols = x.ncols();
    Ok(match (op, ax) {
        (Op::Sum, None) => Out::Scalar(c.sum(x)?),
        (Op::SumOfSquares, None) => Out::Scalar(c.sum_of_squares(x)?),
        (Op::Norm, None) => Out::Scalar(c.norm(x)?),
        (Op::Max, None) => Out::Scalar(c.max(x)?),
        (Op::Min, None) => Out::Scalar(c.min(x)?),
        (Op::Mean, None) => Out::Scalar(c.mean(x)?),
        (Op::ArgMax, None) => {
            let (i, j) = c.argmax(x)?;
            Out::Index(i * cols + j)
        }
        (Op::ArgMin, None) => {
            let (i, j) = c.argmin(x)?;
            Out::Index(i * cols + j)
        }
        (Op::Sum, Some(a)) => Out::Vector(c.sum_axis(x, a)?),
        (Op::SumOfSquares, Some(a)) => Out::Vector(c.reduce_axis(x, a, Reduction::SumOfSquares)?),
        (Op::Norm, Some(a)) => Out::Vector(c.norm_axis(x, a)?),
        (Op::Max, Some(a)) => Out::Vector(c.reduce_axis(x, a, Reduction::Max)?),
        (Op::Min, Some(a)) => Out::Vector(c.reduce_axis(x, a, Reduction::Min)?),
        (Op::Mean, Some(a)) => Out::Vector(c.mean_axis(x, a)?),
        (Op::ArgMax, Some(a)) => Out::Indices(c.argmax_axis(x, a)?),
        (Op::ArgMin, Some(a)) => Out::Indices(c.argmin_axis(x, a)?),
    })
}

fn to_python<'py, T: Elem>(py: Python<'py>, out: Out<T>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match out {
        Out::Scalar(v) => scalar(py, v)?,
        Out::Index(i) => i.into_pyobject(py)?.into_any(),
        Out::Vector(v) => PyArray1::from_owned_array(py, v).into_any(),
        // numpy's index arrays are of its signed index type (intp).
        Out::Indices(v) => PyArray1::from_owned_array(py, v.mapv(|i| i as isize)).into_any(),
    })
}

fn one<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    x: &numpy::PyReadonlyArrayDyn<'_, T>,
    op: Op,
    ax: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = vector_or_matrix(x, "x")?;
    let ax = axis(py, ax, x.as_array().ndim())?;
    to_python(py, released(py, || run(c, v, op, ax))?)
}

fn reduce<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    op: Op,
    ax: Option<isize>,
    c: Config,
) -> PyResult<Bound<'py, PyAny>> {
    match operand(x, "x")? {
        Operand::F64(x) => one(py, c, &x, op, ax),
        Operand::F32(x) => one(py, c, &x, op, ax),
    }
}

macro_rules! reduction_fn {
    ($name:ident, $op:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (x, axis=None, *, strategy=None, block=None, calls=None))]
        pub fn $name<'py>(
            py: Python<'py>,
            x: &Bound<'py, PyAny>,
            axis: Option<isize>,
            strategy: Option<&str>,
            block: Option<&Bound<'py, PyAny>>,
            calls: Option<&str>,
        ) -> PyResult<Bound<'py, PyAny>> {
            reduce(py, x, $op, axis, config(strategy, block, calls)?)
        }
    };
}

reduction_fn!(sum, Op::Sum, "The sum of the elements (`x.sum(axis)`).");
reduction_fn!(
    sum_of_squares,
    Op::SumOfSquares,
    "The sum of the squared elements (`(x * x).sum(axis)`)."
);
reduction_fn!(
    norm,
    Op::Norm,
    "The Euclidean (Frobenius) norm (`np.linalg.norm(x, axis=axis)`), scaled so it neither \
     overflows nor underflows."
);
reduction_fn!(
    max,
    Op::Max,
    "The largest element (`x.max(axis)`); NaN if any element is NaN, as numpy."
);
reduction_fn!(
    min,
    Op::Min,
    "The smallest element (`x.min(axis)`); NaN if any element is NaN, as numpy."
);
reduction_fn!(mean, Op::Mean, "The mean of the elements (`x.mean(axis)`).");
reduction_fn!(
    argmax,
    Op::ArgMax,
    "The index of the largest element (`np.argmax(x, axis)`): into the C-order flattened \
     array without an axis; the first one on ties, the first NaN if any."
);
reduction_fn!(
    argmin,
    Op::ArgMin,
    "The index of the smallest element (`np.argmin(x, axis)`): into the C-order flattened \
     array without an axis; the first one on ties, the first NaN if any."
);

fn dot_t<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    x: &numpy::PyReadonlyArrayDyn<'_, T>,
    y: &numpy::PyReadonlyArrayDyn<'_, T>,
    ax: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let (xv, yv) = (vector_or_matrix(x, "x")?, vector_or_matrix(y, "y")?);
    if x.as_array().shape() != y.as_array().shape() {
        return Err(crate::errors::value_error(format!(
            "dot: x has shape {:?} and y {:?}; they must be the same",
            x.as_array().shape(),
            y.as_array().shape()
        )));
    }
    let ax = axis(py, ax, x.as_array().ndim())?;
    let out = released(py, || match ax {
        None => c.dot(xv, yv).map(Out::Scalar),
        Some(a) => c.dot_axis(xv, yv, a).map(Out::Vector),
    })?;
    to_python(py, out)
}

/// The sum of the elementwise products of two arrays of one shape (`np.vdot(x, y)`, or
/// `(x * y).sum(axis)` with an axis): not a matrix product (that is `matmul`).
#[pyfunction]
#[pyo3(signature = (x, y, axis=None, *, strategy=None, block=None, calls=None))]
#[allow(clippy::too_many_arguments)]
pub fn dot<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    axis: Option<isize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    match (operand(x, "x")?, operand(y, "y")?) {
        (Operand::F64(x), Operand::F64(y)) => dot_t(py, c, &x, &y, axis),
        (Operand::F32(x), Operand::F32(y)) => dot_t(py, c, &x, &y, axis),
        (x, y) => Err(mixed("dot", &x, &y)),
    }
}
