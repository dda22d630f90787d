//! What one measurement runs: the operation, its inputs (random or .npy), and the work it does
//! (flops or bytes), so rates and efficiencies can be computed.

use clap::{Args, ValueEnum};
use ndarray::{Array2, ArrayView2, ArrayView3};
use rayblas::mapped::{Mapped, NpyMap};
use rayblas::{BlockShape, Calls, Config, Element, Reduction, Strategy};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Smallest element of X (m×k).
    Min,
    /// Mean of X (m×k).
    Mean,
    /// Position of the first largest element of X (m×k), row-major; reported as (row, col).
    Argmax,
    /// Position of the first smallest element of X (m×k), row-major; reported as (row, col).
    Argmin,
    /// Σ x∘y over X and Y (both m×k).
    Dot,
}

/// The most measuring processes per strategy (`--repeat`) and warm-up runs per process
/// (`--warmup`): a day's worth of the smallest workload, and far from any count that overflows.
const MAX_PROCESSES: usize = 1000;

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
            Op::Min => "min",
            Op::Mean => "mean",
            Op::Argmax => "argmax",
            Op::Argmin => "argmin",
            Op::Dot => "dot",
        }
    }

    /// Whether the result is a position (reported as the row-major flat index).
    pub fn is_position(self) -> bool {
        matches!(self, Op::Argmax | Op::Argmin)
    }

    /// Whether the op is undefined on an empty matrix.
    pub fn needs_elements(self) -> bool {
        matches!(self, Op::Max | Op::Min | Op::Mean | Op::Argmax | Op::Argmin)
    }

    /// Whether the op has a third size n (B's columns).
    pub fn has_n(self) -> bool {
        matches!(self, Op::Matmul | Op::MatmulSum)
    }

    /// Whether `--calls` means something for the op: products make BLAS calls, reductions
    /// none.
    pub fn takes_calls(self) -> bool {
        self.is_product()
    }

    /// Matrix products are rated in GFLOP/s; reductions in GB/s.
    pub fn is_product(self) -> bool {
        matches!(self, Op::Matmul | Op::Gram | Op::GramSum | Op::MatmulSum)
    }

    /// The `n` a row reports for operands of A m×k and B with `b_cols` columns (if any): B's
    /// columns for a product of two, m for a Gram product (its output is m×m), else k.
    pub fn reported_n(self, m: usize, k: usize, b_cols: Option<usize>) -> usize {
        match (b_cols, self) {
            (Some(n), Op::Matmul | Op::MatmulSum) => n,
            (_, Op::Gram | Op::GramSum) => m,
            _ => k,
        }
    }

    /// Elements the op writes: the m×n product, the m×m Gram matrix, or one scalar (counted
    /// as none: it moves no memory worth a limit).
    pub fn output_elements(self, m: usize, n: usize) -> f64 {
        match self {
            Op::Matmul => m as f64 * n as f64,
            Op::Gram => m as f64 * m as f64,
            _ => 0.0,
        }
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

/// The square size when neither `--n` nor the separate sizes are given.
pub const DEFAULT_N: usize = 4000;
/// The block when `--block` is not given.
pub const DEFAULT_BLOCK: &str = "500";
/// The seed when `--seed` is not given.
pub const DEFAULT_SEED: u64 = 42;

/// Workload options shared by `run`, `compare` and `sweep`. Options left out are `None`, so an
/// option given where the op or the inputs make no use of it is an error ([`Self::check_used`]),
/// not silently ignored.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct WorkloadArgs {
    /// Operation.
    #[arg(long, value_enum, default_value = "gram-sum")]
    pub op: Op,
    /// Square size: sets m, k and n unless given separately [default: 4000].
    #[arg(long)]
    pub n: Option<usize>,
    /// Rows of A / X (default: --n).
    #[arg(long)]
    pub m: Option<usize>,
    /// Inner dimension: columns of A / X, rows of B (default: --n).
    #[arg(long)]
    pub k: Option<usize>,
    /// Block (tile) shape: N or RxC [default: 500]. Products only; `native` does not use it.
    #[arg(long)]
    pub block: Option<String>,
    /// Tiles per BLAS call for the products: `strips` (adjacent tiles of a tile row in one
    /// call, the library default; matmul and gram merge tile rows under 1024 rows into bands of
    /// about 1024, the fused ops merge tiles into calls of up to 1024 columns) or `tiles` (one
    /// call per tile) [default: strips].
    #[arg(long)]
    pub calls: Option<String>,
    /// Element type.
    #[arg(long, value_enum, default_value = "f64")]
    pub dtype: DtypeArg,
    /// Seed of the random inputs (uniform in [0, 1), as numpy/dask `random`) [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Products in a batch (matmul only): A is B random items of m×k and B is B items of
    /// k×n, multiplied item by item through `Config::matmul_batch` (under blocked the items
    /// are dealt to the workers, each one BLAS call at one thread; native makes one call of
    /// the library's own batched GEMM where it has one); time/run is the whole batch.
    #[arg(long)]
    #[serde(default)]
    pub batch: Option<usize>,
    /// Read A (or X) from a 2-D .npy file of the chosen dtype instead of generating it.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Read B (or Y) from a .npy file, with --input, for matmul, matmul-sum and dot. Without
    /// it, B is Aᵀ for matmul and matmul-sum and Y is A itself for dot.
    #[arg(long)]
    pub input_b: Option<PathBuf>,
    /// Write the product (matmul, gram) to this .npy file, C order, in the chosen dtype. With
    /// --input the product is filled block by block through a memory mapping, so it may be
    /// larger than memory. Every measured run writes it (the time includes writing), through a
    /// temporary name renamed when complete; the file left is the last run's (under compare,
    /// the last strategy's).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Measuring processes per strategy. Each times one run, or, for fast ops, several samples
    /// of many runs (at least 20 ms per sample).
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Untimed runs before the timed ones (per process); fast ops warm up for at least 20 ms.
    /// 0 times one cold run per process.
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Peak GFLOP/s for the % of peak column (default: one-thread GEMM measured at start ×
    /// physical cores). Products only.
    #[arg(long, allow_negative_numbers = true)]
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
    /// The block shape's text, after its default.
    pub fn block_text(&self) -> &str {
        self.block.as_deref().unwrap_or(DEFAULT_BLOCK)
    }

    /// The calls' text, after its default.
    pub fn calls_text(&self) -> &str {
        self.calls.as_deref().unwrap_or("strips")
    }

    /// The seed of the random inputs, after its default.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(DEFAULT_SEED)
    }

    /// Refuses options that this op, these inputs or these strategies would ignore, so a run
    /// never measures something other than what was asked. `sweep` passes `sweep = true` (it
    /// takes its blocks from `--blocks`).
    pub fn check_used(&self, strategies: &[String], sweep: bool) -> Result<(), String> {
        let op = self.op.name();
        let given = |v: bool, flag: &str, why: String| {
            if v {
                Err(format!("{flag} does not apply here: {why}"))
            } else {
                Ok(())
            }
        };
        if self.input.is_some() {
            for (v, flag) in [
                (self.n.is_some(), "--n"),
                (self.m.is_some(), "--m"),
                (self.k.is_some(), "--k"),
            ] {
                given(v, flag, "with --input the sizes come from the file".into())?;
            }
            given(
                self.seed.is_some(),
                "--seed",
                "with --input no operand is random".into(),
            )?;
        } else {
            given(
                self.input_b.is_some(),
                "--input-b",
                "it needs --input (both operands from files)".into(),
            )?;
            given(
                self.n.is_some() && self.m.is_some() && self.k.is_some() && !self.op.has_n(),
                "--n",
                format!("--m and --k are given and {op} has no third size"),
            )?;
        }
        if self.batch.is_some() {
            given(
                self.op != Op::Matmul,
                "--batch",
                format!("{op} has no batched form (matmul has)"),
            )?;
            given(
                self.input.is_some(),
                "--batch",
                "a batch is made of random items, not read from a file".into(),
            )?;
            given(
                self.output.is_some(),
                "--batch",
                "a batch's products are not written to a file".into(),
            )?;
            given(sweep, "--batch", "sweep measures single products".into())?;
            given(
                strategies
                    .iter()
                    .any(|s| matches!(crate::ranks::split(s), Ok(Some(_)))),
                "--batch",
                "MPI ranks run single products".into(),
            )?;
        }
        given(
            self.input_b.is_some() && !self.op.needs_b(),
            "--input-b",
            format!("{op} takes one matrix"),
        )?;
        given(
            self.output.is_some() && !matches!(self.op, Op::Matmul | Op::Gram),
            "--output",
            format!("{op} has no matrix to write (matmul and gram have)"),
        )?;
        given(
            self.output.is_some() && sweep,
            "--output",
            "sweep writes its own files into --out".into(),
        )?;
        given(
            self.calls.is_some() && !self.op.takes_calls(),
            "--calls",
            format!("{op} makes no BLAS calls"),
        )?;
        given(
            self.peak.is_some() && !self.op.is_product(),
            "--peak",
            format!("{op} is rated in GB/s, not against a GFLOP/s peak"),
        )?;
        if self.block.is_some() {
            given(
                !self.op.is_product(),
                "--block",
                format!("{op} is split by rows, not into tiles"),
            )?;
            given(
                sweep,
                "--block",
                "sweep takes its block sizes from --blocks".into(),
            )?;
            given(
                !strategies.is_empty() && strategies.iter().all(|s| !uses_block(s)),
                "--block",
                "native makes one BLAS call over the whole operands".into(),
            )?;
        }
        Ok(())
    }

    /// What one BLAS call covers under the tiled strategies, for this op: `--calls` for the
    /// products, `None` for reductions (no BLAS calls) or a `--calls` that does not parse
    /// (which `validate` reports).
    pub fn effective_calls(&self) -> Option<Calls> {
        if self.op.takes_calls() {
            self.calls_text().parse().ok()
        } else {
            None
        }
    }

    /// Checks sizes, the block and the calls; returns the shape, the block and the calls.
    pub fn validate(&self) -> Result<(Shape, BlockShape, Calls), String> {
        let block: BlockShape = self
            .block_text()
            .parse()
            .map_err(|e: rayblas::Error| e.to_string())?;
        let calls: Calls = self
            .calls_text()
            .parse()
            .map_err(|e: rayblas::Error| e.to_string())?;
        if !(1..=MAX_PROCESSES).contains(&self.repeat) {
            return Err(format!(
                "--repeat must be 1 to {MAX_PROCESSES} measuring processes per strategy, got {}",
                self.repeat
            ));
        }
        if self.warmup > MAX_PROCESSES {
            return Err(format!(
                "--warmup must be 0 to {MAX_PROCESSES} runs per process, got {}",
                self.warmup
            ));
        }
        let square = self.n.unwrap_or(DEFAULT_N);
        let shape = Shape {
            m: self.m.unwrap_or(square),
            k: self.k.unwrap_or(square),
            n: if self.op.has_n() {
                square
            } else {
                self.m.unwrap_or(square)
            },
        };
        if self.input.is_none() && (shape.m == 0 || shape.k == 0 || shape.n == 0) {
            return Err(format!(
                "sizes must be at least 1 (got m={} k={} n={})",
                shape.m, shape.k, shape.n
            ));
        }
        if self.batch == Some(0) {
            return Err("--batch must be at least 1 product".into());
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

/// The shape a run measures: `s` (the sizes given, or their defaults), or with `--input` the
/// files' own (B is Aᵀ without `--input-b`).
pub fn actual_shape(w: &WorkloadArgs, s: Shape) -> Shape {
    let Some((m, k)) = w.input.as_ref().and_then(|a| file_dims(w.dtype, a)) else {
        return s;
    };
    let n = match (&w.input_b, w.op) {
        (Some(b), Op::Matmul | Op::MatmulSum) => file_dims(w.dtype, b).map_or(m, |d| d.1),
        _ => m,
    };
    Shape { m, k, n }
}

/// Rows and columns of a `.npy` input of `dtype`, from its header; `None` when it cannot be
/// read (the measuring process reports what is wrong with it).
fn file_dims(dtype: DtypeArg, path: &Path) -> Option<(usize, usize)> {
    match dtype {
        DtypeArg::F64 => NpyMap::<f64>::open(path).ok().map(|f| f.dim()),
        DtypeArg::F32 => NpyMap::<f32>::open(path).ok().map(|f| f.dim()),
    }
}

/// Bytes one measuring process holds for its operands and its output under `strategy`: the
/// inputs it makes (a file given with `--input` is mapped and streamed: at most one chunk of it
/// is held, [`rayblas::mapped::CHUNK_BYTES`] per operand), and the product where one is stored
/// (matmul and gram always; the fused ops under `native`, which forms the whole product before
/// reducing it). With `--input` the sizes come from the files' headers; a file that cannot be
/// read counts as nothing here (the measuring process reports what is wrong with it).
/// Saturates rather than overflows.
pub fn memory_needed(w: &WorkloadArgs, shape: Shape, strategy: &str) -> u128 {
    let size = w.dtype.size() as u128;
    let dims = |p: &PathBuf| file_dims(w.dtype, p);
    let chunk = |(r, c): (usize, usize)| {
        ((r as u128) * (c as u128) * size).min(rayblas::mapped::CHUNK_BYTES as u128)
    };
    let (m, n, mut bytes) = match &w.input {
        Some(p) => {
            let Some((m, k)) = dims(p) else { return 0 };
            let b = match &w.input_b {
                Some(q) if w.op.needs_b() => match dims(q) {
                    Some(d) => Some(d),
                    None => return 0,
                },
                _ => None,
            };
            let n = match (w.op, b) {
                (Op::Matmul | Op::MatmulSum, Some((_, n))) => n,
                _ => m,
            };
            let held = chunk((m, k)).saturating_add(b.map_or(0, chunk));
            (m as u128, n as u128, held)
        }
        None => {
            let (m, k, n) = (shape.m as u128, shape.k as u128, shape.n as u128);
            let mut made = m.saturating_mul(k).saturating_mul(size);
            if w.op.needs_b() {
                let b = if w.op == Op::Dot {
                    m.saturating_mul(k)
                } else {
                    k.saturating_mul(n)
                };
                made = made.saturating_add(b.saturating_mul(size));
            }
            (m, n, made)
        }
    };
    // A batch holds B items of each operand and of the output.
    let items = w.batch.unwrap_or(1) as u128;
    bytes = bytes.saturating_mul(items);
    let native = !uses_block(strategy);
    // Written block by block into a mapped file: one output block, and on gram's diagonal one
    // range's Gram matrix of a block beside it.
    let block = |copies: u128| {
        m.saturating_mul(n)
            .min(rayblas::mapped::CHUNK_BYTES as u128 / size)
            .saturating_mul(copies)
    };
    let output = match w.op {
        Op::Matmul if w.input.is_some() && w.output.is_some() => block(1),
        Op::Gram if w.input.is_some() && w.output.is_some() => block(2),
        Op::Matmul => m.saturating_mul(n).saturating_mul(items),
        Op::MatmulSum if native => m.saturating_mul(n),
        // Streamed from a file, gram also holds one range's product beside the sum.
        Op::Gram if w.input.is_some() => m.saturating_mul(m).saturating_mul(2),
        Op::Gram => m.saturating_mul(m),
        Op::GramSum if native => m.saturating_mul(m),
        _ => 0,
    };
    bytes = bytes.saturating_add(output.saturating_mul(size));
    bytes
}

/// Rows and columns of the op's matrix output (matmul, gram), from the sizes or the input
/// files' headers; `None` for ops without one or a file that cannot be read (the measuring
/// process reports what is wrong with it).
pub fn output_dim(w: &WorkloadArgs, shape: Shape) -> Option<(usize, usize)> {
    let dims = |p: &PathBuf| file_dims(w.dtype, p);
    let (m, n) = match &w.input {
        None => (shape.m, shape.n),
        Some(a) => {
            let m = dims(a)?.0;
            match (&w.input_b, w.op) {
                (Some(b), Op::Matmul) => (m, dims(b)?.1),
                _ => (m, m),
            }
        }
    };
    match w.op {
        Op::Matmul => Some((m, n)),
        Op::Gram => Some((m, m)),
        _ => None,
    }
}

/// Whether a strategy cuts the operands into blocks (`native` makes one call over them).
pub fn uses_block(strategy: &str) -> bool {
    !matches!(
        strategy.parse::<Strategy>(),
        Ok(Strategy::Native { .. } | Strategy::NativeOnRayon { .. })
    )
}

/// The inputs of one run, in the chosen dtype.
pub struct Inputs<T> {
    pub a: Matrix<T>,
    pub b: Option<Matrix<T>>,
    /// Products in a batch (`--batch`): A holds its items stacked by rows (B·m × k), B its
    /// items stacked likewise (B·k × n).
    pub batch: Option<usize>,
}

impl<T: Element> Inputs<T> {
    /// A batch's operands as 3-D views (item, rows, columns), or `None` for a single product.
    pub fn batch_views(&self) -> Option<(ArrayView3<'_, T>, ArrayView3<'_, T>)> {
        let count = self.batch?;
        let (a, b) = (self.a.view(), self.b.as_ref()?.view());
        let (rows_a, k) = a.dim();
        let (rows_b, n) = b.dim();
        let a3 = a.into_shape_with_order((count, rows_a / count, k)).ok()?;
        let b3 = b.into_shape_with_order((count, rows_b / count, n)).ok()?;
        Some((a3, b3))
    }
}

/// An operand: made in memory, or a memory-mapped `.npy` file (possibly used transposed), which
/// the streamed (`*_mapped`) operations read chunk by chunk. A clone of a file shares its map.
#[derive(Clone)]
pub enum Matrix<T> {
    Memory(Array2<T>),
    File {
        map: Arc<NpyMap<T>>,
        transposed: bool,
    },
}

impl<T: Element> Matrix<T> {
    pub fn view(&self) -> ArrayView2<'_, T> {
        match self {
            Matrix::Memory(a) => a.view(),
            Matrix::File { map, transposed } => {
                let v = map.view();
                if *transposed {
                    v.reversed_axes()
                } else {
                    v
                }
            }
        }
    }

    /// The mapped matrix, for the streamed operations.
    pub fn mapped(&self) -> Option<Mapped<'_, T>> {
        match self {
            Matrix::Memory(_) => None,
            Matrix::File { map, transposed } => Some(if *transposed {
                map.matrix().t()
            } else {
                map.matrix()
            }),
        }
    }

    pub fn dim(&self) -> (usize, usize) {
        self.view().dim()
    }

    pub fn ncols(&self) -> usize {
        self.dim().1
    }

    /// The transpose: a view of the same file, or a copy in memory (a contiguous operand).
    fn transposed(&self) -> Matrix<T> {
        match self {
            Matrix::Memory(a) => Matrix::Memory(a.t().to_owned()),
            Matrix::File { map, transposed } => Matrix::File {
                map: Arc::clone(map),
                transposed: !transposed,
            },
        }
    }
}

/// Maps a .npy file (nothing is read until used).
fn open_npy<T: Element>(path: &PathBuf) -> Result<Matrix<T>, String> {
    let map = NpyMap::<T>::open(path).map_err(npy_error::<T>)?;
    Ok(Matrix::File {
        map: Arc::new(map),
        transposed: false,
    })
}

/// An input file's error, with what to do about a dtype or a vector.
pub fn npy_error<T: Element>(e: rayblas::Error) -> String {
    match e {
        rayblas::Error::Io { path, reason } if reason.contains("holds elements of type") => {
            format!(
                "{path}: {reason}: pass --dtype to match the file, or convert it to {} \
                 (x.astype('{}'))",
                T::DTYPE.name(),
                if T::DTYPE == rayblas::Dtype::F32 {
                    "float32"
                } else {
                    "float64"
                }
            )
        }
        rayblas::Error::Io { path, reason } if reason.contains("-D array") => format!(
            "{path}: {reason} (in numpy, x.reshape(1, -1) makes a row, x.reshape(-1, 1) a column)"
        ),
        other => other.to_string(),
    }
}

/// Builds (or reads) the inputs. Never inside the timing.
pub fn inputs<T: Element>(w: &WorkloadArgs, s: Shape) -> Result<Inputs<T>, String> {
    let items = w.batch.unwrap_or(1);
    let a = match &w.input {
        Some(p) => open_npy::<T>(p)?,
        None => Matrix::Memory(rayblas::bench::uniform::<T>(items * s.m, s.k, w.seed())),
    };
    let b = if w.op.needs_b() {
        Some(match &w.input_b {
            Some(p) => open_npy::<T>(p)?,
            // Documented on --input-b: Aᵀ for the products, A itself for dot.
            None if w.input.is_some() && w.op != Op::Dot => a.transposed(),
            None if w.input.is_some() => a.clone(),
            None if w.op == Op::Dot => {
                Matrix::Memory(rayblas::bench::uniform::<T>(s.m, s.k, w.seed() + 1))
            }
            None => Matrix::Memory(rayblas::bench::uniform::<T>(items * s.k, s.n, w.seed() + 1)),
        })
    } else {
        None
    };
    if let Some(b) = &b {
        let ok = if w.op == Op::Dot {
            b.dim() == a.dim()
        } else {
            b.dim().0 == a.ncols() * items
        };
        if !ok {
            return Err(format!(
                "{}: shapes do not fit: A is {}x{}, B is {}x{}",
                w.op.name(),
                a.dim().0,
                a.ncols(),
                b.dim().0,
                b.ncols()
            ));
        }
    }
    let (rows, cols) = a.dim();
    if rows * cols == 0 && w.op.needs_elements() {
        return Err(format!(
            "{} of an empty matrix is undefined (A is {}x{})",
            w.op.name(),
            rows,
            cols
        ));
    }
    Ok(Inputs {
        a,
        b,
        batch: w.batch,
    })
}

/// The work of one run: flops (products) and bytes of input read.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    /// The op's minimum flops, whatever computes it: matmul 2·m·n·k; gram and gram-sum
    /// m·(m+1)·k (only one triangle of the symmetric product, as `syrk` computes it).
    pub useful_flops: f64,
    /// The flops this strategy and backend really perform: whole tiles on and below the diagonal
    /// for a tiled gram, 2·m²·k for a full-GEMM gram (BLIS, pure-rust under `native`).
    pub performed_flops: f64,
    /// Bytes of input read once.
    pub bytes: f64,
}

/// The work one run does under `cfg`.
pub fn work<T: Element>(op: Op, cfg: &Config, inp: &Inputs<T>) -> Result<Work, rayblas::Error> {
    work_of_shapes::<T>(op, cfg, inp.a.dim(), inp.b.as_ref().map(|b| b.dim()))
}

/// [`work`] from the operands' shapes: `a` is A's `(rows, cols)`, `b` B's if the op has one.
pub fn work_of_shapes<T: Element>(
    op: Op,
    cfg: &Config,
    (m, k): (usize, usize),
    b: Option<(usize, usize)>,
) -> Result<Work, rayblas::Error> {
    let sz = std::mem::size_of::<T>() as f64;
    let (b_rows, n) = b.unwrap_or((0, 0));
    let (mf, kf, nf) = (m as f64, k as f64, n as f64);
    Ok(match op {
        // A batch stacks its items' rows: B·m rows of A, B·k rows of B, B·m rows of output.
        Op::Matmul | Op::MatmulSum => Work {
            useful_flops: 2.0 * mf * nf * kf,
            performed_flops: 2.0 * mf * nf * kf,
            bytes: sz * (mf * kf + b_rows as f64 * nf),
        },
        Op::Gram | Op::GramSum => Work {
            useful_flops: mf * (mf + 1.0) * kf,
            performed_flops: cfg.gram_flops(m, k)?,
            bytes: sz * mf * kf,
        },
        Op::Dot => Work {
            useful_flops: 0.0,
            performed_flops: 0.0,
            bytes: 2.0 * sz * mf * kf,
        },
        _ => Work {
            useful_flops: 0.0,
            performed_flops: 0.0,
            bytes: sz * mf * kf,
        },
    })
}

/// One run's answer: the reported scalar (for a matrix result, its sum as a checksum) and, for
/// `matmul` and `gram`, the product itself, so `verify` can check the output that was measured.
pub struct Answer<T> {
    pub result: f64,
    pub product: Option<Product<T>>,
}

/// A product as a run left it: in memory, or written to the `--output` file (mapped to check).
pub enum Product<T> {
    Memory(Array2<T>),
    File(NpyMap<T>),
}

impl<T: Element> Product<T> {
    pub fn view(&self) -> ArrayView2<'_, T> {
        match self {
            Product::Memory(c) => c.view(),
            Product::File(map) => map.view(),
        }
    }
}

/// Runs the operation once; with `output`, writes the product (matmul, gram) there.
pub fn run_once<T: Element>(
    op: Op,
    cfg: &Config,
    inp: &Inputs<T>,
    output: Option<&Path>,
) -> Result<Answer<T>, rayblas::Error> {
    let b = || inp.b.as_ref().expect("inputs() made B");
    let scalar = |v: T| Answer {
        result: v.to_f64(),
        product: None,
    };
    let with_checksum = |c: Array2<T>| -> Result<Answer<T>, rayblas::Error> {
        let sum = Config::new().strategy(Strategy::Serial).sum(&c)?;
        let product = match output {
            Some(out) => {
                rayblas::mapped::write_npy(out, &c.view())?;
                drop(c);
                Product::File(NpyMap::open(out)?)
            }
            None => Product::Memory(c),
        };
        Ok(Answer {
            result: sum.to_f64(),
            product: Some(product),
        })
    };
    // The checksum of a product written block by block, read back from its file in chunks.
    let from_file = |out: &Path| -> Result<Answer<T>, rayblas::Error> {
        let map = NpyMap::open(out)?;
        let sum: T = Config::new()
            .strategy(Strategy::Serial)
            .reduce_mapped(map.matrix(), Reduction::Sum)?;
        Ok(Answer {
            result: sum.to_f64(),
            product: Some(Product::File(map)),
        })
    };
    // Mapped files stream through the out-of-core operations, which hold one chunk of the
    // file at a time; argmax, argmin and dot read them as views (the pages they touch stay
    // resident until the process ends or the kernel reclaims them).
    if let Some(x) = inp.a.mapped() {
        let y = || b().mapped().expect("B is a file when A is");
        match (op, output) {
            (Op::Matmul, Some(out)) => {
                cfg.matmul_to_npy(x, y(), out)?;
                return from_file(out);
            }
            (Op::Gram, Some(out)) => {
                cfg.gram_to_npy(x, out)?;
                return from_file(out);
            }
            (Op::Matmul, None) => return with_checksum(cfg.matmul_mapped(x, y())?),
            (Op::Gram, None) => return with_checksum(cfg.gram_mapped(x)?),
            (Op::GramSum, _) => return cfg.gram_reduce_mapped(x, Reduction::Sum).map(scalar),
            (Op::MatmulSum, _) => {
                return cfg.matmul_reduce_mapped(x, y(), Reduction::Sum).map(scalar)
            }
            (Op::Sum, _) => return cfg.reduce_mapped(x, Reduction::Sum).map(scalar),
            (Op::Norm, _) => return cfg.norm_mapped(x).map(scalar),
            (Op::Max, _) => return cfg.reduce_mapped(x, Reduction::Max).map(scalar),
            (Op::Min, _) => return cfg.reduce_mapped(x, Reduction::Min).map(scalar),
            (Op::Mean, _) => {
                // inputs() refused an empty matrix for the mean.
                let (m, k) = x.dim();
                let sum = cfg.reduce_mapped(x, Reduction::Sum)?;
                return Ok(scalar(sum / T::from_f64((m * k) as f64)));
            }
            (Op::Argmax | Op::Argmin | Op::Dot, _) => {}
        }
    }
    if let Some((a3, b3)) = inp.batch_views() {
        let c = cfg.matmul_batch(a3, b3)?;
        let (count, m, n) = c.dim();
        let stacked = c
            .into_shape_with_order((count * m, n))
            .expect("a standard-layout batch");
        return with_checksum(stacked);
    }
    let a = &inp.a.view();
    let b = || inp.b.as_ref().expect("inputs() made B").view();
    match op {
        Op::Matmul => with_checksum(cfg.matmul(a, b())?),
        Op::Gram => with_checksum(cfg.gram(a)?),
        Op::GramSum => cfg.gram_reduce(a, Reduction::Sum).map(scalar),
        Op::MatmulSum => cfg.matmul_reduce(a, b(), Reduction::Sum).map(scalar),
        Op::Sum => cfg.sum(a).map(scalar),
        Op::Norm => cfg.norm(a).map(scalar),
        Op::Max => cfg.max(a).map(scalar),
        Op::Min => cfg.min(a).map(scalar),
        Op::Mean => cfg.mean(a).map(scalar),
        Op::Argmax | Op::Argmin => {
            let (i, j) = if op == Op::Argmax {
                cfg.argmax(a)?
            } else {
                cfg.argmin(a)?
            };
            // Row-major flat index: exact in an f64 below 2⁵³ elements.
            Ok(Answer {
                result: (i * a.ncols() + j) as f64,
                product: None,
            })
        }
        Op::Dot => cfg.dot(a, b()).map(scalar),
    }
}
