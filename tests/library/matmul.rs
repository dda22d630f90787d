//! Products against a naive reference: every shape class, layout, strategy and dtype.

use crate::common::*;
use ndarray::{s, Array2, ShapeBuilder};
use rayblas::{BlockShape, Calls, Config, Element, Error, Reduction, Strategy};

/// Both ways of mapping tiles to BLAS calls.
const CALLS: [Calls; 2] = [Calls::Strips, Calls::Tiles];

const SHAPES: &[(usize, usize, usize)] = &[
    (7, 5, 6),
    (40, 3, 1),  // N×1
    (1, 30, 45), // 1×N
    (45, 30, 1),
    (64, 1, 64),   // k = 1
    (0, 4, 3),     // empty rows
    (3, 0, 4),     // empty inner: C = 0
    (5, 6, 0),     // empty columns
    (61, 17, 23),  // ragged tiles with block 8
    (20, 2000, 9), // thin: k split among the cores
];

fn blocks() -> Vec<Option<BlockShape>> {
    vec![
        None,
        Some(BlockShape::square(1).unwrap()),
        Some(BlockShape::new(8, 5).unwrap()),
        Some(BlockShape::square(10_000).unwrap()), // larger than the matrix: one tile
    ]
}

fn check_all_products<T: Element>() {
    for (i, &(m, k, n)) in SHAPES.iter().enumerate() {
        let a = random::<T>(m, k, 10 + i as u64);
        let b = random::<T>(k, n, 100 + i as u64);
        for strategy in strategies() {
            for (block, calls) in blocks().into_iter().flat_map(|b| CALLS.map(|c| (b, c))) {
                let mut cfg = Config::new().strategy(strategy).calls(calls);
                if let Some(b) = block {
                    cfg = cfg.block(b);
                }
                let what = format!(
                    "{m}x{k}x{n} {strategy} block {block:?} {calls} {}",
                    T::DTYPE.name()
                );
                let c = cfg.matmul(&a, &b).unwrap();
                assert_product(&c.view(), &a.view(), &b.view(), &what);
            }
        }
    }
}

#[test]
fn matmul_f64_all_shapes_strategies_blocks() {
    check_all_products::<f64>();
}

#[test]
fn matmul_f32_all_shapes_strategies_blocks() {
    check_all_products::<f32>();
}

#[test]
fn ragged_1001_block_250() {
    let a = random::<f64>(1001, 40, 1);
    let b = random::<f64>(40, 1001, 2);
    for s in ["blocked:2", "serial", "native"] {
        for calls in CALLS {
            let cfg = Config::new()
                .strategy(s.parse().unwrap())
                .block(BlockShape::square(250).unwrap())
                .calls(calls);
            let c = cfg.matmul(&a, &b).unwrap();
            assert_product(&c.view(), &a.view(), &b.view(), &format!("{s} {calls}"));
        }
    }
}

#[test]
fn transposed_strided_and_fortran_views() {
    let big_a = random::<f64>(50, 60, 3);
    let big_b = random::<f64>(70, 40, 4);
    let a_t = big_a.t(); // 60×50, column-major view
    let b_strided = big_b.slice(s![..;2, 1..;3]); // 35×13, no unit stride
    let a_slice = big_a.slice(s![10..45;1, 0..35]); // 35×35 window
    let mut f = Array2::<f64>::zeros((35, 13).f());
    f.assign(&b_strided);
    for (strategy, calls) in strategies().into_iter().flat_map(|s| CALLS.map(|c| (s, c))) {
        let cfg = Config::new()
            .strategy(strategy)
            .block(BlockShape::new(9, 4).unwrap())
            .calls(calls);
        let c1 = cfg.matmul(a_slice, b_strided).unwrap();
        assert_product(&c1.view(), &a_slice, &b_strided, "window × strided");
        let c2 = cfg.matmul(f.t(), a_t.slice(s![..35, ..])).unwrap();
        assert_product(
            &c2.view(),
            &f.t(),
            &a_t.slice(s![..35, ..]),
            "fortran.t × transposed",
        );
        let c3 = cfg.matmul(a_slice.slice(s![..;-1, ..]), &f).unwrap();
        assert_product(
            &c3.view(),
            &a_slice.slice(s![..;-1, ..]),
            &f.view(),
            "negative stride",
        );
    }
}

#[test]
fn matmul_into_alpha_beta_into_strided_output() {
    let a = random::<f64>(23, 11, 5);
    let b = random::<f64>(11, 19, 6);
    let c0 = random::<f64>(46, 38, 7);
    for (strategy, calls) in strategies().into_iter().flat_map(|s| CALLS.map(|c| (s, c))) {
        let mut big = c0.clone();
        let cfg = Config::new()
            .strategy(strategy)
            .block(BlockShape::new(5, 7).unwrap())
            .calls(calls);
        // Every other row and column of `big`: an output no BLAS can write in place.
        cfg.matmul_into(0.5, &a, &b, -2.0, big.slice_mut(s![..;2, ..;2]))
            .unwrap();
        let (ab, mag) = naive_matmul(&a.view(), &b.view());
        for i in 0..46 {
            for j in 0..38 {
                let got = big[[i, j]];
                if i % 2 == 0 && j % 2 == 0 {
                    let want = 0.5 * ab[[i / 2, j / 2]] - 2.0 * c0[[i, j]];
                    let tol = 30.0 * f64::EPSILON * (mag[[i / 2, j / 2]] + c0[[i, j]].abs() * 2.0);
                    assert!(
                        (got - want).abs() <= tol,
                        "{strategy} ({i},{j}) {got} vs {want}"
                    );
                } else {
                    assert_eq!(
                        got,
                        c0[[i, j]],
                        "{strategy}: untouched element ({i},{j}) changed"
                    );
                }
            }
        }
        // beta = 0 must overwrite NaN in C (as BLAS does).
        let mut c = Array2::from_elem((23, 19), f64::NAN);
        cfg.matmul_into(1.0, &a, &b, 0.0, c.view_mut()).unwrap();
        assert_product(&c.view(), &a.view(), &b.view(), "beta 0 over NaN");
    }
}

#[test]
fn gram_and_gram_t_are_exact_symmetric_and_correct() {
    for &(n, k, block) in &[
        (61usize, 9usize, 8usize),
        (1, 5, 3),
        (0, 4, 2),
        (30, 1, 7),
        (25, 40, 100),
        (97, 13, 10), // nine strips left of the last diagonal tile
    ] {
        let x = random::<f64>(n, k, n as u64);
        let xf = random::<f32>(n, k, n as u64);
        for (strategy, calls) in strategies().into_iter().flat_map(|s| CALLS.map(|c| (s, c))) {
            let cfg = Config::new()
                .strategy(strategy)
                .block(BlockShape::square(block).unwrap())
                .calls(calls);
            let g = cfg.gram(&x).unwrap();
            assert_product(
                &g.view(),
                &x.view(),
                &x.t(),
                &format!("gram {n}x{k} {strategy}"),
            );
            assert_eq!(g, g.t(), "gram is exactly symmetric");
            let gt = cfg.gram_t(&x).unwrap();
            assert_product(
                &gt.view(),
                &x.t(),
                &x.view(),
                &format!("gram_t {n}x{k} {strategy}"),
            );
            let gf = cfg.gram(&xf).unwrap();
            assert_product(
                &gf.view(),
                &xf.view(),
                &xf.t(),
                &format!("gram f32 {n}x{k} {strategy}"),
            );
        }
    }
}

fn reference_reduce(c: &Array2<f64>, r: Reduction) -> f64 {
    match r {
        Reduction::Sum => c.sum(),
        Reduction::SumOfSquares => c.iter().map(|v| v * v).sum(),
        Reduction::Max => c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Reduction::Min => c.iter().copied().fold(f64::INFINITY, f64::min),
    }
}

#[test]
fn fused_reductions_match_the_materialised_product() {
    let x = random::<f64>(53, 21, 8);
    let y = random::<f64>(21, 37, 9);
    let (xy, xy_mag) = naive_matmul(&x.view(), &y.view());
    let (xx, xx_mag) = naive_matmul(&x.view(), &x.t());
    for r in [
        Reduction::Sum,
        Reduction::SumOfSquares,
        Reduction::Max,
        Reduction::Min,
    ] {
        for strategy in strategies() {
            let cfg = Config::new()
                .strategy(strategy)
                .block(BlockShape::new(8, 6).unwrap());
            for (got, want, mag) in [
                (
                    cfg.matmul_reduce(&x, &y, r).unwrap(),
                    reference_reduce(&xy, r),
                    &xy_mag,
                ),
                (
                    cfg.gram_reduce(&x, r).unwrap(),
                    reference_reduce(&xx, r),
                    &xx_mag,
                ),
            ] {
                let scale = match r {
                    Reduction::SumOfSquares => mag.iter().map(|v| v * v).sum::<f64>() * 4.0,
                    Reduction::Sum => mag.sum(),
                    _ => mag.iter().copied().fold(0.0, f64::max),
                };
                let tol = 100.0 * f64::EPSILON * scale;
                assert!((got - want).abs() <= tol, "{r} {strategy}: {got} vs {want}");
            }
        }
    }
    // f32 seed case against an f64 reference.
    let xf = random::<f32>(40, 30, 10);
    let want: f64 = {
        let x64 = xf.mapv(|v| v as f64);
        x64.dot(&x64.t()).sum()
    };
    let got = Config::new()
        .block(BlockShape::square(16).unwrap())
        .gram_sum(&xf)
        .unwrap();
    assert!(
        (got as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

#[test]
fn blocked_results_are_bitwise_identical_for_any_worker_count() {
    let x = random::<f64>(203, 57, 11);
    let y = random::<f64>(57, 131, 12);
    let run = |s: &str, calls: Calls| {
        let cfg = Config::new()
            .strategy(s.parse().unwrap())
            .block(BlockShape::new(25, 30).unwrap())
            .calls(calls);
        (
            cfg.gram_sum(&x).unwrap().to_bits(),
            cfg.matmul_reduce(&x, &y, Reduction::SumOfSquares)
                .unwrap()
                .to_bits(),
            cfg.matmul(&x, &y).unwrap(),
            cfg.gram(&x).unwrap(),
            cfg.sum(&x).unwrap().to_bits(),
        )
    };
    for calls in CALLS {
        let first = run("serial", calls);
        for s in [
            "blocked:1",
            "blocked:2",
            "blocked:3",
            "blocked:7",
            "blocked:2+pin",
            "blocked:2",
            "serial",
        ] {
            assert_eq!(run(s, calls), first, "{s} {calls} differs from serial");
        }
    }
}

/// Thin products (small outputs, long k) split k among the cores the cut balances for: the
/// answer is right and bitwise the same for any worker count.
#[test]
fn thin_products_split_k_and_stay_bitwise_identical() {
    let x = random::<f64>(30, 5000, 31);
    let y = random::<f64>(5000, 17, 32);
    let two = std::num::NonZeroUsize::new(2).unwrap();
    let run = |s: &str| {
        let cfg = Config::new()
            .strategy(s.parse().unwrap())
            .block(BlockShape::square(8).unwrap())
            .balance_for(two);
        (
            cfg.gram_sum(&x).unwrap().to_bits(),
            cfg.gram_reduce(&x, Reduction::Max).unwrap().to_bits(),
            cfg.matmul_reduce(&x, &y, Reduction::SumOfSquares)
                .unwrap()
                .to_bits(),
            cfg.matmul(&x, &y).unwrap(),
            cfg.gram(&x).unwrap(),
        )
    };
    let first = run("serial");
    assert_product(&first.3.view(), &x.view(), &y.view(), "thin matmul");
    assert_product(&first.4.view(), &x.view(), &x.t(), "thin gram");
    let g = first.4.clone();
    assert_eq!(g, g.t(), "exactly symmetric");
    let want: f64 = naive_matmul(&x.view(), &x.t()).0.sum();
    let got = f64::from_bits(first.0);
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
    for s in ["blocked:1", "blocked:2", "blocked:3", "blocked:7"] {
        assert_eq!(run(s), first, "{s} differs from serial");
    }
}

/// Issue 16's case: with no `.block(..)`, `blocked:3` and `blocked:7` used to cut other tiles
/// than `blocked:2` (the default block took the worker count) and gave other bits.
#[test]
fn default_block_results_are_bitwise_identical_for_any_worker_count() {
    // Outputs beyond the default block's 1000 on both sides, ragged (2345², 1234²), with inner
    // dimensions long enough to span several of the BLAS kernels' own k blocks, and no longer:
    // the reference BLAS runs this test too.
    let x = random::<f64>(2345, 400, 21);
    let z = random::<f64>(600, 1234, 23);
    let y = random::<f32>(301, 777, 22);
    let run = |s: &str| {
        let cfg = Config::new().strategy(s.parse().unwrap());
        (
            cfg.gram_sum(&x).unwrap().to_bits(),
            cfg.matmul(z.t(), &z).unwrap().sum().to_bits(),
            cfg.matmul_reduce(&y, y.t(), Reduction::Sum)
                .unwrap()
                .to_bits(),
            cfg.gram(&y).unwrap(),
        )
    };
    let first = run("blocked:1");
    for s in ["blocked:2", "blocked:3", "blocked:7", "blocked", "serial"] {
        assert_eq!(
            run(s),
            first,
            "{s} differs from blocked:1 with the default block"
        );
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let a = random::<f64>(3, 4, 1);
    let b = random::<f64>(5, 2, 2);
    let cfg = Config::new();
    assert!(matches!(
        cfg.matmul(&a, &b),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        cfg.matmul_reduce(&a, &b, Reduction::Sum),
        Err(Error::ShapeMismatch { .. })
    ));
    let b = random::<f64>(4, 2, 2);
    let mut wrong = Array2::<f64>::zeros((3, 3));
    assert!(matches!(
        cfg.matmul_into(1.0, &a, &b, 0.0, wrong.view_mut()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        BlockShape::new(0, 5),
        Err(Error::ZeroBlock { .. })
    ));
    assert!("0".parse::<BlockShape>().is_err());
    assert!("10x".parse::<BlockShape>().is_err());
    let zero_workers = Strategy::Blocked {
        workers: Some(0),
        pin: false,
    };
    assert!(matches!(
        Config::new().strategy(zero_workers).matmul(&a, &b),
        Err(Error::InvalidThreads { .. })
    ));
    let too_many = Strategy::Native {
        threads: Some(1_000_000),
    };
    assert!(matches!(
        Config::new().strategy(too_many).matmul(&a, &b),
        Err(Error::UnsupportedStrategy { .. })
    ));
    let hybrid = Strategy::Hybrid {
        workers: 2,
        blas_threads: 2,
        pin: false,
    };
    let r = Config::new().strategy(hybrid).matmul(&a, &b);
    // Needs per-call threads and a library with more than one thread (not BLIS's serial build).
    if rayblas::blas::per_call_threads() && rayblas::blas::info().max_threads >= 2 {
        assert!(r.is_ok(), "{r:?}");
    } else {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::UnsupportedStrategy { .. }));
        if rayblas::blas::BACKEND == "openblas" && rayblas::blas::info().max_threads >= 2 {
            assert!(e.to_string().contains("process-wide"), "{e}");
        }
    }
}

#[test]
fn dimension_beyond_blas_int_is_refused_not_truncated() {
    if rayblas::blas::INT_MAX >= isize::MAX as usize {
        return; // pure-rust: no integer limit below the address space
    }
    // A zero-stride broadcast view has a huge logical size and no memory behind it.
    // One native call over k = INT_MAX + 1 is refused.
    let n = rayblas::blas::INT_MAX + 1;
    let row = ndarray::Array1::<f64>::ones(1);
    let a = row.broadcast((1, n)).unwrap();
    let b = ndarray::Array2::<f64>::ones((1, 1));
    let b = b.broadcast((n, 1)).unwrap();
    let e = Config::new()
        .strategy(Strategy::Native { threads: Some(1) })
        .matmul(a, b)
        .unwrap_err();
    assert!(matches!(e, Error::DimensionTooLarge { .. }), "{e}");
    // The tiled strategies split a thin product's k among the cores (2 here); parts that are
    // each still beyond the limit are refused the same way, before anything is copied.
    let n = 3 * rayblas::blas::INT_MAX;
    let a = row.broadcast((1, n)).unwrap();
    let b = ndarray::Array2::<f64>::ones((1, 1));
    let b = b.broadcast((n, 1)).unwrap();
    let e = Config::new()
        .strategy(Strategy::Serial)
        .balance_for(std::num::NonZeroUsize::new(2).unwrap())
        .matmul(a, b)
        .unwrap_err();
    assert!(matches!(e, Error::DimensionTooLarge { .. }), "{e}");
}

/// Guarantee (issue 12, resource limits): an output too large to allocate is an
/// `Error::OutOfMemory` from every strategy, never an abort of the process.
#[test]
fn outputs_too_large_to_allocate_are_errors() {
    // Broadcast views: a huge logical size with one element of memory behind it.
    let one = ndarray::Array2::<f64>::ones((1, 1));
    let m = 1usize << 30; // m² f64 = 2⁶³ bytes: beyond the address space
    let x = one.broadcast((m, 1)).unwrap();
    let xt = one.broadcast((1, m)).unwrap();
    for strategy in [
        Strategy::Serial,
        Strategy::Native { threads: Some(1) },
        Strategy::Blocked {
            workers: Some(2),
            pin: false,
        },
    ] {
        let cfg = Config::new().strategy(strategy);
        let e = cfg.matmul(x, xt).unwrap_err();
        assert!(
            matches!(e, Error::OutOfMemory { rows, cols, .. } if rows == m && cols == m),
            "{strategy:?}: {e}"
        );
        assert!(e.to_string().contains("not enough memory"), "{e}");
        let e = cfg.gram(x).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { .. }), "{strategy:?}: {e}");
    }
    // Under native the fused ops store the whole product first.
    let e = Config::new()
        .strategy(Strategy::Native { threads: Some(1) })
        .matmul_reduce(x, xt, Reduction::Sum)
        .unwrap_err();
    assert!(matches!(e, Error::OutOfMemory { .. }), "{e}");
}

#[test]
fn nested_inside_a_user_rayon_pool() {
    use rayon::prelude::*;
    let x = random::<f64>(120, 30, 13);
    let block = BlockShape::square(20).unwrap();
    let want = Config::new()
        .strategy(Strategy::Serial)
        .block(block)
        .gram_sum(&x)
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let got: Vec<f64> = pool.install(|| {
        (0..6)
            .into_par_iter()
            .map(|_| {
                Config::new()
                    .strategy(Strategy::Blocked {
                        workers: None,
                        pin: false,
                    })
                    .block(block)
                    .gram_sum(&x)
                    .unwrap()
            })
            .collect()
    });
    assert!(
        got.iter().all(|&g| g.to_bits() == want.to_bits()),
        "{got:?} vs {want}"
    );
}
