//! Run under `mpirun` by `tests/mpi.rs` (feature `mpi`): every distributed operation of
//! `rayblas::ranks` on shapes with ragged tiles, 1-row, empty and thin cases, under several local
//! strategies and both element types, each beside the single-process result that rank 0 computes
//! on the whole matrix. Rank 0 prints one line per case:
//! `case <name> <exact|within> distributed <bits> single <bits> rel_err <e>`, where bits are the
//! result's bits in hex (a hash of every element's bits for a matrix) and `exact` says the two
//! must be bitwise equal: a tiled Gram product on ranks (the ring) makes one process's calls and
//! combines them in the same order: one call per tile for the stored product (`calls=tiles`),
//! and for the fused reductions the calls `OnRanks::gram_reduce_calls` names, which the case's
//! name carries (`@strips` or `@tiles`: cases of one name compare bit for bit across rank
//! counts). `within` cases (a local `native`, a thin shape that one
//! process splits over k, the reductions' bands) agree within rounding. `error <name> <message>`
//! marks a case that must fail on every rank.
//!
//! `rayblas-mpi-check die <rank>` makes that rank exit in the middle of a call, for the test that
//! a lost rank ends the job instead of hanging it; `rayblas-mpi-check long-ring` runs a Gram
//! reduction of several seconds after each rank prints `rank R pid P` on stderr, for the test
//! that kills one in the middle of the ring; `memory` prints each rank's resident memory above
//! its start, and `address-space` runs a file larger than each rank may map (see
//! [`address_space`]).

use ndarray::{Array2, CowArray, Ix2};
use rayblas::bench::uniform;
use rayblas::ranks::{Ranks, RowSource, Uniform};
use rayblas::{BlockShape, Calls, Config, Element, Error, Reduction, Result, Strategy};
use std::num::NonZeroUsize;
use std::ops::Range;

/// A source whose rows fail on one rank: an input error that must reach every rank.
struct FailsOn {
    inner: Uniform,
    rank: usize,
    me: usize,
}

impl<T: Element> RowSource<T> for FailsOn {
    fn dim(&self) -> (usize, usize) {
        (self.inner.rows, self.inner.cols)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        if self.me == self.rank {
            return Err(Error::Io {
                path: "test input".into(),
                reason: format!("rank {} cannot read rows {range:?}", self.me),
            });
        }
        RowSource::<T>::rows(&self.inner, range)
    }
}

/// A source that ends this process on one rank once its rows are asked for.
struct DiesOn {
    inner: Uniform,
    rank: usize,
    me: usize,
}

impl<T: Element> RowSource<T> for DiesOn {
    fn dim(&self) -> (usize, usize) {
        (self.inner.rows, self.inner.cols)
    }
    fn rows(&self, range: Range<usize>) -> Result<CowArray<'_, T, Ix2>> {
        if self.me == self.rank {
            eprintln!("rank {} exits on purpose", self.me);
            std::process::exit(7);
        }
        RowSource::<T>::rows(&self.inner, range)
    }
}

fn bits<T: Element>(v: T) -> u64 {
    v.to_f64().to_bits()
}

/// FNV-1a over every element's bits, in row-major order.
fn hash<T: Element>(g: &Array2<T>) -> u64 {
    g.iter().fold(0xcbf2_9ce4_8422_2325, |h, &v| {
        (h ^ bits(v)).wrapping_mul(0x100_0000_01b3)
    })
}

fn rel_err(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0.0
    } else {
        (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
    }
}

fn cases<T: Element>(ranks: &Ranks) -> Result<()> {
    let root = ranks.is_root();
    let two = NonZeroUsize::new(2).expect("2 > 0");
    let shapes = [
        (300, 200, 64),
        (257, 31, 50),
        (1, 5, 4),
        (0, 3, 4),
        (40, 3000, 16),
    ];
    for strategy in ["serial", "blocked:2", "native:1", "hybrid:1x1"] {
        let cfg = Config::new()
            .strategy(strategy.parse::<Strategy>()?)
            .balance_for(two);
        for (n, k, b) in shapes {
            let cfg = cfg.block(BlockShape::square(b)?);
            let src = Uniform {
                rows: n,
                cols: k,
                seed: 11,
            };
            let whole = uniform::<T>(n, k, 11);
            // The calls of the fused reductions on these ranks, which one process makes too.
            let reduce_calls = cfg.on(ranks).gram_reduce_calls(n);
            // One process splits a thin product over k (kernels/thin.rs: fewer than 128 output rows
            // per core, k at least 4n), and `native` makes one call: the tiles' bits differ.
            let tiled_alike = strategy != "native:1" && !(n < 256 && k >= 4 * n.max(1));
            let exactness = |op: &str| {
                if tiled_alike && op.starts_with("gram") {
                    "exact"
                } else {
                    "within"
                }
            };
            let name = |op: &str| {
                format!(
                    "{}:{strategy}:{op}:{n}x{k}/{b} {}",
                    T::DTYPE.name(),
                    exactness(op)
                )
            };
            for r in [
                Reduction::Sum,
                Reduction::SumOfSquares,
                Reduction::Max,
                Reduction::Min,
            ] {
                let op = format!("gram_reduce-{}@{reduce_calls}", r.name());
                match cfg.on(ranks).gram_reduce::<T>(&src, r) {
                    Ok(d) => {
                        if root {
                            let single = cfg.calls(reduce_calls).gram_reduce(&whole, r)?;
                            print_case(
                                &name(&op),
                                bits(d),
                                bits(single),
                                rel_err(d.to_f64(), single.to_f64()),
                            );
                        }
                    }
                    Err(e) => {
                        // Only max and min of nothing may fail, and then on every rank alike.
                        assert!(n == 0, "{}: {e}", name(&op));
                        if root {
                            println!("error {} {e}", name(&op));
                        }
                    }
                }
                let op = format!("reduce-{}", r.name());
                match cfg.on(ranks).reduce::<T>(&src, r) {
                    Ok(d) => {
                        if root {
                            let single = match r {
                                Reduction::Sum => cfg.sum(&whole)?,
                                Reduction::SumOfSquares => cfg.sum_of_squares(&whole)?,
                                Reduction::Max => cfg.max(&whole)?,
                                Reduction::Min => cfg.min(&whole)?,
                            };
                            // Bands of rows, not the single process's tree: equal within rounding.
                            print_case(
                                &name(&op),
                                bits(d),
                                bits(single),
                                rel_err(d.to_f64(), single.to_f64()),
                            );
                        }
                    }
                    Err(e) => {
                        assert!(n == 0, "{}: {e}", name(&op));
                        if root {
                            println!("error {} {e}", name(&op));
                        }
                    }
                }
            }
            // One process's Gram matrix (calls=tiles) and its sum (the ring's calls), which
            // every form below is held to: rank 0 prints each beside them.
            let single = if root {
                Some((
                    cfg.calls(Calls::Tiles).gram(&whole)?,
                    cfg.calls(reduce_calls)
                        .gram_reduce(&whole, Reduction::Sum)?,
                ))
            } else {
                None
            };
            let gram_case = |op: &str, g: &Array2<T>| {
                if let Some((single, _)) = &single {
                    let worst = g
                        .iter()
                        .zip(single.iter())
                        .map(|(a, b)| rel_err(a.to_f64(), b.to_f64()))
                        .fold(0.0, f64::max);
                    print_case(&name(op), hash(g), hash(single), worst);
                }
            };
            let sum_case = |op: &str, d: T| {
                if let Some((_, single)) = single {
                    print_case(
                        &name(op),
                        bits(d),
                        bits(single),
                        rel_err(d.to_f64(), single.to_f64()),
                    );
                }
            };
            let g = cfg.on(ranks).gram::<T>(&src)?;
            assert_eq!(g.is_some(), root, "rank 0 alone holds the Gram matrix");
            if let Some(g) = g {
                gram_case("gram", &g);
            }
            // The same product written to one file by every rank.
            let path = out_dir().join(format!(
                "gram-{}.npy",
                name("gram").replace([' ', '/'], "-")
            ));
            cfg.on(ranks).gram_to_npy::<T>(&src, &path)?;
            if root {
                gram_case("gram_to_npy", &read_npy::<T>(&path)?);
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            }
            let view = whole.view();
            sum_case(
                &format!("gram_reduce-sum-view@{reduce_calls}"),
                cfg.on(ranks).gram_reduce::<T>(&view, Reduction::Sum)?,
            );
            // From a file that each rank reads its rows of (positioned reads, no mapping).
            let file = out_dir().join(format!("x-{}.npy", name("x").replace([' ', '/'], "-")));
            if root {
                rayblas::mapped::write_npy(&file, &whole.view())?;
            }
            ranks.barrier();
            let reader = rayblas::mapped::NpyReader::<T>::open(&file)?;
            sum_case(
                &format!("gram_reduce-sum-file@{reduce_calls}"),
                cfg.on(ranks).gram_reduce::<T>(&reader, Reduction::Sum)?,
            );
            if let Some(g) = cfg.on(ranks).gram::<T>(&reader)? {
                gram_case("gram-file", &g);
            }
            ranks.barrier();
            if root {
                std::fs::remove_file(&file).map_err(|e| io(&file, e))?;
            }
        }
    }
    // 16 tile rows in strips of 4: the fused reductions make one process's own calls (strips)
    // on 1, 2 and 4 ranks, whose panels are whole groups of 4 tile rows, so the same bits on
    // each; on 8 ranks one call per tile.
    for strategy in ["serial", "blocked:2"] {
        let cfg = Config::new()
            .strategy(strategy.parse::<Strategy>()?)
            .balance_for(two)
            .block(BlockShape::square(256)?);
        let (n, k) = (4096, 3);
        let src = Uniform {
            rows: n,
            cols: k,
            seed: 12,
        };
        let whole = uniform::<T>(n, k, 12);
        let calls = cfg.on(ranks).gram_reduce_calls(n);
        for r in [Reduction::Sum, Reduction::Max] {
            let d = cfg.on(ranks).gram_reduce::<T>(&src, r)?;
            if root {
                let single = cfg.calls(calls).gram_reduce(&whole, r)?;
                print_case(
                    &format!(
                        "{}:{strategy}:aligned-gram_reduce-{}@{calls}:{n}x{k}/256 exact",
                        T::DTYPE.name(),
                        r.name()
                    ),
                    bits(d),
                    bits(single),
                    rel_err(d.to_f64(), single.to_f64()),
                );
            }
        }
    }
    // Products by SUMMA: A m×k and B k×n, with ragged, 1-row, empty and thin shapes.
    let products = [
        (300, 200, 250, 64),
        (257, 31, 100, 50),
        (1, 5, 7, 4),
        (0, 3, 4, 4),
        (20, 3000, 20, 16),
    ];
    for strategy in ["serial", "blocked:2", "native:1"] {
        let cfg = Config::new()
            .strategy(strategy.parse::<Strategy>()?)
            .balance_for(two);
        for (m, k, n, b) in products {
            let cfg = cfg.block(BlockShape::square(b)?);
            let (sa, sb) = (
                Uniform {
                    rows: m,
                    cols: k,
                    seed: 11,
                },
                Uniform {
                    rows: k,
                    cols: n,
                    seed: 12,
                },
            );
            let (wa, wb) = (uniform::<T>(m, k, 11), uniform::<T>(k, n, 12));
            // Panels of k added in turn, not one call over k: within rounding of one process.
            let name =
                |op: &str| format!("{}:{strategy}:{op}:{m}x{k}x{n}/{b} within", T::DTYPE.name());
            for r in [
                Reduction::Sum,
                Reduction::SumOfSquares,
                Reduction::Max,
                Reduction::Min,
            ] {
                let op = format!("matmul_reduce-{}", r.name());
                match cfg.on(ranks).matmul_reduce::<T>(&sa, &sb, r) {
                    Ok(d) => {
                        if root {
                            let single = cfg.matmul_reduce(&wa, &wb, r)?;
                            print_case(
                                &name(&op),
                                bits(d),
                                bits(single),
                                rel_err(d.to_f64(), single.to_f64()),
                            );
                        }
                    }
                    Err(e) => {
                        assert!(m == 0, "{}: {e}", name(&op));
                        if root {
                            println!("error {} {e}", name(&op));
                        }
                    }
                }
            }
            let c = cfg.on(ranks).matmul::<T>(&sa, &sb)?;
            assert_eq!(c.is_some(), root, "rank 0 alone holds the product");
            // The same operands from files each rank reads its panels of: the same bits.
            let stem = name("file").replace([' ', '/'], "-");
            let (fa, fb) = (
                out_dir().join(format!("a-{stem}.npy")),
                out_dir().join(format!("b-{stem}.npy")),
            );
            if root {
                rayblas::mapped::write_npy(&fa, &wa.view())?;
                rayblas::mapped::write_npy(&fb, &wb.view())?;
            }
            ranks.barrier();
            let (ra, rb) = (
                rayblas::mapped::NpyReader::<T>::open(&fa)?,
                rayblas::mapped::NpyReader::<T>::open(&fb)?,
            );
            let from_files = cfg.on(ranks).matmul::<T>(&ra, &rb)?;
            if let (Some(f), Some(c)) = (&from_files, &c) {
                print_case(
                    &format!(
                        "{}:{strategy}:matmul-file:{m}x{k}x{n}/{b} exact",
                        T::DTYPE.name()
                    ),
                    hash(f),
                    hash(c),
                    0.0,
                );
            }
            ranks.barrier();
            if root {
                std::fs::remove_file(&fa).map_err(|e| io(&fa, e))?;
                std::fs::remove_file(&fb).map_err(|e| io(&fb, e))?;
            }
            // Written to one file, each rank its block: the bits of the gathered product.
            let path = out_dir().join(format!("matmul-{}.npy", name("m").replace([' ', '/'], "-")));
            cfg.on(ranks).matmul_to_npy::<T>(&sa, &sb, &path)?;
            if let Some(c) = &c {
                let f = read_npy::<T>(&path)?;
                print_case(
                    &format!(
                        "{}:{strategy}:matmul_to_npy:{m}x{k}x{n}/{b} exact",
                        T::DTYPE.name()
                    ),
                    hash(&f),
                    hash(c),
                    0.0,
                );
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
            }
            if let Some(c) = c {
                let single = cfg.matmul(&wa, &wb)?;
                // Relative to the entry's magnitude (all inputs are positive).
                let worst = c
                    .iter()
                    .zip(single.iter())
                    .map(|(a, b)| rel_err(a.to_f64(), b.to_f64()))
                    .fold(0.0, f64::max);
                print_case(&name("matmul"), hash(&c), hash(&single), worst);
            }
        }
    }
    // An input that fails on the last rank fails the call on every rank, and the next call works.
    // A file no rank can create: every rank fails, nothing is left behind.
    let nowhere = out_dir().join("no-such-dir").join("g.npy");
    let e = Config::new()
        .on(ranks)
        .gram_to_npy::<T>(
            &Uniform {
                rows: 30,
                cols: 5,
                seed: 1,
            },
            &nowhere,
        )
        .expect_err("no such directory");
    if root {
        println!("error {}:unwritable-output {e}", T::DTYPE.name());
    }
    let failing = FailsOn {
        inner: Uniform {
            rows: 200,
            cols: 50,
            seed: 3,
        },
        rank: ranks.size() - 1,
        me: ranks.rank(),
    };
    let cfg = Config::new()
        .block(BlockShape::square(40)?)
        .balance_for(two);
    let e = cfg
        .on(ranks)
        .gram_reduce::<T>(&failing, Reduction::Sum)
        .expect_err("a rank's input failed");
    if root {
        println!("error {}:failing-input {e}", T::DTYPE.name());
    }
    // The same for SUMMA, whose ranks go on broadcasting after one of them failed.
    let b = Uniform {
        rows: 50,
        cols: 30,
        seed: 4,
    };
    let e = cfg
        .on(ranks)
        .matmul_reduce::<T>(&failing, &b, Reduction::Sum)
        .expect_err("a rank's input failed");
    if root {
        println!("error {}:failing-input-summa {e}", T::DTYPE.name());
    }
    let after = cfg
        .on(ranks)
        .gram_reduce::<T>(&failing.inner, Reduction::Sum)?;
    if root {
        let calls = cfg.on(ranks).gram_reduce_calls(200);
        let single = cfg
            .calls(calls)
            .gram_reduce(&uniform::<T>(200, 50, 3), Reduction::Sum)?;
        print_case(
            &format!("{}:after-failure@{calls} exact", T::DTYPE.name()),
            bits(after),
            bits(single),
            0.0,
        );
    }
    kept_buffers::<T>(ranks)
}

/// The panel buffers ranks keep between calls: a Gram product after a larger one reuses the
/// ring's, one after `release_buffers` makes new ones, and both give one process's bits; SUMMA
/// with kept and with new buffers gives the bits of its first call.
fn kept_buffers<T: Element>(ranks: &Ranks) -> Result<()> {
    let cfg = Config::new().block(BlockShape::square(100).expect("100 > 0"));
    let on = cfg.on(ranks);
    let small = Uniform {
        rows: 600,
        cols: 40,
        seed: 11,
    };
    let large = Uniform {
        rows: 900,
        cols: 60,
        seed: 12,
    };
    let first = on.gram_reduce::<T>(&small, Reduction::Sum)?;
    on.gram_reduce::<T>(&large, Reduction::Sum)?;
    let reused = on.gram_reduce::<T>(&small, Reduction::Sum)?;
    ranks.release_buffers();
    let fresh = on.gram_reduce::<T>(&small, Reduction::Sum)?;
    // SUMMA's panels, its own copies and its block of the product, in kept buffers: the same
    // bits as with new ones, after a product with other shapes.
    let b = Uniform {
        rows: 40,
        cols: 300,
        seed: 13,
    };
    let summa_first = on.matmul_reduce::<T>(&small, &b, Reduction::Sum)?;
    on.matmul_reduce::<T>(
        &large,
        &Uniform {
            rows: 60,
            cols: 500,
            seed: 14,
        },
        Reduction::Sum,
    )?;
    let summa_reused = on.matmul_reduce::<T>(&small, &b, Reduction::Sum)?;
    ranks.release_buffers();
    let summa_fresh = on.matmul_reduce::<T>(&small, &b, Reduction::Sum)?;
    if ranks.is_root() {
        for (what, v) in [("reused", summa_reused), ("released", summa_fresh)] {
            print_case(
                &format!("{}:kept-buffers-summa-{what} exact", T::DTYPE.name()),
                bits(v),
                bits(summa_first),
                0.0,
            );
        }
        let calls = on.gram_reduce_calls(600);
        let single = cfg
            .calls(calls)
            .gram_reduce(&uniform::<T>(600, 40, 11), Reduction::Sum)?;
        for (what, v) in [("first", first), ("reused", reused), ("released", fresh)] {
            print_case(
                &format!("{}:kept-buffers-{what}@{calls} exact", T::DTYPE.name()),
                bits(v),
                bits(single),
                0.0,
            );
        }
    }
    Ok(())
}

/// A directory every rank of this job sees under the same name (the ranks of one machine share
/// their parent, `mpirun`'s launcher), made by rank 0.
fn out_dir() -> std::path::PathBuf {
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::getppid() };
    std::env::temp_dir().join(format!("rayblas-mpi-check-{parent}"))
}

fn io(path: &std::path::Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// A `/proc/self/status` figure in KiB (`VmRSS:`, `VmHWM:`), 0 if missing.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// A Gram reduction of a 1000 × 65536 f64 `.npy` file (500 MiB) with each rank's address space
/// limited (`RLIMIT_AS`) to what it had plus 3/p of the file, what the thread that computes
/// during the ring reserves (OpenBLAS's buffer of 128 MiB and glibc's arena of 64 MiB, address
/// space that is mostly never touched) and an eighth of the file for slack: less than the file
/// on 8 ranks. Each rank shows that it cannot map the
/// file, then reads its rows with `NpyReader`; rank 0 prints the result beside one process's
/// with the ring's calls (computed before the limit) and each rank its limit.
fn address_space(ranks: &Ranks) -> Result<()> {
    const THREAD_RESERVES: u64 = (128 + 64) << 20;
    let (rows, cols, block) = (1000, 65536, 125);
    let path = out_dir().join("address-space.npy");
    let cfg = Config::new()
        .strategy(Strategy::Serial)
        .block(BlockShape::square(block)?);
    let mut single = 0.0;
    if ranks.is_root() {
        let x = uniform::<f64>(rows, cols, 9);
        rayblas::mapped::write_npy(&path, &x.view())?;
        let calls = cfg.on(ranks).gram_reduce_calls(rows);
        single = cfg.calls(calls).gram_reduce(&x, Reduction::Sum)?;
    }
    ranks.barrier();
    let file = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
    let budget = 3 * file / ranks.size() as u64 + THREAD_RESERVES + file / 8;
    let limit = status_kib("VmSize:") * 1024 + budget;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct it is given; lowering the soft limit of this process
    // is always allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) } != 0 {
        return Err(io(&path, std::io::Error::last_os_error()));
    }
    let mapped = rayblas::mapped::NpyMap::<f64>::open(&path).is_ok();
    let reader = rayblas::mapped::NpyReader::<f64>::open(&path)?;
    let d = cfg.on(ranks).gram_reduce(&reader, Reduction::Sum)?;
    println!(
        "limit rank {} limit_above_kib {} file_kib {} mapped {mapped}",
        ranks.rank(),
        budget / 1024,
        file / 1024
    );
    if ranks.is_root() {
        print_case(
            "address-space:gram_reduce-sum exact",
            bits(d),
            bits(single),
            rel_err(d, single),
        );
    }
    Ok(())
}

/// `Ranks::all_concat`: rank r gives r + 1 copies of r; every rank gets them all in rank
/// order (an empty share from rank 0 when it gives none).
fn all_concat(ranks: &Ranks) -> Result<()> {
    let r = ranks.rank();
    let mine = vec![r as f64; r + 1];
    let all = ranks.all_concat(&mine)?;
    let want: Vec<f64> = (0..ranks.size())
        .flat_map(|q| std::iter::repeat_n(q as f64, q + 1))
        .collect();
    if all != want {
        return Err(Error::Mpi(format!("all_concat gave {all:?}, not {want:?}")));
    }
    let none = ranks.all_concat(&[])?;
    if !none.is_empty() {
        return Err(Error::Mpi(format!("all_concat of nothing gave {none:?}")));
    }
    Ok(())
}

/// A `.npy` file's matrix, read whole.
fn read_npy<T: Element>(path: &std::path::Path) -> Result<Array2<T>> {
    Ok(rayblas::mapped::NpyMap::<T>::open(path)?.view().to_owned())
}

fn print_case(name: &str, distributed: u64, single: u64, rel_err: f64) {
    println!("case {name} distributed {distributed:016x} single {single:016x} rel_err {rel_err:e}");
}

fn main() {
    let ranks = match Ranks::init() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rayblas-mpi-check: {e}");
            std::process::exit(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if ranks.is_root() {
        std::fs::create_dir_all(out_dir()).expect("a temporary directory");
    }
    ranks.barrier();
    let result = match args.first().map(String::as_str) {
        Some("die") => {
            let rank = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(1);
            let src = DiesOn {
                inner: Uniform {
                    rows: 400,
                    cols: 100,
                    seed: 5,
                },
                rank,
                me: ranks.rank(),
            };
            Config::new()
                .block(BlockShape::square(50).expect("50 > 0"))
                .on(&ranks)
                .gram_reduce::<f64>(&src, Reduction::Sum)
                .map(|_| ())
        }
        Some("memory") => {
            // Each rank's resident memory above its own before the call, for the test that
            // bounds it: a 3000 × 2000 f64 X (45.8 MiB) on every rank count.
            let src = Uniform {
                rows: 3000,
                cols: 2000,
                seed: 8,
            };
            let before = status_kib("VmRSS:");
            let r = Config::new()
                .strategy(Strategy::Serial)
                .block(BlockShape::square(250).expect("250 > 0"))
                .on(&ranks)
                .gram_reduce::<f64>(&src, Reduction::Sum);
            let peak = status_kib("VmHWM:");
            println!(
                "memory rank {} above_kib {}",
                ranks.rank(),
                peak.saturating_sub(before)
            );
            r.map(|_| ())
        }
        Some("address-space") => address_space(&ranks),
        Some("long-ring") => {
            // A ring long enough to be killed in the middle of: each rank says who it is
            // first, for the test that kills one. One write of the whole line: `eprintln!`
            // writes its pieces one by one to the unbuffered stderr, and mpirun merges the
            // ranks' pipes, so another rank's line could land inside ("rank rank 2 pid …").
            let who = format!("rank {} pid {}\n", ranks.rank(), std::process::id());
            std::io::Write::write_all(&mut std::io::stderr().lock(), who.as_bytes())
                .expect("stderr");
            let src = Uniform {
                rows: 8000,
                cols: 3000,
                seed: 6,
            };
            Config::new()
                .strategy(Strategy::Serial)
                .block(BlockShape::square(500).expect("500 > 0"))
                .on(&ranks)
                .gram_reduce::<f64>(&src, Reduction::Sum)
                .map(|_| ())
        }
        _ => all_concat(&ranks)
            .and_then(|()| cases::<f64>(&ranks))
            .and_then(|()| cases::<f32>(&ranks)),
    };
    if let Err(e) = result {
        eprintln!("rayblas-mpi-check: rank {}: {e}", ranks.rank());
        std::process::exit(1);
    }
    ranks.barrier();
    if ranks.is_root() {
        let _ = std::fs::remove_dir_all(out_dir());
        println!("done ranks {}", ranks.size());
    }
}
