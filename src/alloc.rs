//! Output arrays allocated fallibly: a product too large for the machine is an
//! [`Error::OutOfMemory`], not an abort of the whole process.
//!
//! `Array2::zeros` aborts when the allocator fails; here the element count is checked for
//! overflow and the zeroed memory asked of the allocator directly, which answers a failure with a
//! null pointer. Zeroed memory comes from `calloc`, so pages of a large output are only touched
//! when the kernel writes them, as with `Array2::zeros`. On Linux with the default overcommit
//! policy an allocation far beyond RAM and swap fails at once and comes back as the error; one
//! that the kernel grants but cannot back later is still ended by the out-of-memory killer,
//! which no allocator call can see coming.

use crate::element::Element;
use crate::error::{Error, Result};
use ndarray::Array2;
use std::alloc::Layout;

/// A `rows × cols` array of zeros for the output `what`, or [`Error::OutOfMemory`].
pub(crate) fn zeros<T: Element>(what: &'static str, rows: usize, cols: usize) -> Result<Array2<T>> {
    let too_big = |len: Option<usize>| Error::OutOfMemory {
        what,
        rows,
        cols,
        bytes: len.map_or(u128::MAX, |l| l as u128 * std::mem::size_of::<T>() as u128),
    };
    let len = rows.checked_mul(cols).ok_or_else(|| too_big(None))?;
    // At most isize::MAX bytes, as every allocation.
    let layout = Layout::array::<T>(len).map_err(|_| too_big(Some(len)))?;
    if layout.size() == 0 {
        return Ok(Array2::zeros((rows, cols)));
    }
    // SAFETY: the layout has a non-zero size (checked above).
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(too_big(Some(len)));
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of `[T; len]`, so a Vec of
    // capacity `len` may own it; every byte is zero, and `T` is f32 or f64 (`Element` is
    // sealed), for which all-zero bits are the value +0.0, so all `len` elements are initialised.
    let v = unsafe { Vec::from_raw_parts(ptr, len, len) };
    Ok(Array2::from_shape_vec((rows, cols), v).expect("length is rows × cols"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_the_address_space_are_errors_not_aborts() {
        let e = zeros::<f64>("test output", usize::MAX / 2, 3).unwrap_err();
        assert!(
            matches!(
                e,
                Error::OutOfMemory {
                    bytes: u128::MAX,
                    ..
                }
            ),
            "{e}"
        );
        let e = zeros::<f64>("test output", 1 << 31, 1 << 31).unwrap_err();
        assert!(
            e.to_string()
                .contains("test output of 2147483648x2147483648"),
            "{e}"
        );
        assert!(matches!(zeros::<f32>("x", 3, 0), Ok(a) if a.dim() == (3, 0)));
        assert_eq!(
            zeros::<f32>("x", 2, 3).unwrap(),
            Array2::<f32>::zeros((2, 3))
        );
    }
}
