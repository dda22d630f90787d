//! Bits recorded before a refactor, so a change of how work is cut or combined shows.
//!
//! The inputs are small integers scaled by a power of two per block of rows. Every BLAS tile
//! product and every in-tile sum is then exact, so no BLAS kernel, backend or SIMD width can
//! change a bit; the values of different tiles, though, span 2⁰…2¹⁹⁰, so their combination rounds,
//! and its bits depend on the combine order alone. That order is a promise (`Blocked` is bitwise
//! the same for any worker count) and these values pin it. They were recorded on main at 974ce08
//! (before the execution-plan refactor, issue 9) and must not change without a reason that says
//! why the combine order changed.

use ndarray::{Array2, Axis};
use rayblas::simd::Level;
use rayblas::{BlockShape, Config, Reduction};

/// Small integers, each group of `rows_per_scale` rows scaled by ±2^0, 2^24 or 2^48: neighbouring
/// groups differ by 2^24 at most (a leaf of 4096 elements that spans two groups still sums
/// exactly), and signs alternate, so partial sums cancel and round in an order-dependent way.
fn scaled(rows: usize, cols: usize, rows_per_scale: usize, seed: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        // Values -3..=5 with a non-zero mean, so sums do not cancel to an exact 0.
        let small = ((i * 7 + j * 13 + seed * 5) % 9) as f64 - 3.0;
        let group = i / rows_per_scale;
        let exponent = [0, 24, 48, 24][group % 4];
        let sign = if group % 2 == 1 { -1.0 } else { 1.0 };
        sign * small * 2f64.powi(exponent)
    })
}

fn cfg(strategy: &str, block: BlockShape) -> Config {
    Config::new()
        .strategy(strategy.parse().unwrap())
        .block(block)
        .simd(Level::Scalar)
}

/// The recorded bits, and the strategies that must all give them.
const STRATEGIES: [&str; 4] = ["blocked:1", "blocked:2", "blocked:3", "serial"];

#[test]
fn fused_products_combine_in_the_recorded_order() {
    let x = scaled(45, 13, 8, 1);
    let a = scaled(30, 11, 7, 2);
    // B scaled by columns, so each product entry sums terms of one scale (exactly).
    let b = scaled(27, 11, 5, 3).reversed_axes();
    for s in STRATEGIES {
        let g = cfg(s, BlockShape::square(8).unwrap());
        let m = cfg(s, BlockShape::new(7, 5).unwrap());
        let got = (
            g.gram_reduce(&x, Reduction::Sum).unwrap().to_bits(),
            g.gram_reduce(&x, Reduction::SumOfSquares)
                .unwrap()
                .to_bits(),
            m.matmul_reduce(&a, &b, Reduction::Sum).unwrap().to_bits(),
        );
        assert_eq!(got, RECORDED_FUSED, "{s}");
    }
    // The order shows: a plain in-order sum of the same exact terms rounds differently.
    let plain_gram: f64 = x.dot(&x.t()).iter().sum();
    assert_ne!(plain_gram.to_bits(), RECORDED_FUSED.0);
    let plain_product: f64 = a.dot(&b).iter().sum();
    assert_ne!(plain_product.to_bits(), RECORDED_FUSED.2);
}

#[test]
fn reductions_combine_in_the_recorded_order() {
    // 300×301: longer than a leaf (4096 elements), with both axis paths (the axis-0 lanes are
    // strided and long, so they take the cross-section tree).
    let x = scaled(300, 301, 37, 4);
    for s in STRATEGIES {
        let c = cfg(s, BlockShape::square(64).unwrap());
        let axis0 = c.sum_axis(&x, Axis(0)).unwrap();
        let axis1 = c.sum_axis(&x, Axis(1)).unwrap();
        let fold =
            |v: &ndarray::Array1<f64>| v.iter().fold(0u64, |h, x| h.rotate_left(7) ^ x.to_bits());
        let got = (
            c.sum(&x).unwrap().to_bits(),
            c.sum(x.t()).unwrap().to_bits(),
            fold(&axis0),
            fold(&axis1),
        );
        assert_eq!(got, RECORDED_REDUCTIONS, "{s}");
    }
    let plain: f64 = x.iter().sum();
    assert_ne!(plain.to_bits(), RECORDED_REDUCTIONS.0, "the order shows");
}

const RECORDED_FUSED: (u64, u64, u64) = (
    5083842697370796310,
    5548667631227109460,
    5076577124976951482,
);
const RECORDED_REDUCTIONS: (u64, u64, u64, u64) = (
    4888025725350805527,
    4888025725350805527,
    4337678599060779665,
    5490339957543510153,
);
