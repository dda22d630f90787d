//! Guarantee "a fault inside a tile": a panic in one BLAS tile (injected through the test-only
//! `Config::panic_at_item`) reaches the caller as a panic carrying its message, the library's
//! thread count is what it was before, and the next call on the same pools gives the same
//! answer as before the fault. Unit tests because the injection point is not public.

use crate::{blas, BlockShape, Config, Reduction, Strategy};
use ndarray::Array2;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn filled(rows: usize, cols: usize, salt: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 7 + j * 13 + salt) % 17) as f64 / 17.0 - 0.5
    })
}

/// One operation, its result flattened for comparison.
type Op = fn(&Config, &Array2<f64>, &Array2<f64>) -> Vec<f64>;

fn ops() -> Vec<(&'static str, Op)> {
    vec![
        ("matmul", |c, a, b| {
            c.matmul(a, b).unwrap().into_raw_vec_and_offset().0
        }),
        ("gram", |c, a, _| {
            c.gram(a).unwrap().into_raw_vec_and_offset().0
        }),
        ("gram_reduce sum", |c, a, _| {
            vec![c.gram_reduce(a, Reduction::Sum).unwrap()]
        }),
        ("matmul_reduce max", |c, a, b| {
            vec![c.matmul_reduce(a, b, Reduction::Max).unwrap()]
        }),
    ]
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn guarantee_a_panic_in_a_tile_reaches_the_caller_and_leaves_the_library_usable() {
    // Over 3072 rows: the calls of the stored products cover bands of about 1024 rows
    // (`Calls::call_side`), and gram then still has four calls or more. The inner dimension
    // plays no part in the cut, so it is short: the reference BLAS runs this test too.
    let a = filled(3100, 24, 0);
    let b = filled(24, 250, 5);
    let before = blas::threads::count_when_idle();
    let mut checked = 0;
    for text in [
        "serial",
        "native",
        "blocked",
        "blocked:1",
        "blocked:3",
        "hybrid:2x2",
    ] {
        let strategy: Strategy = text.parse().unwrap();
        if strategy.resolve().is_err() {
            continue; // e.g. hybrid on a backend with one process-wide count
        }
        let config = Config::new()
            .strategy(strategy)
            .block(BlockShape::square(64).unwrap());
        // Item 0 exists under every strategy; item 3 under the blocked ones (4 bands of rows or
        // more).
        let faults: &[usize] = if text.starts_with("blocked") {
            &[0, 3]
        } else {
            &[0]
        };
        for (name, op) in ops() {
            let want = op(&config, &a, &b);
            for &at in faults {
                let faulty = config.panic_at_item(Some(at));
                let Err(payload) = catch_unwind(AssertUnwindSafe(|| op(&faulty, &a, &b))) else {
                    panic!("{text} {name}: tile {at} did not panic");
                };
                assert!(
                    message(&*payload).contains(&format!("injected fault in tile {at}")),
                    "{text} {name}: the caller got `{}`",
                    message(&*payload)
                );
                assert_eq!(
                    blas::threads::count_when_idle(),
                    before,
                    "{text} {name}: BLAS thread count after the fault"
                );
                let again = op(&config, &a, &b);
                assert!(
                    again
                        .iter()
                        .zip(&want)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{text} {name}: the call after the fault differs"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 4, "only {checked} faults checked");
}
