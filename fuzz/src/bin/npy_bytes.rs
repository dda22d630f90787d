//! Arbitrary bytes as a `.npy` file: opening it (f64 and f32) must give a matrix or an error,
//! never a panic; a matrix it gives must sum as its elements do.

use rayblas::mapped::NpyMap;
use rayblas::{Config, Element};

fn check<T: Element>(path: &std::path::Path) {
    let Ok(map) = NpyMap::<T>::open(path) else {
        return;
    };
    let view = map.view();
    let (rows, cols) = view.dim();
    assert_eq!(rows * cols, view.len());
    if view.len() > 1 << 16 {
        return;
    }
    let got = Config::new().sum(view).expect("sum of a readable matrix");
    let want: f64 = view.iter().map(|v| v.to_f64()).sum();
    let (g, w) = (got.to_f64(), want);
    if w.is_finite() && g.is_finite() {
        let scale: f64 = view.iter().map(|v| v.to_f64().abs()).sum::<f64>().max(1.0);
        assert!((g - w).abs() <= 1e-3 * scale, "sum {g} against {w}");
    } else {
        assert_eq!(g.is_nan(), w.is_nan(), "sum {g} against {w}");
    }
}

fn main() {
    let path = std::env::temp_dir().join(format!("rayblas-fuzz-{}.npy", std::process::id()));
    afl::fuzz!(|data: &[u8]| {
        std::fs::write(&path, data).expect("write the input file");
        check::<f64>(&path);
        check::<f32>(&path);
    });
}
