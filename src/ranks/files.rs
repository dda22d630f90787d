//! Products larger than one rank, written to one `.npy` file that
//! every rank fills with its own blocks: positioned writes into a file on a file system all
//! ranks see, created and renamed into place by rank 0 with the rules of
//! [`Config::gram_to_npy`](crate::Config::gram_to_npy): the room checked and the size reserved
//! first, a temporary name until every rank's writes are synced, nothing left behind on a
//! failure.

use super::{Grid, OnRanks, RowSource};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::mapped::{create_shared_npy, finish_shared_npy, write_block_at};
use mpi::traits::*;
use ndarray::ArrayViewMut2;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// A shared output being written: its temporary name on every rank, the file open for
/// writing, and on rank 0 the duty to rename or remove it.
struct SharedOut<'p> {
    path: &'p Path,
    tmp: PathBuf,
    file: Result<std::fs::File>,
    root: bool,
    finished: bool,
}

impl Drop for SharedOut<'_> {
    fn drop(&mut self) {
        // A call that ends early (an error before the writes) leaves nothing behind.
        if self.root && !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl OnRanks<'_> {
    /// Rank 0 creates the temporary file; every rank learns its name and opens it, or every
    /// rank fails (rank 0 with its own error, the others with [`Error::Mpi`]).
    fn shared_out<'p, T: Element>(
        &self,
        path: &'p Path,
        dim: (usize, usize),
    ) -> Result<SharedOut<'p>> {
        let world = &self.ranks.world;
        let root = self.ranks.is_root();
        let created = if root {
            create_shared_npy::<T>(path, dim).map(|p| p.into_os_string().into_vec())
        } else {
            Ok(Vec::new())
        };
        // [ok, name length], then the name.
        let mut head = [0u64; 2];
        if let Ok(name) = &created {
            head = [1, name.len() as u64];
        }
        world.process_at_rank(0).broadcast_into(&mut head[..]);
        if head[0] == 0 {
            return Err(match created {
                Err(e) if root => e,
                _ => Error::Mpi(format!(
                    "rank 0 could not create {} (its own error says why)",
                    path.display()
                )),
            });
        }
        let mut name = created.unwrap_or_default();
        name.resize(head[1] as usize, 0);
        world.process_at_rank(0).broadcast_into(&mut name[..]);
        let tmp = PathBuf::from(std::ffi::OsString::from_vec(name));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::Io {
                path: tmp.display().to_string(),
                reason: format!("opening rank 0's file on rank {}: {e}", self.ranks.rank()),
            });
        Ok(SharedOut {
            path,
            tmp,
            file,
            root,
            finished: false,
        })
    }

    /// Every rank's writes synced, then the file renamed into place by rank 0 (or removed when
    /// a rank failed); every rank learns the outcome.
    fn finish_out(&self, mut out: SharedOut<'_>, written: Result<()>) -> Result<()> {
        let world = &self.ranks.world;
        let written = written.and_then(|()| {
            let file = out.file.as_ref().map_err(Clone::clone)?;
            file.sync_data().map_err(|e| Error::Io {
                path: out.tmp.display().to_string(),
                reason: e.to_string(),
            })
        });
        let failed = u8::from(written.is_err());
        let mut all_failed = vec![0u8; self.ranks.size()];
        world.all_gather_into(&failed, &mut all_failed[..]);
        let first_failed = all_failed.iter().position(|&f| f != 0);
        let mut renamed = 1u8;
        let mut rename_error = None;
        if out.root {
            if let Err(e) = finish_shared_npy(&out.tmp, out.path, first_failed.is_none()) {
                renamed = 0;
                rename_error = Some(e);
            }
        }
        out.finished = true;
        world.process_at_rank(0).broadcast_into(&mut renamed);
        written?;
        if let Some(r) = first_failed {
            return Err(Error::Mpi(format!(
                "rank {r} failed (its own error says why); {} not written",
                out.path.display()
            )));
        }
        match rename_error {
            Some(e) => Err(e),
            None if renamed == 0 => Err(Error::Mpi(format!(
                "rank 0 could not put {} in place (its own error says why)",
                out.path.display()
            ))),
            None => Ok(()),
        }
    }

    /// The Gram matrix `X·Xᵀ` written to the `.npy` file `out` (C order) by every rank: each
    /// rank computes its tiles by the ring (holding about 3/p of X) and writes them and their
    /// mirrors where they belong; no rank ever holds more of the product than its own tiles.
    /// The file's bits are those of [`OnRanks::gram`] (and of one process's
    /// [`Config::gram`](crate::Config::gram) with `calls=tiles`).
    ///
    /// `out` must be on a file system every rank sees (local for ranks on one machine; NFS or
    /// a parallel file system across machines).
    ///
    /// # Errors
    /// As [`OnRanks::gram`]; [`Error::Io`] for the file (no room, not writable, not seen by
    /// every rank), on the rank that met it, [`Error::Mpi`] on the others. Nothing is left at
    /// `out` or beside it when a call fails.
    pub fn gram_to_npy<T: Element>(
        &self,
        x: &impl RowSource<T>,
        out: impl AsRef<Path>,
    ) -> Result<()> {
        let (n, _) = x.dim();
        let shared = self.shared_out::<T>(out.as_ref(), (n, n))?;
        let g = self.ring_gram(x)?;
        let me = self.ranks.rank();
        let written = g.values.and_then(|mut values| {
            let file = shared.file.as_ref().map_err(Clone::clone)?;
            let mut rest = values.as_mut_slice();
            for (s, _) in g.calls.iter().zip(&g.plan.owner).filter(|(_, &o)| o == me) {
                let t = s.span;
                let (chunk, tail) = rest.split_at_mut(t.len());
                rest = tail;
                let Ok(mut tile) = ArrayViewMut2::from_shape((t.rows, t.cols), chunk) else {
                    unreachable!("each tile's part is its rows × cols")
                };
                if t.ti == t.tj {
                    crate::kernels::gram::mirror_diagonal(&mut tile);
                }
                write_block_at(file, &shared.tmp, (n, n), (t.row0, t.col0), tile.view())?;
                if t.ti != t.tj {
                    write_block_at(file, &shared.tmp, (n, n), (t.col0, t.row0), tile.t())?;
                }
            }
            Ok(())
        });
        self.finish_out(shared, written)
    }

    /// The product `A·B` written to the `.npy` file `out` (C order) by every rank: SUMMA as
    /// in [`OnRanks::matmul`], each rank writing its own block; no rank holds more of the
    /// product than its block. The same rules for `out` as [`OnRanks::gram_to_npy`].
    ///
    /// # Errors
    /// As [`OnRanks::matmul`] and [`OnRanks::gram_to_npy`].
    pub fn matmul_to_npy<T: Element>(
        &self,
        a: &impl RowSource<T>,
        b: &impl RowSource<T>,
        out: impl AsRef<Path>,
    ) -> Result<()> {
        let (m, n) = (a.dim().0, b.dim().1);
        crate::kernels::check_product("matmul", a.dim(), b.dim())?;
        let shared = self.shared_out::<T>(out.as_ref(), (m, n))?;
        let grid = Grid::new(self.ranks, m, n, self.config.cut());
        let block = self.summa(&grid, a, b);
        let written = block.and_then(|c| {
            let file = shared.file.as_ref().map_err(Clone::clone)?;
            write_block_at(
                file,
                &shared.tmp,
                (m, n),
                (grid.rows.start, grid.cols.start),
                c.view(),
            )
        });
        self.finish_out(shared, written)
    }
}
