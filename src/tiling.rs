//! Tiles (blocks) of a matrix: shapes, ragged edges, and views with no copies.
//!
//! A [`Tiling`] cuts an `nrows × ncols` matrix into tiles of at most `block.rows × block.cols`;
//! the last row and column of tiles are ragged when the block does not divide the matrix, and a
//! block larger than the matrix gives one tile. A [`Tile`] is plain data (indices and ranges), so
//! it can be owned by a worker thread, an MPI rank or a region of a memory-mapped file, and turned
//! into a view of whatever holds the data.

use crate::error::{Error, Result};
use ndarray::{ArrayViewMut2, Axis};
use std::fmt;
use std::ops::Range;
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
    ///
    /// # Errors
    /// [`Error::ZeroBlock`] if either side is 0.
    pub fn new(rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::ZeroBlock { rows, cols });
        }
        Ok(BlockShape { rows, cols })
    }

    /// A square `n × n` block.
    ///
    /// # Errors
    /// [`Error::ZeroBlock`] if `n` is 0.
    pub fn square(n: usize) -> Result<Self> {
        Self::new(n, n)
    }

    /// The default block for an `m × n` result: at most 1000 on a side, and small enough that
    /// every physical core gets a row of tiles.
    ///
    /// It depends on the shape and this machine's physical core count, never on the worker
    /// count of the strategy, so a blocked result is bitwise the same for any worker count with
    /// the default block too. (It took the worker count until issue 16: `blocked:3` and
    /// `blocked:7` then cut other tiles than `blocked:2` and gave other bits.) Pass an explicit
    /// block and [`Config::balance_for`](crate::Config::balance_for) for bits that also agree
    /// between machines with different core counts.
    ///
    /// ```
    /// use rayblas::BlockShape;
    /// let b = BlockShape::auto(2345, 1234);
    /// assert!(b.rows <= 1000 && b.cols == 1000);
    /// let small = BlockShape::auto(3, 5);
    /// assert!(small.cols == 5 && (1..=3).contains(&small.rows));
    /// ```
    pub fn auto(m: usize, n: usize) -> Self {
        let cores = crate::cpu::physical_cores();
        let rows = m.div_ceil(cores).clamp(1, 1000);
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
pub(crate) struct Tile {
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
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }
}

/// Adjacent tiles of one tile row that one BLAS call computes together.
///
/// Each BLAS call packs (copies into its kernel's layout) the rows of A and the columns of B it
/// reads, and no BLAS API lets a later call reuse that work. One call per 1000×1000 tile of a
/// 4000×4000 product packs every row panel of A four times over, which costs 5 % even on one
/// thread; one call per strip of four tiles packs it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Strip {
    /// The strip's rectangle: grid position of its first tile, and the rows and columns of all
    /// its tiles together.
    pub span: Tile,
    /// Number of tiles it covers.
    pub tiles: usize,
}

/// How many tiles one BLAS call covers under the tiled strategies (`Blocked`, `Hybrid`,
/// `Serial`). The tiles, their views and who owns them are the same either way.
///
/// ```
/// use rayblas::Calls;
/// assert_eq!("tiles".parse::<Calls>()?, Calls::Tiles);
/// assert_eq!(Calls::default().to_string(), "strips");
/// # Ok::<(), rayblas::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Calls {
    /// One call per strip of adjacent tiles (the default): in `matmul` and `gram`, tile rows of
    /// fewer than 1024 rows are first merged into bands of about 1024 (each call packs the
    /// columns of B it reads, so taller calls pack them fewer times), and each band is cut
    /// into the fewest strips that give every core at least two; the fused
    /// products (`matmul_reduce`, `gram_reduce`) merge adjacent tiles of a row into calls of
    /// up to 1024 columns (four 250-column tiles, one 1000-column tile), so a worker still
    /// holds O(tile²) of the product. The cut depends on the shape, the
    /// block and the core count it balances for (the machine's physical cores, or
    /// [`Config::balance_for`](crate::Config::balance_for)), never on the worker count, so
    /// results stay bitwise identical for any worker count.
    #[default]
    Strips,
    /// One call per tile, each repacking its panels: the plain per-tile experiment.
    Tiles,
}

/// The widest call the fused products merge small tiles into, in columns of the product. A
/// 250-column tile repacks its rows of A for every tile; four of them in one call pack it once.
/// Tiles of this width or more get a call each, so a worker's scratch stays within
/// `max(tile², tile rows × FUSED_CALL_COLS)`: O(tile²) still.
const FUSED_CALL_COLS: usize = 1024;

/// The fewest rows a call of a stored product (`matmul`, `gram`) covers under `Strips`, where
/// the product has them. Each call packs the columns of B it reads (k × its columns) afresh,
/// and does 2r flops per packed element for r rows, so its share of time spent packing falls
/// as 1/r: a memory-bound copy against a few dozen flops per element at one core's GEMM rate
/// is several percent for 250 rows, and about a quarter of that from 1024 on. Smaller tile
/// rows are merged into bands of about this many rows. On the Zen 3 EPYC the block-250 column
/// of the balance grid (`benchmarks/balance-grid-zen3-block250.md`, n = 1500 to 8000, matmul
/// and gram, f64 and f32) went from a median of 0.935 × native to 1.00 × with it. Bands of
/// 834, 1250 and 2500 rows at n = 5000 measured alike (0.96–0.98, 7 repetitions), so the
/// figure is a floor, not a tuned optimum.
const CALL_ROWS: usize = 1024;

impl Calls {
    /// The number of strips wanted in all, for [`Tiling::strips`], on `cores` cores.
    pub(crate) fn strips_wanted(self, cores: usize) -> usize {
        match self {
            Calls::Strips => 2 * cores,
            Calls::Tiles => usize::MAX,
        }
    }

    /// The side of the bands the calls of a stored product (`matmul`, `gram`) cover over `len`
    /// rows cut in tiles of `tile_side`: under `Strips`, tile rows of fewer than [`CALL_ROWS`]
    /// rows merged into near-equal bands of about that many, their count still a multiple of
    /// `cores` ([`balanced_side`]); otherwise (larger tiles, or `Tiles`) the tiles' own side.
    /// Never smaller than `tile_side`, and, like it, independent of the worker count.
    pub(crate) fn call_side(self, len: usize, tile_side: usize, cores: usize) -> usize {
        match self {
            Calls::Strips if tile_side < CALL_ROWS => {
                balanced_side(len, CALL_ROWS, cores).max(tile_side)
            }
            _ => tile_side,
        }
    }

    /// How many adjacent tiles of `tile_cols` columns one call of a fused product (product →
    /// reduction, the product held only in scratch) covers, for [`Tiling::strips_of_at_most`]:
    /// under `Strips`, as many as fit in [`FUSED_CALL_COLS`] columns (at least one); under
    /// `Tiles`, one.
    pub(crate) fn fused_tiles_per_call(self, tile_cols: usize) -> usize {
        match self {
            Calls::Strips => (FUSED_CALL_COLS / tile_cols.max(1)).max(1),
            Calls::Tiles => 1,
        }
    }
}

impl fmt::Display for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Calls::Strips => "strips",
            Calls::Tiles => "tiles",
        })
    }
}

impl FromStr for Calls {
    type Err = Error;
    /// `strips` or `tiles`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strips" => Ok(Calls::Strips),
            "tiles" => Ok(Calls::Tiles),
            _ => Err(Error::Parse {
                what: "calls",
                input: s.to_string(),
                reason: "expected strips or tiles".to_string(),
            }),
        }
    }
}

/// The side of near-equal bands over `len` rows (or columns) with at most `max` each, so many
/// that their count is a multiple of `cores`: the bands then divide evenly among the cores.
///
/// A 5000-row product with block 1000 on 2 cores would otherwise have 5 bands, 3 against 2 (0.83
/// of the machine); this gives 6 of 834 (the last 830). When the block already divides evenly,
/// as 4000 rows in bands of 1000 on 2 cores, the bands are the block's. The side depends on the
/// shape, the block and the machine's core count, never on the worker count.
pub(crate) fn balanced_side(len: usize, max: usize, cores: usize) -> usize {
    let max = max.max(1);
    if len == 0 {
        return max;
    }
    let cores = cores.max(1);
    let bands = len.div_ceil(max).div_ceil(cores) * cores;
    len.div_ceil(bands.min(len))
}

/// How an operation is cut up: the block (or `None` for [`BlockShape::auto`]) and how many
/// tiles one BLAS call covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    pub block: Option<BlockShape>,
    pub calls: Calls,
    /// The core count tiles are evened out for (`None`: this machine's physical cores).
    pub balance: Option<std::num::NonZeroUsize>,
}

impl Cut {
    /// The cut of a product with an `m×n` output that runs on the calling thread
    /// ([`Plan::inline`](crate::plan::Plan)): when the block is rayblas's to choose, one tile
    /// over the whole output, so the product is one BLAS call, as a direct call would be. Tiles
    /// exist to share work among threads; on one thread each extra call only packs its
    /// operands again (at n=64 two calls of 32 rows took 15 µs against 9.6 for one). The rule
    /// reads the shape and the work only, so the cut, and the bits, do not depend on the worker
    /// count. A block given by the caller is kept: it asks for that cut.
    pub fn for_product(self, inline: bool, m: usize, n: usize) -> Cut {
        if !inline || self.block.is_some() {
            return self;
        }
        Cut {
            block: Some(BlockShape {
                rows: m.max(1),
                cols: n.max(1),
            }),
            calls: self.calls,
            balance: Some(std::num::NonZeroUsize::MIN),
        }
    }

    /// The core count tile rows are evened out for.
    pub fn balance(&self) -> usize {
        self.balance
            .map_or_else(crate::cpu::physical_cores, |n| n.get())
    }
}

/// A grid of tiles over an `nrows × ncols` matrix.
///
/// (Examples: `grid_and_ragged_edges` and `strips_of_a_square_grid` in the tests below.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tiling {
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

    /// All tiles in row-major grid order (the fixed order results are combined in); the
    /// kernels take them in strips, so only the tests walk them one by one.
    #[cfg(test)]
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        let (gr, gc) = self.grid();
        (0..gr).flat_map(move |ti| (0..gc).map(move |tj| self.tile(ti, tj)))
    }

    /// Tiles on and below the diagonal (`tj ≤ ti`), row-major: the half a symmetric result needs.
    pub fn lower_tiles(&self) -> impl Iterator<Item = Tile> + '_ {
        let (gr, gc) = self.grid();
        (0..gr).flat_map(move |ti| (0..gc.min(ti + 1)).map(move |tj| self.tile(ti, tj)))
    }

    /// Cuts runs of adjacent tiles into strips. Each run `(ti, tj0..tj1)` (tiles `tj0..tj1` of
    /// tile row `ti`) becomes `⌈wanted / runs⌉` strips of near-equal tile counts, or one strip
    /// per tile if it has fewer tiles than that. Runs of equal length thus give at least
    /// `wanted` strips in all when they have the tiles. The strips come in the order of the
    /// runs, left to right within each.
    pub fn strips(&self, runs: &[(usize, Range<usize>)], wanted: usize) -> Vec<Strip> {
        let per_run = wanted.div_ceil(runs.len().max(1)).max(1);
        self.strips_by(runs, |len| per_run.min(len))
    }

    /// Cuts each run into the fewest strips of near-equal tile counts that have at most
    /// `max_tiles` tiles each (one strip per tile for `max_tiles` 1), in the order of the runs,
    /// left to right within each.
    pub fn strips_of_at_most(
        &self,
        runs: &[(usize, Range<usize>)],
        max_tiles: usize,
    ) -> Vec<Strip> {
        let max_tiles = max_tiles.max(1);
        self.strips_by(runs, |len| len.div_ceil(max_tiles))
    }

    /// Cuts each run into strips of `max_tiles` tiles that start at tile columns which are
    /// multiples of `max_tiles` (a run's first and last strips may be shorter), in the order of
    /// the runs, left to right within each. A cut at any multiple of `max_tiles` tile columns
    /// then falls between strips: the fused Gram product's calls, which the ranks' ring splits
    /// into panels of whole groups of tile rows.
    pub fn strips_aligned(&self, runs: &[(usize, Range<usize>)], max_tiles: usize) -> Vec<Strip> {
        let w = max_tiles.max(1);
        let mut out = Vec::new();
        for (ti, tjs) in runs {
            let mut start = tjs.start;
            while start < tjs.end {
                let end = ((start / w + 1) * w).min(tjs.end);
                out.push(self.strip(*ti, start, end - start));
                start = end;
            }
        }
        out
    }

    /// Cuts each run `(ti, tjs)` into `parts(tjs.len())` strips of near-equal tile counts.
    fn strips_by(
        &self,
        runs: &[(usize, Range<usize>)],
        parts: impl Fn(usize) -> usize,
    ) -> Vec<Strip> {
        let mut out = Vec::new();
        for (ti, tjs) in runs {
            let len = tjs.len();
            if len == 0 {
                continue;
            }
            let p = parts(len).clamp(1, len);
            for q in 0..p {
                // Near-equal parts: the first `len % p` strips get one tile more.
                let start = tjs.start + q * (len / p) + q.min(len % p);
                let count = len / p + usize::from(q < len % p);
                out.push(self.strip(*ti, start, count));
            }
        }
        out
    }

    /// The strip of `count` tiles of tile row `ti` from tile column `start`.
    fn strip(&self, ti: usize, start: usize, count: usize) -> Strip {
        let first = self.tile(ti, start);
        let last = self.tile(ti, start + count - 1);
        Strip {
            span: Tile {
                cols: last.col0 + last.cols - first.col0,
                ..first
            },
            tiles: count,
        }
    }

    /// Splits `m` (of this tiling's shape) into disjoint mutable views of `strips`, returned in
    /// the same order. The strips must come in row-major order without overlapping (as
    /// [`Tiling::strips`] makes them); parts of `m` no strip covers are left out.
    ///
    /// # Panics
    /// If `m` does not have the tiling's shape, or the strips are out of order or overlap.
    pub fn split_strips_mut<'a, T>(
        &self,
        m: ArrayViewMut2<'a, T>,
        strips: &[Strip],
    ) -> Vec<ArrayViewMut2<'a, T>> {
        assert_eq!(m.dim(), (self.nrows, self.ncols), "tiling shape");
        if self.nrows == 0 || self.ncols == 0 {
            assert!(strips.is_empty(), "strips of an empty matrix");
            return Vec::new();
        }
        // Each tile row's panel, with the column its unclaimed part starts at.
        let mut panels: Vec<Option<(usize, ArrayViewMut2<'a, T>)>> =
            split_axis(m, Axis(0), self.block.rows)
                .into_iter()
                .map(|p| Some((0, p)))
                .collect();
        strips
            .iter()
            .map(|s| {
                let (start, rest) = panels[s.span.ti].take().expect("strips in row-major order");
                assert!(s.span.col0 >= start, "strips overlap or are out of order");
                let (_, rest) = rest.split_at(Axis(1), s.span.col0 - start);
                let (view, rest) = rest.split_at(Axis(1), s.span.cols);
                panels[s.span.ti] = Some((s.span.col0 + s.span.cols, rest));
                view
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use ndarray::Array2;

    /// Bands of `side` over `len` rows: their count is a multiple of `cores`, or `len` itself
    /// (one row each, when there are fewer rows than that multiple needs).
    fn assert_bands_divide(len: usize, side: usize, cores: usize) {
        if len > 0 {
            let bands = len.div_ceil(side);
            assert!(
                bands % cores == 0 || bands == len,
                "{len} rows, side {side}, {cores} cores"
            );
        }
    }

    #[test]
    fn balanced_sides_divide_among_the_cores() {
        // (len, block, cores) → side; the band count ⌈len/side⌉ is a multiple of the cores
        // (or len itself), and no band is larger than the block.
        for (len, block, cores, side) in [
            (5000, 1000, 2, 834),
            (4000, 1000, 2, 1000),
            (1500, 1000, 2, 750),
            (3000, 2000, 2, 1500),
            (2500, 500, 2, 417),
            (5000, 250, 2, 250),
            (8000, 2000, 4, 2000),
            (3, 1000, 4, 1),
            (0, 500, 2, 500),
        ] {
            let got = balanced_side(len, block, cores);
            assert_eq!(got, side, "{len} {block} {cores}");
            assert!(got <= block);
            assert_bands_divide(len, got, cores);
        }
    }

    #[test]
    fn small_tile_rows_merge_into_call_bands_that_still_divide_among_the_cores() {
        // (len, balanced tile side, cores) → the side of the bands calls cover under `Strips`.
        for (len, tile, cores, side) in [
            (5000, 250, 2, 834),
            (8000, 250, 2, 1000),
            (1500, 250, 2, 750),
            (600, 150, 2, 300),
            (5000, 834, 2, 834),
            (4000, 1000, 2, 1000),
            (4000, 2000, 2, 2000),
            (100, 25, 4, 25),
            (3, 1, 4, 1),
            (0, 250, 2, 1024),
        ] {
            let got = Calls::Strips.call_side(len, tile, cores);
            assert_eq!(got, side, "{len} {tile} {cores}");
            assert!(got >= tile, "never smaller than the tiles");
            assert_bands_divide(len, got, cores);
            assert_eq!(Calls::Tiles.call_side(len, tile, cores), tile);
        }
    }

    #[test]
    fn grid_and_ragged_edges() {
        let t = Tiling::new(1001, 10, BlockShape::new(250, 4).unwrap());
        assert_eq!(t.grid(), (5, 3));
        let last = t.tiles().last().unwrap();
        assert_eq!((last.rows, last.cols), (1, 2));
    }

    #[test]
    fn strips_of_a_square_grid() {
        let t = Tiling::new(4000, 4000, BlockShape::square(1000).unwrap());
        let rows: Vec<_> = (0..4).map(|ti| (ti, 0..4)).collect();
        // Four runs and at least 8 strips wanted: each tile row in two strips of 1000×2000.
        let s = t.strips(&rows, 8);
        assert_eq!(s.len(), 8);
        assert!(s.iter().all(|s| s.tiles == 2 && s.span.cols == 2000));
        // `usize::MAX` wanted: one strip per tile.
        assert_eq!(t.strips(&rows, usize::MAX).len(), 16);
    }

    #[test]
    fn aligned_strips_start_at_multiples_of_their_width() {
        let t = Tiling::new(2000, 2000, BlockShape::square(250).unwrap());
        let tiles = |run: std::ops::Range<usize>| -> Vec<(usize, usize)> {
            t.strips_aligned(&[(7, run)], 4)
                .iter()
                .map(|s| (s.span.tj, s.tiles))
                .collect()
        };
        assert_eq!(tiles(0..0), []);
        assert_eq!(tiles(0..3), [(0, 3)]);
        assert_eq!(tiles(0..7), [(0, 4), (4, 3)]);
        assert_eq!(tiles(2..9), [(2, 2), (4, 4), (8, 1)]);
        // Every strip covers its tiles' columns exactly, in a row of tile row 7.
        for s in t.strips_aligned(&[(7, 0..7)], 4) {
            assert_eq!(s.span.row0, 7 * 250);
            assert_eq!((s.span.col0, s.span.cols), (s.span.tj * 250, s.tiles * 250));
        }
        // Width 1: one strip per tile.
        assert_eq!(t.strips_aligned(&[(3, 0..3)], 1).len(), 3);
    }

    #[test]
    fn fused_calls_merge_narrow_tiles_only() {
        let t = Tiling::new(1500, 1500, BlockShape::square(250).unwrap());
        let per_call = Calls::Strips.fused_tiles_per_call(250);
        assert_eq!(per_call, 4);
        // Runs of 0..6 tiles: none, then one strip up to four tiles, then two near-equal ones.
        let runs: Vec<_> = (0..7).map(|len| (len.min(5), 0..len)).collect();
        let counts: Vec<Vec<usize>> = runs
            .iter()
            .map(|r| {
                t.strips_of_at_most(std::slice::from_ref(r), per_call)
                    .iter()
                    .map(|s| s.tiles)
                    .collect()
            })
            .collect();
        assert_eq!(
            counts,
            [
                vec![],
                vec![1],
                vec![2],
                vec![3],
                vec![4],
                vec![3, 2],
                vec![3, 3]
            ]
        );
        // A strip's span is its tiles' columns together, and the strips cover each run once.
        let s = t.strips_of_at_most(&[(5, 0..5)], per_call);
        assert_eq!((s[0].span.col0, s[0].span.cols), (0, 750));
        assert_eq!((s[1].span.col0, s[1].span.cols), (750, 500));
        // Wide tiles get a call each; `Calls::Tiles` always one per tile.
        assert_eq!(Calls::Strips.fused_tiles_per_call(1000), 1);
        assert_eq!(Calls::Strips.fused_tiles_per_call(2000), 1);
        assert_eq!(Calls::Strips.fused_tiles_per_call(0), 1024);
        assert_eq!(Calls::Tiles.fused_tiles_per_call(250), 1);
    }

    /// `(rows, cols, block rows, block cols)`: ragged edges, a block larger than the matrix, 1×N,
    /// N×1, empty, block 1, and the benchmark's 4×4 grid.
    const TILINGS: &[(usize, usize, usize, usize)] = &[
        (1001, 17, 250, 4),
        (5, 5, 10, 10),
        (1, 9, 1, 2),
        (9, 1, 2, 1),
        (0, 4, 2, 2),
        (6, 6, 1, 1),
        (4000, 4000, 1000, 1000),
    ];

    #[test]
    fn tiling_covers_every_element_once() {
        for &(m, n, br, bc) in TILINGS {
            let t = Tiling::new(m, n, BlockShape::new(br, bc).unwrap());
            let mut seen = Array2::<u8>::zeros((m, n));
            for tile in t.tiles() {
                assert!(tile.rows >= 1 && tile.rows <= br && tile.cols >= 1 && tile.cols <= bc);
                seen.slice_mut(ndarray::s![
                    tile.row0..tile.row0 + tile.rows,
                    tile.col0..tile.col0 + tile.cols
                ])
                .mapv_inplace(|v| v + 1);
            }
            assert!(seen.iter().all(|&v| v == 1), "{m}x{n} block {br}x{bc}");
            let (gr, gc) = t.grid();
            assert_eq!(t.tiles().count(), gr * gc);
            assert_eq!(
                t.lower_tiles().count(),
                (0..gr).map(|i| gc.min(i + 1)).sum::<usize>()
            );
        }
        assert_eq!(
            Tiling::new(1001, 1001, BlockShape::square(250).unwrap())
                .tile(4, 4)
                .rows,
            1
        );
        assert_eq!(
            "500x250".parse::<BlockShape>().unwrap(),
            BlockShape::new(500, 250).unwrap()
        );
        assert_eq!(
            "7".parse::<BlockShape>().unwrap(),
            BlockShape::square(7).unwrap()
        );
    }

    #[test]
    fn strips_cover_each_tile_of_their_runs_once_in_near_equal_parts() {
        for &(m, n, br, bc) in TILINGS {
            let t = Tiling::new(m, n, BlockShape::new(br, bc).unwrap());
            let (gr, gc) = t.grid();
            let rows: Vec<_> = (0..gr).map(|ti| (ti, 0..gc)).collect();
            for wanted in [1, 2, 3, 4, 7, 100, usize::MAX] {
                let strips = t.strips(&rows, wanted);
                let what = format!("{m}x{n} block {br}x{bc} wanted {wanted}");
                // Exactly the tiles of the matrix, each once, in row-major order.
                let covered: Vec<_> = strips
                    .iter()
                    .flat_map(|s| (s.span.tj..s.span.tj + s.tiles).map(move |tj| (s.span.ti, tj)))
                    .collect();
                let all: Vec<_> = t.tiles().map(|x| (x.ti, x.tj)).collect();
                assert_eq!(covered, all, "{what}");
                for s in &strips {
                    let (first, last) = (
                        t.tile(s.span.ti, s.span.tj),
                        t.tile(s.span.ti, s.span.tj + s.tiles - 1),
                    );
                    assert_eq!(
                        (s.span.row0, s.span.rows),
                        (first.row0, first.rows),
                        "{what}"
                    );
                    assert_eq!(s.span.col0, first.col0, "{what}");
                    assert_eq!(s.span.col0 + s.span.cols, last.col0 + last.cols, "{what}");
                }
                if gr * gc > 0 {
                    // As many strips as wanted, if the tiles allow; near-equal within a row.
                    assert!(strips.len() >= wanted.min(gr * gc), "{what}");
                    for ti in 0..gr {
                        let counts: Vec<_> = strips
                            .iter()
                            .filter(|s| s.span.ti == ti)
                            .map(|s| s.tiles)
                            .collect();
                        assert!(
                            counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
                            "{what}"
                        );
                    }
                }
            }
            assert_eq!(
                t.strips(&rows, usize::MAX).len(),
                gr * gc,
                "one strip per tile"
            );
        }
        assert_eq!("strips".parse::<Calls>().unwrap(), Calls::Strips);
        assert_eq!("Tiles".parse::<Calls>().unwrap(), Calls::Tiles);
        assert!(matches!("rows".parse::<Calls>(), Err(Error::Parse { .. })));
    }

    #[test]
    fn strip_views_are_the_strips_rectangles() {
        let mut m = Array2::<usize>::zeros((23, 31));
        let t = Tiling::new(23, 31, BlockShape::new(5, 4).unwrap());
        let (gr, gc) = t.grid();
        // Runs with gaps, as the Gram product uses: the tiles left of the diagonal.
        let runs: Vec<_> = (1..gr).map(|ti| (ti, 0..ti.min(gc))).collect();
        let strips = t.strips(&runs, 7);
        for (i, mut v) in t
            .split_strips_mut(m.view_mut(), &strips)
            .into_iter()
            .enumerate()
        {
            v.fill(i + 1);
        }
        for (i, s) in strips.iter().enumerate() {
            let r = s.span;
            assert!(m
                .slice(ndarray::s![
                    r.row0..r.row0 + r.rows,
                    r.col0..r.col0 + r.cols
                ])
                .iter()
                .all(|&v| v == i + 1));
        }
        let written = m.iter().filter(|&&v| v > 0).count();
        assert_eq!(
            written,
            strips.iter().map(|s| s.span.len()).sum::<usize>(),
            "nothing outside the strips"
        );
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn strips_out_of_order_are_refused() {
        let mut m = Array2::<f64>::zeros((8, 8));
        let t = Tiling::new(8, 8, BlockShape::square(2).unwrap());
        let mut strips = t.strips(&[(0, 0..4)], 4);
        strips.swap(0, 1);
        t.split_strips_mut(m.view_mut(), &strips);
    }
}
