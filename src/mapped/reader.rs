//! [`NpyReader`]: a `.npy` file read by positioned reads, never mapped, for inputs larger than
//! a process may map (a rank's address-space limit, `ulimit -v`).

use super::{
    extra_data, flat_header, missing_data, not_a_matrix, npy_kind, read_block, wrong_type,
    FileLines, SHAPE_OVERFLOWS, TOO_SHORT,
};
use crate::error::{Error, Result};
use crate::Element;
use ndarray::Array2;
use std::io::Read;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

/// A 2-D `.npy` file of `T` read block by block with positioned reads (`pread`), never
/// memory-mapped: a process holds only the blocks it asked for, and its address space never
/// grows by the file's size. [`NpyMap`](super::NpyMap) maps the whole file, which counts
/// against a per-process address-space limit (`ulimit -v`, `RLIMIT_AS`) even where only a
/// share is read; this is how each MPI rank reads only its own rows of a file larger than it
/// may map (it is a [`RowSource`](crate::ranks::RowSource), feature `mpi`).
///
/// It checks the header as [`NpyMap::open`](super::NpyMap::open) does (two dimensions, `T` in
/// this machine's byte order, C or Fortran order, the data exactly as long as the shape says)
/// and refuses the same files with the same messages.
///
/// ```
/// # fn main() -> rayblas::Result<()> {
/// use rayblas::mapped::{write_npy, NpyReader};
/// let path = std::env::temp_dir().join(format!("rayblas-doc-reader-{}.npy", std::process::id()));
/// let x = ndarray::Array2::from_shape_fn((5, 4), |(i, j)| (10 * i + j) as f64);
/// write_npy(&path, &x.view())?;
///
/// let file = NpyReader::<f64>::open(&path)?;
/// assert_eq!(file.dim(), (5, 4));
/// assert_eq!(file.read(1..3, 0..4)?, x.slice(ndarray::s![1..3, ..]));
/// let t = NpyReader::<f64>::open(&path)?.t();
/// assert_eq!(t.read(0..4, 2..5)?, x.t().slice(ndarray::s![.., 2..5]));
/// # std::fs::remove_file(&path).ok();
/// # Ok(())
/// # }
/// ```
pub struct NpyReader<T> {
    lines: FileLines,
    transposed: bool,
    _element: PhantomData<T>,
}

impl<T> std::fmt::Debug for NpyReader<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NpyReader")
            .field("path", &self.lines.path)
            .field("dim", &self.lines.dim)
            .field("fortran", &self.lines.fortran)
            .field("transposed", &self.transposed)
            .finish()
    }
}

impl<T: Element> NpyReader<T> {
    /// Opens `path` and checks its header; reads no data.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file and what is wrong with it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io = |reason: String| Error::Io {
            path: path.display().to_string(),
            reason,
        };
        let mut file = std::fs::File::open(&path).map_err(|e| io(e.to_string()))?;
        let meta = file.metadata().map_err(|e| io(e.to_string()))?;
        if meta.is_dir() {
            return Err(io("is a directory, not a .npy file".into()));
        }
        let (offset, dim, fortran) = read_header::<T>(&mut file, &path)?;
        let data = (dim.0 as u128) * (dim.1 as u128) * std::mem::size_of::<T>() as u128;
        let have = u128::from(meta.len()).saturating_sub(offset as u128);
        if data > isize::MAX as u128 {
            return Err(io(SHAPE_OVERFLOWS.into()));
        }
        if have < data {
            return Err(io(missing_data(data - have)));
        }
        if have > data {
            return Err(io(extra_data(have - data)));
        }
        Ok(NpyReader {
            lines: FileLines {
                file,
                path,
                offset,
                dim,
                fortran: fortran && dim.0 > 1 && dim.1 > 1,
            },
            transposed: false,
            _element: PhantomData,
        })
    }

    /// The transpose (no read).
    #[must_use]
    pub fn t(self) -> Self {
        NpyReader {
            transposed: !self.transposed,
            ..self
        }
    }

    /// `(rows, cols)` as used (transposed by [`NpyReader::t`]).
    pub fn dim(&self) -> (usize, usize) {
        let (r, c) = self.lines.dim;
        if self.transposed {
            (c, r)
        } else {
            (r, c)
        }
    }

    /// Whether the file is in Fortran (column-major) order.
    pub fn is_fortran(&self) -> bool {
        self.lines.fortran
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }

    /// Block `rows × cols` (as used) read into memory in C order: one positioned read per file
    /// line the block touches (a row of a C-order file, a column of a Fortran-order one).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for ranges outside the matrix; [`Error::OutOfMemory`] for a
    /// block that cannot be allocated; [`Error::Io`] if a read fails or comes up short (the
    /// file changed since it was opened).
    pub fn read(&self, rows: Range<usize>, cols: Range<usize>) -> Result<Array2<T>> {
        let (m, n) = self.dim();
        if rows.start > rows.end || rows.end > m || cols.start > cols.end || cols.end > n {
            return Err(Error::ShapeMismatch {
                op: "NpyReader::read",
                expected: format!("rows and columns within {m}x{n}"),
                got: format!("rows {rows:?}, columns {cols:?}"),
            });
        }
        read_block(&self.lines, self.transposed, rows, cols)
    }
}

/// Longest header accepted: numpy pads to 64 bytes, and a 2-D float array's dictionary is
/// under 128; a header claiming megabytes is not a matrix's.
const MAX_HEADER: usize = 1 << 16;

/// Reads and parses the header: `(data offset, shape, fortran order)`.
fn read_header<T: Element>(
    file: &mut std::fs::File,
    path: &Path,
) -> Result<(usize, (usize, usize), bool)> {
    let io = |reason: String| Error::Io {
        path: path.display().to_string(),
        reason,
    };
    let invalid = |what: &str| io(format!("is not a valid .npy file ({what})"));
    let mut prefix = [0u8; 12];
    let got = read_up_to(file, &mut prefix).map_err(|e| io(e.to_string()))?;
    if got < 10 || &prefix[..6] != b"\x93NUMPY" {
        return Err(if got < 10 {
            io(TOO_SHORT.into())
        } else {
            invalid("no .npy magic string at its start")
        });
    }
    if prefix[7] != 0 {
        return Err(invalid(&format!(
            "unknown version number: {}.{}",
            prefix[6], prefix[7]
        )));
    }
    let (len, start) = match prefix[6] {
        1 => (usize::from(u16::from_le_bytes([prefix[8], prefix[9]])), 10),
        2 | 3 if got == 12 => {
            let len = u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
            (usize::try_from(len).unwrap_or(usize::MAX), 12)
        }
        v => return Err(invalid(&format!("unknown version number: {v}.0"))),
    };
    if len > MAX_HEADER {
        return Err(invalid(&format!("a header of {len} bytes")));
    }
    let mut bytes = prefix[..start.min(got)].to_vec();
    bytes.resize(start + len, 0);
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(start as u64))
        .map_err(|e| io(e.to_string()))?;
    if read_up_to(file, &mut bytes[start..]).map_err(|e| io(e.to_string()))? < len {
        return Err(io(TOO_SHORT.into()));
    }
    flat_header(&bytes).map_err(io)?;
    let text =
        std::str::from_utf8(&bytes[start..]).map_err(|_| invalid("its header is not text"))?;
    if prefix[6] < 3 && !text.is_ascii() {
        return Err(invalid("its header is not ASCII"));
    }
    let header = parse_dict(text).map_err(|e| invalid(&e))?;
    let kind = npy_kind(T::DTYPE);
    let native = if cfg!(target_endian = "little") {
        '<'
    } else {
        '>'
    };
    let wanted = format!("{native}{kind}");
    let swapped = if native == '<' { '>' } else { '<' };
    if header.descr == format!("{swapped}{kind}") {
        return Err(io(format!(
            "descriptor does not match native endianness ({}): byte-swap it first \
             (x.astype(x.dtype.newbyteorder('=')))",
            header.descr
        )));
    }
    if header.descr != wanted {
        let quoted = format!("'{}'", header.descr);
        return Err(io(wrong_type(&quoted, T::DTYPE.name())));
    }
    let dim = match header.shape[..] {
        [r, c] => (r, c),
        _ => return Err(io(not_a_matrix(header.shape.len()))),
    };
    Ok((start + len, dim, header.fortran_order))
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The three keys of a `.npy` header.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the header's Python dictionary literal, as numpy writes it:
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and ending
/// in a newline. It takes what ndarray-npy's parser (behind [`NpyMap`](super::NpyMap)) takes
/// of such a dictionary: keys in any order (a repeated key's last value counts), spaces, tabs
/// and form feeds between tokens, a trailing comma, and no other key.
fn parse_dict(text: &str) -> std::result::Result<Header, String> {
    let text = text
        .strip_suffix('\n')
        .ok_or("its header does not end in a newline")?;
    let body = ws(text)
        .strip_prefix('{')
        .map(|t| t.trim_end_matches(WHITESPACE))
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("its header is not a dictionary")?;
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    let mut rest = ws(body);
    while !rest.is_empty() {
        let (key, after) = quoted(rest)?.ok_or("a key that is not a quoted string")?;
        let after = ws(ws(after).strip_prefix(':').ok_or("no ':' after a key")?);
        let after = match key {
            "descr" => {
                let (v, a) = quoted(after)?.ok_or("'descr' is not a quoted string")?;
                descr = Some(v.to_string());
                a
            }
            "fortran_order" => {
                let (v, a) = if let Some(a) = after.strip_prefix("True") {
                    (true, a)
                } else if let Some(a) = after.strip_prefix("False") {
                    (false, a)
                } else {
                    return Err("'fortran_order' is neither True nor False".into());
                };
                fortran_order = Some(v);
                a
            }
            "shape" => {
                let inner = after.strip_prefix('(').ok_or("'shape' is not a tuple")?;
                let close = inner.find(')').ok_or("'shape' is not a closed tuple")?;
                let items: Vec<&str> = inner[..close].split(',').map(ws).collect();
                // `()`, `(n,)` or `(n, m)` with an optional trailing comma; `(n)` is no tuple.
                let dims = match items.split_last() {
                    Some((&"", [])) => &[][..],
                    Some((&"", dims)) if !dims.is_empty() => dims,
                    Some((_, dims)) if !dims.is_empty() => &items[..],
                    _ => return Err("'shape' is not a tuple".into()),
                };
                shape = Some(
                    dims.iter()
                        .map(|d| python_size(d))
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                );
                &inner[close + 1..]
            }
            other => return Err(format!("an unknown key {other:?}")),
        };
        let after = ws(after);
        rest = match after.strip_prefix(',') {
            Some(a) => ws(a),
            None if after.is_empty() => after,
            None => return Err("no ',' between entries".into()),
        };
    }
    Ok(Header {
        descr: descr.ok_or("no 'descr'")?,
        fortran_order: fortran_order.ok_or("no 'fortran_order'")?,
        shape: shape.ok_or("no 'shape'")?,
    })
}

/// The whitespace a Python literal may hold between tokens on one line.
const WHITESPACE: [char; 3] = [' ', '\t', '\x0C'];

/// `s` without whitespace at either end.
fn ws(s: &str) -> &str {
    s.trim_matches(WHITESPACE)
}

/// A size from a Python integer literal, as ndarray-npy's parser takes one: decimal (leading
/// zeros too), `0x`, `0o` or `0b`, digits grouped by single underscores, after any run of signs
/// (`+`, `-`; a negative size is none, `-0` is 0). Sums of literals, which its parser
/// evaluates, are refused: numpy writes none.
fn python_size(text: &str) -> std::result::Result<usize, String> {
    let not_a_size = || format!("'shape' holds {text:?}, not a size");
    let mut negative = false;
    let mut t = text;
    while let Some(c) = t.chars().next().filter(|c| *c == '+' || *c == '-') {
        negative ^= c == '-';
        t = ws(&t[1..]);
    }
    if t.contains(['+', '-']) {
        return Err(format!("{UNWRITTEN}: a sum in 'shape' ({text:?})"));
    }
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ => (10, &lower[..]),
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| radix != 10)
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return Err(not_a_size());
    }
    let size = usize::from_str_radix(&digits.replace('_', ""), radix).map_err(|_| not_a_size())?;
    if negative && size != 0 {
        return Err(not_a_size());
    }
    Ok(size)
}

/// A string in single or double quotes at the start of `s`, and what follows it. Python's
/// escapes and triple quotes, which ndarray-npy's parser takes, are refused: numpy writes
/// neither in a header (the fuzz target allows this one difference).
fn quoted(s: &str) -> std::result::Result<Option<(&str, &str)>, String> {
    let Some(q) = s.chars().next().filter(|c| *c == '\'' || *c == '"') else {
        return Ok(None);
    };
    if s[1..].starts_with(q) && s[2..].starts_with(q) {
        return Err(format!("{UNWRITTEN}: a triple-quoted string"));
    }
    let Some(end) = s[1..].find(q).map(|e| e + 1) else {
        return Ok(None);
    };
    if s[1..end].contains('\\') {
        return Err(format!("{UNWRITTEN}: a string with escapes"));
    }
    Ok(Some((&s[1..end], &s[end + 1..])))
}

/// How the reader names what ndarray-npy's parser takes and it does not.
const UNWRITTEN: &str = "numpy writes no such thing in a header";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpys_headers_parse_and_broken_ones_say_why() {
        let h = parse_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }    \n")
            .unwrap();
        assert_eq!(
            h,
            Header {
                descr: "<f8".into(),
                fortran_order: false,
                shape: vec![3, 4]
            }
        );
        let h = parse_dict("{\"shape\": (7,), \"fortran_order\": True,\t\"descr\": \"<f4\"}\n")
            .unwrap();
        assert_eq!((h.shape, h.fortran_order), (vec![7], true));
        let h = parse_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (0x1_0, 0b11,)}\n");
        assert_eq!(h.unwrap().shape, vec![16, 3]);
        let h =
            parse_dict("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': ()}\n");
        assert_eq!(
            h.unwrap(),
            Header {
                descr: "<f8".into(),
                fortran_order: false,
                shape: vec![]
            }
        );
        for (bad, why) in [
            ("'descr': '<f8'\n", "not a dictionary"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2)}",
                "newline",
            ),
            ("{'descr': '<f8', 'fortran_order': False}\n", "no 'shape'"),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1, 2)}\n",
                "True",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, -2)}\n",
                "-2",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2)}\n",
                "not a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1__0,)}\n",
                "1__0",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), 'x': 1}\n",
                "unknown key",
            ),
            (
                "{'descr': '<f8' 'fortran_order': False, 'shape': (1, 2)}\n",
                "no ','",
            ),
            (
                "{'descr': '<f8',\n 'fortran_order': False, 'shape': (1, 2)}\n",
                "quoted",
            ),
            ("{descr: '<f8'}\n", "quoted"),
            ("{'shape': (1, 2\n", "not a dictionary"),
        ] {
            let e = parse_dict(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
