//! Writing `.npy` files: whole arrays ([`write_npy`]), blocks of rows ([`write_npy_rows`]),
//! and products larger than memory filled block by block through a writable mapping
//! ([`Config::gram_to_npy`], [`Config::matmul_to_npy`]).
//!
//! Every writer checks the disk has room first ([`ensure_room`]), writes under a temporary
//! name in the same directory (`.NAME.partial-PID`), and renames it to the final name only
//! when the data is complete and synced, so no partial file ever carries the final name; on
//! an error the temporary file is removed.

use super::{chunks, k_step, prefetched, Mapped, NpyMap};
use crate::error::{Error, Result};
use crate::{Config, Element};
use memmap2::MmapRaw;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Zip};
use std::marker::PhantomData;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Refuses, before anything is written, a file of `bytes` at `path` that the disk cannot hold:
/// [`Error::Io`] naming the directory, the size needed and the space free (`statvfs`). Asks for
/// 1 % more than `bytes` for the file system's own blocks.
///
/// # Errors
/// [`Error::Io`] when `path`'s directory does not exist or lacks the room.
///
/// ```
/// let dir = std::env::temp_dir().join("rayblas-room.npy");
/// assert!(rayblas::mapped::ensure_room(&dir, 1 << 10).is_ok());
/// let err = rayblas::mapped::ensure_room(&dir, u128::MAX / 2).unwrap_err();
/// assert!(err.to_string().contains("free"), "{err}");
/// ```
pub fn ensure_room(path: impl AsRef<Path>, bytes: u128) -> Result<()> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |reason: String| Error::Io {
        path: path.display().to_string(),
        reason,
    };
    if !dir.is_dir() {
        return Err(io(format!("{} is not a directory", dir.display())));
    }
    if let Some(free) = free_disk_bytes(dir) {
        if bytes.saturating_add(bytes / 100).saturating_add(4096) > free {
            return Err(io(format!(
                "needs {} on disk, and {} has {} free",
                crate::human_bytes(bytes),
                dir.display(),
                crate::human_bytes(free)
            )));
        }
    }
    Ok(())
}

/// Bytes free to an unprivileged user on the file system holding `dir`, or `None` when
/// `statvfs` cannot tell.
fn free_disk_bytes(dir: &Path) -> Option<u128> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs reads the NUL-terminated path and writes one statvfs into the
    // zero-initialised value we pass; its result is checked before the value is used.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut st) == 0).then_some(st)
    }?;
    Some(st.f_bavail as u128 * st.f_frsize as u128)
}

/// Bytes of an m×n `.npy` file of `T`: the data plus a 128-byte header (the most ours takes).
fn npy_bytes<T>((m, n): (usize, usize)) -> u128 {
    m as u128 * n as u128 * std::mem::size_of::<T>() as u128 + 128
}

/// Writes `x` as a C-order `.npy` file at `path`, after checking the disk has room
/// ([`ensure_room`]), through a temporary name in the same directory renamed at the end, so no
/// partial file ever carries the final name.
///
/// # Errors
/// [`Error::Io`] when the disk lacks room or the file cannot be written (the temporary file is
/// removed).
pub fn write_npy<T: Element>(path: impl AsRef<Path>, x: &ArrayView2<'_, T>) -> Result<()> {
    let path = path.as_ref();
    ensure_room(path, npy_bytes::<T>(x.dim()))?;
    write_atomically(path, |w| {
        std::io::Write::write_all(w, &header(T::DTYPE, x.dim(), '<'))?;
        let mut buf = Vec::with_capacity(x.ncols() * std::mem::size_of::<T>());
        for row in x.rows() {
            buf.clear();
            row.iter().for_each(|&v| le_bytes(v, &mut buf));
            std::io::Write::write_all(w, &buf)?;
        }
        Ok(())
    })
}

/// Writes an m×n C-order `.npy` file whose rows come from `rows(range)` in order (each call
/// returns `range.len()` rows), so files larger than memory are written in bounded memory;
/// through a temporary name renamed at the end.
///
/// # Errors
/// [`Error::Io`] when the file cannot be written (the temporary file is removed), or
/// [`Error::ShapeMismatch`] when `rows` returns a block of the wrong shape.
pub fn write_npy_rows<T: Element>(
    path: impl AsRef<Path>,
    (m, n): (usize, usize),
    rows_per_block: usize,
    mut rows: impl FnMut(Range<usize>) -> Array2<T>,
) -> Result<()> {
    let path = path.as_ref();
    let step = rows_per_block.max(1);
    let mut wrong = None;
    ensure_room(path, npy_bytes::<T>((m, n)))?;
    write_atomically(path, |w| {
        std::io::Write::write_all(w, &header(T::DTYPE, (m, n), '<'))?;
        let mut buf = Vec::new();
        for start in (0..m).step_by(step) {
            let range = start..(start + step).min(m);
            let block = rows(range.clone());
            if block.dim() != (range.len(), n) {
                wrong = Some(format!("{}x{}", block.nrows(), block.ncols()));
                return Err(std::io::Error::other("a block of the wrong shape"));
            }
            buf.clear();
            block.iter().for_each(|&v| le_bytes(v, &mut buf));
            std::io::Write::write_all(w, &buf)?;
        }
        Ok(())
    })
    .map_err(|e| match wrong {
        Some(got) => Error::ShapeMismatch {
            op: "write_npy_rows",
            expected: format!("blocks of {n} columns and the rows asked for"),
            got,
        },
        None => e,
    })
}

/// `v` as the little-endian bytes `.npy` stores (`<f4`, `<f8`).
fn le_bytes<T: Element>(v: T, buf: &mut Vec<u8>) {
    match T::DTYPE {
        crate::Dtype::F32 => buf.extend_from_slice(&(v.to_f64() as f32).to_le_bytes()),
        crate::Dtype::F64 => buf.extend_from_slice(&v.to_f64().to_le_bytes()),
    }
}

fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let (tmp, file) = create_temporary(path)?;
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The `.npy` 1.0 header of a C-order 2-D array of `dtype` in byte order `order` (`<` or `>`),
/// padded so the data starts 64-byte aligned.
fn header(dtype: crate::Dtype, (m, n): (usize, usize), order: char) -> Vec<u8> {
    let kind = super::npy_kind(dtype);
    let mut dict =
        format!("{{'descr': '{order}{kind}', 'fortran_order': False, 'shape': ({m}, {n}), }}");
    // magic (6) + version (2) + length (2) + dict + '\n', a multiple of 64.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes
}

/// Creates `.NAME.partial-PID-N` beside `path`, open for reading and writing: where a file is
/// written before it is renamed to `path`. `N` counts up past names that exist (a stale file of
/// a crashed process with the same pid, or another write in this process), so no two writers
/// ever share a temporary file.
fn create_temporary(path: &Path) -> Result<(PathBuf, std::fs::File)> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let io = |reason: String| Error::Io {
        path: path.display().to_string(),
        reason,
    };
    let name = path
        .file_name()
        .ok_or_else(|| io("is not a file name".into()))?
        .to_string_lossy();
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.partial-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e.to_string())),
        }
    }
}

/// A new C-order `.npy` file of `T` being filled in place: created under a temporary name with
/// its whole size reserved on disk (`posix_fallocate`, so writing through the mapping cannot
/// run out of space and fault), mapped read-write and shared, and renamed to its final name by
/// [`NpyOut::finish`]. Dropped unfinished, it removes the temporary file.
struct NpyOut<T> {
    path: PathBuf,
    tmp: PathBuf,
    file: std::fs::File,
    map: MmapRaw,
    /// Byte offset of the first element (the header's length, a multiple of 64).
    offset: usize,
    dim: (usize, usize),
    finished: bool,
    _element: PhantomData<T>,
}

impl<T: Element> NpyOut<T> {
    fn create(path: &Path, dim: (usize, usize)) -> Result<Self> {
        let bytes = npy_bytes::<T>(dim);
        ensure_room(path, bytes)?;
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let too_large = || Error::Io {
            path: path.display().to_string(),
            reason: format!(
                "a {}x{} output of {} is larger than this machine can address",
                dim.0,
                dim.1,
                crate::human_bytes(bytes)
            ),
        };
        // Elements in this machine's byte order, so blocks are written in place.
        let order = if cfg!(target_endian = "little") {
            '<'
        } else {
            '>'
        };
        let head = header(T::DTYPE, dim, order);
        let total = dim
            .0
            .checked_mul(dim.1)
            .and_then(|e| e.checked_mul(std::mem::size_of::<T>()))
            .and_then(|d| d.checked_add(head.len()))
            .filter(|&t| i64::try_from(t).is_ok())
            .ok_or_else(too_large)?;
        let (tmp, file) = create_temporary(path)?;
        // From here on, dropping `Removal` removes the temporary file.
        let removal = Removal(Some(tmp.clone()));
        std::os::unix::fs::FileExt::write_all_at(&file, &head, 0).map_err(io)?;
        reserve(&file, total).map_err(io)?;
        let map = MmapRaw::map_raw(&file).map_err(io)?;
        std::mem::forget(removal);
        Ok(NpyOut {
            path: path.to_path_buf(),
            tmp,
            file,
            map,
            offset: head.len(),
            dim,
            finished: false,
            _element: PhantomData,
        })
    }

    /// Block `rows × cols` of the output, to write into. A new file reads as zeros.
    fn block(&mut self, rows: Range<usize>, cols: Range<usize>) -> ArrayViewMut2<'_, T> {
        let (m, n) = self.dim;
        // SAFETY: the mapping is `offset + m·n·size_of::<T>()` bytes long (`create` reserved
        // and mapped exactly that), `offset` is a multiple of 64 and the mapping starts on a
        // page, so the elements are in bounds and aligned for `T` (`f32`/`f64`: every byte
        // pattern is a value). The view borrows `self` mutably, so no other view of the
        // mapping exists meanwhile; the temporary file is ours alone (created `create_new`
        // under a name with our pid), so nothing else writes to it either.
        let all = unsafe {
            ArrayViewMut2::from_shape_ptr(
                (m, n),
                self.map.as_mut_ptr().add(self.offset).cast::<T>(),
            )
        };
        all.slice_move(s![rows, cols])
    }

    /// Drops the resident pages of output rows `rows`, all columns: those of the block just
    /// written and any that reading or writing it mapped around it (the kernel maps pages
    /// around a faulting one, and whole large folios on some file systems). The data stays in
    /// the page cache, which writes it back to the file; a page touched again is mapped again.
    /// (Starting the writeback here with `sync_file_range`, inline or on a thread of its own,
    /// made a 4.3 GiB Gram matrix 10–30 % slower, not faster.)
    fn release(&self, rows: Range<usize>) {
        let n = self.dim.1;
        let size = std::mem::size_of::<T>();
        let (start, len) = (self.offset + rows.start * n * size, rows.len() * n * size);
        // SAFETY: the range lies inside the mapping (rows lie inside the m×n matrix `create`
        // mapped). The mapping is shared and file-backed, so MADV_DONTNEED only unmaps the
        // pages: written pages stay dirty in the page cache and reach the file, and a later
        // touch maps the same data again. No view of the mapping is alive (`release` borrows
        // `self` shared, `block`'s views borrow it mutably). An error would only leave the
        // pages resident, so it is ignored.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len)
        };
    }

    /// Writes the data to disk and gives the file its final name.
    fn finish(mut self) -> Result<()> {
        let io = |e: std::io::Error| Error::Io {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        self.map.flush().map_err(io)?;
        self.file.sync_all().map_err(io)?;
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        self.finished = true;
        Ok(())
    }
}

impl<T> Drop for NpyOut<T> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Removes a temporary file when dropped, unless forgotten.
struct Removal(Option<PathBuf>);

impl Drop for Removal {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Reserves `len` bytes of `file` on disk, so that writing them later cannot fail for space.
fn reserve(file: &std::fs::File, len: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fallocate on a file descriptor we own, open for writing; `len` fits an
    // off_t (`create` checked it against i64). It returns an error number instead of setting
    // errno.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) } {
        0 => Ok(()),
        // File systems without fallocate: size the file; space is then taken as pages are
        // written back.
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(len as u64),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

#[cfg(feature = "mpi")]
/// A `.npy` file that several processes fill, each with positioned writes of its own blocks
/// (MPI ranks on a file system they all see): created by one of them under a temporary name
/// beside `path`, its room checked and its whole size reserved first, renamed to `path` by
/// that one only when every writer is done ([`finish_shared_npy`]), removed otherwise. The
/// header is the one [`header`] makes for the shape, so every writer knows where the data
/// starts without being told.
pub(crate) fn create_shared_npy<T: Element>(path: &Path, dim: (usize, usize)) -> Result<PathBuf> {
    ensure_room(path, npy_bytes::<T>(dim))?;
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let head = header(T::DTYPE, dim, native_order());
    let total = dim
        .0
        .checked_mul(dim.1)
        .and_then(|e| e.checked_mul(std::mem::size_of::<T>()))
        .and_then(|d| d.checked_add(head.len()))
        .filter(|&t| i64::try_from(t).is_ok())
        .ok_or_else(|| Error::Io {
            path: path.display().to_string(),
            reason: format!(
                "a {}x{} output is larger than a file can be here",
                dim.0, dim.1
            ),
        })?;
    let (tmp, file) = create_temporary(path)?;
    let removal = Removal(Some(tmp.clone()));
    std::os::unix::fs::FileExt::write_all_at(&file, &head, 0).map_err(io)?;
    reserve(&file, total).map_err(io)?;
    std::mem::forget(removal);
    Ok(tmp)
}

#[cfg(feature = "mpi")]
/// Gives a shared `.npy` file (see [`create_shared_npy`]) its final name once every writer has
/// synced its writes, or removes it when one failed (`ok` false).
pub(crate) fn finish_shared_npy(tmp: &Path, path: &Path, ok: bool) -> Result<()> {
    if !ok {
        let _ = std::fs::remove_file(tmp);
        return Ok(());
    }
    let done = std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    done.map_err(|e| Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

#[cfg(feature = "mpi")]
/// Writes `block` at rows `row0..` and columns `col0..` of the C-order `.npy` matrix of shape
/// `dim` in `file` (made by [`create_shared_npy`]), one positioned write per row.
pub(crate) fn write_block_at<T: Element>(
    file: &std::fs::File,
    path: &Path,
    dim: (usize, usize),
    (row0, col0): (usize, usize),
    block: ArrayView2<'_, T>,
) -> Result<()> {
    let size = std::mem::size_of::<T>();
    let data = header(T::DTYPE, dim, native_order()).len();
    let mut bytes = Vec::with_capacity(block.ncols() * size);
    for (i, row) in block.rows().into_iter().enumerate() {
        bytes.clear();
        for &v in row {
            match T::DTYPE {
                crate::Dtype::F32 => bytes.extend_from_slice(&(v.to_f64() as f32).to_ne_bytes()),
                crate::Dtype::F64 => bytes.extend_from_slice(&v.to_f64().to_ne_bytes()),
            }
        }
        let at = data + ((row0 + i) * dim.1 + col0) * size;
        std::os::unix::fs::FileExt::write_all_at(file, &bytes, at as u64).map_err(|e| {
            Error::Io {
                path: path.display().to_string(),
                reason: format!("writing {} bytes at {at}: {e}", bytes.len()),
            }
        })?;
    }
    Ok(())
}

#[cfg(feature = "mpi")]
/// The byte order of this machine, as a `.npy` header names it.
fn native_order() -> char {
    if cfg!(target_endian = "little") {
        '<'
    } else {
        '>'
    }
}

/// Rows of an off-diagonal Gram block copied to its mirror at a time: a strip of a few hundred
/// KiB that stays in cache while it is written transposed.
const MIRROR_STRIP: usize = 32;

/// Side of the square output blocks a streamed product fills one at a time: about `chunk`
/// bytes each, no larger than the output.
fn block_side<T>(chunk: usize, m: usize, n: usize) -> (usize, usize) {
    let elements = (chunk / std::mem::size_of::<T>()).max(1);
    // Square blocks read each operand (output side ÷ block side) times; a short output keeps
    // its whole width.
    let cols = n
        .min((elements as f64).sqrt() as usize)
        .max(elements / m.max(1))
        .clamp(1, n.max(1));
    let rows = (elements / cols).clamp(1, m.max(1));
    (rows, cols)
}

/// Out-of-core products written to `.npy` files. See the [module docs](crate::mapped).
impl Config {
    /// `A·B` of mapped `A` (m×k) and `B` (k×n) written to a new C-order `.npy` file at `out`,
    /// for products larger than memory.
    ///
    /// The output is cut into blocks of about the operands' chunk size ([`super::CHUNK_BYTES`]
    /// or [`Mapped::chunk_bytes`]), near square, filled one after another through a writable
    /// mapping: for each block, the ranges of k of A's rows and B's columns are read as in
    /// [`Config::matmul_mapped`] and multiplied into the block under the configured strategy,
    /// whose pages are then released. Resident memory stays near one output block plus two
    /// chunks of the operands (one computing, one being read). Each operand is read once per
    /// block row or column of the output: (output side ÷ block side) times.
    ///
    /// The file is checked for room, reserved on disk, written under a temporary name and
    /// renamed to `out` at the end (see [`write_npy`]).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the inner dimensions agree; [`Error::Io`] when the disk
    /// lacks room, a file cannot be written or an input changed during the run; and the
    /// configuration errors listed on [`Config`].
    ///
    /// ```
    /// # fn main() -> rayblas::Result<()> {
    /// use rayblas::mapped::{write_npy, NpyMap};
    /// let dir = std::env::temp_dir();
    /// let (a_path, c_path) = (dir.join("rayblas-doc-a.npy"), dir.join("rayblas-doc-c.npy"));
    /// let a = ndarray::Array2::from_shape_fn((120, 70), |(i, j)| ((i * j) % 5) as f64);
    /// write_npy(&a_path, &a.view())?;
    ///
    /// let map = NpyMap::<f64>::open(&a_path)?;
    /// let cfg = rayblas::Config::new();
    /// // A·Aᵀ in output blocks of 16 KiB.
    /// cfg.matmul_to_npy(map.matrix().chunk_bytes(16 << 10), map.matrix().t(), &c_path)?;
    /// let c = NpyMap::<f64>::open(&c_path)?;
    /// assert_eq!(c.view(), a.dot(&a.t()));
    /// # std::fs::remove_file(&a_path).ok();
    /// # std::fs::remove_file(&c_path).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn matmul_to_npy<T: Element>(
        &self,
        a: Mapped<'_, T>,
        b: Mapped<'_, T>,
        out: impl AsRef<Path>,
    ) -> Result<()> {
        crate::kernels::check_product("matmul", a.dim(), b.dim())?;
        self.execution()?;
        not_an_input(out.as_ref(), &[a.map, b.map])?;
        let ((m, k), n) = (a.dim(), b.dim().1);
        let chunk = a.chunk.min(b.chunk);
        let mut c = NpyOut::<T>::create(out.as_ref(), (m, n))?;
        let (rows, cols) = block_side::<T>(chunk, m, n);
        for i in chunks(m, rows) {
            for j in chunks(n, cols) {
                let mut block = c.block(i.clone(), j.clone());
                prefetched(
                    chunks(k, k_step::<T>(chunk, i.len() + j.len())),
                    |kr| Ok((a.load(i.clone(), kr.clone())?, b.load(kr, j.clone())?)),
                    |kr, (ac, bc)| {
                        let beta = if kr.start == 0 { T::zero() } else { T::one() };
                        self.matmul_into(T::one(), &ac, &bc, beta, block.view_mut())
                    },
                )?;
                c.release(i.clone());
            }
        }
        c.finish()
    }

    /// `X·Xᵀ` of a mapped n×k `X` written to a new C-order `.npy` file at `out`, for Gram
    /// matrices larger than memory.
    ///
    /// As [`Config::matmul_to_npy`], in near-square blocks of about the chunk size, but only
    /// blocks on and above the diagonal are computed: a diagonal block as the Gram matrix of
    /// its rows of X (one triangle of work), a block above as the product of two row ranges,
    /// copied transposed into its mirror below. Resident memory: one output block and its
    /// mirror, two chunks of X, and on diagonal blocks one range's Gram matrix (a block).
    ///
    /// # Errors
    /// [`Error::Io`] when the disk lacks room, a file cannot be written or the input changed
    /// during the run, and the configuration errors listed on [`Config`].
    ///
    /// ```
    /// # fn main() -> rayblas::Result<()> {
    /// use rayblas::mapped::{write_npy, NpyMap};
    /// let dir = std::env::temp_dir();
    /// let (x_path, g_path) = (dir.join("rayblas-doc-x.npy"), dir.join("rayblas-doc-g.npy"));
    /// let x = ndarray::Array2::from_shape_fn((90, 40), |(i, j)| ((i + 3 * j) % 7) as f64);
    /// write_npy(&x_path, &x.view())?;
    ///
    /// let map = NpyMap::<f64>::open(&x_path)?;
    /// rayblas::Config::new().gram_to_npy(map.matrix().chunk_bytes(8 << 10), &g_path)?;
    /// assert_eq!(NpyMap::<f64>::open(&g_path)?.view(), x.dot(&x.t()));
    /// # std::fs::remove_file(&x_path).ok();
    /// # std::fs::remove_file(&g_path).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub fn gram_to_npy<T: Element>(&self, x: Mapped<'_, T>, out: impl AsRef<Path>) -> Result<()> {
        self.execution()?;
        not_an_input(out.as_ref(), &[x.map])?;
        let (n, k) = x.dim();
        let mut g = NpyOut::<T>::create(out.as_ref(), (n, n))?;
        let side = block_side::<T>(x.chunk, n, n).1;
        for i in chunks(n, side) {
            for j in chunks(n, side).filter(|j| j.start >= i.start) {
                let mut block = g.block(i.clone(), j.clone());
                if i == j {
                    prefetched(
                        chunks(k, k_step::<T>(x.chunk, i.len())),
                        |kr| x.load(i.clone(), kr),
                        |_, xc| {
                            let part = self.gram(&xc)?;
                            Zip::from(&mut block)
                                .and(&part)
                                .for_each(|acc, &p| *acc = *acc + p);
                            Ok(())
                        },
                    )?;
                } else {
                    prefetched(
                        chunks(k, k_step::<T>(x.chunk, i.len() + j.len())),
                        |kr| Ok((x.load(i.clone(), kr.clone())?, x.load(j.clone(), kr)?)),
                        |kr, (xi, xj)| {
                            let beta = if kr.start == 0 { T::zero() } else { T::one() };
                            self.matmul_into(T::one(), &xi, xj.t(), beta, block.view_mut())
                        },
                    )?;
                    // The mirror below the diagonal, in strips of rows of this block: each
                    // strip copied out whole, then written transposed with short runs per row.
                    for rows in chunks(i.len(), MIRROR_STRIP) {
                        let rows = i.start + rows.start..i.start + rows.end;
                        let strip = g.block(rows.clone(), j.clone()).to_owned();
                        g.block(j.clone(), rows).assign(&strip.t());
                    }
                    g.release(j.clone());
                }
                g.release(i.clone());
            }
        }
        g.finish()
    }
}

/// Refuses an output path that names one of the inputs: the finished output would be renamed
/// over it, and the input lost.
fn not_an_input<T>(out: &Path, inputs: &[&NpyMap<T>]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(o) = std::fs::metadata(out) else {
        return Ok(()); // a new file
    };
    for input in inputs {
        if input
            .lines
            .file
            .metadata()
            .is_ok_and(|i| i.dev() == o.dev() && i.ino() == o.ino())
        {
            return Err(Error::Io {
                path: out.display().to_string(),
                reason: "is an input of this product: the output would replace it; write \
                         to another file"
                    .into(),
            });
        }
    }
    Ok(())
}
