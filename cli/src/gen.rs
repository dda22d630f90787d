//! `rayblas gen`: random test matrices written to `.npy` in bounded memory, so users have
//! inputs larger than RAM to try the out-of-core paths on.

use crate::workload::DtypeArg;
use crate::Failure;
use rayblas::mapped::write_npy_rows;
use rayblas::{human_bytes, Element};
use std::path::Path;
use std::time::Instant;

/// Rows per written block: about 32 MiB of data.
const BLOCK_BYTES: usize = 32 << 20;

/// Writes the m×n matrix `rayblas::bench::uniform(m, n, seed)` to `out` (C order), a block of
/// rows at a time, after checking the disk has room; prints one line saying what it wrote.
pub fn write(m: usize, n: usize, dtype: DtypeArg, seed: u64, out: &Path) -> Result<(), Failure> {
    match dtype {
        DtypeArg::F64 => write_typed::<f64>(m, n, seed, out),
        DtypeArg::F32 => write_typed::<f32>(m, n, seed, out),
    }
}

fn write_typed<T: Element>(m: usize, n: usize, seed: u64, out: &Path) -> Result<(), Failure> {
    let size = std::mem::size_of::<T>();
    let bytes = (m as u128) * (n as u128) * size as u128;
    let rows = (BLOCK_BYTES / (n.max(1) * size)).max(1);
    let t0 = Instant::now();
    // It checks the disk has room first, and names the directory and the space free if not.
    write_npy_rows(out, (m, n), rows, |r| {
        rayblas::bench::uniform_rows::<T>(r, n, seed)
    })
    .map_err(|e| format!("--out {e}"))?;
    println!(
        "wrote {}: {m}x{n} {}, {} in {:.1} s (seed {seed})",
        out.display(),
        T::DTYPE.name(),
        human_bytes(bytes),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
