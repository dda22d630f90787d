//! Gram products on ranks that each hold about 1/p of the input: row panels passed around a
//! ring.
//!
//! The tile rows of X are dealt to the ranks in contiguous panels, one per rank, in rank
//! order. The lower triangle of X·Xᵀ is made of the products of pairs of panels `{a, b}`. At
//! ring step `t` (0 ≤ t ≤ ⌊p/2⌋) rank `r` holds its own panel and the one of rank
//! `(r + t) mod p`, and computes the tiles of that pair; between steps every rank passes the
//! panel it visits to rank `r − 1` and receives the next from `r + 1`, one non-blocking
//! send/receive pair per step, posted before the step's products start so that the transfer
//! runs while they compute. After ⌊p/2⌋ shifts every pair has met exactly once (for even `p`
//! the pairs at distance p/2 meet twice, once on each side, and split their tiles by parity).
//!
//! Each rank holds its own panel, the visiting one and the next one arriving: about 3/p of X.
//! No call may straddle two panels. The fused reduction (`gram_reduce`) runs one process's
//! own calls, strips of up to 1024 columns (`Calls::fused_tiles_per_call` tiles), when its
//! panels can be whole groups of that many tile rows with a group for every rank: the strips
//! of a tile row start at tile column 0, so a panel boundary on a group boundary cuts none
//! ([`reduce_ring_cut`]). Otherwise, and for the stored Gram matrix, the calls are one tile
//! each ([`Calls::Tiles`]), which never straddle. Either way which rank computes a call
//! changes with the rank count but the call does not, and the values are combined in call
//! order on rank 0, as one process combines them: the result is the bits one process gives
//! with the same calls ([`OnRanks::gram_reduce_calls`]), block and [`Config::balance_for`].
//!
//! [`Config::balance_for`]: crate::Config::balance_for
//! [`OnRanks::gram_reduce_calls`]: super::OnRanks::gram_reduce_calls

use super::{gram_call, overlap, OnRanks, RowSource, Share};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::kernels::fused::gram_reduce_call;
use crate::kernels::gram::{gram_call_cost, gram_tiling};
use crate::kernels::reduce::Reduction;
use crate::plan::TileSource;
use crate::tiling::{Calls, Cut, Strip, Tiling};
use mpi::traits::*;
use ndarray::{s, ArrayView2, CowArray};
use std::ops::Range;
use std::time::Instant;

/// Elements per message: MPI counts are `int`, so a panel larger than this goes as several.
const MESSAGE_ELEMENTS: usize = 1 << 30;

/// The cut the ring runs for a stored Gram product: the configured block and balance, one
/// call per tile.
pub(super) fn ring_cut(cut: Cut) -> Cut {
    Cut {
        calls: Calls::Tiles,
        ..cut
    }
}

/// The cut the ring runs for a fused Gram product of an n-row X on `p` ranks, and the panel
/// granule in tile rows: the configured calls with panels of whole groups of the tile rows
/// one call spans, when there are at least as many groups as ranks; else one call per tile
/// (granule 1). At n=4000 in blocks of 500 on 2 ranks, strips of two tiles: one call per tile
/// cost 7 % (669 against 625 ms in one process).
pub(super) fn reduce_ring_cut(cut: Cut, n: usize, p: usize) -> (Cut, usize) {
    let tiling = gram_tiling(n, cut);
    let per_call = cut.calls.fused_tiles_per_call(tiling.block.cols);
    if tiling.grid().0.div_ceil(per_call) >= p.max(1) {
        (cut, per_call)
    } else {
        (ring_cut(cut), 1)
    }
}

/// Who computes each call of a Gram product on `p` ranks, and at which ring step.
pub(super) struct RingPlan {
    /// Rows of each rank's panel: whole tile rows, contiguous, in rank order (empty when
    /// there are fewer tile rows than ranks).
    pub panels: Vec<Range<usize>>,
    /// The rank that computes each call.
    pub owner: Vec<usize>,
    /// The step at which it does.
    pub step: Vec<usize>,
    /// Steps in all: ⌊p/2⌋ + 1.
    pub steps: usize,
}

impl RingPlan {
    /// The plan for the `calls` of a Gram product over `tiling` on `p` ranks, with panels of
    /// whole groups of `granule` tile rows, so that no call (at most `granule` tiles wide,
    /// starting at a multiple of it) straddles two panels.
    pub fn new(tiling: &Tiling, calls: &[Strip], p: usize, granule: usize) -> RingPlan {
        let p = p.max(1);
        let granule = granule.max(1);
        let tile_rows = tiling.grid().0;
        let groups = tile_rows.div_ceil(granule);
        let first_tile = |r: usize| (r * groups / p * granule).min(tile_rows);
        let row_of = |ti: usize| {
            if ti >= tile_rows {
                tiling.nrows
            } else {
                tiling.tile(ti, 0).row0
            }
        };
        let panels: Vec<Range<usize>> = (0..p)
            .map(|r| row_of(first_tile(r))..row_of(first_tile(r + 1)))
            .collect();
        let panel_of = |ti: usize| (0..p).rfind(|&r| first_tile(r) <= ti).unwrap_or(0);
        let mut owner = Vec::with_capacity(calls.len());
        let mut step = Vec::with_capacity(calls.len());
        for c in calls {
            let (ti, tj) = (c.span.ti, c.span.tj);
            // Lower triangle: tile row ti is at or below tile column tj, so a ≥ b.
            let (a, b) = (panel_of(ti), panel_of(tj));
            debug_assert_eq!(b, panel_of(tj + c.tiles - 1), "a call straddles two panels");
            let d = a - b;
            let (o, t) = if d == 0 {
                (a, 0)
            } else if 2 * d < p {
                // Rank b meets panel a at step d.
                (b, d)
            } else if 2 * d > p {
                // Rank a meets panel b at step p − d.
                (a, p - d)
            } else if (ti + tj) % 2 == 0 {
                // Distance p/2: both meet at step p/2; the tiles are split between them.
                (b, d)
            } else {
                (a, d)
            };
            owner.push(o);
            step.push(t);
        }
        RingPlan {
            panels,
            owner,
            step,
            steps: p / 2 + 1,
        }
    }
}

/// The rows a rank holds at one step: its own panel and the visiting one.
pub(super) struct Pair<'a, T> {
    dim: (usize, usize),
    own: (usize, ArrayView2<'a, T>),
    visiting: (usize, ArrayView2<'a, T>),
}

impl<T: Element> TileSource<T> for Pair<'_, T> {
    fn dim(&self) -> (usize, usize) {
        self.dim
    }
    fn rows(&self, start: usize, len: usize) -> ArrayView2<'_, T> {
        for (row0, p) in [&self.own, &self.visiting] {
            if start >= *row0 && start + len <= row0 + p.nrows() {
                return p.slice(s![start - row0..start - row0 + len, ..]);
            }
        }
        panic!(
            "rows {start}..{} asked of a ring step that does not hold them",
            start + len
        )
    }
    fn cols(&self, _start: usize, _len: usize) -> ArrayView2<'_, T> {
        unreachable!("a Gram product on ranks reads rows only")
    }
}

impl OnRanks<'_> {
    /// Runs the ring of `plan` over `x`: at each step, `work(pair, step)` computes the calls of
    /// that step from the two panels this rank holds, on a thread of its own, while this thread
    /// moves the next panel. The outer error fails alike on every rank, before the ring, when
    /// a rank cannot load its panel or have its buffers (no collective may follow); the inner
    /// one is this rank's failure in `work`, which the caller reports through the collective
    /// that brings the results together.
    pub(super) fn ring<T: Element, X: RowSource<T>>(
        &self,
        x: &X,
        plan: &RingPlan,
        prepared: Result<()>,
        mut work: impl FnMut(&Pair<'_, T>, usize) -> Result<()> + Send,
    ) -> Result<Result<()>> {
        let world = &self.ranks.world;
        let (me, p) = (self.ranks.rank(), self.ranks.size());
        let (n, k) = x.dim();
        let mut traffic = super::Traffic {
            calls: plan.owner.iter().filter(|&&o| o == me).count(),
            ..super::Traffic::default()
        };
        self.ranks.start_call::<T>();
        let start = Instant::now();
        let own_rows = plan.panels[me].clone();
        let largest = plan.panels.iter().map(|r| r.len()).max().unwrap_or(0);
        let loaded = prepared.and_then(|()| {
            let own = x.rows(own_rows.clone())?;
            let own = if own.is_standard_layout() {
                own
            } else {
                CowArray::from(own.as_standard_layout().into_owned())
            };
            // Two buffers of the largest panel take the visiting panels in turn (kept ones
            // where they fit: `Ranks::release_buffers`).
            let buffers = if p > 1 {
                let one = || {
                    self.ranks
                        .buffer::<T>("rank's buffer for a visiting panel", largest, k)
                };
                [one()?, one()?]
            } else {
                [Vec::new(), Vec::new()]
            };
            Ok((own, buffers))
        });
        traffic.load = start.elapsed();
        let start = Instant::now();
        let failed = u8::from(loaded.is_err());
        let mut all_failed = vec![0u8; p];
        world.all_gather_into(&failed, &mut all_failed[..]);
        traffic.communicate += start.elapsed();
        let (own, mut buffers) = loaded?;
        if let Some(r) = all_failed.iter().position(|&f| f != 0) {
            for b in buffers {
                self.ranks.give_back(b);
            }
            self.ranks.traffic.set(traffic);
            return Err(Error::Mpi(format!(
                "rank {r} failed (its own error says why); no result"
            )));
        }
        let own_slice = own.as_slice().expect("standard layout");
        let mut error: Option<Error> = None;
        for t in 0..plan.steps {
            let here = (me + t) % p;
            let here_rows = plan.panels[here].clone();
            let shifting = t + 1 < plan.steps;
            // Step 0 visits the own panel; step t ≥ 1 the panel received into buffer
            // (t − 1) mod 2, while the next one arrives in the other.
            let (current, next): (&[T], Option<&mut Vec<T>>) = {
                let [b0, b1] = &mut buffers;
                let (received, free) = if t % 2 == 1 { (b0, b1) } else { (b1, b0) };
                if t == 0 {
                    (own_slice, shifting.then_some(free))
                } else {
                    (&received[..here_rows.len() * k], shifting.then_some(free))
                }
            };
            let pair = Pair {
                dim: (n, k),
                own: (own_rows.start, own.view()),
                visiting: (
                    here_rows.start,
                    ArrayView2::from_shape((here_rows.len(), k), current)
                        .expect("a panel's rows × k"),
                ),
            };
            let incoming = (me + t + 1) % p;
            let incoming_len = plan.panels[incoming].len() * k;
            let (done, compute, communicate, moved) = mpi::request::scope(|scope| {
                let mut requests = Vec::new();
                let mut moved = 0;
                if let Some(next) = next {
                    let to = world.process_at_rank(((me + p - 1) % p) as mpi::Rank);
                    let from = world.process_at_rank(((me + 1) % p) as mpi::Rank);
                    for (i, chunk) in current.chunks(MESSAGE_ELEMENTS).enumerate() {
                        requests.push(to.immediate_send_with_tag(scope, chunk, i as mpi::Tag));
                        moved += std::mem::size_of_val(chunk);
                    }
                    let into = &mut next[..incoming_len];
                    for (i, chunk) in into.chunks_mut(MESSAGE_ELEMENTS).enumerate() {
                        moved += std::mem::size_of_val(chunk);
                        requests.push(from.immediate_receive_into_with_tag(
                            scope,
                            chunk,
                            i as mpi::Tag,
                        ));
                    }
                }
                let skip = error.is_some();
                let (done, compute, wait) =
                    overlap(requests, || if skip { Ok(()) } else { work(&pair, t) });
                (done, compute, wait, moved)
            });
            if let Err(e) = done {
                error.get_or_insert(e);
            }
            traffic.compute += compute;
            traffic.communicate += communicate;
            traffic.bytes += moved as u64;
        }
        for b in buffers {
            self.ranks.give_back(b);
        }
        self.ranks.traffic.set(traffic);
        Ok(match error {
            Some(e) => Err(e),
            None => Ok(()),
        })
    }

    /// `r(X·Xᵀ)` by the ring: each rank's calls reduced to one value each, combined on rank 0
    /// in call order.
    pub(super) fn ring_gram_reduce<T: Element>(
        &self,
        x: &impl RowSource<T>,
        r: Reduction,
    ) -> Result<T> {
        let exec = self.config.execution()?;
        let (n, _) = x.dim();
        crate::kernels::reduce::defined_over(r, n)?;
        let (cut, granule) = reduce_ring_cut(self.config.cut(), n, self.ranks.size());
        let calls = crate::kernels::fused::gram_reduce_calls(n, cut);
        let tiling = gram_tiling(n, cut);
        let plan = RingPlan::new(&tiling, &calls, self.ranks.size(), granule);
        let me = self.ranks.rank();
        let mine: Vec<usize> = (0..calls.len()).filter(|&c| plan.owner[c] == me).collect();
        let mut values: Vec<T> = vec![T::zero(); mine.len()];
        let ran = self.ring(x, &plan, Ok(()), |pair, t| {
            let items: Vec<(usize, &Strip)> = mine
                .iter()
                .enumerate()
                .filter(|(_, &c)| plan.step[c] == t)
                .map(|(i, &c)| (i, &calls[c]))
                .collect();
            let got = exec.tiles_largest_first(
                items,
                |(_, s)| gram_call_cost(s),
                |(i, s), threads| gram_reduce_call(s, pair, r, exec.level, threads).map(|v| (i, v)),
            );
            for g in got {
                let (i, v) = g?;
                values[i] = v;
            }
            Ok(())
        })?;
        self.combine_scalars(
            Share {
                values: ran.map(|()| values),
                owner: plan.owner,
            },
            r,
        )
    }
}

/// A Gram product computed by the ring, each rank holding the tiles it computed.
pub(super) struct RingGram<T> {
    pub tiling: Tiling,
    pub calls: Vec<Strip>,
    pub plan: RingPlan,
    /// Elements of each rank's tiles (the lower triangle's calls it owns).
    pub counts: Vec<usize>,
    /// This rank's tiles, row-major each, in call order (or this rank's failure).
    pub values: Result<Vec<T>>,
}

impl OnRanks<'_> {
    /// The lower triangle of X·Xᵀ by the ring, left where it was computed.
    pub(super) fn ring_gram<T: Element>(&self, x: &impl RowSource<T>) -> Result<RingGram<T>> {
        let exec = self.config.execution()?;
        let (n, _) = x.dim();
        let cut = ring_cut(self.config.cut());
        let tiling = crate::kernels::gram::gram_call_tiling(n, cut);
        let calls = crate::kernels::gram::lower_strips(&tiling, cut);
        let p = self.ranks.size();
        let plan = RingPlan::new(&tiling, &calls, p, 1);
        let counts: Vec<usize> = (0..p)
            .map(|r| {
                calls
                    .iter()
                    .zip(&plan.owner)
                    .filter(|(_, &o)| o == r)
                    .map(|(s, _)| s.span.len())
                    .sum()
            })
            .collect();
        let me = self.ranks.rank();
        let mine: Vec<usize> = (0..calls.len()).filter(|&c| plan.owner[c] == me).collect();
        let total: usize = counts[me];
        let mut buf = Vec::new();
        let prepared = crate::alloc::zeros::<T>("rank's tiles of the Gram matrix", 1, total)
            .map(|a| buf = a.into_raw_vec_and_offset().0);
        let mut chunks: Vec<Option<&mut [T]>> = Vec::with_capacity(mine.len());
        let mut rest = buf.as_mut_slice();
        for &c in &mine {
            let (chunk, tail) = rest.split_at_mut(calls[c].span.len());
            rest = tail;
            chunks.push(Some(chunk));
        }
        let ran = self.ring(x, &plan, prepared, |pair, t| {
            let items: Vec<(&Strip, &mut [T])> = mine
                .iter()
                .zip(chunks.iter_mut())
                .filter(|(&c, _)| plan.step[c] == t)
                .map(|(&c, chunk)| (&calls[c], chunk.take().expect("each call once")))
                .collect();
            let done = exec.tiles(items, |(s, chunk), threads| {
                gram_call(s, chunk, pair, threads)
            });
            done.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
        })?;
        drop(chunks);
        Ok(RingGram {
            tiling,
            calls,
            plan,
            counts,
            values: ran.map(|()| buf),
        })
    }
}
