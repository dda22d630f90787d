//! Strategy parsing, defaults and overrides, worker-pool reuse, tiling.

use ndarray::Array2;
use rayblas::strategy::Kind;
use rayblas::{BlockShape, Calls, Config, Error, Strategy, Tiling};

#[test]
fn parse_and_print_round_trip() {
    for s in [
        "native",
        "native:4",
        "blocked",
        "blocked:8",
        "blocked:2+pin",
        "hybrid:2x2",
        "hybrid:1x2+pin",
        "serial",
    ] {
        let parsed: Strategy = s.parse().unwrap();
        assert_eq!(parsed.to_string(), s);
        assert_eq!(parsed.to_string().parse::<Strategy>().unwrap(), parsed);
    }
    assert_eq!(
        "BLOCKED:3".parse::<Strategy>().unwrap(),
        Strategy::Blocked {
            workers: Some(3),
            pin: false
        }
    );
    for bad in [
        "",
        "fast",
        "blocked:",
        "blocked:x",
        "blocked:0",
        "native:0",
        "hybrid",
        "hybrid:2",
        "hybrid:0x2",
        "hybrid:2x0",
        "serial:2",
        "native+pin",
        "blocked:-1",
    ] {
        assert!(
            matches!(bad.parse::<Strategy>(), Err(Error::Parse { .. })),
            "`{bad}` should not parse"
        );
    }
}

#[test]
fn compiled_default_follows_the_feature() {
    let d = Strategy::compiled_default();
    if cfg!(feature = "native-threading") {
        assert_eq!(d, Strategy::Native { threads: None });
    } else {
        assert_eq!(
            d,
            Strategy::Blocked {
                workers: None,
                pin: false
            }
        );
    }
    assert_eq!(Strategy::default(), d);
}

/// `RAYBLAS_STRATEGY` is read once per process, so each value is tried in a child process: this
/// test binary run again on this one test, with the variable set and `ENV_CHILD` telling the
/// child which checks to make.
#[test]
fn env_sets_the_default_once_and_a_bad_value_names_the_variable() {
    const ENV_CHILD: &str = "RAYBLAS_TEST_ENV_CHILD";
    if let Ok(value) = std::env::var(ENV_CHILD) {
        return env_child(&value);
    }
    for value in ["serial", "native:1", "turbo", ""] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "env_sets_the_default_once_and_a_bad_value_names_the_variable",
                "--test-threads=1",
                "--nocapture",
            ])
            .env("RAYBLAS_STRATEGY", value)
            .env(ENV_CHILD, value)
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "RAYBLAS_STRATEGY={value}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn env_child(value: &str) {
    let x = Array2::<f64>::ones((30, 20));
    let explicit = Config::new().strategy("blocked:2".parse().unwrap());
    assert_eq!(explicit.plan().unwrap().kind, Kind::Blocked);
    assert!(
        explicit.gram_sum(&x).is_ok() && explicit.sum(&x).is_ok(),
        "an explicit strategy does not read the variable"
    );
    match value {
        "turbo" => {
            // The same error, naming the variable, from every operation that uses the default.
            let errors = [
                Config::new().gram_sum(&x).unwrap_err(),
                Config::new().sum(&x).unwrap_err(),
                Config::new().norm(&x).unwrap_err(),
                Config::new().matmul(&x, x.t()).unwrap_err(),
                Strategy::from_env().unwrap_err(),
            ];
            for e in errors {
                match &e {
                    Error::Environment { var, value, reason } => {
                        assert_eq!(*var, "RAYBLAS_STRATEGY");
                        assert_eq!(value, "turbo");
                        assert!(reason.contains("blocked"), "says what it accepts: {reason}");
                    }
                    other => panic!("not an environment error: {other:?}"),
                }
                assert!(e.to_string().contains("RAYBLAS_STRATEGY=`turbo`"), "{e}");
            }
        }
        "" => assert_eq!(Strategy::from_env().unwrap(), Strategy::compiled_default()),
        v => {
            let want: Strategy = v.parse().unwrap();
            assert_eq!(Strategy::from_env().unwrap(), want);
            assert_eq!(
                Config::new().plan().unwrap().kind,
                want.resolve().unwrap().kind
            );
            // Read once: a later change in this process does not move the default.
            std::env::set_var("RAYBLAS_STRATEGY", "blocked:3");
            assert_eq!(Strategy::from_env().unwrap(), want);
            assert!(Config::new().gram_sum(&x).is_ok());
        }
    }
}

/// Threads of rayblas's unpinned 3-worker pool (named `rayblas-3-<i>`); other tests running at
/// the same time use other pools.
fn rayblas_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|c| c.starts_with("rayblas-3-"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn worker_pools_are_built_once_and_reused() {
    let x = Array2::<f64>::ones((64, 16));
    let cfg = Config::new()
        .strategy("blocked:3".parse().unwrap())
        .block(BlockShape::square(8).unwrap());
    cfg.gram_sum(&x).unwrap();
    if !cfg!(target_os = "linux") {
        return;
    }
    // A new thread takes its name when it starts running: wait (bounded) for all three.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rayblas_threads() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(rayblas_threads(), 3, "one pool of three workers");
    for _ in 0..20 {
        cfg.gram_sum(&x).unwrap();
        cfg.matmul(&x, x.t()).unwrap();
        cfg.sum(&x).unwrap();
    }
    // Workers never exit, so a second pool would show up as more threads.
    assert_eq!(rayblas_threads(), 3, "no new threads per call");
}

#[test]
fn resolution_fills_defaults_and_checks_counts() {
    let physical = num_cpus::get_physical();
    let r = Strategy::Blocked {
        workers: None,
        pin: false,
    }
    .resolve()
    .unwrap();
    assert_eq!((r.workers, r.blas_threads), (physical, 1));
    let r = Strategy::Serial.resolve().unwrap();
    assert_eq!(r.total_threads(), 1);
    assert!(Strategy::Blocked {
        workers: Some(0),
        pin: false
    }
    .resolve()
    .is_err());
    assert!(Strategy::Native { threads: Some(0) }.resolve().is_err());
    let hybrid = Strategy::Hybrid {
        workers: 2,
        blas_threads: 1,
        pin: false,
    }
    .resolve()
    .unwrap();
    assert_eq!(hybrid.kind, Kind::Hybrid);
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
