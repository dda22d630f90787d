//! Tiles (blocks) of a matrix: shapes, ragged edges, and views with no copies.
//!
//! A [`Tiling`] cuts an `nrows × ncols` matrix into tiles of at most `block.rows × block.cols`;
//! the last row and column of tiles are ragged when the block does not divide the matrix, and a
//! block larger than the matrix gives one tile. A [`Tile`] is plain data (indices and ranges), so
//! it can be owned by a worker thread, an MPI rank or a region of a memory-mapped file, and turned
//! into a view of whatever holds the data.

use crate::error::{Error, Result};
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use std::fmt;
use std::str::FromStr;

/// The shape of a block: `rows × cols`, each at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockShape {
    /// Rows per tile.
    pub rows: usize,
    /// Columns per tile.
    pub cols: usize,
}

impl BlockShape {
    /// A `rows × cols` block; zero in either is an error.
    ///
    /// ```
    /// use rayblas::BlockShape;
    /// assert_eq!(BlockShape::new(500, 250)?.to_string(), "500x250");
    /// assert!(BlockShape::new(0, 10).is_err());
    /// # Ok::<(), rayblas::Error>(())
    /// ```
    pub fn new(rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::ZeroBlock { rows, cols });
        }
        Ok(BlockShape { rows, cols })
    }

    /// A square `n × n` block.
    pub fn square(n: usize) -> Result<Self> {
        Self::new(n, n)
    }

    /// The default block for an `m × n` result with `workers` workers: at most 1000 on a side,
    /// and small enough that every worker gets a row of tiles.
    pub fn auto(m: usize, n: usize, workers: usize) -> Self {
        let rows = m.div_ceil(workers.max(1)).clamp(1, 1000);
        let cols = n.clamp(1, 1000);
        BlockShape { rows, cols }
    }
}

impl fmt::Display for BlockShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rows == self.cols {
            write!(f, "{}", self.rows)
        } else {
            write!(f, "{}x{}", self.rows, self.cols)
        }
    }
}

impl FromStr for BlockShape {
    type Err = Error;
    /// `1000` (square) or `500x250` (rows × cols).
    fn from_str(s: &str) -> Result<Self> {
        let err = |reason: &str| Error::Parse {
            what: "block shape",
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| err("expected a positive integer N or RxC, e.g. 1000 or 500x250"))
        };
        let (r, c) = match s.split_once(['x', 'X']) {
            Some((r, c)) => (num(r)?, num(c)?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        Self::new(r, c)
    }
}

/// One tile: its grid position and the rows and columns of the matrix it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Tile row index in the grid.
    pub ti: usize,
    /// Tile column index in the grid.
    pub tj: usize,
    /// First row.
    pub row0: usize,
    /// Number of rows (smaller than the block on a ragged edge).
    pub rows: usize,
    /// First column.
    pub col0: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Tile {
    /// The tile's view of `m` (which has the tiling's shape).
    pub fn view<'a, T>(&self, m: &ArrayView2<'a, T>) -> ArrayView2<'a, T> {
        (*m).slice_move(s![
            self.row0..self.row0 + self.rows,
            self.col0..self.col0 + self.cols
        ])
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the tile has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A grid of tiles over an `nrows × ncols` matrix.
///
/// ```
/// use rayblas::{BlockShape, Tiling};
/// let t = Tiling::new(1001, 10, BlockShape::new(250, 4)?);
/// assert_eq!(t.grid(), (5, 3));
/// let last = t.tiles().last().unwrap();
/// assert_eq!((last.rows, last.cols), (1, 2)); // ragged edges
/// # Ok::<(), rayblas::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Matrix rows.
    pub nrows: usize,
    /// Matrix columns.
    pub ncols: usize,
    /// Block shape.
    pub block: BlockShape,
}

impl Tiling {
    /// Tiles of `block` over an `nrows × ncols` matrix.
    pub fn new(nrows: usize, ncols: usize, block: BlockShape) -> Self {
        Tiling {
            nrows,
            ncols,
            block,
        }
    }

    /// Number of tile rows and tile columns (0 for an empty dimension).
    pub fn grid(&self) -> (usize, usize) {
        (
            self.nrows.div_ceil(self.block.rows),
            self.ncols.div_ceil(self.block.cols),
        )
    }

    /// The tile at grid position `(ti, tj)`.
    pub fn tile(&self, ti: usize, tj: usize) -> Tile {
        let row0 = ti * self.block.rows;
        let col0 = tj * self.block.cols;
        Tile {
            ti,
            tj,
            row0,
            rows: self.block.rows.min(self.nrows - row0),
            col0,
            cols: self.block.cols.min(self.ncols - col0),
        }
    }

    /// All tiles in row-major grid order (the fixed order results are combined in).
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        let (gr, gc) = self.grid();
        (0..gr).flat_map(move |ti| (0..gc).map(move |tj| self.tile(ti, tj)))
    }

    /// Tiles on and below the diagonal (`tj ≤ ti`), row-major: the half a symmetric result needs.
    pub fn lower_tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        let (gr, gc) = self.grid();
        (0..gr).flat_map(move |ti| (0..gc.min(ti + 1)).map(move |tj| self.tile(ti, tj)))
    }

    /// Splits `m` (of this tiling's shape) into disjoint mutable tile views, as a grid indexed
    /// `[ti][tj]`. Safe: built with ndarray's `split_at`, no copies.
    pub fn split_mut<'a, T>(
        &self,
        m: ArrayViewMut2<'a, T>,
    ) -> Vec<Vec<Option<ArrayViewMut2<'a, T>>>> {
        assert_eq!(m.dim(), (self.nrows, self.ncols), "tiling shape");
        if self.nrows == 0 || self.ncols == 0 {
            return Vec::new();
        }
        split_axis(m, Axis(0), self.block.rows)
            .into_iter()
            .map(|panel| {
                split_axis(panel, Axis(1), self.block.cols)
                    .into_iter()
                    .map(Some)
                    .collect()
            })
            .collect()
    }
}

/// Cuts a mutable view along `axis` into chunks of `chunk` (the last one ragged), keeping the
/// original lifetime.
fn split_axis<T>(
    mut m: ArrayViewMut2<'_, T>,
    axis: Axis,
    chunk: usize,
) -> Vec<ArrayViewMut2<'_, T>> {
    let mut out = Vec::with_capacity(m.len_of(axis).div_ceil(chunk));
    while m.len_of(axis) > chunk {
        let (head, tail) = m.split_at(axis, chunk);
        out.push(head);
        m = tail;
    }
    if m.len_of(axis) > 0 {
        out.push(m);
    }
    out
}
