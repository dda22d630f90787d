//! The library's typed errors as the Python exceptions a numpy user expects, each carrying the
//! library's message: a bad shape or argument is a `ValueError`, a wrong type a `TypeError`, a
//! result too large for memory a `MemoryError`, a file problem an `OSError`.

use pyo3::exceptions::{
    PyFileNotFoundError, PyMemoryError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use rayblas::Error;

/// The Python exception for a library error.
pub fn to_py(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::ShapeMismatch { .. }
        | Error::ZeroBlock { .. }
        | Error::InvalidThreads { .. }
        | Error::DimensionTooLarge { .. }
        | Error::UnsupportedStrategy { .. }
        | Error::Parse { .. }
        | Error::Environment { .. }
        | Error::SimdUnavailable { .. }
        | Error::EmptyReduction { .. } => PyValueError::new_err(message),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(message),
        Error::Io { ref reason, .. } if reason.contains("No such file") => {
            PyFileNotFoundError::new_err(message)
        }
        Error::Io { .. } => PyOSError::new_err(message),
        // New variants (the enum is non-exhaustive to its users) are the library's own failures.
        _ => PyRuntimeError::new_err(message),
    }
}

/// A `TypeError` for an argument of the wrong kind.
pub fn type_error(message: String) -> PyErr {
    PyTypeError::new_err(message)
}

/// A `ValueError` for an argument of the right kind with a wrong value.
pub fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}
