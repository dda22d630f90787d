//! What one measurement runs: the operation, its inputs (random or .npy), and the work it does
//! (flops or bytes), so rates and efficiencies can be computed.

use clap::{Args, ValueEnum};
use ndarray::Array2;
use rayblas::{BlockShape, Calls, Config, Element, Reduction, Strategy};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The operations the CLI measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// C = A·B (A m×k, B k×n).
    Matmul,
    /// G = X·Xᵀ (X m×k), only tiles on and below the diagonal computed.
    Gram,
    /// sum(X·Xᵀ), fused: the product is never stored (the seed workload).
    GramSum,
    /// sum(A·B), fused.
    MatmulSum,
    /// Σ x over X (m×k).
    Sum,
    /// Frobenius norm of X (m×k).
    Norm,
    /// Largest element of X (m×k).
    Max,
    /// Σ x∘y over X and Y (both m×k).
    Dot,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Matmul => "matmul",
            Op::Gram => "gram",
            Op::GramSum => "gram-sum",
            Op::MatmulSum => "matmul-sum",
            Op::Sum => "sum",
            Op::Norm => "norm",
            Op::Max => "max",
            Op::Dot => "dot",
        }
    }

    /// Matrix products are rated in GFLOP/s; reductions in GB/s.
    pub fn is_product(self) -> bool {
        matches!(self, Op::Matmul | Op::Gram | Op::GramSum | Op::MatmulSum)
    }

    /// Whether the op takes a second operand.
    pub fn needs_b(self) -> bool {
        matches!(self, Op::Matmul | Op::MatmulSum | Op::Dot)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum DtypeArg {
    F32,
    F64,
}

impl DtypeArg {
    pub fn name(self) -> &'static str {
        match self {
            DtypeArg::F32 => "f32",
            DtypeArg::F64 => "f64",
        }
    }
    pub fn size(self) -> usize {
        match self {
            DtypeArg::F32 => 4,
            DtypeArg::F64 => 8,
        }
    }
}

/// Workload options shared by `run`, `compare` and `sweep`.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct WorkloadArgs {
    /// Operation.
    #[arg(long, value_enum, default_value = "gram-sum")]
    pub op: Op,
    /// Square size: sets m, k and n unless given separately.
    #[arg(long, default_value_t = 4000)]
    pub n: usize,
    /// Rows of A / X (default: --n).
    #[arg(long)]
    pub m: Option<usize>,
    /// Inner dimension: columns of A / X, rows of B (default: --n).
    #[arg(long)]
    pub k: Option<usize>,
    /// Block (tile) shape: N or RxC.
    #[arg(long, default_value = "500")]
    pub block: String,
    /// Tiles per BLAS call for matmul and gram: `strips` (adjacent tiles of a tile row in one
    /// call, the library default) or `tiles` (one call per tile). The fused ops always make one
    /// call per tile.
    #[arg(long, default_value = "strips")]
    pub calls: String,
    /// Element type.
    #[arg(long, value_enum, default_value = "f64")]
    pub dtype: DtypeArg,
    /// Seed of the random inputs (uniform in [0, 1), as numpy/dask `random`).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Read A (or X) from a 2-D .npy file of the chosen dtype instead of generating it.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Read B (or Y) from a .npy file (default for products: random, or Aᵀ for matmul with --input).
    #[arg(long)]
    pub input_b: Option<PathBuf>,
    /// Timed repetitions per strategy.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Untimed runs before the timed ones (per process).
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Peak GFLOP/s for the % of peak column (default: one-thread GEMM measured at start × physical cores).
    #[arg(long)]
    pub peak: Option<f64>,
}

/// Shapes after defaults: A/X is m×k; B is k×n (products) or Y is m×k (dot).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Shape {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl WorkloadArgs {
    /// What one BLAS call covers under the tiled strategies, for this op: `--calls` for matmul
    /// and gram, a tile for the fused ops (always), `None` for reductions (no BLAS calls) or a
    /// `--calls` that does not parse (which `validate` reports).
    pub fn effective_calls(&self) -> Option<Calls> {
        match self.op {
            Op::Matmul | Op::Gram => self.calls.parse().ok(),
            Op::MatmulSum | Op::GramSum => Some(Calls::Tiles),
            Op::Sum | Op::Norm | Op::Max | Op::Dot => None,
        }
    }

    /// Checks sizes, the block and the calls; returns the shape, the block and the calls.
    pub fn validate(&self) -> Result<(Shape, BlockShape, Calls), String> {
        let block: BlockShape = self
            .block
            .parse()
            .map_err(|e: rayblas::Error| e.to_string())?;
        let calls: Calls = self
            .calls
            .parse()
            .map_err(|e: rayblas::Error| e.to_string())?;
        if self.repeat == 0 {
            return Err("--repeat must be at least 1".into());
        }
        let shape = Shape {
            m: self.m.unwrap_or(self.n),
            k: self.k.unwrap_or(self.n),
            n: self.n,
        };
        if self.input.is_none() && (shape.m == 0 || shape.k == 0 || shape.n == 0) {
            return Err(format!(
                "sizes must be at least 1 (got m={} k={} n={})",
                shape.m, shape.k, shape.n
            ));
        }
        if let Some(p) = self.peak {
            if !(p.is_finite() && p > 0.0) {
                return Err(format!(
                    "--peak must be a positive number of GFLOP/s, got {p}"
                ));
            }
        }
        Ok((shape, block, calls))
    }
}

/// The inputs of one run, in the chosen dtype.
pub struct Inputs<T> {
    pub a: Array2<T>,
    pub b: Option<Array2<T>>,
}

fn read_npy<T: Element + ndarray_npy::ReadableElement>(
    path: &PathBuf,
) -> Result<Array2<T>, String> {
    let a: Array2<T> = ndarray_npy::read_npy(path).map_err(|e| {
        let detail = e.to_string();
        let hint = if detail.contains("type") || detail.contains("descr") {
            format!(
                " (expected a 2-D {} array; use --dtype to match the file)",
                T::DTYPE.name()
            )
        } else if detail.contains("ndim")
            || detail.contains("shape")
            || detail.contains("dimension")
        {
            " (expected a 2-D array)".to_string()
        } else {
            String::new()
        };
        format!("{}: {detail}{hint}", path.display())
    })?;
    Ok(a)
}

/// Builds (or reads) the inputs. Never inside the timing.
pub fn inputs<T: Element + ndarray_npy::ReadableElement>(
    w: &WorkloadArgs,
    s: Shape,
) -> Result<Inputs<T>, String> {
    let a = match &w.input {
        Some(p) => read_npy::<T>(p)?,
        None => rayblas::bench::uniform::<T>(s.m, s.k, w.seed),
    };
    let b = if w.op.needs_b() {
        Some(match &w.input_b {
            Some(p) => read_npy::<T>(p)?,
            None if w.input.is_some() && w.op != Op::Dot => a.t().to_owned(),
            None if w.input.is_some() => a.clone(),
            None if w.op == Op::Dot => rayblas::bench::uniform::<T>(s.m, s.k, w.seed + 1),
            None => rayblas::bench::uniform::<T>(s.k, s.n, w.seed + 1),
        })
    } else {
        None
    };
    if let Some(b) = &b {
        let ok = if w.op == Op::Dot {
            b.dim() == a.dim()
        } else {
            b.nrows() == a.ncols()
        };
        if !ok {
            return Err(format!(
                "{}: shapes do not fit: A is {}x{}, B is {}x{}",
                w.op.name(),
                a.nrows(),
                a.ncols(),
                b.nrows(),
                b.ncols()
            ));
        }
    }
    if a.is_empty() && w.op == Op::Max {
        return Err("max of an empty matrix is undefined".into());
    }
    Ok(Inputs { a, b })
}

/// The work one run does: flops (products) and bytes read.
pub fn work<T: Element>(
    op: Op,
    cfg: &Config,
    inp: &Inputs<T>,
) -> Result<(f64, f64), rayblas::Error> {
    let (m, k) = inp.a.dim();
    let sz = std::mem::size_of::<T>() as f64;
    let n = inp.b.as_ref().map(|b| b.ncols()).unwrap_or(0);
    Ok(match op {
        Op::Matmul | Op::MatmulSum => (
            2.0 * m as f64 * n as f64 * k as f64,
            sz * (m * k + k * n) as f64,
        ),
        Op::Gram | Op::GramSum => (cfg.gram_flops(m, k)?, sz * (m * k) as f64),
        Op::Sum | Op::Norm | Op::Max => (0.0, sz * (m * k) as f64),
        Op::Dot => (0.0, 2.0 * sz * (m * k) as f64),
    })
}

/// One run's answer: the reported scalar (for a matrix result, its sum as a checksum) and, for
/// `matmul` and `gram`, the product itself, so `verify` can check the output that was measured.
pub struct Answer<T> {
    pub result: f64,
    pub product: Option<Array2<T>>,
}

/// Runs the operation once.
pub fn run_once<T: Element>(
    op: Op,
    cfg: &Config,
    inp: &Inputs<T>,
) -> Result<Answer<T>, rayblas::Error> {
    let a = &inp.a;
    let b = || inp.b.as_ref().expect("inputs() made B");
    let scalar = |v: T| Answer {
        result: v.to_f64(),
        product: None,
    };
    let with_checksum = |c: Array2<T>| -> Result<Answer<T>, rayblas::Error> {
        let sum = Config::new().strategy(Strategy::Serial).sum(&c)?;
        Ok(Answer {
            result: sum.to_f64(),
            product: Some(c),
        })
    };
    match op {
        Op::Matmul => with_checksum(cfg.matmul(a, b())?),
        Op::Gram => with_checksum(cfg.gram(a)?),
        Op::GramSum => cfg.gram_reduce(a, Reduction::Sum).map(scalar),
        Op::MatmulSum => cfg.matmul_reduce(a, b(), Reduction::Sum).map(scalar),
        Op::Sum => cfg.sum(a).map(scalar),
        Op::Norm => cfg.norm(a).map(scalar),
        Op::Max => cfg.max(a).map(scalar),
        Op::Dot => cfg.dot(a, b()).map(scalar),
    }
}
