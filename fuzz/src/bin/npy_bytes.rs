//! Arbitrary bytes as a `.npy` file: opening it (f64 and f32) must give a matrix or an error,
//! never a panic; a matrix it gives must sum as its elements do. `NpyReader` (positioned
//! reads, its own header parser) must accept exactly the files `NpyMap` accepts, with the same
//! shape and elements (numpy writes no header it refuses and the map takes).

use rayblas::mapped::{NpyMap, NpyReader};
use rayblas::{Config, Element};

fn check<T: Element>(path: &std::path::Path) {
    let (map, reader) = (NpyMap::<T>::open(path), NpyReader::<T>::open(path));
    // The reader takes no file the map refuses, and refuses none it takes but for what numpy
    // never writes (escapes, triple quotes, sums), which it names.
    let unwritten = |e: &rayblas::Error| e.to_string().contains("numpy writes no such thing");
    assert!(
        map.is_ok() == reader.is_ok() || reader.as_ref().err().is_some_and(unwritten),
        "map {:?}, reader {:?}",
        map.as_ref().err(),
        reader.as_ref().err()
    );
    let (Ok(map), Ok(reader)) = (map, reader) else {
        return;
    };
    let view = map.view();
    assert_eq!(reader.dim(), view.dim());
    if view.len() <= 1 << 16 {
        let read = reader.read(0..view.nrows(), 0..view.ncols()).expect("read");
        assert!(read
            .iter()
            .zip(view.iter())
            .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()));
    }
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
