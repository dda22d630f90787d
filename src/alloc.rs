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
#[inline(always)]
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
    ask_for_huge_pages(ptr.cast(), layout.size());
    // SAFETY: `ptr` comes from the global allocator with the layout of `[T; len]`, so a Vec of
    // capacity `len` may own it; every byte is zero, and `T` is f32 or f64 (`Element` is
    // sealed), for which all-zero bits are the value +0.0, so all `len` elements are initialised.
    let v = unsafe { Vec::from_raw_parts(ptr, len, len) };
    // SAFETY: `len` is rows × cols (checked above), the length of a standard-layout rows × cols
    // array. (The checked constructor's own checks cost as much as a 4×4 product.)
    Ok(unsafe { Array2::from_shape_vec_unchecked((rows, cols), v) })
}

/// Outputs at least this large ask for transparent huge pages.
const HUGE_PAGE_OUTPUT: usize = 32 << 20;
/// The x86-64 and aarch64 (4 KiB base pages) transparent huge page size.
const HUGE_PAGE: usize = 2 << 20;

/// Asks Linux to back the 2 MiB-aligned part of a large fresh output with transparent huge
/// pages (`MADV_HUGEPAGE`), before anything touches it.
///
/// Debian's default THP mode is `madvise`: without the request, a 512 MiB output is faulted in
/// 4 KiB at a time, 131072 page faults that each zero a page and take the kernel's locks, and
/// for a product with a short inner dimension (8000×64 times 64×8000) those faults took most
/// of the call (373 ms against 88 ms of arithmetic, on the EPYC). With huge pages it is 256
/// faults. Where THP is off (`never`) or the kernel refuses, nothing changes: the advice is
/// only advice, and its failure is ignored.
#[cfg(target_os = "linux")]
#[inline]
fn ask_for_huge_pages(ptr: *mut u8, len: usize) {
    if len < HUGE_PAGE_OUTPUT {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + len) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation just made (start rounded up, end
        // down, both within ptr..ptr+len); MADV_HUGEPAGE changes how pages are backed, never
        // their contents or the mapping's validity, so no Rust reference is affected.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn ask_for_huge_pages(_ptr: *mut u8, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_output_asks_for_huge_pages_and_is_zero_and_writable() {
        // 64 MiB and a ragged size: the advised range is the 2 MiB-aligned interior.
        let (rows, cols) = (4099, 2049);
        assert!(rows * cols * 8 >= HUGE_PAGE_OUTPUT);
        let mut z = zeros::<f64>("test output", rows, cols).unwrap();
        assert!(z.iter().all(|&v| v.to_bits() == 0));
        z.iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
        assert_eq!(z[[rows - 1, cols - 1]], (rows * cols - 1) as f64);
        assert_eq!(z[[0, 0]], 0.0);
    }

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
