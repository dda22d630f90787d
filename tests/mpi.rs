//! (feature `mpi`) The distributed operations of `rayblas::ranks` under `mpirun` with 1, 2 and 4
//! ranks (4 oversubscribed on a 2-core machine), against the single-process results, and a rank
//! that dies. Each `mpirun` runs under a time limit, so a stuck collective fails the test.
//!
//! Needs Open MPI's `mpirun` (`cargo xtask setup --features mpi`).
#![cfg(feature = "mpi")]

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(240);

/// `mpirun -np <np> <check program> <args>`, killed after [`LIMIT`].
fn mpirun(np: usize, args: &[&str]) -> Output {
    let mut cmd = Command::new("mpirun");
    // Open MPI refuses to start as root without these; ob1 over shared memory starts in a
    // fraction of the time UCX takes to fail here.
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--mca", "pml", "ob1", "--mca", "btl", "self,vader"])
        .args(["-x", "OPENBLAS_NUM_THREADS=1", "--oversubscribe"])
        .args([
            "-np",
            &np.to_string(),
            env!("CARGO_BIN_EXE_rayblas-mpi-check"),
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("mpirun starts (install Open MPI: cargo xtask setup --features mpi)");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait on mpirun").is_some() {
            return child.wait_with_output().expect("mpirun's output");
        }
        if start.elapsed() > LIMIT {
            child.kill().ok();
            let out = child.wait_with_output().expect("mpirun's output");
            panic!(
                "mpirun -np {np} {args:?} still running after {LIMIT:?} (a stuck collective?)\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A case line: (exact, distributed bits, single-process bits, relative error).
type Case = (bool, String, String, f64);

/// The check program's `case` lines by name, and its `error` lines.
fn run_cases(np: usize) -> (BTreeMap<String, Case>, Vec<String>) {
    let out = mpirun(np, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "mpirun -np {np}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l == format!("done ranks {np}")),
        "every case ran on {np} ranks:\n{stdout}"
    );
    let mut cases = BTreeMap::new();
    let mut errors = Vec::new();
    for line in stdout.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "case" => {
                assert_eq!(w.len(), 9, "{line}");
                let case = (
                    w[2] == "exact",
                    w[4].into(),
                    w[6].into(),
                    w[8].parse().unwrap(),
                );
                assert!(
                    cases.insert(w[1].to_string(), case).is_none(),
                    "{line} twice"
                );
            }
            "error" => errors.push(line.to_string()),
            _ => {}
        }
    }
    (cases, errors)
}

#[test]
fn ranks_agree_with_one_process_and_with_each_other_bit_for_bit() {
    let (one, errors) = run_cases(1);
    assert!(one.len() > 300, "{} cases", one.len());
    let exact = one.values().filter(|c| c.0).count();
    assert!(exact >= 90, "{exact} cases compared bit for bit");
    for (name, (exact, distributed, single, err)) in &one {
        if *exact {
            assert_eq!(distributed, single, "{name}: tiled alike, combined alike");
        }
        let tol = if name.starts_with("f32") { 2e-5 } else { 1e-12 };
        assert!(*err <= tol, "{name}: relative error {err:e} > {tol:e}");
    }
    // Max and min of an empty Gram product or matrix fail alike on every rank; a rank whose
    // input fails fails the call.
    assert_eq!(
        errors.iter().filter(|e| e.contains(":0x3/4")).count(),
        2 * 4 * 4
    );
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.contains("failing-input"))
            .count(),
        2
    );
    for np in [2, 4] {
        let (many, errors) = run_cases(np);
        assert_eq!(many.len(), one.len(), "{np} ranks ran every case");
        for (name, case) in &many {
            assert_eq!(case.1, one[name].1, "{name}: {np} ranks against 1");
        }
        let failing: Vec<_> = errors
            .iter()
            .filter(|e| e.contains("failing-input"))
            .collect();
        assert_eq!(failing.len(), 2, "{errors:?}");
        for e in failing {
            assert!(e.contains(&format!("MPI: rank {} failed", np - 1)), "{e}");
        }
    }
}

#[test]
fn a_rank_that_dies_ends_the_job_with_its_status_instead_of_hanging_it() {
    let out = mpirun(2, &["die", "1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rank 1 exits on purpose"), "{stderr}");
    assert!(stderr.contains("Exit code:    7"), "{stderr}");
}
