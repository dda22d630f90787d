//! Bits recorded before a refactor, so a change of how work is cut or combined shows.
//!
//! Every value here is the same on any CPU, backend and build, yet depends on the order in which
//! partial results combine:
//! - products have an inner dimension of 1 and factors with 26-bit mantissas, so each BLAS tile
//!   entry is one exact product, whatever the kernel;
//! - sums inside a tile and along runs use the portable SIMD level (forced), the same code
//!   everywhere;
//! - the reductions' inputs are random full-precision values, combined at the forced portable
//!   SIMD level too;
//! - the values have random signs and magnitudes, so any other association of the partial
//!   results rounds differently (a plain in-order sum does, checked below).
//!
//! That order is a promise (`Blocked` is bitwise the same for any worker count), and these values
//! pin it. They were recorded on main before the execution-plan refactor (issue 9); a change
//! to them needs a reason that says why the combine order changed.
//!
//! Changed once since, on purpose (issue 15): tile rows are evened out so their count divides
//! among the cores (`Config::balance_for`, here 2 on every machine). The 30-row `matmul_reduce`
//! with 7-row blocks became 6 rows of 5, so its product sum (the third value) changed; the
//! 45-row gram with 8-row blocks already had 6 tile rows, and its two values did not.
//!
//! Changed a second time, on purpose (issue 15): the fused products merge narrow tiles of a
//! tile row into one call and reduce them together. The old values stay pinned under
//! `Calls::Tiles` (one call per tile, the same order as before); the merged order has values
//! of its own.

use ndarray::{Array2, Axis};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rayblas::simd::Level;
use rayblas::{BlockShape, Calls, Config, Reduction};

/// Values ±m·2^e with m a 26-bit integer and e in -3..3: any two multiply exactly, and sums
/// of many of them round at every step.
fn exact_factors(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| {
        let m = rng.random_range((1u64 << 25)..(1u64 << 26)) as f64;
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        sign * m * 2f64.powi(rng.random_range(-3..3))
    })
}

/// Tiles evened out for 2 cores on every machine, so the cut is the same everywhere.
fn cfg(strategy: &str, block: BlockShape) -> Config {
    Config::new()
        .strategy(strategy.parse().unwrap())
        .block(block)
        .balance_for(std::num::NonZeroUsize::new(2).unwrap())
        .simd(Level::Scalar)
}

/// The strategies that must all give the recorded bits.
const STRATEGIES: [&str; 4] = ["blocked:1", "blocked:2", "blocked:3", "serial"];

#[test]
fn fused_products_combine_in_the_recorded_order() {
    let x = exact_factors(45, 1, 1);
    let a = exact_factors(30, 1, 2);
    let b = exact_factors(1, 27, 3);
    // One call per tile: the order recorded before the plan refactor. Merged calls (the
    // default since issue 15 merged narrow tiles of the fused products) reduce each call's
    // tiles together, which is another order, recorded when that change was made.
    for (calls, recorded) in [
        (Calls::Tiles, RECORDED_FUSED),
        (Calls::Strips, RECORDED_FUSED_MERGED),
    ] {
        for s in STRATEGIES {
            let g = cfg(s, BlockShape::square(8).unwrap()).calls(calls);
            let m = cfg(s, BlockShape::new(7, 5).unwrap()).calls(calls);
            let got = (
                g.gram_reduce(&x, Reduction::Sum).unwrap().to_bits(),
                g.gram_reduce(&x, Reduction::SumOfSquares)
                    .unwrap()
                    .to_bits(),
                m.matmul_reduce(&a, &b, Reduction::Sum).unwrap().to_bits(),
            );
            assert_eq!(got, recorded, "{s}, {calls}");
        }
        // The order shows: a plain in-order sum of the same exact terms rounds differently.
        let plain_gram: f64 = x.dot(&x.t()).iter().sum();
        assert_ne!(plain_gram.to_bits(), recorded.0);
        let plain_product: f64 = a.dot(&b).iter().sum();
        assert_ne!(plain_product.to_bits(), recorded.2);
    }
    // And the two orders differ from each other: merging is seen.
    assert_ne!(RECORDED_FUSED.2, RECORDED_FUSED_MERGED.2);
}

#[test]
fn reductions_combine_in_the_recorded_order() {
    // 300×301: longer than a leaf (4096 elements); the axis-0 lanes are strided and long, so
    // they take the cross-section tree; the transposed view reads rows of a column-major array.
    // Full 53-bit mantissas: no sum of these is exact, so every association rounds its own way.
    let mut rng = SmallRng::seed_from_u64(4);
    let x = Array2::from_shape_fn((300, 301), |_| {
        (rng.random::<f64>() * 2.0 - 1.0) * 2f64.powi(rng.random_range(-3..3))
    });
    for s in STRATEGIES {
        let c = cfg(s, BlockShape::square(64).unwrap());
        let fold =
            |v: &ndarray::Array1<f64>| v.iter().fold(0u64, |h, x| h.rotate_left(7) ^ x.to_bits());
        let got = (
            c.sum(&x).unwrap().to_bits(),
            c.sum(x.slice(ndarray::s![.., ..;2])).unwrap().to_bits(),
            fold(&c.sum_axis(&x, Axis(0)).unwrap()),
            fold(&c.sum_axis(&x, Axis(1)).unwrap()),
        );
        assert_eq!(got, RECORDED_REDUCTIONS, "{s}");
    }
    let plain: f64 = x.iter().sum();
    assert_ne!(plain.to_bits(), RECORDED_REDUCTIONS.0, "the order shows");
}

const RECORDED_FUSED: (u64, u64, u64) = (
    4858003892049107112,
    5131442524099565678,
    14086255798453501222,
);
/// Recorded when narrow tiles of the fused products were merged into calls of up to 1024
/// columns (issue 15): here every tile row's tiles left of the diagonal (gram) or whole tile
/// row (matmul) is one call.
const RECORDED_FUSED_MERGED: (u64, u64, u64) = (
    4858003892049107106,
    5131442524099565679,
    14086255798453501220,
);
const RECORDED_REDUCTIONS: (u64, u64, u64, u64) = (
    13859247222214321804,
    13859329068615864710,
    7287272010113731885,
    10040115153379148380,
);
