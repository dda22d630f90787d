//! SIMD reductions against compensated references: every level, dtype, layout and strategy.

use crate::common::random;
use ndarray::{s, Array2, ArrayView2, Axis, ShapeBuilder};
use proptest::prelude::*;
use rayblas::simd::{Level, LEAF};
use rayblas::{Config, Element, Error, Reduction, Strategy};

fn levels() -> Vec<Level> {
    [Level::Scalar, Level::Sse2, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|l| l.available())
        .collect()
}

/// Neumaier-compensated sum in f64 of the f64 images of `it`.
fn comp_sum(it: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut s, mut c, mut abs) = (0.0f64, 0.0f64, 0.0f64);
    for v in it {
        let t = s + v;
        c += if s.abs() >= v.abs() {
            (s - t) + v
        } else {
            (v - t) + s
        };
        s = t;
        abs += v.abs();
    }
    (s + c, abs)
}

/// The documented bound: (LEAF/L + log2 L + ceil(log2(n/LEAF)) + 1)·ε·Σ|x|, with L ≥ 8.
fn sum_bound<T: Element>(n: usize, abs: f64) -> f64 {
    let l = 8.0f64;
    let depth = (n as f64 / LEAF as f64).log2().ceil().max(0.0);
    (LEAF as f64 / l + l.log2() + depth + 1.0) * T::EPSILON.to_f64() * abs + f64::MIN_POSITIVE
}

fn views<T: Element>(base: &Array2<T>) -> Vec<(&'static str, ArrayView2<'_, T>)> {
    vec![
        ("contiguous", base.view()),
        ("transposed", base.t()),
        ("strided", base.slice(s![..;2, 1..;3])),
        ("reversed", base.slice(s![..;-1, ..])),
        ("row", base.slice(s![3..4, ..])),
        ("column", base.slice(s![.., 5..6])),
        ("window", base.slice(s![1..40, 2..33])),
    ]
}

/// Values in [-1, 1), and shifted to [5, 7) and [-7, -5): with all values of one sign, a min
/// or max that started from 0 instead of the first element would return 0 and fail.
const SHIFTS: [f64; 3] = [0.0, 6.0, -6.0];

fn check_full<T: Element>() {
    for shift in SHIFTS {
        check_full_shifted::<T>(shift);
    }
}

fn check_full_shifted<T: Element>(shift: f64) {
    let base = random::<T>(67, 131, 7).mapv(|x| x + T::from_f64(shift));
    let mut fortran = Array2::<T>::zeros((67, 131).f());
    fortran.assign(&base);
    for level in levels() {
        let cfg = Config::new().simd(level);
        let mut all = views(&base);
        all.push(("fortran", fortran.view()));
        for (what, v) in all {
            let ctx = format!("{what} {level} {} shift {shift}", T::DTYPE.name());
            let vals: Vec<f64> = v.iter().map(|x| x.to_f64()).collect();
            let (want, abs) = comp_sum(vals.iter().copied());
            let got = cfg.sum(v).unwrap().to_f64();
            assert!(
                (got - want).abs() <= sum_bound::<T>(vals.len(), abs),
                "sum {ctx}: {got} vs {want}"
            );
            let mean = cfg.mean(v).unwrap().to_f64();
            assert!(
                (mean - want / vals.len() as f64).abs()
                    <= 2.0 * sum_bound::<T>(vals.len(), abs) / vals.len() as f64,
                "mean {ctx}"
            );
            let (ss, ss_abs) = comp_sum(vals.iter().map(|x| x * x));
            let got_ss = cfg.sum_of_squares(v).unwrap().to_f64();
            assert!(
                (got_ss - ss).abs() <= sum_bound::<T>(vals.len(), ss_abs) * 2.0,
                "sumsq {ctx}"
            );
            let norm = cfg.norm(v).unwrap().to_f64();
            assert!(
                (norm - ss.sqrt()).abs() <= 1e-5f64.max(T::EPSILON.to_f64() * 64.0) * ss.sqrt(),
                "norm {ctx}: {norm} vs {}",
                ss.sqrt()
            );
            let max = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
            assert_eq!(cfg.max(v).unwrap().to_f64(), max, "max {ctx}");
            assert_eq!(cfg.min(v).unwrap().to_f64(), min, "min {ctx}");
            let (r, c) = cfg.argmax(v).unwrap();
            assert_eq!(v[[r, c]].to_f64(), max, "argmax {ctx}");
            let first = vals.iter().position(|&x| x == max).unwrap();
            assert_eq!(
                r * v.ncols() + c,
                first,
                "argmax is the first maximum {ctx}"
            );
            let (r, c) = cfg.argmin(v).unwrap();
            assert_eq!(v[[r, c]].to_f64(), min, "argmin {ctx}");
            // dot against a second matrix of the same shape and another layout
            let w = v.mapv(|x| x * T::from_f64(0.5) + T::one());
            let (d, d_abs) = comp_sum(v.iter().zip(w.iter()).map(|(a, b)| a.to_f64() * b.to_f64()));
            let got_d = cfg.dot(v, w.t().t()).unwrap().to_f64();
            assert!(
                (got_d - d).abs() <= 2.0 * sum_bound::<T>(vals.len(), d_abs),
                "dot {ctx}: {got_d} vs {d}"
            );
        }
    }
}

#[test]
fn full_reductions_f64_every_level_and_layout() {
    check_full::<f64>();
}

#[test]
fn full_reductions_f32_every_level_and_layout() {
    check_full::<f32>();
}

/// Axis reductions on a small matrix and on one whose axis-0 lanes are long (≥ 64) and strided,
/// which takes the `vertical` path (whole cross-sections added in a tree) and, at 300×230, crosses
/// the parallel grain; each shifted as in [`SHIFTS`].
fn check_axes<T: Element>() {
    for (rows, cols) in [(45, 150), (300, 230)] {
        for shift in SHIFTS {
            check_axes_of::<T>(rows, cols, shift);
        }
    }
}

fn check_axes_of<T: Element>(rows: usize, cols: usize, shift: f64) {
    let base = random::<T>(rows, cols, 9).mapv(|x| x + T::from_f64(shift));
    let other = random::<T>(rows, cols, 10);
    for level in levels() {
        let cfg = Config::new().simd(level);
        for ((what, v), (_, w)) in views(&base).into_iter().zip(views(&other)) {
            for axis in [Axis(0), Axis(1)] {
                let ctx = format!(
                    "{what} {rows}x{cols}+{shift} axis {} {level} {}",
                    axis.index(),
                    T::DTYPE.name()
                );
                let lanes: Vec<Vec<f64>> = v
                    .lanes(axis)
                    .into_iter()
                    .map(|l| l.iter().map(|x| x.to_f64()).collect())
                    .collect();
                let sums = cfg.sum_axis(v, axis).unwrap();
                let means = cfg.mean_axis(v, axis).unwrap();
                let maxs = cfg.reduce_axis(v, axis, Reduction::Max).unwrap();
                let mins = cfg.reduce_axis(v, axis, Reduction::Min).unwrap();
                let sumsq = cfg.reduce_axis(v, axis, Reduction::SumOfSquares).unwrap();
                let norms = cfg.norm_axis(v, axis).unwrap();
                let argmax = cfg.argmax_axis(v, axis).unwrap();
                let argmin = cfg.argmin_axis(v, axis).unwrap();
                let dots = cfg.dot_axis(v, w, axis).unwrap();
                let w_lanes: Vec<Vec<f64>> = w
                    .lanes(axis)
                    .into_iter()
                    .map(|l| l.iter().map(|x| x.to_f64()).collect())
                    .collect();
                assert_eq!(sums.len(), lanes.len(), "{ctx}");
                for (i, lane) in lanes.iter().enumerate() {
                    let (want, abs) = comp_sum(lane.iter().copied());
                    let tol = sum_bound::<T>(lane.len(), abs) * 2.0;
                    assert!((sums[i].to_f64() - want).abs() <= tol, "sum {ctx} lane {i}");
                    assert!(
                        (means[i].to_f64() - want / lane.len() as f64).abs() <= tol,
                        "mean {ctx}"
                    );
                    let (ss, ss_abs) = comp_sum(lane.iter().map(|x| x * x));
                    assert!(
                        (sumsq[i].to_f64() - ss).abs() <= sum_bound::<T>(lane.len(), ss_abs) * 2.0,
                        "sumsq {ctx}"
                    );
                    let (d, d_abs) = comp_sum(lane.iter().zip(&w_lanes[i]).map(|(a, b)| a * b));
                    assert!(
                        (dots[i].to_f64() - d).abs() <= sum_bound::<T>(lane.len(), d_abs) * 2.0,
                        "dot {ctx}"
                    );
                    assert!(
                        (norms[i].to_f64() - ss.sqrt()).abs() <= 1e-5 * ss.sqrt().max(1e-30),
                        "norm {ctx}"
                    );
                    let mx = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let mn = lane.iter().copied().fold(f64::INFINITY, f64::min);
                    assert_eq!(maxs[i].to_f64(), mx, "max {ctx}");
                    assert_eq!(mins[i].to_f64(), mn, "min {ctx}");
                    assert_eq!(
                        argmax[i],
                        lane.iter().position(|&x| x == mx).unwrap(),
                        "argmax {ctx}"
                    );
                    assert_eq!(
                        argmin[i],
                        lane.iter().position(|&x| x == mn).unwrap(),
                        "argmin {ctx}"
                    );
                }
            }
        }
    }
}

#[test]
fn axis_reductions_f64() {
    check_axes::<f64>();
}

#[test]
fn axis_reductions_f32() {
    check_axes::<f32>();
}

#[test]
fn nan_propagates_like_numpy() {
    let mut x = random::<f64>(20, 300, 3);
    x[[7, 100]] = f64::NAN;
    x[[12, 5]] = f64::NAN;
    x[[3, 3]] = f64::INFINITY;
    for level in levels() {
        let cfg = Config::new().simd(level);
        assert!(cfg.sum(&x).unwrap().is_nan());
        assert!(cfg.max(&x).unwrap().is_nan());
        assert!(cfg.min(&x).unwrap().is_nan());
        assert!(cfg.norm(&x).unwrap().is_nan());
        assert!(cfg.dot(&x, &x).unwrap().is_nan());
        assert_eq!(
            cfg.argmax(&x).unwrap(),
            (7, 100),
            "first NaN in row-major order"
        );
        assert_eq!(cfg.argmin(&x).unwrap(), (7, 100));
        assert_eq!(
            cfg.argmax(x.t()).unwrap(),
            (5, 12),
            "first NaN of the transposed view"
        );
        let per_row = cfg.argmax_axis(&x, Axis(1)).unwrap();
        assert_eq!(per_row[7], 100);
        assert_eq!(per_row[3], 3, "+inf is the maximum of a row without NaN");
        assert!(cfg.reduce_axis(&x, Axis(1), Reduction::Max).unwrap()[12].is_nan());
        assert!(!cfg.sum_axis(&x, Axis(1)).unwrap()[0].is_nan());
    }
}

#[test]
fn norm_neither_overflows_nor_underflows() {
    for level in levels() {
        let cfg = Config::new().simd(level);
        let big = Array2::<f64>::from_elem((10, 10), 1e300);
        assert!(
            (cfg.norm(&big).unwrap() / 1e301 - 1.0).abs() < 1e-14,
            "{level}"
        );
        let tiny = Array2::<f64>::from_elem((10, 10), 1e-300);
        assert!(
            (cfg.norm(&tiny).unwrap() / 1e-299 - 1.0).abs() < 1e-14,
            "{level}"
        );
        let sub = Array2::<f64>::from_elem((1, 4), 5e-324);
        assert!(
            (cfg.norm(&sub).unwrap() / 1e-323 - 1.0).abs() < 0.2,
            "{level}: subnormal"
        );
        let big32 = Array2::<f32>::from_elem((10, 10), 1e30);
        assert!(
            (cfg.norm(&big32).unwrap() / 1e31 - 1.0).abs() < 1e-5,
            "{level}"
        );
        let tiny32 = Array2::<f32>::from_elem((10, 10), 1e-30);
        assert!(
            (cfg.norm(&tiny32).unwrap() / 1e-29 - 1.0).abs() < 1e-5,
            "{level}"
        );
        assert_eq!(cfg.norm(&Array2::<f64>::zeros((3, 3))).unwrap(), 0.0);
        let mut inf = Array2::<f64>::ones((3, 3));
        inf[[1, 1]] = f64::NEG_INFINITY;
        assert_eq!(cfg.norm(&inf).unwrap(), f64::INFINITY);
    }
    // The Native route (BLAS gemv with ones) gives the same axis sums.
    let x = random::<f64>(37, 53, 4);
    let native = Config::new().strategy(Strategy::Native { threads: None });
    for v in [x.view(), x.t()] {
        for axis in [Axis(0), Axis(1)] {
            let want = Config::new().sum_axis(v, axis).unwrap();
            let got = native.sum_axis(v, axis).unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-13 * 60.0, "{g} vs {w}");
            }
        }
    }
    // The Native route (BLAS nrm2 where there is one) is scaled too.
    let native = Config::new().strategy(Strategy::Native { threads: None });
    let big = Array2::<f64>::from_elem((10, 10), 1e300);
    assert!((native.norm(&big).unwrap() / 1e301 - 1.0).abs() < 1e-12);
}

#[test]
fn empty_inputs() {
    let e = Array2::<f64>::zeros((0, 5));
    let cfg = Config::new();
    assert_eq!(cfg.sum(&e).unwrap(), 0.0);
    assert_eq!(cfg.sum_of_squares(&e).unwrap(), 0.0);
    assert_eq!(cfg.norm(&e).unwrap(), 0.0);
    assert_eq!(cfg.dot(&e, &e).unwrap(), 0.0);
    for r in [cfg.max(&e), cfg.min(&e), cfg.mean(&e)] {
        assert!(matches!(r, Err(Error::EmptyReduction { .. })));
    }
    assert!(matches!(cfg.argmax(&e), Err(Error::EmptyReduction { .. })));
    // The fused products: max/min of an empty product are undefined too (not −∞ or +∞);
    // sums of one are 0; an inner dimension of 0 gives a product of zeros.
    let k0 = Array2::<f64>::zeros((3, 0));
    for r in [Reduction::Max, Reduction::Min] {
        assert!(matches!(
            cfg.gram_reduce(&e, r),
            Err(Error::EmptyReduction { .. })
        ));
        assert!(matches!(
            cfg.matmul_reduce(&e, e.t(), r),
            Err(Error::EmptyReduction { .. })
        ));
        assert_eq!(cfg.gram_reduce(&k0, r).unwrap(), 0.0);
    }
    assert_eq!(cfg.gram_sum(&e).unwrap(), 0.0);
    assert_eq!(cfg.matmul_reduce(&e, e.t(), Reduction::Sum).unwrap(), 0.0);
    assert_eq!(
        cfg.sum_axis(&e, Axis(0)).unwrap(),
        ndarray::Array1::<f64>::zeros(5)
    );
    assert_eq!(cfg.sum_axis(&e, Axis(1)).unwrap().len(), 0);
    assert!(matches!(
        cfg.reduce_axis(&e, Axis(0), Reduction::Max),
        Err(Error::EmptyReduction { .. })
    ));
    assert!(matches!(
        cfg.mean_axis(&e, Axis(0)),
        Err(Error::EmptyReduction { .. })
    ));
    assert!(matches!(
        cfg.argmax_axis(&e, Axis(0)),
        Err(Error::EmptyReduction { .. })
    ));
    let a = Array2::<f64>::zeros((2, 3));
    let b = Array2::<f64>::zeros((3, 2));
    assert!(matches!(cfg.dot(&a, &b), Err(Error::ShapeMismatch { .. })));
    assert!(cfg.sum_axis(&a, Axis(2)).is_err());
}

#[test]
fn f32_sum_of_1e8_uniform_values_within_the_stated_bound() {
    let n = 100_000_000usize;
    let mut state = 0x9E3779B97F4A7C15u64;
    let x = Array2::<f32>::from_shape_simple_fn((10_000, n / 10_000), || {
        // xorshift64*: fast, reproducible uniform values in [0, 1)
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        ((state.wrapping_mul(0x2545F4914F6CDD1D) >> 40) as f32) / (1u64 << 24) as f32
    });
    let exact: f64 = x.as_slice().unwrap().iter().map(|&v| v as f64).sum(); // f64 is exact enough here (error ≈ 1e-8 relative)
    let bound = sum_bound::<f32>(n, exact);
    let mut naive = 0f32;
    for &v in x.as_slice().unwrap().iter().take(n) {
        naive += v;
    }
    for level in levels() {
        let got = Config::new().simd(level).sum(&x).unwrap() as f64;
        let err = (got - exact).abs();
        assert!(
            err <= bound,
            "{level}: error {err:e} > bound {bound:e} (sum {exact})"
        );
        assert!(
            err < (naive as f64 - exact).abs() / 100.0,
            "{level}: not much better than a plain loop"
        );
    }
}

#[test]
fn strategies_give_bitwise_identical_reductions() {
    let x = random::<f64>(700, 500, 21);
    let xt = x.t();
    // Native may take BLAS routes (gemv for axis sums), which round differently; it is checked
    // within tolerance elsewhere. Every strategy on rayblas's kernels is bitwise equal.
    let strategies = [
        "serial",
        "blocked:1",
        "blocked:2",
        "blocked:3",
        "hybrid:2x1",
    ];
    let run = |s: &str| {
        let cfg = Config::new().strategy(s.parse().unwrap());
        (
            cfg.sum(&x).unwrap().to_bits(),
            cfg.sum(xt).unwrap().to_bits(),
            cfg.max(&x).unwrap().to_bits(),
            cfg.sum_axis(&x, Axis(0)).unwrap(),
            cfg.sum_axis(&x, Axis(1)).unwrap(),
            cfg.sum_of_squares(x.slice(s![..;3, ..])).unwrap().to_bits(),
        )
    };
    let first = run("serial");
    for s in strategies {
        assert_eq!(run(s), first, "{s}");
    }
}

fn prop_case<T: Element>(len: usize, offset: usize, stride: usize, seed: u64) {
    let total = offset + len * stride;
    let base = random::<T>(1, total.max(1), seed);
    let v = base.slice(s![.., offset..offset + len * stride;stride]);
    let other = random::<T>(1, len, seed ^ 0x5eed);
    let scalar = Config::new().simd(Level::Scalar);
    let vals: Vec<f64> = v.iter().map(|x| x.to_f64()).collect();
    let (want, abs) = comp_sum(vals.iter().copied());
    for level in levels() {
        let cfg = Config::new().simd(level);
        let got = cfg.sum(v).unwrap().to_f64();
        assert!(
            (got - want).abs() <= sum_bound::<T>(len, abs),
            "{level} len {len} off {offset} stride {stride}"
        );
        let d = cfg.dot(v, &other).unwrap().to_f64();
        let (dw, dabs) = comp_sum(vals.iter().zip(&other).map(|(x, y)| x * y.to_f64()));
        assert!((d - dw).abs() <= sum_bound::<T>(len, dabs) * 2.0);
        if len > 0 {
            assert_eq!(cfg.max(v).unwrap(), scalar.max(v).unwrap());
            assert_eq!(cfg.min(v).unwrap(), scalar.min(v).unwrap());
            assert_eq!(cfg.argmax(v).unwrap(), scalar.argmax(v).unwrap());
            assert_eq!(cfg.argmin(v).unwrap(), scalar.argmin(v).unwrap());
        }
    }
}

/// Cases per property: 64 in every test run, `PROPTEST_CASES=N` for more (proptest's own
/// variable, which an explicit case count would otherwise override).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]
    #[test]
    fn every_level_matches_scalar_f64(len in 0usize..12_000, offset in 0usize..9, stride in 1usize..4, seed in any::<u64>()) {
        prop_case::<f64>(len, offset, stride, seed);
    }

    #[test]
    fn every_level_matches_scalar_f32(len in 0usize..20_000, offset in 0usize..17, stride in 1usize..4, seed in any::<u64>()) {
        prop_case::<f32>(len, offset, stride, seed);
    }

    #[test]
    // Up to 40 leaves (163 840 elements): past the parallel grain (65 536), so the parallel
    // tree runs too.
    fn long_runs_cross_leaf_boundaries(leaves in 1usize..40, extra in 0usize..200, offset in 0usize..9) {
        prop_case::<f64>(leaves * LEAF + extra, offset, 1, 5);
    }
}
