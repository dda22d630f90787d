//! Arbitrary shapes, block shapes, strategies (parsed from the input's own text, so the
//! grammar is fuzzed too), transposed and strided views and values (NaN and ±Inf included):
//! every operation must give an error or the naive reference's answer, never a panic.

use ndarray::{s, Array2, ArrayView2};
use rayblas::{BlockShape, Config, Reduction, Strategy};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn value(&mut self) -> f64 {
        match self.byte() {
            250 => f64::NAN,
            251 => f64::INFINITY,
            252 => f64::NEG_INFINITY,
            b => (b as f64 - 125.0) / 16.0,
        }
    }
}

fn naive(a: &ArrayView2<f64>, b: &ArrayView2<f64>) -> Array2<f64> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    for i in 0..a.nrows() {
        for j in 0..b.ncols() {
            c[[i, j]] = (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum();
        }
    }
    c
}

fn same(got: f64, want: f64, scale: f64, what: &str) {
    if want.is_finite() {
        assert!(
            (got - want).abs() <= 1e-9 * scale.max(1.0),
            "{what}: {got} against {want}"
        );
    } else {
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "{what}: {got} against {want}"
        );
    }
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let mut input = Input(data);
        let (m, k, n) = (
            input.byte() as usize % 24,
            input.byte() as usize % 24,
            input.byte() as usize % 24,
        );
        let (br, bc) = (input.byte() as usize % 9, input.byte() as usize % 9);
        let flags = input.byte();
        let text_len = input.byte() as usize % 16;
        let text: Vec<u8> = (0..text_len).map(|_| input.byte()).collect();
        let strategy = match std::str::from_utf8(&text).map(str::parse::<Strategy>) {
            Ok(Ok(s)) => s,
            _ => [
                "serial",
                "native",
                "blocked:1",
                "blocked:2",
                "blocked:3",
                "native:2",
            ][flags as usize % 6]
                .parse()
                .unwrap(),
        };
        let block = match BlockShape::new(br, bc) {
            Ok(b) => b,
            Err(_) => return, // zero sides are refused, as they should be
        };
        let cfg = Config::new().strategy(strategy).block(block);
        // Storage with room for a stride of two and a transpose.
        let a_store =
            Array2::from_shape_fn((m.max(k) * 2 + 1, m.max(k) * 2 + 1), |_| input.value());
        let b_store =
            Array2::from_shape_fn((k.max(n) * 2 + 1, k.max(n) * 2 + 1), |_| input.value());
        fn pick(
            store: &Array2<f64>,
            r: usize,
            c: usize,
            t: bool,
            strided: bool,
        ) -> ArrayView2<'_, f64> {
            let step = if strided { 2 } else { 1 };
            if t {
                store
                    .slice(s![..c * step;step, ..r * step;step])
                    .reversed_axes()
            } else {
                store.slice(s![..r * step;step, ..c * step;step])
            }
        }
        let a = pick(&a_store, m, k, flags & 1 != 0, flags & 2 != 0);
        let b = pick(&b_store, k, n, flags & 4 != 0, flags & 8 != 0);
        let scale = a
            .iter()
            .chain(b.iter())
            .map(|v| v.abs())
            .fold(0.0, f64::max)
            .powi(2)
            * (k.max(1) as f64)
            * ((m * n).max(1) as f64);
        let Ok(c) = cfg.matmul(a, b) else {
            return; // a strategy this backend refuses: an error, not a panic
        };
        let want = naive(&a, &b);
        assert_eq!(c.dim(), want.dim());
        for (g, w) in c.iter().zip(want.iter()) {
            same(*g, *w, scale, "matmul");
        }
        let gram = cfg.gram(a).expect("gram");
        let want_gram = naive(&a, &a.t());
        for (g, w) in gram.iter().zip(want_gram.iter()) {
            same(*g, *w, scale, "gram");
        }
        let sum = cfg.matmul_reduce(a, b, Reduction::Sum).expect("sum(A·B)");
        let want_sum: f64 = want.iter().sum();
        if want_sum.is_nan() {
            assert!(sum.is_nan(), "sum(A·B): {sum} against NaN");
        } else if want.iter().all(|v| v.is_finite()) {
            same(sum, want_sum, scale, "sum(A·B)");
        }
        let max = cfg.matmul_reduce(a, b, Reduction::Max);
        match max {
            Ok(v) if !want.is_empty() => {
                let w = want.iter().fold(f64::NEG_INFINITY, |m, &x| {
                    if m.is_nan() || x.is_nan() {
                        f64::NAN
                    } else {
                        m.max(x)
                    }
                });
                same(v, w, scale, "max(A·B)");
            }
            Ok(_) | Err(_) => {} // max of an empty product: an error or a stated value
        }
        let plain = cfg.sum(a).expect("sum");
        let want_plain: f64 = a.iter().sum();
        if want_plain.is_finite() {
            same(plain, want_plain, scale, "sum(A)");
        }
        if a.dim() == b.t().dim() {
            let _ = cfg.dot(a, b.t()).expect("dot");
        }
    });
}
