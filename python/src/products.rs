//! Matrix products: `matmul`, `gram`, `gram_t`, the fused sums and reductions, and batches.
//! Each borrows its arrays, releases the GIL for the whole computation, and checks for a
//! pending signal (Ctrl-C) once the library returns.

use crate::convert::{matrix, mixed, operand, scalar, Elem, Operand};
use crate::errors::{to_py, type_error, value_error};
use crate::options::{self, config};
use ndarray::{Array2, Array3, ArrayView2, Ix3};
use numpy::{PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::{PyList, PySequence};
use rayblas::Config;

/// Runs `f` with the GIL released, then raises `KeyboardInterrupt` (or whatever a signal
/// handler raised) if a signal came meanwhile, else turns the library's error into Python's.
pub fn released<'py, R: Send>(
    py: Python<'py>,
    f: impl Send + FnOnce() -> rayblas::Result<R>,
) -> PyResult<R> {
    let r = py.detach(f);
    py.check_signals()?;
    r.map_err(to_py)
}

fn array2<'py, T: Elem>(py: Python<'py>, a: Array2<T>) -> Bound<'py, PyAny> {
    PyArray2::from_owned_array(py, a).into_any()
}

fn matmul_t<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(array2(py, released(py, || c.matmul(a, b))?))
}

/// `a @ b` for 2-D float32 or float64 arrays of the same dtype.
///
/// Keyword arguments (every function takes them): `strategy` (`"blocked"`, `"blocked:2"`,
/// `"native"`, `"native:4"`, `"hybrid:2x2"`, `"serial"`, `"native+rayon"`; default
/// `RAYBLAS_STRATEGY` or `blocked`), `block` (an int, a `(rows, cols)` pair or `"RxC"`; default
/// chosen from the shape), `calls` (`"tiles"` or `"strips"`).
#[pyfunction]
#[pyo3(signature = (a, b, *, strategy=None, block=None, calls=None))]
pub fn matmul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    match (operand(a, "a")?, operand(b, "b")?) {
        (Operand::F64(a), Operand::F64(b)) => matmul_t(py, c, matrix(&a, "a")?, matrix(&b, "b")?),
        (Operand::F32(a), Operand::F32(b)) => matmul_t(py, c, matrix(&a, "a")?, matrix(&b, "b")?),
        (a, b) => Err(mixed("matmul", &a, &b)),
    }
}

/// `x @ x.T`, computed as a symmetric product (half the tiles, mirrored).
#[pyfunction]
#[pyo3(signature = (x, *, strategy=None, block=None, calls=None))]
pub fn gram<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    match operand(x, "x")? {
        Operand::F64(x) => {
            let x = matrix(&x, "x")?;
            Ok(array2(py, released(py, || c.gram(x))?))
        }
        Operand::F32(x) => {
            let x = matrix(&x, "x")?;
            Ok(array2(py, released(py, || c.gram(x))?))
        }
    }
}

/// `x.T @ x`, computed as a symmetric product.
#[pyfunction]
#[pyo3(signature = (x, *, strategy=None, block=None, calls=None))]
pub fn gram_t<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    match operand(x, "x")? {
        Operand::F64(x) => {
            let x = matrix(&x, "x")?;
            Ok(array2(py, released(py, || c.gram_t(x))?))
        }
        Operand::F32(x) => {
            let x = matrix(&x, "x")?;
            Ok(array2(py, released(py, || c.gram_t(x))?))
        }
    }
}

/// `(x @ x.T)` reduced without storing it: `reduction` is `"sum"`, `"sumsq"`, `"max"` or
/// `"min"`. Memory above the input: a few tiles.
#[pyfunction]
#[pyo3(signature = (x, reduction="sum", *, strategy=None, block=None, calls=None))]
pub fn gram_reduce<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    reduction: &str,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    let r = options::reduction(reduction)?;
    match operand(x, "x")? {
        Operand::F64(x) => {
            let x = matrix(&x, "x")?;
            scalar(py, released(py, || c.gram_reduce(x, r))?)
        }
        Operand::F32(x) => {
            let x = matrix(&x, "x")?;
            scalar(py, released(py, || c.gram_reduce(x, r))?)
        }
    }
}

/// `(x @ x.T).sum()` without storing the product: the seed case.
#[pyfunction]
#[pyo3(signature = (x, *, strategy=None, block=None, calls=None))]
pub fn gram_sum<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    gram_reduce(py, x, "sum", strategy, block, calls)
}

/// `(a @ b)` reduced without storing it (`reduction` as in `gram_reduce`).
#[pyfunction]
#[pyo3(signature = (a, b, reduction="sum", *, strategy=None, block=None, calls=None))]
#[allow(clippy::too_many_arguments)]
pub fn matmul_reduce<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    reduction: &str,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    let r = options::reduction(reduction)?;
    match (operand(a, "a")?, operand(b, "b")?) {
        (Operand::F64(a), Operand::F64(b)) => {
            let (a, b) = (matrix(&a, "a")?, matrix(&b, "b")?);
            scalar(py, released(py, || c.matmul_reduce(a, b, r))?)
        }
        (Operand::F32(a), Operand::F32(b)) => {
            let (a, b) = (matrix(&a, "a")?, matrix(&b, "b")?);
            scalar(py, released(py, || c.matmul_reduce(a, b, r))?)
        }
        (a, b) => Err(mixed("matmul_reduce", &a, &b)),
    }
}

/// `(a @ b).sum()` without storing the product.
#[pyfunction]
#[pyo3(signature = (a, b, *, strategy=None, block=None, calls=None))]
pub fn matmul_sum<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    matmul_reduce(py, a, b, "sum", strategy, block, calls)
}

fn batch3<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    a: &numpy::PyReadonlyArrayDyn<'_, T>,
    b: &numpy::PyReadonlyArrayDyn<'_, T>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = a.as_array().into_dimensionality::<Ix3>();
    let b = b.as_array().into_dimensionality::<Ix3>();
    let (Ok(a), Ok(b)) = (a, b) else {
        return Err(value_error(
            "matmul_batch takes two 3-D arrays (items × rows × cols) or two sequences of 2-D \
             arrays"
                .into(),
        ));
    };
    let out: Array3<T> = released(py, || c.matmul_batch(a, b))?;
    Ok(PyArray3::from_owned_array(py, out).into_any())
}

fn batch_views<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    a: &[numpy::PyReadonlyArrayDyn<'_, T>],
    b: &[numpy::PyReadonlyArrayDyn<'_, T>],
) -> PyResult<Bound<'py, PyAny>> {
    let (a, b) = (views(a, "a")?, views(b, "b")?);
    let out = released(py, || c.matmul_batch_views(&a, &b))?;
    let items = out.into_iter().map(|o| array2(py, o));
    Ok(PyList::new(py, items)?.into_any())
}

fn views<'a, T: Elem>(
    xs: &'a [numpy::PyReadonlyArrayDyn<'_, T>],
    name: &str,
) -> PyResult<Vec<ArrayView2<'a, T>>> {
    xs.iter()
        .enumerate()
        .map(|(i, x)| matrix(x, &format!("{name}[{i}]")))
        .collect()
}

/// The items of a sequence of arrays, all of one dtype.
enum Items<'py> {
    F64(Vec<numpy::PyReadonlyArrayDyn<'py, f64>>),
    F32(Vec<numpy::PyReadonlyArrayDyn<'py, f32>>),
}

fn items<'py>(seq: &Bound<'py, PySequence>, name: &str) -> PyResult<Items<'py>> {
    let mut f64s = Vec::new();
    let mut f32s = Vec::new();
    for (i, item) in seq.try_iter()?.enumerate() {
        match operand(&item?, &format!("{name}[{i}]"))? {
            Operand::F64(x) => f64s.push(x),
            Operand::F32(x) => f32s.push(x),
        }
        if !f64s.is_empty() && !f32s.is_empty() {
            return Err(type_error(format!(
                "{name}[{i}] is not of the dtype of {name}[0]; rayblas does not cast"
            )));
        }
    }
    Ok(if f32s.is_empty() {
        Items::F64(f64s)
    } else {
        Items::F32(f32s)
    })
}

/// `a[i] @ b[i]` for every item: two 3-D arrays give a 3-D array; two sequences of 2-D arrays
/// (any shapes and strides per item, as long as each pair multiplies) give a list. `blocked`
/// runs the items in parallel with BLAS at one thread, `native` makes the library's own batch
/// call where it has one, `serial` loops on the calling thread; every strategy gives the same
/// bits for any worker count. A bad pair is a `ValueError` naming the item.
#[pyfunction]
#[pyo3(signature = (a, b, *, strategy=None, block=None, calls=None))]
pub fn matmul_batch<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    let is_array = |x: &Bound<'py, PyAny>| x.cast::<numpy::PyUntypedArray>().is_ok();
    if is_array(a) && is_array(b) {
        return match (operand(a, "a")?, operand(b, "b")?) {
            (Operand::F64(a), Operand::F64(b)) => batch3(py, c, &a, &b),
            (Operand::F32(a), Operand::F32(b)) => batch3(py, c, &a, &b),
            (a, b) => Err(mixed("matmul_batch", &a, &b)),
        };
    }
    let seq = |x: &Bound<'py, PyAny>, name: &str| -> PyResult<Bound<'py, PySequence>> {
        if is_array(x) {
            return Err(type_error(format!(
                "matmul_batch: {name} is an array and the other a sequence; pass two 3-D \
                 arrays or two sequences of 2-D arrays"
            )));
        }
        x.cast::<PySequence>().cloned().map_err(|_| {
            type_error(format!(
                "matmul_batch: {name} must be a 3-D array or a sequence of 2-D arrays"
            ))
        })
    };
    let (sa, sb) = (seq(a, "a")?, seq(b, "b")?);
    match (items(&sa, "a")?, items(&sb, "b")?) {
        (Items::F64(a), Items::F64(b)) => batch_views(py, c, &a, &b),
        (Items::F32(a), Items::F32(b)) => batch_views(py, c, &a, &b),
        // An empty sequence has no dtype: it takes the other's (and the counts then differ).
        (Items::F64(a), Items::F32(b)) if a.is_empty() => batch_views(py, c, &[], &b),
        (Items::F32(a), Items::F64(b)) if b.is_empty() => batch_views(py, c, &a, &[]),
        _ => Err(type_error(
            "matmul_batch: the items of a and b are of different dtypes; rayblas does not cast"
                .into(),
        )),
    }
}

fn gram3<'py, T: Elem>(
    py: Python<'py>,
    c: Config,
    x: &numpy::PyReadonlyArrayDyn<'_, T>,
) -> PyResult<Bound<'py, PyAny>> {
    let Ok(x) = x.as_array().into_dimensionality::<Ix3>() else {
        return Err(value_error(
            "gram_batch takes a 3-D array (items × rows × cols)".into(),
        ));
    };
    let out: Array3<T> = released(py, || c.gram_batch(x))?;
    Ok(PyArray3::from_owned_array(py, out).into_any())
}

/// `x[i] @ x[i].T` for every item of a 3-D array: a 3-D array of the items' Gram matrices.
/// `blocked` runs the items in parallel with BLAS at one thread, each item one call mirrored
/// (the bits of `gram` on a small item, for any worker count); `native` makes the library's
/// batched GEMM call where it has one; `serial` loops on the calling thread.
#[pyfunction]
#[pyo3(signature = (x, *, strategy=None, block=None, calls=None))]
pub fn gram_batch<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    match operand(x, "x")? {
        Operand::F64(x) => gram3(py, c, &x),
        Operand::F32(x) => gram3(py, c, &x),
    }
}
