//! Calls too small to share (products under `plan::INLINE_PRODUCT_FLOPS`, reductions under
//! `plan::INLINE_REDUCTION_ELEMENTS`) run on the calling thread: the same items in the same
//! order as on the pool, so the same bits, for every op, dtype and layout. `+pin` keeps the
//! pool (pinned workers are what it asks for), so `blocked:2+pin` is the pooled reference.

use crate::common::random;
use ndarray::{s, Array2, Axis, ShapeBuilder};
use rayblas::{BlockShape, Config, Element, Reduction};

/// Every result of the small-call path, as bits: products, fused reductions and reductions.
fn results<T: Element>(cfg: &Config, a: &Array2<T>, layout: &str) -> Vec<u64> {
    let bits = |v: T| v.to_f64().to_bits();
    // The layouts: as made, transposed, strided (every other row and column), reversed
    // (negative strides, which BLAS cannot take as they lie), Fortran order.
    let x: ndarray::ArrayView2<'_, T> = match layout {
        "c" => a.view(),
        "t" => a.t(),
        "strided" => a.slice(s![..;2, ..;2]),
        "reversed" => a.slice(s![..;-1, ..;-1]),
        _ => a.view(),
    };
    let f;
    let x = if layout == "f" {
        f = {
            let mut m = Array2::<T>::zeros(x.dim().f());
            m.assign(&x);
            m
        };
        f.view()
    } else {
        x
    };
    let mut out = Vec::new();
    let ok = |r: rayblas::Result<T>| r.map(bits).unwrap_or(u64::MAX);
    out.extend(cfg.matmul(x, x.t()).unwrap().iter().map(|&v| bits(v)));
    out.extend(cfg.matmul(x.t(), x).unwrap().iter().map(|&v| bits(v)));
    out.extend(cfg.gram(x).unwrap().iter().map(|&v| bits(v)));
    for r in [Reduction::Sum, Reduction::Max, Reduction::SumOfSquares] {
        out.push(ok(cfg.gram_reduce(x, r)));
        out.push(ok(cfg.matmul_reduce(x, x.t(), r)));
    }
    out.push(ok(cfg.sum(x)));
    out.push(ok(cfg.norm(x)));
    out.push(ok(cfg.max(x)));
    out.push(ok(cfg.dot(x, x)));
    if !x.is_empty() {
        let (i, j) = cfg.argmax(x).unwrap();
        out.extend([i as u64, j as u64]);
    }
    for axis in [Axis(0), Axis(1)] {
        out.extend(cfg.sum_axis(x, axis).unwrap().iter().map(|&v| bits(v)));
    }
    out
}

fn check<T: Element>() {
    let inline = Config::new().strategy("blocked:2".parse().unwrap());
    let pooled = Config::new().strategy("blocked:2+pin".parse().unwrap());
    let serial = Config::new().strategy("serial".parse().unwrap());
    // The default in force, where it runs small calls here (blocked unpinned, serial): the
    // small-call path that skips the plan.
    let default = Config::new();
    let default_here = matches!(
        rayblas::Strategy::from_env(),
        Ok(rayblas::Strategy::Blocked { pin: false, .. } | rayblas::Strategy::Serial)
    );
    // Small shapes, 1×N, N×1 and empty among them; a block of 3 cuts them into several tiles
    // (ragged at the edges), so the calling thread runs many items in order.
    for (i, &(m, k)) in [
        (4, 4),
        (8, 8),
        (16, 16),
        (32, 32),
        // Past the size where a Gram product is one GEMM rather than a syrk on OpenBLAS.
        (48, 48),
        (1, 17),
        (17, 1),
        (0, 5),
        (5, 0),
        (13, 7),
    ]
    .iter()
    .enumerate()
    {
        let a = random::<T>(m, k, 90 + i as u64);
        for layout in ["c", "t", "strided", "reversed", "f"] {
            for block in [None, Some(3)] {
                let with = |c: &Config| match block {
                    Some(b) => c.block(BlockShape::square(b).unwrap()),
                    None => *c,
                };
                let want = results(&with(&pooled), &a, layout);
                let ctx = format!("{} {m}x{k} {layout} block {block:?}", T::DTYPE.name());
                assert_eq!(results(&with(&inline), &a, layout), want, "{ctx}");
                assert_eq!(results(&with(&serial), &a, layout), want, "{ctx} serial");
                if default_here {
                    assert_eq!(results(&with(&default), &a, layout), want, "{ctx} default");
                }
            }
        }
    }
}

#[test]
fn small_calls_on_the_calling_thread_give_the_pools_bits_f64() {
    check::<f64>();
}

#[test]
fn small_calls_on_the_calling_thread_give_the_pools_bits_f32() {
    check::<f32>();
}

/// The fused small calls reuse a scratch buffer that the previous call may have left holding
/// NaN: the product overwrites it (β = 0 is never read), so it cannot leak into the next sum.
#[test]
fn a_nan_left_in_scratch_does_not_reach_the_next_small_call() {
    let cfg = Config::new();
    for n in [3usize, 8, 20] {
        let nan = Array2::<f64>::from_elem((n, n), f64::NAN);
        assert!(cfg
            .matmul_reduce(&nan, &nan, Reduction::Sum)
            .unwrap()
            .is_nan());
        let a = random::<f64>(n, n, 7);
        let want: f64 = a.dot(&a.t()).iter().sum();
        let got = cfg.matmul_reduce(&a, a.t(), Reduction::Sum).unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{n}: {got} {want}"
        );
        let empty_k = Array2::<f64>::zeros((n, 0));
        assert!(cfg
            .matmul_reduce(&nan, &nan, Reduction::Sum)
            .unwrap()
            .is_nan());
        assert_eq!(
            cfg.matmul_reduce(&empty_k, empty_k.t(), Reduction::Sum)
                .unwrap(),
            0.0
        );
        assert_eq!(cfg.gram_reduce(&empty_k, Reduction::Max).unwrap(), 0.0);
    }
}

/// A Gram reduction too small to share but past the size where the Gram product is one GEMM
/// is one diagonal tile over the whole product (one `syrk`), as `gram` makes it: the bits of
/// the same strategy given that one tile (the block n×n, balanced for one core), not of the
/// bands evened out for this machine's cores (three calls where one does).
///
/// On OpenBLAS only: where the backend's rule (`blas::gram_by_syrk`) makes a Gram product this
/// small a whole GEMM reduced flat (BLIS, in CI), a given block does not take that path, and
/// the bits differ by design.
#[test]
fn a_small_gram_reduction_is_one_diagonal_tile() {
    if rayblas::blas::BACKEND != "openblas" {
        return;
    }
    let one_core = std::num::NonZeroUsize::MIN;
    for name in ["blocked:2", "blocked:2+pin", "serial"] {
        let cfg = Config::new().strategy(name.parse().unwrap());
        for n in [40usize, 64, 90] {
            let one_tile = cfg
                .block(BlockShape::square(n).unwrap())
                .balance_for(one_core);
            let x = random::<f64>(n, n, 300 + n as u64);
            for r in [Reduction::Sum, Reduction::SumOfSquares, Reduction::Max] {
                let (got, want) = (cfg.gram_reduce(&x, r), one_tile.gram_reduce(&x, r));
                assert_eq!(
                    got.unwrap().to_bits(),
                    want.unwrap().to_bits(),
                    "{name} {n} {r:?}"
                );
            }
        }
    }
}
