//! Matrices in `.npy` files, memory-mapped rather than read, and operations that stream them
//! chunk by chunk in bounded memory: out of core (feature `npy`). The guide, with measurements:
//! `docs/out-of-core.md` in the repository.
//!
//! [`NpyMap::open`] maps a 2-D `f32`/`f64` `.npy` file (C or Fortran order) read-only; nothing
//! is read until used. Every [`Config`] method takes [`NpyMap::view`] like any array, but the
//! pages a computation touches stay resident (they count in RSS) until the process ends or the
//! kernel needs the memory. The `*_mapped` methods of [`Config`] bound that:
//!
//! - **Reductions** ([`Config::reduce_mapped`], [`Config::norm_mapped`]) walk the file in
//!   chunks of about [`CHUNK_BYTES`] along its storage order (whole rows of a C-order file),
//!   reduce each chunk in place with the configured strategy, and release its pages
//!   (`madvise(MADV_DONTNEED)`) before the next.
//! - **Products** ([`Config::gram_reduce_mapped`], [`Config::matmul_reduce_mapped`],
//!   [`Config::gram_mapped`], [`Config::matmul_mapped`]) split the inner dimension k into
//!   ranges whose operand chunks together hold about [`CHUNK_BYTES`], read each range's chunk
//!   into memory with one positioned read (`pread`) per file line, compute the range's product
//!   with the configured strategy, and add the ranges in order. A range of k cuts across a
//!   C-order file's rows: used in place through the mapping, it would leave a piece of every
//!   row resident, and on file systems with large folios (ext4 on Linux 6.x) each touch maps a
//!   whole folio, so the resident set grew to the whole file in our tests. The read is one pass
//!   over the input per product, small beside its flops, and a file truncated during a run is
//!   an [`Error::Io`] there instead of a `SIGBUS`.
//!
//! While one range's product runs, a thread of its own reads the next range, so reading
//! overlaps computing.
//!
//! **Memory bound:** resident memory stays near two chunks of the inputs ([`CHUNK_BYTES`], or
//! [`Mapped::chunk_bytes`], per step: the one computing and the one being read) plus what the product of
//! one chunk needs in memory under the strategy (nothing beyond tiles for `blocked`; the whole
//! chunk product under `native`), plus the output: the m×n product for `gram_mapped` (twice:
//! the sum and one range's product) and `matmul_mapped`, and for fused reductions other than a
//! sum (a sum of a product is added range by range and needs no output at all). So these
//! suit products whose output is small beside their inputs: XᵀX or X·Xᵀ of tall or wide data,
//! covariances, normal equations. Measured (`tests` of the CLI): a 763 MiB file under a 512 MiB
//! data limit, peak RSS about 100 MiB for gram-sum, sum and norm.
//!
//! **Outputs larger than memory:** [`Config::gram_to_npy`] and [`Config::matmul_to_npy`]
//! write the product to a new `.npy` file instead, filled block by block through a writable
//! shared mapping: near-square output blocks of about one chunk, each computed over the ranges
//! of k as above and then released. Resident memory stays near one output block (two for
//! gram, whose diagonal blocks add one range's Gram matrix) plus two chunks of the inputs,
//! whatever the output's size. Each input is read once per block row or column of the
//! output. Measured (`tests` of the CLI): a 1.07 GiB Gram matrix written under a 768 MiB
//! data limit.
//!
//! **Writing** ([`write_npy`], [`write_npy_rows`] and the `*_to_npy` methods) first checks
//! the disk has room ([`ensure_room`]), reserves the whole file (`posix_fallocate`, so a full
//! disk is an error up front, never a fault while writing through the mapping), writes under a
//! temporary name beside the target (`.NAME.partial-PID-N`) and renames it to the target only
//! when complete and synced to disk. On any error the temporary file is removed: no partial
//! file ever carries the final name, and an older file of that name stays as it was.
//!
//! **Results** equal the in-memory methods' within rounding: a product is summed over ranges of
//! k and a reduction over chunks, so the additions happen in another (fixed) order. For one
//! file, strategy and worker count the result is reproducible bit for bit.
//!
//! **The file must not change while it is mapped.** rayblas checks its length against the
//! header when it opens it (a truncated file or a header that promises more data is an
//! [`Error::Io`]). What a change during a run does:
//! - truncated, where products read it: an [`Error::Io`] (the read comes up short), and a
//!   product being written to a file leaves no output;
//! - truncated, where reductions and [`NpyMap::view`] read the mapping: the process gets
//!   `SIGBUS` and ends (the `rayblas` CLI reports its measuring process killed by it);
//! - rewritten in place: results of no meaning, as with any data changed under a computation.
//!
//! The CLI hashes its input files before measuring, so a file that changes between runs
//! shows in the recorded `input_sha256`.

use crate::error::{Error, Result};
use crate::{Config, Element, Reduction};
use memmap2::Mmap;
use ndarray::{s, Array2, ArrayView2, Zip};
use std::marker::PhantomData;
use std::ops::Range;
use std::path::{Path, PathBuf};

mod output;
mod reader;
#[cfg(feature = "mpi")]
pub(crate) use output::{create_shared_npy, finish_shared_npy, write_block_at};
pub use output::{ensure_room, write_npy, write_npy_rows};
pub use reader::NpyReader;

/// Bytes of input one streamed step maps in and releases: 64 MiB, large enough that a step's
/// product or reduction runs at full speed, small enough that a few of them fit anywhere.
pub const CHUNK_BYTES: usize = 64 << 20;

/// A 2-D `.npy` file of `T`, memory-mapped read-only.
///
/// ```
/// # fn main() -> rayblas::Result<()> {
/// use rayblas::mapped::NpyMap;
/// use rayblas::{Config, Reduction};
/// let path = std::env::temp_dir().join(format!("rayblas-doc-{}.npy", std::process::id()));
/// let x = ndarray::Array2::from_shape_fn((300, 2000), |(i, j)| ((i + j) % 7) as f64);
/// rayblas::mapped::write_npy(&path, &x.view())?;
///
/// let map = NpyMap::<f64>::open(&path)?;
/// let cfg = Config::new();
/// let streamed = cfg.gram_reduce_mapped(map.matrix(), Reduction::Sum)?;
/// let in_memory = cfg.gram_sum(&x)?;
/// assert!((streamed - in_memory).abs() <= 1e-12 * in_memory.abs());
/// assert_eq!(cfg.reduce_mapped(map.matrix(), Reduction::Max)?, 6.0);
/// # std::fs::remove_file(&path).ok();
/// # Ok(())
/// # }
/// ```
pub struct NpyMap<T> {
    map: Mmap,
    /// The file, for [`Mapped::load`]'s positioned reads.
    lines: FileLines,
    _element: PhantomData<T>,
}

/// An open `.npy` file whose header was checked: where its data lies and in what order.
struct FileLines {
    file: std::fs::File,
    path: PathBuf,
    /// Byte offset of the first element.
    offset: usize,
    dim: (usize, usize),
    /// Fortran order, and more than one row and column (a vector is the same either way).
    fortran: bool,
}

impl<T: Element> NpyMap<T> {
    /// Maps `path`, checking its header: two dimensions, elements of type `T` in this machine's
    /// byte order, and exactly as many bytes of data as the shape says.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file and what is wrong with it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |reason: String| Error::Io {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::File::open(&path).map_err(|e| io(e.to_string()))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(io("is a directory, not a .npy file".into()));
        }
        // SAFETY: a read-only shared mapping. Rust's aliasing rules assume its bytes never
        // change while it lives, which holds as long as no one writes to or truncates the file
        // meanwhile: the module docs make that the caller's promise (as numpy's memmap does).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| io(e.to_string()))?;
        flat_header(&map).map_err(io)?;
        let view = T::view_npy(&map).map_err(|e| io(describe(&e, T::DTYPE.name())))?;
        let offset = view.as_ptr() as usize - map.as_ptr() as usize;
        let dim = view.dim();
        let fortran = dim.0 > 1 && dim.1 > 1 && view.strides()[0] == 1;
        Ok(NpyMap {
            map,
            lines: FileLines {
                file,
                path,
                offset,
                dim,
                fortran,
            },
            _element: PhantomData,
        })
    }

    /// The whole matrix as an array view (no copy). Pages it touches stay resident; the
    /// `*_mapped` methods of [`Config`] release them as they go.
    ///
    /// # Panics
    /// If the file's header was rewritten since [`NpyMap::open`] checked it, which the
    /// [module docs](crate::mapped) rule out.
    pub fn view(&self) -> ArrayView2<'_, T> {
        T::view_npy(&self.map).expect("the header was checked by open")
    }

    /// The matrix, for the `*_mapped` methods of [`Config`].
    pub fn matrix(&self) -> Mapped<'_, T> {
        Mapped {
            map: self,
            transposed: false,
            chunk: CHUNK_BYTES,
        }
    }

    /// `(rows, cols)`.
    pub fn dim(&self) -> (usize, usize) {
        self.lines.dim
    }

    /// Whether the file is in Fortran (column-major) order.
    pub fn is_fortran(&self) -> bool {
        self.lines.fortran
    }

    /// The file's size in bytes.
    pub fn file_bytes(&self) -> usize {
        self.map.len()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }

    /// Drops the resident pages of file lines `lines` (rows in C order, columns in Fortran
    /// order). Always safe to call: the pages are read again from the file if used again.
    fn release_lines(&self, lines: Range<usize>) {
        let FileLines {
            offset,
            dim,
            fortran,
            ..
        } = self.lines;
        let line_len = if fortran { dim.0 } else { dim.1 };
        let line_bytes = line_len * std::mem::size_of::<T>();
        let (start, end) = (
            offset + lines.start * line_bytes,
            offset + lines.end * line_bytes,
        );
        // SAFETY: the range lies inside the mapping (callers pass line ranges of the matrix,
        // which `open` checked against the file's length). The mapping is read-only and shared,
        // so MADV_DONTNEED only drops the page-table entries: the next access reads the same
        // bytes from the file again (the unchanged-file promise of the module docs). Views that
        // other threads hold into the range stay valid. An error (there is none for a valid
        // range) would only leave the pages resident, so it is ignored.
        let _ = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                start,
                end.saturating_sub(start),
            )
        };
    }
}

/// A mapped matrix, possibly transposed, as the `*_mapped` methods of [`Config`] take it.
pub struct Mapped<'a, T> {
    map: &'a NpyMap<T>,
    transposed: bool,
    /// Bytes of input per streamed step.
    chunk: usize,
}

impl<T> Clone for Mapped<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Mapped<'_, T> {}

impl<'a, T: Element> Mapped<'a, T> {
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Mapped {
            transposed: !self.transposed,
            ..self
        }
    }

    /// Streams in steps of about `bytes` of input instead of [`CHUNK_BYTES`]: less resident
    /// memory, more steps (each step is one call of the configured strategy).
    pub fn chunk_bytes(self, bytes: usize) -> Self {
        Mapped {
            chunk: bytes.max(1),
            ..self
        }
    }

    /// `(rows, cols)` as used.
    pub fn dim(&self) -> (usize, usize) {
        let (r, c) = self.map.lines.dim;
        if self.transposed {
            (c, r)
        } else {
            (r, c)
        }
    }

    /// The matrix as used, as an array view.
    pub fn view(&self) -> ArrayView2<'a, T> {
        let v = self.map.view();
        if self.transposed {
            v.reversed_axes()
        } else {
            v
        }
    }

    /// Block `rows × cols` (as used) read into memory, C order, with one positioned read
    /// (`pread`) per file line. A block across the file's storage order (a range of k of a
    /// C-order X) holds a piece of every line: read through the mapping, it would leave every
    /// page it touched resident (and a file system with large folios maps a whole folio on each
    /// touch, so the resident set grew to the file). A read copies from the page cache with no
    /// mapping to undo, and a file truncated meanwhile is an error instead of a `SIGBUS`.
    fn load(&self, rows: Range<usize>, cols: Range<usize>) -> Result<Array2<T>> {
        read_block(&self.map.lines, self.transposed, rows, cols)
    }

    /// Whether the elements of one row lie next to each other in the file.
    fn rows_contiguous(&self) -> bool {
        self.map.lines.fortran == self.transposed
    }
}

/// Block `rows × cols` of the file's matrix, transposed or not, read into memory in C order
/// with one positioned read per file line (see [`Mapped::load`] for why a read, not the
/// mapping). The ranges lie inside the matrix (the callers check them).
fn read_block<T: Element>(
    file: &FileLines,
    transposed: bool,
    rows: Range<usize>,
    cols: Range<usize>,
) -> Result<Array2<T>> {
    let mut out = crate::alloc::zeros::<T>("block read from a file", rows.len(), cols.len())?;
    let size = std::mem::size_of::<T>();
    // In file coordinates: which lines, and which elements along each. The elements of one
    // row lie next to each other in the file when its order and the transposition agree.
    let by_rows = file.fortran == transposed;
    let (lines, along) = if by_rows { (rows, cols) } else { (cols, rows) };
    let line_len = if file.fortran { file.dim.0 } else { file.dim.1 };
    let mut line = vec![T::zero(); if by_rows { 0 } else { along.len() }];
    for (i, l) in lines.enumerate() {
        let at = file.offset + (l * line_len + along.start) * size;
        if by_rows {
            read_at(file, out.row_mut(i).as_slice_mut().expect("C order"), at)?;
        } else {
            read_at(file, &mut line, at)?;
            out.column_mut(i)
                .assign(&ndarray::ArrayView1::from(&line[..]));
        }
    }
    Ok(out)
}

/// Fills `dst` with the elements at byte `at` of the file.
fn read_at<T: Element>(file: &FileLines, dst: &mut [T], at: usize) -> Result<()> {
    use std::os::unix::fs::FileExt;
    // SAFETY: `T` is `f32` or `f64` (sealed): no padding, and every byte pattern is a value, so
    // the elements may be written as bytes. The header check of `NpyMap::open` and
    // `NpyReader::open` found them stored in this machine's byte order.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(dst))
    };
    file.file
        .read_exact_at(bytes, at as u64)
        .map_err(|e| Error::Io {
            path: file.path.display().to_string(),
            reason: format!(
                "reading {} bytes at {at}: {e} (did the file change during the run?)",
                bytes.len()
            ),
        })
}

/// Refuses a header with nested brackets before ndarray-npy parses it: its header parser takes
/// exponential time on them (fuzzing found 150 bytes of `{{{{…` that held it for minutes),
/// and no plain 2-D f32/f64 `.npy` has them (numpy writes one flat dictionary with one shape
/// tuple). Bytes that are not a `.npy` header at all are left to ndarray-npy to describe.
fn flat_header(bytes: &[u8]) -> std::result::Result<(), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Ok(());
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => {
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (usize::try_from(len).unwrap_or(usize::MAX), 12)
        }
        _ => return Ok(()),
    };
    let header = &bytes[start..bytes.len().min(start.saturating_add(len))];
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    let nested = count(b'{') > 1
        || count(b'}') > 1
        || count(b'(') > 1
        || count(b')') > 1
        || count(b'[') > 0
        || count(b']') > 0;
    if nested {
        return Err(
            "is not a valid .npy file for rayblas (its header has nested brackets; \
                    numpy writes one flat dictionary for a plain 2-D f32/f64 array)"
                .into(),
        );
    }
    Ok(())
}

fn describe(e: &ndarray_npy::ViewNpyError, dtype: &str) -> String {
    use ndarray_npy::ViewNpyError as E;
    match e {
        E::WrongNdim(_, ndim) => not_a_matrix(*ndim),
        E::WrongDescriptor(d) => wrong_type(&d.to_string(), dtype),
        E::ParseHeader(h) => format!("is not a valid .npy file ({h})"),
        E::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => TOO_SHORT.into(),
        E::MissingBytes(n) => missing_data(*n as u128),
        E::ExtraBytes(n) => extra_data(*n as u128),
        E::LengthOverflow => SHAPE_OVERFLOWS.into(),
        E::MisalignedData => {
            "has its data misaligned for the element type (not written by numpy?)".into()
        }
        other => other.to_string(),
    }
}

// What is wrong with a `.npy` file, in the same words from `NpyMap` and `NpyReader`.
const TOO_SHORT: &str = "is not a valid .npy file (too short for a header)";
const SHAPE_OVERFLOWS: &str = "has a header whose shape overflows the address space";

fn not_a_matrix(ndim: usize) -> String {
    format!("holds a {ndim}-D array; rayblas needs a 2-D matrix")
}

fn wrong_type(descr: &str, dtype: &str) -> String {
    format!("holds elements of type {descr}, not {dtype}")
}

fn missing_data(bytes: u128) -> String {
    format!(
        "is shorter than its header says: {bytes} bytes of data missing (truncated, or the \
         header lies about the shape)"
    )
}

fn extra_data(bytes: u128) -> String {
    format!(
        "has {bytes} bytes after the data its header describes (the header lies about the shape)"
    )
}

/// The type code of `dtype` in a `.npy` header, without the byte order (`f8`, `f4`).
fn npy_kind(dtype: crate::Dtype) -> &'static str {
    match dtype {
        crate::Dtype::F32 => "f4",
        crate::Dtype::F64 => "f8",
    }
}

/// Ranges of `len` with about `per` elements each (at least one; none for an empty `len`).
fn chunks(len: usize, per: usize) -> impl Iterator<Item = Range<usize>> {
    let per = per.max(1);
    (0..len).step_by(per).map(move |s| s..(s + per).min(len))
}

/// Runs `consume(range, load(range))` for each range in order, with the next range's `load`
/// running on a thread of its own meanwhile: reading a chunk overlaps the product of the one
/// before (which uses the strategy's threads), so at most two chunks are in memory. A panic in
/// `load` reaches the caller; an error stops the stream at that range.
fn prefetched<C: Send>(
    ranges: impl Iterator<Item = Range<usize>>,
    load: impl Fn(Range<usize>) -> Result<C> + Sync,
    mut consume: impl FnMut(Range<usize>, C) -> Result<()>,
) -> Result<()> {
    let mut ranges = ranges.peekable();
    let load = &load;
    std::thread::scope(|scope| {
        let read = |r: Range<usize>| scope.spawn(move || load(r));
        let mut next = ranges.peek().cloned().map(read);
        while let (Some(range), Some(reading)) = (ranges.next(), next.take()) {
            let chunk = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            next = ranges.peek().cloned().map(read);
            consume(range, chunk)?;
        }
        Ok(())
    })
}

/// How many columns of k one streamed product step covers for operands with `lines` rows
/// (A's) and columns (B's) in all: about `chunk` bytes of input, and at least a page's worth
/// per line, so a step does not shrink to a few elements of each line.
fn k_step<T>(chunk: usize, lines: usize) -> usize {
    let size = std::mem::size_of::<T>();
    (chunk / (lines.max(1) * size)).max(4096 / size)
}

/// The out-of-core operations. See the [module docs](crate::mapped).
impl Config {
    /// `r(X)` over a mapped matrix in chunks of [`CHUNK_BYTES`], releasing each chunk's pages.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for max or min of an empty matrix, and the configuration
    /// errors listed on [`Config`].
    pub fn reduce_mapped<T: Element>(&self, x: Mapped<'_, T>, r: Reduction) -> Result<T> {
        let (m, n) = x.dim();
        crate::kernels::reduce::defined_over(r, m * n)?;
        let parts = self.over_chunks(x, |c| self.reduce_stored(&c, r))?;
        // Chunks combined left to right: a fixed order for a given file.
        Ok(parts
            .into_iter()
            .reduce(|a, b| r.combine(a, b))
            .unwrap_or_else(T::zero))
    }

    /// Frobenius norm of a mapped matrix, in chunks, without overflow or underflow.
    ///
    /// # Errors
    /// The configuration errors listed on [`Config`].
    pub fn norm_mapped<T: Element>(&self, x: Mapped<'_, T>) -> Result<T> {
        let parts = self.over_chunks(x, |c| self.norm(c))?;
        // ‖X‖ = s·√Σ(‖Xᵢ‖/s)² with s the largest part: no square overflows or underflows.
        let scale = parts
            .iter()
            .fold(T::zero(), |m, &p| if p.is_nan() || p > m { p } else { m });
        if scale == T::zero() || scale.is_nan() || scale == T::infinity() {
            return Ok(scale);
        }
        let sum = parts.iter().fold(T::zero(), |acc, &p| {
            let q = p / scale;
            acc + q * q
        });
        Ok(scale * sum.sqrt())
    }

    /// `r(X·Xᵀ)` of a mapped n×k `X`, streamed over ranges of k. A sum is added range by range
    /// without storing the product; the other reductions accumulate the n×n product first.
    ///
    /// # Errors
    /// [`Error::EmptyReduction`] for max or min of an empty product, [`Error::OutOfMemory`]
    /// when the product must be stored and cannot be, and the configuration errors listed on
    /// [`Config`].
    pub fn gram_reduce_mapped<T: Element>(&self, x: Mapped<'_, T>, r: Reduction) -> Result<T> {
        if r == Reduction::Sum {
            let (n, k) = x.dim();
            if k == 0 || n == 0 {
                return self.gram_reduce(&Array2::<T>::zeros((n, 0)), r);
            }
            let mut total = T::zero();
            prefetched(
                chunks(k, k_step::<T>(x.chunk, n)),
                |range| x.load(0..n, range),
                |_, chunk| {
                    total = total + self.gram_reduce(&chunk, r)?;
                    Ok(())
                },
            )?;
            return Ok(total);
        }
        let g = self.gram_mapped(x)?;
        self.reduce_stored(&g.view(), r)
    }

    /// `r(A·B)` of mapped `A` (m×k) and `B` (k×n; `a.t()` of the same file is fine), streamed
    /// over ranges of k; a sum without storing the product.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the inner dimensions agree, [`Error::EmptyReduction`] for
    /// max or min of an empty product, [`Error::OutOfMemory`] when the product must be stored
    /// and cannot be, and the configuration errors listed on [`Config`].
    pub fn matmul_reduce_mapped<T: Element>(
        &self,
        a: Mapped<'_, T>,
        b: Mapped<'_, T>,
        r: Reduction,
    ) -> Result<T> {
        crate::kernels::check_product("matmul_reduce", a.dim(), b.dim())?;
        if r == Reduction::Sum {
            let ((m, k), n) = (a.dim(), b.dim().1);
            if k == 0 || m == 0 || n == 0 {
                return self.matmul_reduce(&Array2::<T>::zeros((m, k)), b.view(), r);
            }
            let mut total = T::zero();
            prefetched(
                chunks(k, k_step::<T>(a.chunk.min(b.chunk), m + n)),
                |range| Ok((a.load(0..m, range.clone())?, b.load(range, 0..n)?)),
                |_, (ac, bc)| {
                    total = total + self.matmul_reduce(&ac, &bc, r)?;
                    Ok(())
                },
            )?;
            return Ok(total);
        }
        let c = self.matmul_mapped(a, b)?;
        self.reduce_stored(&c.view(), r)
    }

    /// `X·Xᵀ` of a mapped n×k `X`, streamed over ranges of k; the n×n output is in memory.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] when the output cannot be allocated, and the configuration errors
    /// listed on [`Config`].
    pub fn gram_mapped<T: Element>(&self, x: Mapped<'_, T>) -> Result<Array2<T>> {
        let (n, k) = x.dim();
        let mut g = crate::alloc::zeros::<T>("Gram matrix", n, n)?;
        prefetched(
            chunks(k, k_step::<T>(x.chunk, n)),
            |range| x.load(0..n, range),
            |_, chunk| {
                let part = self.gram(&chunk)?;
                Zip::from(&mut g)
                    .and(&part)
                    .for_each(|acc, &p| *acc = *acc + p);
                Ok(())
            },
        )?;
        Ok(g)
    }

    /// `A·B` of mapped `A` (m×k) and `B` (k×n), streamed over ranges of k; the m×n output is in
    /// memory.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the inner dimensions agree, [`Error::OutOfMemory`] when
    /// the output cannot be allocated, and the configuration errors listed on [`Config`].
    pub fn matmul_mapped<T: Element>(
        &self,
        a: Mapped<'_, T>,
        b: Mapped<'_, T>,
    ) -> Result<Array2<T>> {
        crate::kernels::check_product("matmul", a.dim(), b.dim())?;
        let ((m, k), n) = (a.dim(), b.dim().1);
        let mut c = crate::alloc::zeros::<T>("matmul output", m, n)?;
        prefetched(
            chunks(k, k_step::<T>(a.chunk.min(b.chunk), m + n)),
            |range| Ok((a.load(0..m, range.clone())?, b.load(range, 0..n)?)),
            |range, (ac, bc)| {
                let beta = if range.start == 0 {
                    T::zero()
                } else {
                    T::one()
                };
                self.matmul_into(T::one(), &ac, &bc, beta, c.view_mut())
            },
        )?;
        Ok(c)
    }

    /// `f` over chunks of about [`CHUNK_BYTES`] of `x` along its storage order (rows when rows
    /// are contiguous in the file, else columns), releasing each chunk after `f`.
    fn over_chunks<'a, T: Element, R>(
        &self,
        x: Mapped<'a, T>,
        f: impl Fn(ArrayView2<'a, T>) -> Result<R>,
    ) -> Result<Vec<R>> {
        let (m, n) = x.dim();
        let size = std::mem::size_of::<T>();
        let by_rows = x.rows_contiguous();
        let (len, line) = if by_rows { (m, n) } else { (n, m) };
        let mut parts = Vec::new();
        for range in chunks(len, x.chunk / (line.max(1) * size)) {
            let v = x.view();
            let part = f(if by_rows {
                v.slice_move(s![range.clone(), ..])
            } else {
                v.slice_move(s![.., range.clone()])
            });
            // The chunk's rows (or columns) are whole lines of the file.
            x.map.release_lines(range);
            parts.push(part?);
        }
        Ok(parts)
    }

    fn reduce_stored<T: Element>(&self, c: &ArrayView2<'_, T>, r: Reduction) -> Result<T> {
        Ok(crate::kernels::reduce::full_under(&self.execution()?, c, r))
    }
}
