//! Memory-mapped `.npy` files streamed out of core: results against the in-memory methods on
//! the same data, for both dtypes, both storage orders, ragged chunks and every strategy; bad
//! files are errors that name the file and what is wrong.

use crate::common::*;
use ndarray::{Array2, ShapeBuilder};
use rayblas::mapped::{write_npy, write_npy_rows, NpyMap};
use rayblas::{Config, Element, Error, Reduction};
use std::path::PathBuf;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rayblas-mapped-{}-{name}", std::process::id()))
}

/// A relative difference within `tol` of the larger magnitude.
fn close<T: Element>(got: T, want: T, tol: f64) -> bool {
    let (g, w) = (got.to_f64(), want.to_f64());
    g == w || (g - w).abs() <= tol * g.abs().max(w.abs()).max(1.0)
}

/// Writes `x` in Fortran order, as numpy does for `np.save(p, np.asfortranarray(x))`.
fn write_fortran<T: Element>(path: &PathBuf, x: &Array2<T>) {
    let descr = if T::DTYPE == rayblas::Dtype::F64 {
        "<f8"
    } else {
        "<f4"
    };
    let (m, n) = x.dim();
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': True, 'shape': ({m}, {n}), }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    // Column-major: the transpose's elements in row-major order.
    for v in x.t().iter() {
        match T::DTYPE {
            rayblas::Dtype::F64 => bytes.extend_from_slice(&v.to_f64().to_le_bytes()),
            rayblas::Dtype::F32 => bytes.extend_from_slice(&(v.to_f64() as f32).to_le_bytes()),
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn check_streamed<T: Element>(tol: f64) {
    // Ragged: chunks of 4 KiB leave partial chunks and partial pages at every edge (a row of
    // 37 × 600 f64 is 4800 bytes, more than one chunk, and 600 columns are 43 pages and a part).
    for (i, &(m, k)) in [(37, 600), (1, 900), (900, 1), (64, 64), (0, 5), (5, 0)]
        .iter()
        .enumerate()
    {
        let x = random::<T>(m, k, 7 + i as u64);
        for fortran in [false, true] {
            let path = temp(&format!("{}-{m}x{k}-{fortran}.npy", T::DTYPE.name()));
            if fortran {
                write_fortran(&path, &x);
            } else {
                write_npy(&path, &x.view()).unwrap();
            }
            let map = NpyMap::<T>::open(&path).unwrap();
            assert_eq!(
                (map.dim(), map.is_fortran()),
                ((m, k), fortran && m > 1 && k > 1)
            );
            assert_eq!(map.view(), x.view());
            for strategy in strategies() {
                let cfg = Config::new().strategy(strategy);
                let ctx = format!("{m}x{k} fortran={fortran} {strategy:?}");
                for chunk in [4096, 1 << 26] {
                    let xm = map.matrix().chunk_bytes(chunk);
                    for r in [
                        Reduction::Sum,
                        Reduction::SumOfSquares,
                        Reduction::Max,
                        Reduction::Min,
                    ] {
                        let want = match r {
                            Reduction::Sum => cfg.sum(&x),
                            Reduction::SumOfSquares => cfg.sum_of_squares(&x),
                            Reduction::Max => cfg.max(&x),
                            Reduction::Min => cfg.min(&x),
                        };
                        let got = cfg.reduce_mapped(xm, r);
                        match (got, want) {
                            (Ok(g), Ok(w)) => assert!(close(g, w, tol), "{ctx} {r:?}: {g} vs {w}"),
                            (
                                Err(Error::EmptyReduction { .. }),
                                Err(Error::EmptyReduction { .. }),
                            ) => {}
                            (g, w) => panic!("{ctx} {r:?}: {g:?} vs {w:?}"),
                        }
                    }
                    let (g, w) = (cfg.norm_mapped(xm).unwrap(), cfg.norm(&x).unwrap());
                    assert!(close(g, w, tol), "{ctx} norm: {g} vs {w}");

                    let gram = cfg.gram(&x).unwrap();
                    let streamed = cfg.gram_mapped(xm).unwrap();
                    assert_eq!(streamed.dim(), gram.dim());
                    for (g, w) in streamed.iter().zip(gram.iter()) {
                        assert!(close(*g, *w, tol), "{ctx} gram: {g} vs {w}");
                    }
                    let (g, w) = (
                        cfg.gram_reduce_mapped(xm, Reduction::Sum).unwrap(),
                        cfg.gram_sum(&x).unwrap(),
                    );
                    assert!(close(g, w, tol), "{ctx} gram-sum: {g} vs {w}");
                    if m > 0 {
                        let (g, w) = (
                            cfg.gram_reduce_mapped(xm, Reduction::Max).unwrap(),
                            cfg.gram_reduce(&x, Reduction::Max).unwrap(),
                        );
                        assert!(close(g, w, tol), "{ctx} gram-max: {g} vs {w}");
                    }
                    // A·Aᵀ through the same file read both ways.
                    let (g, w) = (
                        cfg.matmul_reduce_mapped(xm, xm.t(), Reduction::Sum)
                            .unwrap(),
                        cfg.matmul_reduce(&x, x.t(), Reduction::Sum).unwrap(),
                    );
                    assert!(close(g, w, tol), "{ctx} matmul-sum: {g} vs {w}");
                    if m > 0 {
                        let (g, w) = (
                            cfg.matmul_reduce_mapped(xm.t(), xm, Reduction::SumOfSquares)
                                .unwrap(),
                            cfg.matmul_reduce(x.t(), &x, Reduction::SumOfSquares)
                                .unwrap(),
                        );
                        assert!(close(g, w, tol), "{ctx} matmul-sumsq: {g} vs {w}");
                    }
                    let c = cfg.matmul_mapped(xm.t(), xm).unwrap();
                    let want = cfg.matmul(x.t(), &x).unwrap();
                    for (g, w) in c.iter().zip(want.iter()) {
                        assert!(close(*g, *w, tol), "{ctx} matmul: {g} vs {w}");
                    }
                }
            }
            drop(map);
            std::fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn streamed_results_equal_the_in_memory_ones_f64() {
    check_streamed::<f64>(1e-12);
}

#[test]
fn streamed_results_equal_the_in_memory_ones_f32() {
    check_streamed::<f32>(2e-4);
}

#[test]
fn a_streamed_result_is_reproducible() {
    let x = random::<f64>(50, 3000, 3);
    let path = temp("repro.npy");
    write_npy(&path, &x.view()).unwrap();
    let map = NpyMap::<f64>::open(&path).unwrap();
    let xm = map.matrix().chunk_bytes(8192);
    let cfg = Config::new();
    let first = cfg.gram_reduce_mapped(xm, Reduction::Sum).unwrap();
    for _ in 0..3 {
        assert_eq!(
            cfg.gram_reduce_mapped(xm, Reduction::Sum)
                .unwrap()
                .to_bits(),
            first.to_bits()
        );
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn files_written_by_rows_equal_the_matrix_and_leave_no_partial_file() {
    let x = random::<f32>(103, 17, 5);
    let path = temp("rows.npy");
    write_npy_rows(&path, x.dim(), 10, |r| {
        x.slice(ndarray::s![r, ..]).to_owned()
    })
    .unwrap();
    assert_eq!(NpyMap::<f32>::open(&path).unwrap().view(), x.view());
    // numpy's reader agrees with ours on the header (ndarray-npy reads it the same way).
    let back: Array2<f32> = ndarray::Array2::from_shape_vec(
        (103, 17).f(),
        NpyMap::<f32>::open(&path)
            .unwrap()
            .view()
            .t()
            .iter()
            .copied()
            .collect(),
    )
    .unwrap();
    assert_eq!(back, x);
    std::fs::remove_file(&path).unwrap();

    // A producer that fails half way leaves nothing under the final name, nor a temporary.
    let err = write_npy_rows(&path, (20, 4), 5, |r| {
        Array2::<f64>::zeros((if r.start >= 10 { 1 } else { r.len() }, 4))
    })
    .unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    assert!(!path.exists());
    let dir = std::fs::read_dir(std::env::temp_dir()).unwrap();
    let stem = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(dir.filter_map(|e| e.ok()).all(|e| !e
        .file_name()
        .to_string_lossy()
        .contains(&format!(".{stem}.partial"))));
}

#[test]
fn bad_files_are_errors_that_say_what_is_wrong() {
    let x = random::<f64>(20, 30, 1);
    let path = temp("bad.npy");
    write_npy(&path, &x.view()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let msg = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        match NpyMap::<f64>::open(&path) {
            Err(e @ Error::Io { .. }) => e.to_string(),
            Err(e) => panic!("not an Io error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    };
    // Truncated: the data is shorter than the header says.
    let m = msg(&good[..good.len() - 8]);
    assert!(
        m.contains("shorter than its header says") && m.contains("bad.npy"),
        "{m}"
    );
    // A header that lies about the shape (20 rows claimed as 21).
    let lying = |shape: &[u8]| {
        let mut b = good.clone();
        let at = b.windows(8).position(|w| w == b"(20, 30)").unwrap();
        b[at..at + 8].copy_from_slice(shape);
        b
    };
    assert!(msg(&lying(b"(21, 30)")).contains("shorter than its header says"));
    assert!(msg(&lying(b"(19, 30)")).contains("after the data its header describes"));
    // Not an .npy file at all, and an empty file.
    assert!(msg(b"hello, world").contains("not a valid .npy file"));
    assert!(msg(b"").contains("not a valid .npy file (too short for a header)"));
    // The wrong dtype.
    std::fs::write(&path, &good).unwrap();
    let e = NpyMap::<f32>::open(&path).err().unwrap().to_string();
    assert!(e.contains("<f8") && e.contains("not f32"), "{e}");
    // A missing file.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(NpyMap::<f64>::open(&path), Err(Error::Io { .. })));
    // Mismatched operands of a product.
    let (a, b) = (temp("a.npy"), temp("b.npy"));
    write_npy(&a, &random::<f64>(4, 5, 1).view()).unwrap();
    write_npy(&b, &random::<f64>(6, 4, 1).view()).unwrap();
    let (ma, mb) = (
        NpyMap::<f64>::open(&a).unwrap(),
        NpyMap::<f64>::open(&b).unwrap(),
    );
    let cfg = Config::new();
    assert!(matches!(
        cfg.matmul_mapped(ma.matrix(), mb.matrix()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        cfg.matmul_reduce_mapped(ma.matrix(), mb.matrix(), Reduction::Sum),
        Err(Error::ShapeMismatch { .. })
    ));
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
}

/// Files in the temporary directory whose names contain `stem`: an output and any partial
/// file of it.
fn files_named(stem: &str) -> Vec<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(stem))
        .collect()
}

fn check_written<T: Element>(tol: f64) {
    // Output blocks of 2 KiB to 1 MiB: one block, row panels, and near-square blocks with
    // ragged edges both ways (37 is prime), with several ranges of k per block.
    for (i, &(m, k)) in [(37, 300), (1, 300), (300, 1), (70, 0), (0, 9)]
        .iter()
        .enumerate()
    {
        let x = random::<T>(m, k, 40 + i as u64);
        for fortran in [false, true] {
            let input = temp(&format!("out-in-{}-{m}x{k}-{fortran}.npy", T::DTYPE.name()));
            if fortran {
                write_fortran(&input, &x);
            } else {
                write_npy(&input, &x.view()).unwrap();
            }
            let map = NpyMap::<T>::open(&input).unwrap();
            let output = temp(&format!("written-{}.npy", T::DTYPE.name()));
            for strategy in strategies() {
                let cfg = Config::new().strategy(strategy);
                for chunk in [2048, 20 << 10, 1 << 20] {
                    let ctx = format!("{m}x{k} fortran={fortran} {strategy:?} chunk {chunk}");
                    let xm = map.matrix().chunk_bytes(chunk);

                    cfg.gram_to_npy(xm, &output).unwrap();
                    let got = NpyMap::<T>::open(&output).unwrap();
                    let want = cfg.gram(&x).unwrap();
                    assert_eq!(got.dim(), want.dim(), "{ctx}");
                    assert!(!got.is_fortran());
                    let g = got.view();
                    for ((r, c), w) in want.indexed_iter() {
                        assert!(
                            close(g[(r, c)], *w, tol),
                            "{ctx} gram ({r},{c}): {} vs {w}",
                            g[(r, c)]
                        );
                        assert_eq!(
                            g[(r, c)].to_f64().to_bits(),
                            g[(c, r)].to_f64().to_bits(),
                            "{ctx} symmetric"
                        );
                    }
                    drop(got);

                    // Xᵀ·X (k×k) from the same file read transposed, and X·Xᵀ as a matmul.
                    for (a, b, want) in [(xm.t(), xm, x.t().dot(&x)), (xm, xm.t(), x.dot(&x.t()))] {
                        cfg.matmul_to_npy(a, b, &output).unwrap();
                        let got = NpyMap::<T>::open(&output).unwrap();
                        assert_eq!(got.dim(), want.dim(), "{ctx}");
                        for (g, w) in got.view().iter().zip(want.iter()) {
                            assert!(close(*g, *w, tol), "{ctx} matmul: {g} vs {w}");
                        }
                    }
                }
            }
            std::fs::remove_file(&output).ok();
            std::fs::remove_file(&input).ok();
        }
    }
    let left = files_named(&format!(
        "mapped-{}-written-{}",
        std::process::id(),
        T::DTYPE.name()
    ));
    assert!(left.iter().all(|n| !n.contains("partial")), "{left:?}");
}

#[test]
fn products_written_to_npy_files_equal_the_in_memory_ones_f64() {
    check_written::<f64>(1e-12);
}

#[test]
fn products_written_to_npy_files_equal_the_in_memory_ones_f32() {
    check_written::<f32>(2e-5);
}

#[test]
fn a_product_written_to_a_file_is_reproducible() {
    let x = random::<f64>(50, 3000, 3);
    let input = temp("repro-out-in.npy");
    write_npy(&input, &x.view()).unwrap();
    let map = NpyMap::<f64>::open(&input).unwrap();
    let output = temp("repro-out.npy");
    let read = || std::fs::read(&output).unwrap();
    for strategy in strategies() {
        let cfg = Config::new().strategy(strategy);
        let xm = map.matrix().chunk_bytes(8 << 10);
        cfg.gram_to_npy(xm, &output).unwrap();
        let first = read();
        cfg.gram_to_npy(xm, &output).unwrap();
        assert!(first == read(), "{strategy:?}: gram differs between runs");
        cfg.matmul_to_npy(xm, xm.t(), &output).unwrap();
        let first = read();
        cfg.matmul_to_npy(xm, xm.t(), &output).unwrap();
        assert!(first == read(), "{strategy:?}: matmul differs between runs");
    }
    std::fs::remove_file(&output).ok();
    std::fs::remove_file(&input).ok();
}

#[test]
fn an_output_the_disk_cannot_hold_is_refused_before_anything_is_written() {
    // A 3000000×1 input makes a 3000000² Gram matrix: 65.5 TiB.
    let x = Array2::<f64>::ones((3_000_000, 1));
    let input = temp("room-in.npy");
    write_npy(&input, &x.view()).unwrap();
    let map = NpyMap::<f64>::open(&input).unwrap();
    let stem = format!("mapped-{}-room-out", std::process::id());
    let output = std::env::temp_dir().join(format!("{stem}.npy"));
    let err = Config::new()
        .gram_to_npy(map.matrix(), &output)
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        text.contains("needs 65.5 TiB on disk") && text.contains("free"),
        "{text}"
    );
    assert_eq!(files_named(&stem), Vec::<String>::new());
    let err = Config::new()
        .matmul_to_npy(map.matrix(), map.matrix().t(), temp("no-such-dir/c.npy"))
        .unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    std::fs::remove_file(&input).ok();
}

/// Found by fuzzing (`fuzz/`, target `npy_bytes`): a header of nested braces held
/// ndarray-npy's parser for minutes. It is refused at once now; the watchdog fails the test if
/// it ever hangs again.
#[test]
fn a_header_of_nested_brackets_is_refused_at_once() {
    crate::common::with_watchdog(std::time::Duration::from_secs(20), || {
        for (open, close) in [("{", "}"), ("(", ")"), ("[", "]")] {
            let mut text = format!(
                "{}'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), {}",
                open.repeat(30),
                close
            );
            while (10 + text.len() + 1) % 64 != 0 {
                text.push(' ');
            }
            text.push('\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend((text.len() as u16).to_le_bytes());
            bytes.extend(text.as_bytes());
            bytes.extend([0u8; 32]);
            let path = temp(&format!("nested-{}.npy", open.as_bytes()[0]));
            std::fs::write(&path, &bytes).unwrap();
            let err = NpyMap::<f64>::open(&path).err().expect("refused");
            assert!(err.to_string().contains("nested brackets"), "{err}");
            std::fs::remove_file(&path).ok();
        }
    });
}

#[test]
fn an_output_naming_an_input_is_refused_and_the_input_kept() {
    let x = random::<f64>(12, 7, 3);
    let input = temp("same-in.npy");
    write_npy(&input, &x.view()).unwrap();
    let map = NpyMap::<f64>::open(&input).unwrap();
    for err in [
        Config::new().gram_to_npy(map.matrix(), &input).unwrap_err(),
        Config::new()
            .matmul_to_npy(map.matrix(), map.matrix().t(), &input)
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(
            err.to_string().contains("is an input of this product"),
            "{err}"
        );
    }
    drop(map);
    assert_eq!(NpyMap::<f64>::open(&input).unwrap().view(), x.view());
    // A directory is not a .npy file.
    let err = NpyMap::<f64>::open(std::env::temp_dir())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("is a directory"), "{err}");
    std::fs::remove_file(&input).ok();
}

#[test]
fn an_input_that_changes_during_a_written_product_leaves_no_output() {
    let x = random::<f64>(40, 5000, 9);
    let input = temp("shrink-in.npy");
    write_npy(&input, &x.view()).unwrap();
    let map = NpyMap::<f64>::open(&input).unwrap();
    // Truncated after it was opened and checked: the reads past the new end fail.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&input)
        .unwrap()
        .set_len(40 * 2500 * 8)
        .unwrap();
    let stem = format!("mapped-{}-shrink-out", std::process::id());
    let output = std::env::temp_dir().join(format!("{stem}.npy"));
    for result in [
        Config::new().gram_to_npy(map.matrix().chunk_bytes(8 << 10), &output),
        Config::new().matmul_to_npy(map.matrix(), map.matrix().t(), &output),
    ] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("did the file change"), "{err}");
        assert_eq!(files_named(&stem), Vec::<String>::new());
    }
    std::fs::remove_file(&input).ok();
}

/// `NpyReader` (positioned reads, no mapping) reads the same blocks as the mapping shows, for
/// both dtypes and storage orders, transposed or not, and thin and empty shapes.
fn check_reader<T: Element>() {
    use rayblas::mapped::NpyReader;
    for (m, n) in [(7, 13), (1, 9), (9, 1), (0, 5), (33, 40)] {
        let x = random::<T>(m, n, 5);
        for fortran in [false, true] {
            let path = temp(&format!("reader-{}-{m}-{n}-{fortran}.npy", T::DTYPE.name()));
            if fortran {
                write_fortran(&path, &x);
            } else {
                write_npy(&path, &x.view()).unwrap();
            }
            let r = NpyReader::<T>::open(&path).unwrap();
            assert_eq!(r.dim(), (m, n));
            assert_eq!(
                r.is_fortran(),
                NpyMap::<T>::open(&path).unwrap().is_fortran()
            );
            let t = NpyReader::<T>::open(&path).unwrap().t();
            assert_eq!(t.dim(), (n, m));
            for (rows, cols) in [(0..m, 0..n), (m / 3..m, n / 2..n), (m / 2..m / 2, 0..n)] {
                assert_eq!(
                    r.read(rows.clone(), cols.clone()).unwrap(),
                    x.slice(ndarray::s![rows.clone(), cols.clone()])
                );
                assert_eq!(
                    t.read(cols.clone(), rows.clone()).unwrap(),
                    x.t().slice(ndarray::s![cols, rows])
                );
            }
            assert!(matches!(
                r.read(0..m + 1, 0..n),
                Err(Error::ShapeMismatch { .. })
            ));
            std::fs::remove_file(&path).unwrap();
        }
    }
}

#[test]
fn the_reader_reads_the_blocks_the_mapping_shows_f64() {
    check_reader::<f64>();
}

#[test]
fn the_reader_reads_the_blocks_the_mapping_shows_f32() {
    check_reader::<f32>();
}

/// The reader refuses every file the mapping refuses, with the same reason, and a file cut
/// short after opening is an error at the read, not a fault.
#[test]
fn the_reader_refuses_what_the_mapping_refuses() {
    use rayblas::mapped::NpyReader;
    let path = temp("reader-bad.npy");
    write_npy(&path, &random::<f64>(20, 30, 1).view()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let with_header = |dict: &str| {
        let mut text = dict.to_string();
        while (10 + text.len() + 1) % 64 != 0 {
            text.push(' ');
        }
        text.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((text.len() as u16).to_le_bytes());
        b.extend(text.as_bytes());
        b.extend([0u8; 48]);
        b
    };
    let replaced = |from: &[u8], to: &[u8]| {
        let mut b = good.clone();
        let at = b.windows(from.len()).position(|w| w == from).unwrap();
        b.splice(at..at + from.len(), to.iter().copied());
        b
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 8].to_vec()),
        ("more rows claimed", replaced(b"(20, 30)", b"(21, 30)")),
        ("fewer rows claimed", replaced(b"(20, 30)", b"(19, 30)")),
        ("not npy", b"hello, world".to_vec()),
        ("empty", Vec::new()),
        ("f32 data", replaced(b"<f8", b"<f4")),
        ("big-endian", replaced(b"<f8", b">f8")),
        ("integers", replaced(b"<f8", b"<i8")),
        (
            "3-D",
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 1), }"),
        ),
        (
            "1-D",
            with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }"),
        ),
        (
            "nested",
            with_header("{{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }}"),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let (map, read) = (NpyMap::<f64>::open(&path), NpyReader::<f64>::open(&path));
        let (Err(Error::Io { reason: m, .. }), Err(e @ Error::Io { .. })) = (map, read) else {
            panic!("{what}: both must refuse it with an I/O error");
        };
        let key = |s: &str| s.split([':', '(']).next().unwrap_or("").trim().to_string();
        assert!(
            e.to_string().contains(&key(&m)),
            "{what}: the map says {m:?}, the reader {e}"
        );
        assert!(e.to_string().contains("reader-bad.npy"), "{e}");
    }
    // Cut short after opening: the read is an error naming the file.
    std::fs::write(&path, &good).unwrap();
    let r = NpyReader::<f64>::open(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let e = r.read(0..20, 0..30).unwrap_err().to_string();
    assert!(
        e.contains("reader-bad.npy") && e.contains("did the file change"),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        NpyReader::<f64>::open(&path),
        Err(Error::Io { .. })
    ));
}
