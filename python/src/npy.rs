//! `.npy` files larger than memory: mapped, never read whole, streamed in bounded memory by
//! the library's out-of-core operations. The dtype comes from the file's header.

use crate::convert::scalar;
use crate::errors::type_error;
use crate::options::{self, config};
use crate::products::released;
use numpy::PyArray2;
use pyo3::prelude::*;
use rayblas::mapped::NpyMap;
use rayblas::{Config, Element};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The element type a `.npy` file's header names, if it is one rayblas takes.
enum FileDtype {
    F64,
    F32,
}

/// Reads the `descr` of a `.npy` header (`'<f8'`, `'<f4'`); a file that cannot be read or has
/// no such header is left to the library, which names what is wrong with it.
fn file_dtype(path: &Path) -> PyResult<FileDtype> {
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(4096).read_to_end(&mut head);
    }
    let text = String::from_utf8_lossy(&head);
    let Some(at) = text.find("'descr':") else {
        return Ok(FileDtype::F64);
    };
    let rest = text[at + 8..].trim_start();
    let descr: String = rest
        .trim_start_matches(['\'', '"'])
        .chars()
        .take_while(|c| *c != '\'' && *c != '"')
        .collect();
    let native = if cfg!(target_endian = "little") {
        '<'
    } else {
        '>'
    };
    let plain = descr.trim_start_matches([native, '=']);
    match plain {
        "f8" => Ok(FileDtype::F64),
        "f4" => Ok(FileDtype::F32),
        _ => Err(type_error(format!(
            "{} holds elements of type {descr}; rayblas takes float32 or float64 in the \
             machine's byte order",
            path.display()
        ))),
    }
}

fn chunked<T: Element>(
    m: rayblas::mapped::Mapped<'_, T>,
    chunk: Option<usize>,
) -> rayblas::mapped::Mapped<'_, T> {
    match chunk {
        Some(b) => m.chunk_bytes(b),
        None => m,
    }
}

macro_rules! by_dtype {
    ($path:expr, |$t:ident| $body:expr) => {
        match file_dtype($path)? {
            FileDtype::F64 => {
                type $t = f64;
                $body
            }
            FileDtype::F32 => {
                type $t = f32;
                $body
            }
        }
    };
}

/// `x @ x.T` of the matrix in a `.npy` file. With `out`, the product is written to that
/// `.npy` file (rows streamed, the room checked first, renamed into place only when whole)
/// and `None` is returned; without it, the product is returned as an array.
/// `chunk_bytes` bounds the memory the input is read in (default: the library's).
#[pyfunction]
#[pyo3(signature = (path, out=None, *, chunk_bytes=None, strategy=None, block=None, calls=None))]
#[allow(clippy::too_many_arguments)]
pub fn gram_npy<'py>(
    py: Python<'py>,
    path: PathBuf,
    out: Option<PathBuf>,
    chunk_bytes: Option<usize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let c = config(strategy, block, calls)?;
    by_dtype!(&path, |T| {
        let r = released(py, || {
            let map = NpyMap::<T>::open(&path)?;
            let x = chunked(map.matrix(), chunk_bytes);
            match &out {
                Some(o) => c.gram_to_npy(x, o).map(|()| None),
                None => c.gram_mapped(x).map(Some),
            }
        })?;
        Ok(r.map(|a| PyArray2::from_owned_array(py, a).into_any()))
    })
}

/// `a @ b` of the matrices in two `.npy` files (of one dtype), to a `.npy` file `out` or
/// returned, as `gram_npy`.
#[pyfunction]
#[pyo3(signature = (a, b, out=None, *, chunk_bytes=None, strategy=None, block=None, calls=None))]
#[allow(clippy::too_many_arguments)]
pub fn matmul_npy<'py>(
    py: Python<'py>,
    a: PathBuf,
    b: PathBuf,
    out: Option<PathBuf>,
    chunk_bytes: Option<usize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let c = config(strategy, block, calls)?;
    by_dtype!(&a, |T| {
        let r = released(py, || {
            let (ma, mb) = (NpyMap::<T>::open(&a)?, NpyMap::<T>::open(&b)?);
            let (x, y) = (
                chunked(ma.matrix(), chunk_bytes),
                chunked(mb.matrix(), chunk_bytes),
            );
            match &out {
                Some(o) => c.matmul_to_npy(x, y, o).map(|()| None),
                None => c.matmul_mapped(x, y).map(Some),
            }
        })?;
        Ok(r.map(|a| PyArray2::from_owned_array(py, a).into_any()))
    })
}

/// `(x @ x.T)` of a `.npy` file reduced (`"sum"`, `"sumsq"`, `"max"`, `"min"`) in bounded memory.
#[pyfunction]
#[pyo3(signature = (path, reduction="sum", *, chunk_bytes=None, strategy=None, block=None, calls=None))]
pub fn gram_reduce_npy<'py>(
    py: Python<'py>,
    path: PathBuf,
    reduction: &str,
    chunk_bytes: Option<usize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let (c, r): (Config, _) = (
        config(strategy, block, calls)?,
        options::reduction(reduction)?,
    );
    by_dtype!(&path, |T| {
        let v = released(py, || {
            let map = NpyMap::<T>::open(&path)?;
            c.gram_reduce_mapped(chunked(map.matrix(), chunk_bytes), r)
        })?;
        scalar(py, v)
    })
}

/// `(a @ b)` of two `.npy` files reduced in bounded memory.
#[pyfunction]
#[pyo3(signature = (a, b, reduction="sum", *, chunk_bytes=None, strategy=None, block=None, calls=None))]
#[allow(clippy::too_many_arguments)]
pub fn matmul_reduce_npy<'py>(
    py: Python<'py>,
    a: PathBuf,
    b: PathBuf,
    reduction: &str,
    chunk_bytes: Option<usize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let (c, r): (Config, _) = (
        config(strategy, block, calls)?,
        options::reduction(reduction)?,
    );
    by_dtype!(&a, |T| {
        let v = released(py, || {
            let (ma, mb) = (NpyMap::<T>::open(&a)?, NpyMap::<T>::open(&b)?);
            let (x, y) = (
                chunked(ma.matrix(), chunk_bytes),
                chunked(mb.matrix(), chunk_bytes),
            );
            c.matmul_reduce_mapped(x, y, r)
        })?;
        scalar(py, v)
    })
}

/// A reduction of the elements of a `.npy` file (`"sum"`, `"sumsq"`, `"max"`, `"min"`, or
/// `"norm"`), streamed in bounded memory.
#[pyfunction]
#[pyo3(signature = (path, reduction="sum", *, chunk_bytes=None, strategy=None, block=None, calls=None))]
pub fn reduce_npy<'py>(
    py: Python<'py>,
    path: PathBuf,
    reduction: &str,
    chunk_bytes: Option<usize>,
    strategy: Option<&str>,
    block: Option<&Bound<'py, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let c = config(strategy, block, calls)?;
    let r = if reduction == "norm" {
        None
    } else {
        Some(options::reduction(reduction)?)
    };
    by_dtype!(&path, |T| {
        let v = released(py, || {
            let map = NpyMap::<T>::open(&path)?;
            let x = chunked(map.matrix(), chunk_bytes);
            match r {
                Some(r) => c.reduce_mapped(x, r),
                None => c.norm_mapped(x),
            }
        })?;
        scalar(py, v)
    })
}
