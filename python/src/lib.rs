//! `rayblas._rayblas`, the native half of the Python package `rayblas` (`python/rayblas/` is
//! the other): numpy arrays in, the library's public API underneath, the GIL released for the
//! whole computation so Python threads calling rayblas overlap.
//!
//! One module per concept: [`convert`] (arrays in and out), [`options`] (the keyword
//! arguments), [`errors`] (library errors as Python exceptions), [`products`], [`reductions`],
//! [`npy`] (files larger than memory), [`threads`] (info, limits, threadpoolctl's C entry
//! points).

mod convert;
mod errors;
mod npy;
mod options;
mod products;
mod reductions;
mod threads;

use pyo3::prelude::*;

#[pymodule]
fn _rayblas(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BACKEND", rayblas::blas::BACKEND)?;
    m.add_function(wrap_pyfunction!(products::matmul, m)?)?;
    m.add_function(wrap_pyfunction!(products::gram, m)?)?;
    m.add_function(wrap_pyfunction!(products::gram_t, m)?)?;
    m.add_function(wrap_pyfunction!(products::gram_sum, m)?)?;
    m.add_function(wrap_pyfunction!(products::gram_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(products::matmul_sum, m)?)?;
    m.add_function(wrap_pyfunction!(products::matmul_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(products::matmul_batch, m)?)?;
    m.add_function(wrap_pyfunction!(products::gram_batch, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::sum, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::sum_of_squares, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::norm, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::max, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::min, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::mean, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::argmax, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::argmin, m)?)?;
    m.add_function(wrap_pyfunction!(reductions::dot, m)?)?;
    m.add_function(wrap_pyfunction!(npy::gram_npy, m)?)?;
    m.add_function(wrap_pyfunction!(npy::matmul_npy, m)?)?;
    m.add_function(wrap_pyfunction!(npy::gram_reduce_npy, m)?)?;
    m.add_function(wrap_pyfunction!(npy::matmul_reduce_npy, m)?)?;
    m.add_function(wrap_pyfunction!(npy::reduce_npy, m)?)?;
    m.add_function(wrap_pyfunction!(threads::_info, m)?)?;
    m.add_function(wrap_pyfunction!(threads::_get_limit, m)?)?;
    m.add_function(wrap_pyfunction!(threads::_set_limit, m)?)?;
    Ok(())
}
