//! Helpers for benchmarks and tests (feature `bench`): seeded random matrices and a median.
//!
//! The matrices are reproducible by row: row `i` of `uniform(rows, cols, seed)` depends only on
//! `seed`, `i` and `cols`, so [`uniform_rows`] can make any band of rows on its own (a process
//! that owns a band, a file written band by band) and get the same numbers as the whole matrix.
//! Rows are made in parallel.
//!
//! ```
//! use rayblas::bench::{median, uniform, uniform_rows};
//!
//! let x = uniform::<f64>(6, 4, 42);
//! assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)));
//! assert_eq!(uniform_rows::<f64>(2..5, 4, 42), x.slice(ndarray::s![2..5, ..]));
//! assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
//! ```

use crate::element::Element;
use ndarray::{Array2, Axis};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rayon::prelude::*;
use std::ops::Range;

/// A `rows × cols` matrix of values uniform in [0, 1), from `seed`.
pub fn uniform<T: Element>(rows: usize, cols: usize, seed: u64) -> Array2<T> {
    uniform_rows(0..rows, cols, seed)
}

/// Rows `range` of [`uniform`]`(_, cols, seed)`, made without the others.
pub fn uniform_rows<T: Element>(range: Range<usize>, cols: usize, seed: u64) -> Array2<T> {
    let mut out = Array2::<T>::zeros((range.len(), cols));
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(range)
        .for_each(|(mut row, i)| {
            let mut rng = SmallRng::seed_from_u64(row_seed(seed, i));
            row.iter_mut()
                .for_each(|v| *v = below_one(rng.random::<f64>()));
        });
    out
}

/// An independent stream per row: SplitMix64's finaliser of (seed, row), so neighbouring rows
/// and neighbouring seeds do not start from related states.
fn row_seed(seed: u64, row: usize) -> u64 {
    let mut z = seed ^ (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x` in [0, 1) as a `T` still in [0, 1): f64 values within half an f32 ulp of 1 round up to
/// exactly 1.0 in f32, so they become the largest f32 below 1 instead.
fn below_one<T: Element>(x: f64) -> T {
    let v = T::from_f64(x);
    if v < T::one() {
        v
    } else {
        T::one() - T::EPSILON / (T::one() + T::one())
    }
}

/// The median of `values` (the mean of the middle two for an even count; NaN for none). NaNs
/// sort last, as `f64::total_cmp` orders them.
pub fn median(values: &[f64]) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => 0.5 * (s[n / 2 - 1] + s[n / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_values_stay_below_one() {
        assert_eq!(below_one::<f32>(1.0 - 1e-12), 1.0 - f32::EPSILON / 2.0);
        assert!(uniform::<f32>(64, 64, 1)
            .iter()
            .all(|&v| (0.0..1.0).contains(&v)));
    }

    #[test]
    fn seeds_and_rows_differ() {
        let a = uniform::<f64>(3, 8, 1);
        assert_ne!(a.row(0), a.row(1));
        assert_ne!(a, uniform::<f64>(3, 8, 2));
        assert_eq!(uniform_rows::<f64>(3..3, 8, 1).dim(), (0, 8));
    }

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
