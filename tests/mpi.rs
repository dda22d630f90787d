//! (feature `mpi`) The distributed operations of `rayblas::ranks` under `mpirun` with 1, 2, 4 and 8
//! ranks (4 and 8 oversubscribed on a 2-core machine), against the single-process results, and a rank
//! that dies. Each `mpirun` runs under a time limit, so a stuck collective fails the test.
//!
//! Needs Open MPI's `mpirun` (`cargo xtask setup --features mpi`).
#![cfg(feature = "mpi")]

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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
    let child = cmd
        .spawn()
        .expect("mpirun starts (install Open MPI: cargo xtask setup --features mpi)");
    // The output is read while the job runs (a full pipe would stop it), on a thread of its
    // own, so the wait can have a time limit.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(LIMIT) {
        Ok(out) => out.expect("mpirun's output"),
        Err(_) => {
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .ok();
            panic!("mpirun -np {np} {args:?} still running after {LIMIT:?} (a stuck collective?)");
        }
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

/// Within rounding of one process: f32 2e-5, f64 1e-12 relative (of the result, or of each
/// entry of a product).
fn tolerance(name: &str) -> f64 {
    if name.starts_with("f32") {
        2e-5
    } else {
        1e-12
    }
}

/// Every case within the tolerance of one process, and bitwise equal to it where it is tiled
/// alike.
fn check_against_one_process(np: usize, cases: &BTreeMap<String, Case>) {
    for (name, (exact, distributed, single, err)) in cases {
        if *exact {
            assert_eq!(
                distributed, single,
                "{name} on {np} ranks: tiled alike, combined alike"
            );
        }
        let tol = tolerance(name);
        assert!(
            *err <= tol,
            "{name} on {np} ranks: relative error {err:e} > {tol:e}"
        );
    }
}

#[test]
fn ranks_agree_with_one_process_and_with_each_other_bit_for_bit() {
    let (one, errors) = run_cases(1);
    assert!(one.len() > 400, "{} cases", one.len());
    let exact = one.values().filter(|c| c.0).count();
    assert!(exact >= 90, "{exact} cases compared bit for bit");
    check_against_one_process(1, &one);
    // Max and min of an empty product or matrix fail alike on every rank; a rank whose input
    // fails fails the call.
    let count = |errors: &[String], what: &str| errors.iter().filter(|e| e.contains(what)).count();
    assert_eq!(count(&errors, ":0x3/4"), 2 * 4 * 4, "{errors:?}");
    assert_eq!(count(&errors, ":0x3x4/4"), 2 * 3 * 2, "{errors:?}");
    assert_eq!(count(&errors, "failing-input"), 4);
    let mut two = None;
    for np in [2, 4, 8, 2] {
        let (many, errors) = run_cases(np);
        assert_eq!(many.len(), one.len(), "{np} ranks ran every case");
        check_against_one_process(np, &many);
        let mut across = 0;
        for (name, case) in &many {
            // SUMMA's blocks change with the grid, and with them the shapes of the BLAS calls:
            // products on ranks agree across rank counts within the tolerance (checked above),
            // everything else bit for bit where it makes the same calls. A fused Gram
            // reduction's name carries its calls (`@strips`, `@tiles`), which change with the
            // rank count where the panels cannot hold whole strips: such a case is on its own
            // name, held to one process with its calls only.
            if let Some(alone) = one.get(name).filter(|_| !name.contains(":matmul")) {
                assert_eq!(case.1, alone.1, "{name}: {np} ranks against 1");
                across += 1;
            }
        }
        assert!(across >= 150, "{across} cases compared across rank counts");
        if np <= 4 {
            // The aligned shape keeps one process's strips on 1, 2 and 4 ranks.
            let strips = many
                .keys()
                .filter(|n| n.contains("aligned-gram_reduce") && n.contains("@strips"))
                .filter(|n| one.contains_key(*n))
                .count();
            assert_eq!(
                strips, 8,
                "{np} ranks: the aligned cases ran one process's strips"
            );
        }
        // The same rank count twice: the same bits, products included.
        if np == 2 {
            match &two {
                None => two = Some(many),
                Some(before) => {
                    for (name, case) in &many {
                        assert_eq!(case.1, before[name].1, "{name}: 2 ranks, run again");
                    }
                }
            }
        }
        let failing: Vec<_> = errors
            .iter()
            .filter(|e| e.contains("failing-input"))
            .collect();
        assert_eq!(failing.len(), 4, "{errors:?}");
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

/// A rank killed (SIGKILL) in the middle of the ring: the other ranks wait in a transfer with
/// the dead one; Open MPI must end the job, not leave them waiting, well within the limit.
#[test]
fn a_rank_killed_mid_ring_ends_the_job_instead_of_leaving_the_others_waiting() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("mpirun")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--mca", "pml", "ob1", "--mca", "btl", "self,vader"])
        .args([
            "-x",
            "OPENBLAS_NUM_THREADS=1",
            "--oversubscribe",
            "-np",
            "4",
        ])
        .arg(env!("CARGO_BIN_EXE_rayblas-mpi-check"))
        .arg("long-ring")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let started = std::time::Instant::now();
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    // The lines read so far, shown if mpirun ends before rank 2 says who it is.
    let mut seen = Vec::new();
    let pid = loop {
        let Some(line) = lines.next() else {
            panic!(
                "the ranks say who they are; mpirun ended first ({:?}), its stderr:\n{}",
                child.wait(),
                seen.join("\n")
            );
        };
        let line = line.expect("stderr");
        if let Some(pid) = line.strip_prefix("rank 2 pid ") {
            break pid.trim().to_string();
        }
        seen.push(line);
    };
    // Into the ring: the panels are made and the first steps are running.
    std::thread::sleep(Duration::from_millis(800));
    Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in lines.by_ref() {}
        tx.send(child.wait()).ok();
    });
    let status = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("mpirun ended within 60 s of the kill")
        .expect("mpirun's status");
    assert!(!status.success(), "a killed rank fails the job");
    assert!(started.elapsed() < LIMIT);
}

/// Each rank's resident memory above its own before a ring Gram reduction stays within 3/p of
/// the input (its panel, the visiting one and the next one arriving) plus one tile row panel
/// and a margin for the libraries' scratch, on 1, 2, 4 and 8 ranks (read from
/// `/proc/self/status`: VmHWM after the call against VmRSS before it).
#[test]
fn each_rank_holds_about_three_pth_of_the_input() {
    let input_kib = 3000 * 2000 * 8 / 1024;
    let tile_row_kib = 250 * 2000 * 8 / 1024;
    for np in [1, 2, 4, 8] {
        let out = mpirun(np, &["memory"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{np} ranks: {stdout}");
        let above: Vec<u64> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("memory rank "))
            .map(|l| l.split(' ').nth(2).unwrap().parse().unwrap())
            .collect();
        assert_eq!(above.len(), np, "{stdout}");
        // One rank holds its panel only (no visiting copies): 1/p; more hold up to 3/p.
        let share = if np == 1 { 1.0 } else { 3.0 / np as f64 };
        let bound = (share * input_kib as f64) as u64 + tile_row_kib + 12 * 1024;
        for (r, &kib) in above.iter().enumerate() {
            assert!(
                kib <= bound,
                "{np} ranks: rank {r} held {kib} KiB above its start, bound {bound} KiB"
            );
        }
    }
}

/// A file larger than each rank may map: on 8 ranks, each with its address space limited
/// (`RLIMIT_AS`) to its start plus 3/8 of a 500 MiB file, the thread reserves of OpenBLAS and
/// glibc and a margin, every rank fails to map the file (the limit binds) and the ring reads
/// each rank's rows with `NpyReader`: the result equals one process's bits (`calls=tiles`).
#[test]
fn a_file_larger_than_a_rank_may_map_runs_on_ranks_that_read_their_rows() {
    let out = mpirun(8, &["address-space"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let limits: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("limit rank "))
        .collect();
    assert_eq!(limits.len(), 8, "{stdout}");
    for l in &limits {
        let f: Vec<&str> = l.split(' ').collect();
        let (above, file): (u64, u64) = (f[2].parse().unwrap(), f[4].parse().unwrap());
        assert!(
            above < file,
            "rank {}: limit {above} KiB above its start, file {file} KiB",
            f[0]
        );
        assert_eq!(
            f[6], "false",
            "rank {} could map the whole file: the limit does not bind",
            f[0]
        );
    }
    let case = stdout
        .lines()
        .find_map(|l| l.strip_prefix("case address-space:gram_reduce-sum exact distributed "))
        .unwrap_or_else(|| panic!("no result: {stdout}"));
    let f: Vec<&str> = case.split(' ').collect();
    assert_eq!(f[0], f[2], "the ring's bits against one process's: {case}");
}
