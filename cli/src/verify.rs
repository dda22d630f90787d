//! Independent checks of a result against the inputs, computed in f64 in O(size of the inputs),
//! with error bounds derived from the shapes and the element type's ε.
//!
//! - Full products (`matmul`, `gram`): Freivalds' test. For a random vector r, every entry of
//!   C·r must match A·(B·r) within the rounding that computing C allows. A transposed, permuted,
//!   misplaced or stale tile changes C·r, while the sum of C (the reported checksum) can stay the
//!   same. The checksum itself is checked against 1ᵀA·B1.
//! - Summed products (`matmul-sum`, `gram-sum`): Σ(A·B) = (1ᵀA)·(B1), a dot product of column
//!   sums of A with row sums of B.
//! - Reductions: the same reduction in f64, in order.
//!
//! Bounds: a product entry c = Σₚ aₚbₚ over k terms computed in type T is within
//! γₖ·Σₚ|aₚ||bₚ| with γₖ = k·ε (the standard bound, any summation order); rayblas's sums use a
//! tree of at most `LEAF/8 + log₂(len) + 1` levels per term. Each bound below is that, doubled
//! for safety, plus f64 rounding of the reference itself.

use crate::workload::{Inputs, Op};
use ndarray::{ArrayView2, ArrayView3, CowArray, Ix2};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rayblas::simd::LEAF;
use rayblas::Element;
use std::ops::Range;

/// What a check found, for one run of one strategy.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Verdict {
    /// The reference value of the reported result (the checksum for full products).
    #[serde(with = "crate::measure::nonfinite")]
    pub reference: f64,
    /// How far a correct result may lie from `reference`.
    #[serde(with = "crate::measure::nonfinite")]
    pub bound: f64,
    /// Freivalds' test of the full product: `None` for ops without one.
    pub freivalds_ok: Option<bool>,
}

impl Verdict {
    /// Whether `result` is right: within the bound (NaN matches NaN, ±Inf matches itself), and
    /// the full product passed Freivalds' test where there is one.
    pub fn accepts(&self, result: f64) -> bool {
        let close = if self.reference.is_finite() {
            (result - self.reference).abs() <= self.bound
        } else {
            result.to_bits() == self.reference.to_bits()
                || (result.is_nan() && self.reference.is_nan())
        };
        close && self.freivalds_ok.unwrap_or(true)
    }
}

/// Levels of rayblas's summation tree over `len` terms, as a multiple of ε.
fn tree_depth(len: usize) -> f64 {
    (LEAF / 8) as f64 + (len.max(2) as f64).log2().ceil() + 1.0
}

/// `x·v` and `|x|·|v|` in f64, row by row, without copying `x`.
fn matvec<T: Element>(x: &ArrayView2<'_, T>, v: &[f64]) -> (Vec<f64>, Vec<f64>) {
    x.rows()
        .into_iter()
        .map(|row| {
            row.iter().zip(v).fold((0.0, 0.0), |(s, m), (&e, &w)| {
                let e = e.to_f64();
                (s + e * w, m + (e * w).abs())
            })
        })
        .unzip()
}

/// Column sums of `x` and of `|x|` in f64, without copying `x`.
fn column_sums<T: Element>(x: &ArrayView2<'_, T>) -> (Vec<f64>, Vec<f64>) {
    let (mut s, mut m) = (vec![0.0; x.ncols()], vec![0.0; x.ncols()]);
    add_column_sums(x, &mut s, &mut m);
    (s, m)
}

/// Adds `x`'s rows, in order, to running column sums `s` and `m` (of `|x|`): by bands of rows
/// or whole, the same additions in the same order.
fn add_column_sums<T: Element>(x: &ArrayView2<'_, T>, s: &mut [f64], m: &mut [f64]) {
    for row in x.rows() {
        for ((s, m), &e) in s.iter_mut().zip(m.iter_mut()).zip(row.iter()) {
            *s += e.to_f64();
            *m += e.to_f64().abs();
        }
    }
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// Checks `result` of `op` on `inp` (and, for full products, the product `c` itself). Reads the
/// inputs in place: no copy of them is made.
pub fn check<T: Element>(op: Op, inp: &Inputs<T>, c: Option<ArrayView2<'_, T>>) -> Verdict {
    let eps = T::EPSILON.to_f64();
    if let Some((a3, b3)) = inp.batch_views() {
        return check_batch(&a3, &b3, c, eps);
    }
    let a = inp.a.view();
    let b = match op {
        Op::Gram | Op::GramSum => a.t(),
        _ => inp.b.as_ref().map(|b| b.view()).unwrap_or(a),
    };
    let (m, k) = a.dim();
    let len = m * k;
    let f64_round = |terms: usize| 4.0 * terms as f64 * f64::EPSILON;
    let elements = || a.iter().map(|v| v.to_f64());
    match op {
        Op::Matmul
        | Op::Gram
        | Op::MatmulSum
        | Op::GramSum
        | Op::Sum
        | Op::Mean
        | Op::Max
        | Op::Min => {
            // In memory the reads cannot fail: one band, the view itself.
            check_bands(op, &Bands::whole(a), Some(&Bands::whole(b)), c, &Alone)
                .expect("reading a matrix in memory does not fail")
        }
        Op::Dot => {
            let (reference, magnitude) =
                b.iter()
                    .zip(elements())
                    .fold((0.0, 0.0), |(s, mg), (&y, x)| {
                        let t = x * y.to_f64();
                        (s + t, mg + t.abs())
                    });
            sum_verdict(op, len, eps, reference, magnitude)
        }
        Op::Norm => {
            let norm = elements().map(|x| x * x).sum::<f64>().sqrt();
            Verdict {
                reference: norm,
                bound: (2.0 * tree_depth(len) * eps + f64_round(len)) * norm,
                freivalds_ok: None,
            }
        }
        Op::Argmax | Op::Argmin => Verdict {
            reference: first_extreme(elements(), op == Op::Argmax) as f64,
            bound: 0.0,
            freivalds_ok: None,
        },
    }
}

/// An operand read in bands of rows, in order: one band for a matrix in memory, or bands of
/// about [`BAND_BYTES`] read from a file a rank must not map whole (`ranks`), each rank
/// reading only its share of the rows.
pub struct Bands<'a, T> {
    /// `(rows, cols)` of the whole operand.
    pub dim: (usize, usize),
    /// The rows this process reads: all of them, or its share when several check together.
    pub share: Range<usize>,
    /// Rows per band.
    pub rows_per_band: usize,
    /// Reads one band.
    #[allow(clippy::type_complexity)]
    pub read: Box<dyn Fn(Range<usize>) -> Result<CowArray<'a, T, Ix2>, String> + 'a>,
}

/// Bytes per band of an operand read from a file.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub const BAND_BYTES: usize = 32 << 20;

impl<'a, T: Element> Bands<'a, T> {
    /// A matrix in memory: one band, borrowed.
    fn whole(x: ArrayView2<'a, T>) -> Self {
        Bands {
            dim: x.dim(),
            share: 0..x.nrows(),
            rows_per_band: x.nrows().max(1),
            read: Box::new(move |r| Ok(x.slice_move(ndarray::s![r, ..]).into())),
        }
    }

    /// Rows `share` of an operand of shape `dim`, read `rows_per_band` at a time, each band
    /// about [`BAND_BYTES`].
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    pub fn read_by(
        dim: (usize, usize),
        share: Range<usize>,
        read: impl Fn(Range<usize>) -> Result<CowArray<'a, T, Ix2>, String> + 'a,
    ) -> Self {
        let row_bytes = dim.1.max(1) * std::mem::size_of::<T>();
        Bands {
            dim,
            share,
            rows_per_band: (BAND_BYTES / row_bytes).max(1),
            read: Box::new(read),
        }
    }

    /// `f` on each band of the share, in order.
    fn each(&self, mut f: impl FnMut(ArrayView2<'_, T>)) -> Result<(), String> {
        let Range { start, end } = self.share;
        for from in (start..end).step_by(self.rows_per_band) {
            let band = (self.read)(from..(from + self.rows_per_band).min(end))?;
            f(band.view());
        }
        Ok(())
    }

    /// `x·v` and `|x|·|v|` for the share's rows, band by band.
    fn matvec(&self, v: &[f64]) -> Result<(Vec<f64>, Vec<f64>), String> {
        let (mut xv, mut mag) = (Vec::new(), Vec::new());
        self.each(|band| {
            let (s, m) = matvec(&band, v);
            xv.extend(s);
            mag.extend(m);
        })?;
        Ok((xv, mag))
    }
}

/// How the processes that check one result together (each reading its share of the rows) put
/// their partial results together. Alone, one process reads every row.
pub trait Gather {
    /// Every process's `values`, concatenated in process order (an error on every process
    /// alike).
    fn concat(&self, values: Vec<f64>) -> Result<Vec<f64>, String>;
    /// Whether every process got `ok` (so none is left waiting in the next `concat`).
    fn all_ok(&self, ok: bool) -> bool;
}

/// One process reading every row.
pub struct Alone;

impl Gather for Alone {
    fn concat(&self, values: Vec<f64>) -> Result<Vec<f64>, String> {
        Ok(values)
    }
    fn all_ok(&self, ok: bool) -> bool {
        ok
    }
}

/// `f`'s result where every process succeeded; the first error (this process's own, or that
/// another one failed), on every process alike.
fn agreed<R>(gather: &dyn Gather, f: impl FnOnce() -> Result<R, String>) -> Result<R, String> {
    let r = f();
    if gather.all_ok(r.is_ok()) {
        r
    } else {
        Err(r
            .err()
            .unwrap_or_else(|| "another process of the check failed to read".into()))
    }
}

/// Per-process vectors of one length, concatenated, added up in process order.
fn add_up(all: &[f64], len: usize) -> Vec<f64> {
    let mut sum = vec![0.0; len];
    for part in all.chunks(len.max(1)) {
        sum.iter_mut().zip(part).for_each(|(s, x)| *s += x);
    }
    sum
}

/// The check of `op` for operands read by bands: the sums of products and the full products
/// (`b` is B, so Xᵀ for a Gram product), and `sum`, `mean`, `max` and `min` of `a`. Each
/// process reads its share of the rows and `gather` puts the parts together, so no process
/// reads a whole operand; `c`, the full product, is wherever it is (rank 0), and there the
/// verdict includes Freivalds' test. [`check`] runs through it ([`Alone`], every row): the
/// same arithmetic. Every process must call it alike.
///
/// # Errors
/// A band that cannot be read (on every process), or an op it does not check.
pub fn check_bands<T: Element>(
    op: Op,
    a: &Bands<'_, T>,
    b: Option<&Bands<'_, T>>,
    c: Option<ArrayView2<'_, T>>,
    gather: &dyn Gather,
) -> Result<Verdict, String> {
    let eps = T::EPSILON.to_f64();
    let (m, k) = a.dim;
    let len = m * k;
    let f64_round = |terms: usize| 4.0 * terms as f64 * f64::EPSILON;
    Ok(match op {
        Op::Matmul | Op::Gram | Op::MatmulSum | Op::GramSum => {
            let b = b.ok_or("a product needs B")?;
            let n = b.dim.1;
            let full = matches!(op, Op::Matmul | Op::Gram);
            let mut rng = SmallRng::seed_from_u64(0xF4EE_D0A5);
            let r: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
            // Σ(A·B) = (1ᵀA)(B1), and its magnitude from |A| and |B|; for a full product
            // also B·r, for Freivalds' test.
            let (sums_a, row_b, row_abs_b, br, br_mag) = agreed(gather, || {
                let mut sums_a = vec![0.0; 2 * k];
                let (col_a, col_abs_a) = sums_a.split_at_mut(k);
                a.each(|band| add_column_sums(&band, col_a, col_abs_a))?;
                let (mut row_b, mut row_abs_b) = (Vec::new(), Vec::new());
                b.each(|band| {
                    let (s, mg) = column_sums(&band.t());
                    row_b.extend(s);
                    row_abs_b.extend(mg);
                })?;
                let (br, br_mag) = if full {
                    b.matvec(&r)?
                } else {
                    (Vec::new(), Vec::new())
                };
                Ok((sums_a, row_b, row_abs_b, br, br_mag))
            })?;
            let sums_a = add_up(&gather.concat(sums_a)?, 2 * k);
            let (col_a, col_abs_a) = sums_a.split_at(k);
            let (row_b, row_abs_b) = (gather.concat(row_b)?, gather.concat(row_abs_b)?);
            let magnitude = dot(col_abs_a, &row_abs_b);
            // Each entry: k terms; then m·n entries summed in a tree. Doubled, plus f64.
            let bound =
                (2.0 * (k as f64 + tree_depth(m * n)) * eps + f64_round(m + n + k)) * magnitude;
            let freivalds_ok = if full {
                let (br, br_mag) = (gather.concat(br)?, gather.concat(br_mag)?);
                let (abr, mag) = agreed(gather, || {
                    let (abr, _) = a.matvec(&br)?;
                    // With a non-negative vector, the magnitude output is |A|·(|B|·|r|).
                    let (_, mag) = a.matvec(&br_mag)?;
                    Ok((abr, mag))
                })?;
                let (abr, mag) = (gather.concat(abr)?, gather.concat(mag)?);
                c.map(|c| freivalds(&abr, &mag, &c, &r, (k, n), eps))
            } else {
                None
            };
            Verdict {
                reference: dot(col_a, &row_b),
                bound,
                freivalds_ok,
            }
        }
        Op::Sum | Op::Mean => {
            let local = agreed(gather, || {
                let (mut reference, mut magnitude) = (0.0, 0.0);
                a.each(|band| {
                    for x in band.iter().map(|v| v.to_f64()) {
                        reference += x;
                        magnitude += x.abs();
                    }
                })?;
                Ok(vec![reference, magnitude])
            })?;
            let sums = add_up(&gather.concat(local)?, 2);
            sum_verdict(op, len, eps, sums[0], sums[1])
        }
        Op::Max | Op::Min => {
            let start = if op == Op::Max {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            let local = agreed(gather, || {
                let mut extreme = start;
                a.each(|band| {
                    extreme = band
                        .iter()
                        .map(|v| v.to_f64())
                        .fold(extreme, |x, v| fold_extreme(op, x, v));
                })?;
                Ok(vec![extreme])
            })?;
            Verdict {
                reference: gather
                    .concat(local)?
                    .into_iter()
                    .fold(start, |x, v| fold_extreme(op, x, v)),
                bound: 0.0,
                freivalds_ok: None,
            }
        }
        other => return Err(format!("{} is not checked by bands", other.name())),
    })
}

/// The verdict of a sum (`sum`, `mean`, `dot`) from its reference and Σ|terms|.
fn sum_verdict(op: Op, len: usize, eps: f64, reference: f64, magnitude: f64) -> Verdict {
    let f64_round = |terms: usize| 4.0 * terms as f64 * f64::EPSILON;
    // The mean is the sum divided once more (one more rounding of T).
    let scale = if op == Op::Mean {
        len.max(1) as f64
    } else {
        1.0
    };
    let depth = tree_depth(len) + f64::from(u8::from(op == Op::Mean));
    Verdict {
        reference: reference / scale,
        bound: (2.0 * depth * eps + f64_round(len)) * magnitude / scale,
        freivalds_ok: None,
    }
}

/// One step of max or min in f64: NaN anywhere makes the result NaN, as numpy does.
fn fold_extreme(op: Op, x: f64, v: f64) -> f64 {
    if x.is_nan() || v.is_nan() {
        f64::NAN
    } else if op == Op::Max {
        x.max(v)
    } else {
        x.min(v)
    }
}

/// A batch's checksum (the sum of every item's product) against Σᵢ (1ᵀAᵢ)(Bᵢ1), with the
/// items' bounds added; each item of the stacked product `c` checked by Freivalds' test.
fn check_batch<T: Element>(
    a: &ArrayView3<'_, T>,
    b: &ArrayView3<'_, T>,
    c: Option<ArrayView2<'_, T>>,
    eps: f64,
) -> Verdict {
    let (count, m, k) = a.dim();
    let n = b.dim().2;
    let f64_round = |terms: usize| 4.0 * terms as f64 * f64::EPSILON;
    let (mut reference, mut magnitude) = (0.0, 0.0);
    let mut freivalds_ok = c.map(|c| c.dim() == (count * m, n));
    for (i, (ai, bi)) in a.outer_iter().zip(b.outer_iter()).enumerate() {
        let (col_a, col_abs_a) = column_sums(&ai);
        let (row_b, row_abs_b) = column_sums(&bi.t());
        reference += dot(&col_a, &row_b);
        magnitude += dot(&col_abs_a, &row_abs_b);
        if let (Some(ok), Some(c)) = (freivalds_ok.as_mut(), c) {
            if *ok {
                let ci = c.slice(ndarray::s![i * m..(i + 1) * m, ..]);
                *ok = check_bands(
                    Op::Matmul,
                    &Bands::whole(ai),
                    Some(&Bands::whole(bi)),
                    Some(ci),
                    &Alone,
                )
                .expect("reading a matrix in memory does not fail")
                .freivalds_ok
                .unwrap_or(false);
            }
        }
    }
    // Each entry: k terms; then all count·m·n entries summed in a tree. Doubled, plus f64.
    let bound = (2.0 * (k as f64 + tree_depth(count * m * n)) * eps
        + f64_round(count * (m + n + k)))
        * magnitude;
    Verdict {
        reference,
        bound,
        freivalds_ok,
    }
}

/// Row-major position of the first NaN, else of the first largest (`max`) or smallest element,
/// as numpy's argmax/argmin define it.
fn first_extreme(values: impl Iterator<Item = f64>, max: bool) -> usize {
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.enumerate() {
        if v.is_nan() {
            return i;
        }
        let better = match best {
            None => true,
            Some((_, b)) => (max && v > b) || (!max && v < b),
        };
        if better {
            best = Some((i, v));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// Freivalds' test in f64: for a random r in [-1, 1)ⁿ, every |(C·r)ᵢ − (A·(B·r))ᵢ| must be
/// within the rounding of computing C in type T, γₖ·(|A|·|B|·|r|)ᵢ, doubled, plus the f64
/// rounding of both sides. A wrong entry c changes (C·r)ᵢ by (c − c')·rⱼ.
fn freivalds<T: Element>(
    abr: &[f64],
    mag: &[f64],
    c: &ArrayView2<'_, T>,
    r: &[f64],
    (k, n): (usize, usize),
    eps: f64,
) -> bool {
    if c.dim() != (abr.len(), n) {
        return false;
    }
    let (cr, c_mag) = matvec(&c.view(), r);
    let gamma = 2.0 * (k as f64 + 2.0) * eps;
    let f64_round = 4.0 * (n + k) as f64 * f64::EPSILON;
    cr.iter()
        .zip(abr)
        .zip(mag.iter().zip(&c_mag))
        .all(|((x, y), (mg, cm))| {
            let tol = gamma * mg + f64_round * (mg + cm) + f64::MIN_POSITIVE;
            (x - y).abs() <= tol || (x.is_nan() && y.is_nan())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Matrix;

    fn inputs(m: usize, k: usize, n: usize) -> Inputs<f64> {
        Inputs {
            batch: None,
            a: Matrix::Memory(rayblas::bench::uniform(m, k, 3)),
            b: Some(Matrix::Memory(rayblas::bench::uniform(k, n, 4))),
        }
    }

    #[test]
    fn freivalds_accepts_the_product_and_catches_a_transposed_tile() {
        let inp = inputs(40, 30, 40);
        let c = inp.a.view().dot(&inp.b.as_ref().unwrap().view());
        let ok = check(Op::Matmul, &inp, Some(c.view()));
        assert!(ok.accepts(c.sum()), "{ok:?}");
        // Transpose one 10×10 tile in place: the sum of C stays the same, C·r does not.
        let mut bad = c.clone();
        let tile = c.slice(ndarray::s![10..20, 20..30]).t().to_owned();
        bad.slice_mut(ndarray::s![10..20, 20..30]).assign(&tile);
        assert!((bad.sum() - c.sum()).abs() <= 1e-9 * c.sum());
        let caught = check(Op::Matmul, &inp, Some(bad.view()));
        assert_eq!(caught.freivalds_ok, Some(false));
        assert!(!caught.accepts(bad.sum()));
        // Two swapped tiles, same sum too.
        let mut swapped = c.clone();
        let (t1, t2) = (
            c.slice(ndarray::s![0..10, 0..10]).to_owned(),
            c.slice(ndarray::s![30..40, 30..40]).to_owned(),
        );
        swapped.slice_mut(ndarray::s![0..10, 0..10]).assign(&t2);
        swapped.slice_mut(ndarray::s![30..40, 30..40]).assign(&t1);
        assert_eq!(
            check(Op::Matmul, &inp, Some(swapped.view())).freivalds_ok,
            Some(false)
        );
    }

    /// Read by bands of 7 rows (as a rank reads a file), every op gives the verdict the whole
    /// matrices give, to the bit, and a wrong product is still caught.
    #[test]
    fn a_check_by_bands_equals_the_check_of_the_whole_matrices() {
        let inp = inputs(40, 30, 40);
        let (a, b) = (inp.a.view(), inp.b.as_ref().unwrap().view());
        fn by7(x: ArrayView2<'_, f64>) -> Bands<'_, f64> {
            Bands {
                dim: x.dim(),
                share: 0..x.nrows(),
                rows_per_band: 7,
                read: Box::new(move |r| Ok(x.slice_move(ndarray::s![r, ..]).to_owned().into())),
            }
        }
        let c = a.dot(&b);
        let g = a.dot(&a.t());
        for (op, bb, prod) in [
            (Op::MatmulSum, Some(by7(b)), None),
            (Op::GramSum, Some(by7(a.reversed_axes())), None),
            (Op::Matmul, Some(by7(b)), Some(c.view())),
            (Op::Gram, Some(by7(a.reversed_axes())), Some(g.view())),
            (Op::Sum, None, None),
            (Op::Mean, None, None),
            (Op::Max, None, None),
            (Op::Min, None, None),
        ] {
            let whole = check(op, &inp, prod);
            let banded = check_bands(op, &by7(a), bb.as_ref(), prod, &Alone).unwrap();
            assert_eq!(
                (
                    whole.reference.to_bits(),
                    whole.bound.to_bits(),
                    whole.freivalds_ok
                ),
                (
                    banded.reference.to_bits(),
                    banded.bound.to_bits(),
                    banded.freivalds_ok
                ),
                "{op:?}"
            );
        }
        let mut bad = c.clone();
        bad[[3, 4]] += 1e-3;
        let caught =
            check_bands(Op::Matmul, &by7(a), Some(&by7(b)), Some(bad.view()), &Alone).unwrap();
        assert_eq!(caught.freivalds_ok, Some(false));
        let failing = Bands::<f64> {
            dim: (3, 3),
            share: 0..3,
            rows_per_band: 1,
            read: Box::new(|_| Err("cannot read".into())),
        };
        assert_eq!(
            check_bands(Op::Sum, &failing, None, None, &Alone).unwrap_err(),
            "cannot read"
        );
    }

    #[test]
    fn summed_products_are_checked_against_the_column_and_row_sums() {
        let inp = inputs(25, 17, 9);
        let exact = inp.a.view().dot(&inp.b.as_ref().unwrap().view()).sum();
        let v = check(Op::MatmulSum, &inp, None);
        assert!(v.accepts(exact));
        assert!(
            !v.accepts(exact * (1.0 + 1e-9)),
            "the bound is tight: {v:?}"
        );
        let g = check(Op::GramSum, &inp, None);
        assert!(g.accepts(inp.a.view().dot(&inp.a.view().t()).sum()));
    }

    #[test]
    fn nan_matches_nan_and_max_is_exact() {
        let mut a = rayblas::bench::uniform(4, 5, 3);
        a[[2, 3]] = f64::NAN;
        let inp = Inputs {
            batch: None,
            a: Matrix::Memory(a),
            b: None,
        };
        let v = check(Op::Max, &inp, None);
        assert!(v.accepts(f64::NAN));
        assert!(!v.accepts(1.0));
        let s = check(Op::Sum, &inp, None);
        assert!(s.accepts(f64::NAN) && !s.accepts(0.0));
        assert_eq!(check(Op::Argmin, &inp, None).reference, 13.0);
    }

    #[test]
    fn positions_are_the_first_extreme_in_row_major_order() {
        let a = ndarray::array![[1.0, 5.0, 0.5], [5.0, 0.5, 2.0]];
        let inp = Inputs {
            batch: None,
            a: Matrix::Memory(a),
            b: None,
        };
        assert!(check(Op::Argmax, &inp, None).accepts(1.0));
        assert!(!check(Op::Argmax, &inp, None).accepts(3.0));
        assert!(check(Op::Argmin, &inp, None).accepts(2.0));
        assert!(check(Op::Min, &inp, None).accepts(0.5));
        let mean = check(Op::Mean, &inp, None);
        assert!(mean.accepts(14.0 / 6.0) && !mean.accepts(14.0 / 6.0 + 1e-12));
    }
}
