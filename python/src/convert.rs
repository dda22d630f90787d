//! numpy arrays in and out: an argument becomes a view the library reads in place (any strides,
//! C or Fortran order, read-only or not; no copy), a result an array that owns the library's
//! buffer (no copy either), a scalar a numpy scalar of the input's dtype.
//!
//! Only float32 and float64 arrays in the machine's byte order are taken: anything else is a
//! `TypeError` naming what was passed, never a silent cast (numpy would cast an int array to
//! float64 and hide a copy of it).

use crate::errors::{type_error, value_error};
use ndarray::{ArrayView2, Axis, Ix2};
use numpy::{
    PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

/// The element types both the library and numpy know.
pub trait Elem: rayblas::Element + numpy::Element {}
impl<T: rayblas::Element + numpy::Element> Elem for T {}

/// An array argument, borrowed read-only for the length of the call.
pub enum Operand<'py> {
    F64(PyReadonlyArrayDyn<'py, f64>),
    F32(PyReadonlyArrayDyn<'py, f32>),
}

impl Operand<'_> {
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Operand::F64(_) => "float64",
            Operand::F32(_) => "float32",
        }
    }
}

/// What `obj` is, for a message: a numpy array's dtype, else the Python type's name.
fn kind_of(obj: &Bound<'_, PyAny>) -> String {
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return format!("an array of dtype {}", a.dtype());
    }
    match obj.get_type().name() {
        Ok(n) => format!("a {n}"),
        Err(_) => "another type".into(),
    }
}

/// The argument `name` as a float32 or float64 array, borrowed read-only.
pub fn operand<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Operand<'py>> {
    let py = obj.py();
    let wrong = || {
        type_error(format!(
            "{name} must be a numpy array of float32 or float64 (native byte order), got {}; \
             rayblas does not cast: convert with np.asarray({name}, dtype=np.float64)",
            kind_of(obj)
        ))
    };
    let array = obj.cast::<PyUntypedArray>().map_err(|_| wrong())?;
    let dtype = array.dtype();
    let busy = |e: numpy::BorrowError| value_error(format!("{name}: {e}"));
    if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        let a = obj.cast::<PyArrayDyn<f64>>().map_err(|_| wrong())?;
        return Ok(Operand::F64(a.try_readonly().map_err(busy)?));
    }
    if dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        let a = obj.cast::<PyArrayDyn<f32>>().map_err(|_| wrong())?;
        return Ok(Operand::F32(a.try_readonly().map_err(busy)?));
    }
    Err(wrong())
}

/// The `TypeError` for two arrays of different dtypes.
pub fn mixed(what: &str, a: &Operand<'_>, b: &Operand<'_>) -> PyErr {
    type_error(format!(
        "{what}: the arrays are {} and {}; rayblas does not cast, convert one with .astype()",
        a.dtype_name(),
        b.dtype_name()
    ))
}

/// A 2-D argument as a matrix view (a `ValueError` for any other dimension count).
pub fn matrix<'a, T: Elem>(
    a: &'a PyReadonlyArrayDyn<'_, T>,
    name: &str,
) -> PyResult<ArrayView2<'a, T>> {
    let v = a.as_array();
    let ndim = v.ndim();
    v.into_dimensionality::<Ix2>().map_err(|_| {
        value_error(format!(
            "{name} must be 2-D (a matrix), got {ndim}-D; reshape it, e.g. {name}.reshape(1, -1)"
        ))
    })
}

/// A 1-D or 2-D argument as a matrix view: a vector of length n is the 1 × n matrix holding it.
pub fn vector_or_matrix<'a, T: Elem>(
    a: &'a PyReadonlyArrayDyn<'_, T>,
    name: &str,
) -> PyResult<ArrayView2<'a, T>> {
    let v = a.as_array();
    match v.ndim() {
        1 => Ok(v
            .into_dimensionality::<ndarray::Ix1>()
            .expect("checked 1-D")
            .insert_axis(Axis(0))),
        2 => Ok(v.into_dimensionality::<Ix2>().expect("checked 2-D")),
        d => Err(value_error(format!("{name} must be 1-D or 2-D, got {d}-D"))),
    }
}

/// A numpy scalar of `T`'s dtype (`np.float32` stays `np.float32`, as numpy's own reductions).
pub fn scalar<'py, T: Elem>(py: Python<'py>, v: T) -> PyResult<Bound<'py, PyAny>> {
    numpy::dtype::<T>(py).typeobj().call1((v.to_f64(),))
}
