//! The keyword arguments every function takes (`strategy=`, `block=`, `calls=`), read into one
//! [`rayblas::Config`]: the same strings the CLI and `RAYBLAS_STRATEGY` accept.

use crate::errors::{to_py, type_error};
use pyo3::prelude::*;
use rayblas::{BlockShape, Calls, Config, Reduction, Strategy};

/// A `Config` from the keyword arguments: `strategy` as `"blocked:2"`, `"native"`, `"serial"`…
/// (`None`: `RAYBLAS_STRATEGY` or the compiled default), `block` as an `int` (square), a
/// `(rows, cols)` pair or a `"ROWSxCOLS"` string (`None`: chosen from the shape), `calls` as
/// `"tiles"` or `"strips"`.
pub fn config(
    strategy: Option<&str>,
    block: Option<&Bound<'_, PyAny>>,
    calls: Option<&str>,
) -> PyResult<Config> {
    let mut c = Config::new();
    if let Some(s) = strategy {
        c = c.strategy(s.parse::<Strategy>().map_err(to_py)?);
    }
    if let Some(b) = block {
        c = c.block(block_shape(b)?);
    }
    if let Some(k) = calls {
        c = c.calls(k.parse::<Calls>().map_err(to_py)?);
    }
    Ok(c)
}

fn block_shape(b: &Bound<'_, PyAny>) -> PyResult<BlockShape> {
    if let Ok(s) = b.extract::<String>() {
        return s.parse().map_err(to_py);
    }
    if let Ok(n) = b.extract::<usize>() {
        return BlockShape::square(n).map_err(to_py);
    }
    if let Ok((rows, cols)) = b.extract::<(usize, usize)>() {
        return BlockShape::new(rows, cols).map_err(to_py);
    }
    Err(type_error(format!(
        "block must be an int, a (rows, cols) pair of ints or a \"ROWSxCOLS\" string, not {}",
        b.repr()
            .map_or_else(|_| "that".to_string(), |r| r.to_string())
    )))
}

/// A `reduction=` argument: `"sum"`, `"sumsq"`, `"max"` or `"min"` (the library's names).
pub fn reduction(name: &str) -> PyResult<Reduction> {
    name.parse().map_err(to_py)
}
