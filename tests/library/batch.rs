//! Batched products against a loop of naive products, for every layout and dtype; the same bits
//! under `serial` and `blocked` at any worker count; bad batches as typed errors naming the item.

use crate::common::{assert_product, random};
use ndarray::{s, Array3, ArrayView2, ArrayView3, Axis};
use rayblas::{Config, Element, Error};

/// A seeded count×m×n batch.
fn batch<T: Element>(count: usize, m: usize, n: usize, seed: u64) -> Array3<T> {
    let flat = random::<T>(count, m * n, seed);
    flat.into_shape_with_order((count, m, n)).unwrap()
}

fn strategies() -> Vec<Config> {
    [
        "serial",
        "blocked:1",
        "blocked:2",
        "blocked:3",
        "blocked:2+pin",
    ]
    .iter()
    .map(|s| Config::new().strategy(s.parse().unwrap()))
    .collect()
}

/// `matmul_batch` of `a` and `b` under every strategy: each item against the naive product, and
/// the same bits under every strategy that makes one call per item.
fn check<T: Element>(a: ArrayView3<'_, T>, b: ArrayView3<'_, T>, what: &str) {
    let mut first: Option<Array3<T>> = None;
    for cfg in strategies() {
        let c = cfg.matmul_batch(a, b).unwrap();
        assert_eq!(c.dim(), (a.dim().0, a.dim().1, b.dim().2), "{what}");
        match &first {
            None => {
                for (i, ci) in c.outer_iter().enumerate() {
                    let ctx = format!("{what} item {i}");
                    assert_product(
                        &ci,
                        &a.index_axis(Axis(0), i),
                        &b.index_axis(Axis(0), i),
                        &ctx,
                    );
                }
                first = Some(c);
            }
            Some(f) => {
                let bits =
                    |x: &Array3<T>| x.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&c),
                    bits(f),
                    "{what}: {cfg:?} gives other bits than serial"
                );
            }
        }
    }
    // The views form gives the same bits as the 3-D form.
    let av: Vec<ArrayView2<'_, T>> = a.outer_iter().collect();
    let bv: Vec<ArrayView2<'_, T>> = b.outer_iter().collect();
    let views = Config::new().matmul_batch_views(&av, &bv).unwrap();
    let f = first.unwrap();
    for (i, v) in views.iter().enumerate() {
        let want = f.index_axis(Axis(0), i);
        assert!(
            v.iter()
                .zip(want.iter())
                .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits()),
            "{what}: views item {i}"
        );
    }
}

fn layouts<T: Element>() {
    let name = T::DTYPE.name();
    // (count, m, k, n): small and medium items, many items (grouped into tasks), 1×N, N×1,
    // empty batches and empty items.
    for (i, &(count, m, k, n)) in [
        (5, 4, 3, 2),
        (300, 8, 8, 8),
        (40, 33, 17, 20),
        (3, 1, 9, 7),
        (3, 9, 7, 1),
        (0, 4, 4, 4),
        (4, 0, 3, 2),
        (4, 3, 0, 2),
        (4, 3, 2, 0),
    ]
    .iter()
    .enumerate()
    {
        let seed = 200 + 2 * i as u64;
        let a = batch::<T>(count, m, k, seed);
        let b = batch::<T>(count, k, n, seed + 1);
        check(
            a.view(),
            b.view(),
            &format!("{name} {count}x{m}x{k}·{n} standard"),
        );
        // Each item transposed: a count×k×m array viewed with its last two axes swapped.
        let at = batch::<T>(count, k, m, seed + 7);
        let bt = batch::<T>(count, n, k, seed + 8);
        let (at, bt) = (
            at.view().permuted_axes([0, 2, 1]),
            bt.view().permuted_axes([0, 2, 1]),
        );
        check(
            at,
            bt,
            &format!("{name} {count}x{m}x{k}·{n} transposed items"),
        );
        // Strided in every axis, and the items in reverse order (a negative batch stride).
        let wide_a = batch::<T>(2 * count, 2 * m, k, seed + 9);
        let wide_b = batch::<T>(2 * count, k, 2 * n, seed + 10);
        let sa = wide_a.slice(s![..;2, ..;2, ..]);
        let sb = wide_b.slice(s![..;-2, .., ..;2]);
        check(sa, sb, &format!("{name} {count}x{m}x{k}·{n} strided"));
        // Items in axis order other than the first: the batch axis last, moved to the front.
        let last = batch::<T>(m, k, count, seed + 11);
        let moved = last.view().permuted_axes([2, 0, 1]);
        check(
            moved,
            b.view(),
            &format!("{name} {count}x{m}x{k}·{n} batch axis last"),
        );
    }
}

#[test]
fn batched_products_match_a_loop_of_naive_products_f64() {
    layouts::<f64>();
}

#[test]
fn batched_products_match_a_loop_of_naive_products_f32() {
    layouts::<f32>();
}

#[test]
fn views_of_different_shapes_in_one_batch() {
    let shapes = [
        (1, 1, 1),
        (7, 3, 5),
        (64, 64, 64),
        (2, 40, 1),
        (0, 3, 3),
        (90, 1, 2),
    ];
    let a: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(m, k, _))| random::<f64>(m, k, 300 + i as u64))
        .collect();
    let b: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(_, k, n))| random::<f64>(k, n, 400 + i as u64))
        .collect();
    let av: Vec<_> = a.iter().map(|x| x.view()).collect();
    // One operand transposed in place: a view of another layout among them.
    let bt: Vec<_> = b.iter().map(|x| x.t().to_owned()).collect();
    let mut bv: Vec<_> = b.iter().map(|x| x.view()).collect();
    bv[1] = bt[1].t();
    for cfg in strategies() {
        let c = cfg.matmul_batch_views(&av, &bv).unwrap();
        assert_eq!(c.len(), shapes.len());
        for (i, ci) in c.iter().enumerate() {
            assert_product(&ci.view(), &av[i], &bv[i], &format!("{cfg:?} item {i}"));
        }
    }
}

#[test]
fn bad_batches_are_shape_errors_naming_the_item() {
    let cfg = Config::new();
    let (a, b) = (batch::<f64>(3, 4, 5, 1), batch::<f64>(2, 5, 6, 2));
    match cfg.matmul_batch(&a, &b) {
        Err(Error::ShapeMismatch { op, got, .. }) => {
            assert_eq!(op, "matmul_batch");
            assert!(got.contains("2 items"), "{got}");
        }
        other => panic!("count mismatch: {other:?}"),
    }
    let b = batch::<f64>(3, 4, 6, 2);
    match cfg.matmul_batch(&a, &b) {
        Err(Error::ShapeMismatch { expected, .. }) => {
            assert!(expected.contains("item 0"), "{expected}")
        }
        other => panic!("inner mismatch: {other:?}"),
    }
    let x = random::<f64>(4, 5, 3);
    let (y, z) = (random::<f64>(5, 2, 4), random::<f64>(6, 2, 5));
    let av = [x.view(), x.view(), x.view(), x.view()];
    let bv = [y.view(), y.view(), y.view(), z.view()];
    match cfg.matmul_batch_views(&av, &bv) {
        Err(Error::ShapeMismatch { expected, got, .. }) => {
            assert!(expected.contains("item 3"), "{expected}");
            assert!(got.contains("b[3] of shape 6x2"), "{got}");
        }
        other => panic!("item 3: {other:?}"),
    }
    match cfg.matmul_batch_views(&av, &bv[..2]) {
        Err(Error::ShapeMismatch { got, .. }) => assert!(got.contains("2 items"), "{got}"),
        other => panic!("views count: {other:?}"),
    }
}

/// `native` is one call of the library's batched GEMM where it has one (the openblas-scipy
/// backend), else a clear `UnsupportedStrategy`; its results match the naive products.
#[test]
fn native_batches_use_the_librarys_call_or_say_why_not() {
    let native = Config::new().strategy("native".parse().unwrap());
    // Items beyond 100³ flops/2: OpenBLAS 0.3.34 crashes on smaller ones (refused below).
    let a = batch::<f64>(6, 110, 90, 11);
    let b = batch::<f64>(6, 90, 120, 12);
    let has = cfg!(feature = "openblas-scipy");
    for (x, y, what) in [
        (a.view(), b.view(), "standard"),
        (
            a.slice(s![..;-1, .., ..]),
            b.slice(s![..;-1, .., ..]),
            "reversed",
        ),
    ] {
        match native.matmul_batch(x, y) {
            Ok(c) => {
                assert!(
                    has,
                    "{} has no batched GEMM, yet native ran",
                    rayblas::blas::BACKEND
                );
                for (i, ci) in c.outer_iter().enumerate() {
                    let ctx = format!("native {what} item {i}");
                    assert_product(
                        &ci,
                        &x.index_axis(Axis(0), i),
                        &y.index_axis(Axis(0), i),
                        &ctx,
                    );
                }
            }
            Err(Error::UnsupportedStrategy { reason, .. }) => {
                assert!(
                    !has,
                    "openblas-scipy has cblas_dgemm_batch_strided: {reason}"
                );
                assert!(reason.contains("batched GEMM"), "{reason}");
            }
            Err(e) => panic!("native {what}: {e}"),
        }
    }
    let f32s = (batch::<f32>(3, 101, 100, 13), batch::<f32>(3, 100, 100, 14));
    assert_eq!(native.matmul_batch(&f32s.0, &f32s.1).is_ok(), has, "f32");
    // Small items: refused with the reason on every backend linked today, not a crash.
    let small = (batch::<f64>(20, 3, 3, 15), batch::<f64>(20, 3, 3, 16));
    match native.matmul_batch(&small.0, &small.1) {
        Err(Error::UnsupportedStrategy { reason, .. }) => {
            assert!(reason.contains("batched GEMM"), "{reason}")
        }
        other => panic!("small items under native: {other:?}"),
    }
    let av: Vec<_> = a.outer_iter().collect();
    let bv: Vec<_> = b.outer_iter().collect();
    assert!(matches!(
        native.matmul_batch_views(&av, &bv),
        Err(Error::UnsupportedStrategy { .. })
    ));
}

/// `gram_batch` under every strategy: each item the bits of `Config::gram` on it (a small item
/// is one syrk there too), whatever the worker count; against the naive product; for every
/// layout, both dtypes, and thin and empty shapes.
fn check_gram<T: Element>(x: ArrayView3<'_, T>, what: &str) {
    let bits = |x: ArrayView2<'_, T>| x.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
    for cfg in strategies() {
        let g = cfg.gram_batch(x).unwrap();
        assert_eq!(g.dim(), (x.dim().0, x.dim().1, x.dim().1), "{what}");
        for (i, (gi, xi)) in g.outer_iter().zip(x.outer_iter()).enumerate() {
            let ctx = format!("{what} item {i} under {cfg:?}");
            assert_product(&gi, &xi, &xi.t(), &ctx);
            let one = Config::new()
                .strategy("serial".parse().unwrap())
                .gram(xi)
                .unwrap();
            assert_eq!(bits(gi), bits(one.view()), "{ctx}: not the bits of gram");
        }
    }
}

fn gram_layouts<T: Element>() {
    let name = T::DTYPE.name();
    for (i, &(count, n, k)) in [
        (5, 4, 3),
        (300, 8, 8),
        (40, 33, 17),
        (3, 1, 9),
        (3, 9, 1),
        (0, 4, 4),
        (4, 0, 3),
        (4, 3, 0),
    ]
    .iter()
    .enumerate()
    {
        let seed = 400 + 3 * i as u64;
        let x = batch::<T>(count, n, k, seed);
        check_gram(x.view(), &format!("{name} gram {count}x{n}x{k} standard"));
        let xt = batch::<T>(count, k, n, seed + 1);
        check_gram(
            xt.view().permuted_axes([0, 2, 1]),
            &format!("{name} gram {count}x{n}x{k} transposed items"),
        );
        let wide = batch::<T>(2 * count, 2 * n, k, seed + 2);
        check_gram(
            wide.slice(s![..;-2, ..;2, ..]),
            &format!("{name} gram {count}x{n}x{k} strided, reversed"),
        );
    }
}

#[test]
fn gram_batches_are_the_bits_of_gram_per_item_f64() {
    gram_layouts::<f64>();
}

#[test]
fn gram_batches_are_the_bits_of_gram_per_item_f32() {
    gram_layouts::<f32>();
}

/// A Gram batch under `native`: the library's batched GEMM where it has one, else the reason.
#[test]
fn native_gram_batches_use_the_librarys_call_or_say_why_not() {
    let native = Config::new().strategy("native".parse().unwrap());
    let has = cfg!(feature = "openblas-scipy");
    let x = batch::<f64>(4, 110, 90, 21);
    match native.gram_batch(&x) {
        Ok(g) => {
            assert!(has, "native ran without a batched GEMM");
            for (i, (gi, xi)) in g.outer_iter().zip(x.outer_iter()).enumerate() {
                assert_product(&gi, &xi, &xi.t(), &format!("native gram item {i}"));
            }
        }
        Err(Error::UnsupportedStrategy { reason, .. }) => {
            assert!(!has, "{reason}");
            assert!(reason.contains("batched GEMM"), "{reason}");
        }
        Err(e) => panic!("native gram batch: {e}"),
    }
}
