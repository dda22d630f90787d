//! Strategy parsing, defaults and overrides, worker-pool reuse, tiling.

use ndarray::Array2;
use rayblas::{BlockShape, Config, Error, Strategy};

#[test]
fn parse_and_print_round_trip() {
    for s in [
        "native",
        "native:4",
        "native+rayon",
        "native:2+rayon",
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
        "blocked+rayon",
        "serial+rayon",
        "native+rayon+pin",
        "native:0+rayon",
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
            assert_eq!(Strategy::from_env().unwrap().counts(), want.counts());
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
    // Large enough to share (400² × 16 flops is over `plan::INLINE_PRODUCT_FLOPS`): smaller
    // calls run on the calling thread and start no pool.
    let x = Array2::<f64>::ones((400, 16));
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
