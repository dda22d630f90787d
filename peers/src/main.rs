//! `rayblas-peers`: the libraries a user could call instead of rayblas, each called directly and
//! timed the way the `rayblas` CLI times its strategies, for `cargo xtask bench-report`.
//!
//! ```text
//! rayblas-peers <peer> <op> <dtype> <n> [--warmup 0|1]   one measuring process: one JSON line
//! rayblas-peers read-bandwidth                            streaming read GB/s of all cores
//! ```
//!
//! Peers: `openblas` (one CBLAS call threaded by OpenBLAS: gemm, or syrk for gram), `faer`
//! (`faer::linalg::matmul::matmul`, `Par::rayon(0)`), `gemm` (the gemm crate, rayon),
//! `matrixmultiply` (its `threading` feature, `MATMUL_NUM_THREADS`), `ndarray` (`.dot`, which
//! is matrixmultiply without ndarray's `blas` feature; `.sum()` for the reduction). Ops: matmul
//! (A·B), gram (X·Xᵀ; the full product but for `openblas`, whose syrk computes one triangle),
//! gram-sum (sum of X·Xᵀ: the product, then the sum), sum (Σ x). Inputs are
//! `rayblas::bench::uniform` with the CLI's seeds (42 for A/X, 43 for B), so gram-sum results
//! can be checked against rayblas's.

mod sys;

use ndarray::{Array2, ArrayView2};
use std::time::{Duration, Instant};

/// A sample is at least this long: shorter ones are mostly timer and scheduler noise.
const MIN_SAMPLE: Duration = Duration::from_millis(20);
/// Samples are taken until this much time is spent (at most `MAX_SAMPLES`, at least one).
const SAMPLING_BUDGET: Duration = Duration::from_millis(300);
const MAX_SAMPLES: usize = 10;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("rayblas-peers: error: {e}");
            std::process::exit(2);
        }
    }
}

fn run(args: &[String]) -> Result<String, String> {
    if args.first().map(String::as_str) == Some("read-bandwidth") {
        let gbps = read_bandwidth_gbps();
        return Ok(serde_json::json!({ "read_gbps": gbps }).to_string());
    }
    let [peer, op, dtype, n, rest @ ..] = args else {
        return Err("usage: rayblas-peers <peer> <op> <f64|f32> <n> [--warmup 0|1]".into());
    };
    let n: usize = n.parse().map_err(|_| format!("bad size `{n}`"))?;
    let warmup = match rest {
        [] => true,
        [flag, v] if flag == "--warmup" => v != "0",
        _ => return Err(format!("unknown options {rest:?}")),
    };
    let m = match dtype.as_str() {
        "f64" => measure_peer::<f64>(peer, op, n, warmup)?,
        "f32" => measure_peer::<f32>(peer, op, n, warmup)?,
        other => return Err(format!("unknown dtype `{other}` (f64 or f32)")),
    };
    Ok(serde_json::json!({
        "contestant": peer,
        "op": op,
        "dtype": dtype,
        "n": n,
        "wall_s": m.median,
        "wall_min_s": m.min,
        "wall_max_s": m.max,
        "samples": m.samples,
        "cpu_pct": m.cpu_pct,
        "peak_rss_bytes": sys::peak_rss_bytes(),
        "result": m.result,
    })
    .to_string())
}

/// Per-call seconds over the samples of one process, CPU % over them, and the op's result.
struct Measured {
    median: f64,
    min: f64,
    max: f64,
    samples: usize,
    cpu_pct: f64,
    result: f64,
}

/// Times `call`: an optional warm-up call, then samples of `iters` calls (≥ 20 ms each) until
/// the budget is spent.
fn measure(warmup: bool, mut call: impl FnMut() -> f64) -> Measured {
    let t = Instant::now();
    let mut result = call();
    let mut one = t.elapsed();
    if !warmup {
        // The cold call is the measurement.
        return Measured {
            median: one.as_secs_f64(),
            min: one.as_secs_f64(),
            max: one.as_secs_f64(),
            samples: 1,
            cpu_pct: f64::NAN,
            result,
        };
    }
    if one < MIN_SAMPLE {
        // Warm up for at least one sample's length, and learn the time per call.
        let t = Instant::now();
        let mut calls = 0u32;
        while t.elapsed() < MIN_SAMPLE {
            result = call();
            calls += 1;
        }
        one = t.elapsed() / calls;
    }
    let iters = (MIN_SAMPLE.as_secs_f64() / one.as_secs_f64().max(1e-9)).ceil() as usize;
    let iters = iters.max(1);
    let mut walls = Vec::new();
    let cpu0 = sys::process_cpu_seconds();
    let started = Instant::now();
    while walls.is_empty() || (walls.len() < MAX_SAMPLES && started.elapsed() < SAMPLING_BUDGET) {
        let t = Instant::now();
        for _ in 0..iters {
            result = call();
        }
        walls.push(t.elapsed().as_secs_f64() / iters as f64);
    }
    let timed = started.elapsed().as_secs_f64();
    let cpu_pct = 100.0 * (sys::process_cpu_seconds() - cpu0) / timed;
    Measured {
        median: rayblas::bench::median(&walls),
        min: walls.iter().copied().fold(f64::INFINITY, f64::min),
        max: walls.iter().copied().fold(0.0, f64::max),
        samples: walls.len(),
        cpu_pct,
        result,
    }
}

/// What each peer needs of an element type.
trait Num: rayblas::Element + faer::traits::ComplexField + 'static {
    /// `C ← A·B` (row-major, contiguous) through one CBLAS call threaded by OpenBLAS.
    fn cblas_gemm(a: ArrayView2<Self>, b: ArrayView2<Self>, c: &mut Array2<Self>);
    /// The lower triangle of `X·Xᵀ` through one CBLAS syrk.
    fn cblas_syrk(x: ArrayView2<Self>, c: &mut Array2<Self>);
    /// `C ← A·B` through matrixmultiply.
    fn mm_gemm(a: ArrayView2<Self>, b: ArrayView2<Self>, c: &mut Array2<Self>);
}

macro_rules! num {
    ($t:ty, $gemm:ident, $syrk:ident, $mm:ident) => {
        impl Num for $t {
            fn cblas_gemm(a: ArrayView2<$t>, b: ArrayView2<$t>, c: &mut Array2<$t>) {
                let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
                let (lda, ldb) = (row_stride(&a), row_stride(&b));
                assert!(b.nrows() == k && c.dim() == (m, n) && c.is_standard_layout());
                // SAFETY: A (m×k), B (k×n) and C (m×n) are row-major with the given leading
                // dimensions (checked above), and C is not aliased.
                unsafe {
                    cblas_sys::$gemm(
                        cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
                        cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
                        cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
                        m as i32,
                        n as i32,
                        k as i32,
                        1.0,
                        a.as_ptr(),
                        lda,
                        b.as_ptr(),
                        ldb,
                        0.0,
                        c.as_mut_ptr(),
                        n as i32,
                    )
                }
            }
            fn cblas_syrk(x: ArrayView2<$t>, c: &mut Array2<$t>) {
                let (m, k) = x.dim();
                let ldx = row_stride(&x);
                assert!(c.dim() == (m, m) && c.is_standard_layout());
                // SAFETY: X (m×k) is row-major with leading dimension ldx, C (m×m) is
                // contiguous row-major and not aliased.
                unsafe {
                    cblas_sys::$syrk(
                        cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
                        cblas_sys::CBLAS_UPLO::CblasLower,
                        cblas_sys::CBLAS_TRANSPOSE::CblasNoTrans,
                        m as i32,
                        k as i32,
                        1.0,
                        x.as_ptr(),
                        ldx,
                        0.0,
                        c.as_mut_ptr(),
                        m as i32,
                    )
                }
            }
            fn mm_gemm(a: ArrayView2<$t>, b: ArrayView2<$t>, c: &mut Array2<$t>) {
                let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
                assert!(b.nrows() == k && c.dim() == (m, n));
                let s = |v: &[isize]| (v[0], v[1]);
                let ((rsa, csa), (rsb, csb), (rsc, csc)) =
                    (s(a.strides()), s(b.strides()), s(c.strides()));
                // SAFETY: the pointers and strides describe the three arrays as ndarray holds
                // them; C does not overlap A or B.
                unsafe {
                    matrixmultiply::$mm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        0.0,
                        c.as_mut_ptr(),
                        rsc,
                        csc,
                    )
                }
            }
        }
    };
}
num!(f64, cblas_dgemm, cblas_dsyrk, dgemm);
num!(f32, cblas_sgemm, cblas_ssyrk, sgemm);

/// The leading dimension of a row-major view with unit column stride.
fn row_stride<T>(a: &ArrayView2<T>) -> i32 {
    assert_eq!(a.strides()[1], 1, "row-major with unit column stride");
    a.strides()[0].max(a.ncols() as isize).max(1) as i32
}

/// `C ← A·B` by `peer`, into a fresh output (as `a.dot(&b)` or numpy's `@` return one).
fn product<T: Num>(peer: &str, a: ArrayView2<T>, b: ArrayView2<T>) -> Array2<T> {
    let (m, n) = (a.nrows(), b.ncols());
    let mut c = Array2::<T>::zeros((m, n));
    match peer {
        "openblas" => T::cblas_gemm(a, b, &mut c),
        "matrixmultiply" => T::mm_gemm(a, b, &mut c),
        "ndarray" => c = a.dot(&b),
        "faer" => {
            let k = a.ncols();
            let lhs = faer_ref(&a, m, k);
            let rhs = faer_ref(&b, k, n);
            let dst = faer::MatMut::from_row_major_slice_mut(
                c.as_slice_mut().expect("fresh array"),
                m,
                n,
            );
            faer::linalg::matmul::matmul(
                dst,
                faer::Accum::Replace,
                lhs,
                rhs,
                T::from_f64(1.0),
                faer::Par::rayon(0),
            );
        }
        "gemm" => {
            let k = a.ncols();
            let (rsa, csa) = (a.strides()[0], a.strides()[1]);
            let (rsb, csb) = (b.strides()[0], b.strides()[1]);
            // SAFETY: the pointers and strides describe the arrays as ndarray holds them; C is
            // a fresh contiguous m×n array that overlaps nothing.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr(),
                    csa,
                    rsa,
                    b.as_ptr(),
                    csb,
                    rsb,
                    T::from_f64(0.0),
                    T::from_f64(1.0),
                    false,
                    false,
                    false,
                    gemm::Parallelism::Rayon(0),
                )
            };
        }
        other => unreachable!("peer `{other}` checked by the caller"),
    }
    c
}

/// A faer view of a row-major or transposed (column-major) ndarray view.
fn faer_ref<'a, T: Num>(a: &ArrayView2<'a, T>, rows: usize, cols: usize) -> faer::MatRef<'a, T> {
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    // SAFETY: rows × cols elements at these strides from `a.as_ptr()` are exactly `a`'s, which
    // outlive the returned view ('a).
    unsafe { faer::MatRef::from_raw_parts(a.as_ptr(), rows, cols, rs, cs) }
}

const PEERS: &[&str] = &["openblas", "faer", "gemm", "matrixmultiply", "ndarray"];

fn measure_peer<T: Num>(peer: &str, op: &str, n: usize, warmup: bool) -> Result<Measured, String> {
    if !PEERS.contains(&peer) {
        return Err(format!(
            "unknown peer `{peer}` (one of {})",
            PEERS.join(", ")
        ));
    }
    let x = rayblas::bench::uniform::<T>(n, n, 42);
    let first = |c: &Array2<T>| c.first().map_or(0.0, |v| v.to_f64());
    Ok(match op {
        "matmul" => {
            let b = rayblas::bench::uniform::<T>(n, n, 43);
            measure(warmup, || first(&product(peer, x.view(), b.view())))
        }
        "gram" if peer == "openblas" => measure(warmup, || {
            let mut c = Array2::<T>::zeros((n, n));
            T::cblas_syrk(x.view(), &mut c);
            first(&c)
        }),
        "gram" => measure(warmup, || first(&product(peer, x.view(), x.t()))),
        "gram-sum" if peer == "openblas" => measure(warmup, || {
            let mut c = Array2::<T>::zeros((n, n));
            T::cblas_syrk(x.view(), &mut c);
            symmetric_sum(&c)
        }),
        "gram-sum" => measure(warmup, || {
            product(peer, x.view(), x.t())
                .iter()
                .map(|v| v.to_f64())
                .sum()
        }),
        "sum" if peer == "ndarray" => measure(warmup, || x.sum().to_f64()),
        other => {
            return Err(format!(
                "peer `{peer}` has no op `{other}` (matmul, gram, gram-sum; sum for ndarray)"
            ))
        }
    })
}

/// The sum of a symmetric matrix of which the lower triangle is stored.
fn symmetric_sum<T: Num>(c: &Array2<T>) -> f64 {
    let mut s = 0.0;
    for (i, row) in c.outer_iter().enumerate() {
        let below: f64 = row.iter().take(i).map(|v| v.to_f64()).sum();
        s += 2.0 * below + row[i].to_f64();
    }
    s
}

/// The streaming read rate of all cores together (GB/s): each rayon worker adds up its part of
/// a 2 GiB buffer, best of five passes; 2 GiB is well beyond the last-level cache, so the
/// memory is the limit. The adds use the widest loads the CPU has (AVX2 where present: 32
/// bytes a load, eight chains), because narrow ones cap one core below its share of the memory
/// bandwidth: a plain integer loop read 16-20 GB/s here, less than rayblas's own sum.
fn read_bandwidth_gbps() -> f64 {
    use rayon::prelude::*;
    let words = (2usize << 30) / 8;
    let data: Vec<f64> = (0..words).into_par_iter().map(|i| (i % 7) as f64).collect();
    let mut best = f64::INFINITY;
    let mut check = 0.0;
    for _ in 0..5 {
        let t = Instant::now();
        check += data
            .par_chunks(1 << 16)
            .map(read_chunk)
            .reduce(|| 0.0, |a, b| a + b);
        best = best.min(t.elapsed().as_secs_f64());
    }
    // Keep the sums alive, so no pass is optimised out.
    std::hint::black_box(check);
    (words * 8) as f64 / best / 1e9
}

/// The sum of a chunk, through [`simd::sum_avx2`] where the CPU has AVX2.
fn read_chunk(c: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked on the line above).
        return unsafe { simd::sum_avx2(c) };
    }
    let mut acc = [0.0f64; 8];
    for lanes in c.chunks_exact(8) {
        for (a, v) in acc.iter_mut().zip(lanes) {
            *a += v;
        }
    }
    acc.iter().sum::<f64>() + c.chunks_exact(8).remainder().iter().sum::<f64>()
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// Σ c with eight chains of 4-wide adds: 32-byte loads, two per cycle at most.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum_avx2(c: &[f64]) -> f64 {
        let mut acc = [_mm256_setzero_pd(); 8];
        let blocks = c.chunks_exact(32);
        let rest = blocks.remainder();
        for b in blocks {
            for (i, a) in acc.iter_mut().enumerate() {
                // SAFETY: `b` has 32 elements, so `b[4i..4i+4]` is in bounds; loadu takes any
                // alignment.
                *a = _mm256_add_pd(*a, unsafe { _mm256_loadu_pd(b.as_ptr().add(4 * i)) });
            }
        }
        let mut lanes = [0.0f64; 4];
        let mut total = _mm256_setzero_pd();
        for a in acc {
            total = _mm256_add_pd(total, a);
        }
        // SAFETY: `lanes` holds four f64s.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), total) };
        lanes.iter().sum::<f64>() + rest.iter().sum::<f64>()
    }
}
