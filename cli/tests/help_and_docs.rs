//! The help and the docs say what the CLI does: every option a subcommand's `--help` lists is
//! one it accepts (each is run once, under `--dry-run` where the subcommand measures), and every
//! `rayblas …` command in README.md, docs/*.md and cli/README.md parses (and passes a dry run
//! where it would measure).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rayblas(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rayblas"))
        .args(args)
        .env("RAYBLAS_QUICK_LIMITS", "1")
        .env_remove("RAYBLAS_STRATEGY")
        .output()
        .expect("run rayblas")
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The long options `rayblas <sub> --help` lists.
fn listed(sub: &str) -> Vec<String> {
    let o = rayblas(&[sub.to_string(), "--help".into()]);
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            let l = l.strip_prefix("-V, ").unwrap_or(l);
            l.strip_prefix("--")
                .map(|rest| format!("--{}", rest.split([' ', ',']).next().unwrap_or("")))
        })
        .collect()
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rayblas-help-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_option_in_the_help_is_accepted() {
    let dir = scratch();
    let a = dir.join("a.npy");
    let b = dir.join("b.npy");
    let rows = dir.join("rows.jsonl");
    let p = |x: &Path| x.display().to_string();
    for (file, n, m) in [(&a, "12", "8"), (&b, "6", "12")] {
        let o = rayblas(&words(&format!("gen --n {n} --m {m} --out {}", p(file))));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let saved = rayblas(&words("run --op sum --n 8 --repeat 1 --format json"));
    assert!(saved.status.success());
    std::fs::write(&rows, &saved.stdout).unwrap();
    let out = dir.join("c.npy");
    // One accepted use of each option, per subcommand (`--help` and `--keep-blas-core` are
    // every subcommand's).
    let workload = |extra: &str| {
        vec![
            ("--op", "--op sum --n 16".to_string()),
            ("--n", "--n 16".into()),
            ("--m", "--op matmul --m 8 --k 6 --n 4".into()),
            ("--k", "--op gram --m 8 --k 6".into()),
            ("--block", format!("--n 16 --block 8 {extra}")),
            ("--calls", "--n 16 --calls tiles".into()),
            ("--dtype", "--n 16 --dtype f32".into()),
            ("--seed", "--n 16 --seed 7".into()),
            ("--batch", format!("--op matmul --n 4 --batch 3 {extra}")),
            ("--input", format!("--op sum --input {}", p(&a))),
            (
                "--input-b",
                format!("--op matmul --input {} --input-b {}", p(&a), p(&b)),
            ),
            (
                "--output",
                format!("--op matmul --n 8 --output {}", p(&out)),
            ),
            ("--repeat", "--n 16 --repeat 2".into()),
            ("--warmup", "--n 16 --warmup 0".into()),
            ("--peak", "--n 16 --peak 10".into()),
            ("--format", "--n 16 --format json".into()),
            ("--dry-run", "--n 16".into()),
        ]
    };
    let table: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("run", {
            let mut v = workload("--strategy blocked");
            v.push(("--strategy", "--n 16 --strategy serial".into()));
            v
        }),
        ("compare", {
            let mut v = workload("--strategies blocked,serial");
            v.push(("--strategies", "--n 16 --strategies blocked,serial".into()));
            v.push(("--replay", format!("--replay {}", p(&rows))));
            // Listed with the `mpi` feature only.
            v.push((
                "--ranks",
                "--n 16 --strategies blocked:1 --ranks 1,2".into(),
            ));
            v
        }),
        ("sweep", {
            let mut v: Vec<(&str, String)> = workload("")
                .into_iter()
                .filter(|(o, _)| !["--block", "--output", "--batch"].contains(o))
                .map(|(o, a)| (o, a.replace("--op sum", "--op gram")))
                .collect();
            v.push(("--blocks", "--n 16 --blocks 4,8".into()));
            v.push(("--workers", "--n 16 --workers 1".into()));
            v.push(("--strategies", "--n 16 --strategies blocked".into()));
            v.push(("--out", format!("--n 16 --out {}", p(&dir.join("sweep")))));
            v
        }),
    ];
    for (sub, uses) in &table {
        for opt in listed(sub) {
            if opt == "--help" || opt == "--keep-blas-core" {
                continue;
            }
            let Some((_, args)) = uses.iter().find(|(o, _)| *o == opt) else {
                panic!(
                    "`rayblas {sub} --help` lists {opt}: add an accepted use of it to this table"
                );
            };
            let mut argv = vec![sub.to_string()];
            argv.extend(words(args));
            argv.push("--dry-run".into());
            let o = rayblas(&argv);
            assert!(
                o.status.success(),
                "`rayblas {}` (for {opt}, listed in the help) was refused: {}",
                argv.join(" "),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // The subcommands that do not measure take no --dry-run, and their help does not offer it.
    for sub in ["info", "gen", "help"] {
        assert!(!listed(sub).contains(&"--dry-run".to_string()), "{sub}");
    }
    let gen_help = String::from_utf8_lossy(&rayblas(&words("gen --help")).stdout).to_string();
    assert_eq!(gen_help.matches("[default: 42]").count(), 1, "{gen_help}");
    assert!(rayblas(&words("help --help")).status.success());
    assert!(rayblas(&words("help compare")).status.success());
    assert_eq!(rayblas(&words("help nothing")).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every `rayblas …` line in the code blocks of the pages: the command without its comment,
/// pipes and redirections.
fn documented_commands() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut pages = vec![root.join("README.md"), root.join("cli/README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let mut out = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        // Inside a fence, and whether it holds shell commands (not TOML or Rust).
        // In a `text` block (a command's output), only the lines after a `$ ` prompt are
        // commands: a printed row may begin with `rayblas` too.
        let (mut fenced, mut shell, mut output) = (false, false, false);
        let mut joined = String::new();
        for line in text.lines() {
            if let Some(lang) = line.trim_start().strip_prefix("```") {
                fenced = !fenced;
                shell = fenced && !lang.starts_with("toml") && !lang.starts_with("rust");
                output = lang.starts_with("text");
                continue;
            }
            if !fenced || !shell || (output && joined.is_empty() && !line.starts_with("$ ")) {
                continue;
            }
            // Continuation lines join the command before them.
            joined.push_str(line.trim_end_matches('\\'));
            if line.ends_with('\\') {
                joined.push(' ');
                continue;
            }
            let cmd = std::mem::take(&mut joined);
            let cmd = cmd.trim().trim_start_matches("$ ");
            let Some(rest) = cmd.strip_prefix("rayblas ") else {
                continue;
            };
            let rest = rest.split(" #").next().unwrap();
            let rest = rest.split(['|', '>']).next().unwrap();
            let rest = rest.split("&&").next().unwrap().trim();
            let name = page.strip_prefix(root).unwrap().display().to_string();
            out.push((name, rest.to_string()));
        }
    }
    out
}

#[test]
fn every_documented_command_parses() {
    let commands = documented_commands();
    assert!(
        commands.len() >= 15,
        "found {}: {commands:?}",
        commands.len()
    );
    for (page, cmd) in commands {
        let mut argv = words(&cmd);
        let sub = argv.first().cloned().unwrap_or_default();
        // A dry run where the command would measure and needs nothing that is not here (files,
        // MPI); else the parse alone: clap checks every argument before it prints the help.
        let needs_more = ["--input", "--replay", "mpi:", "--ranks", "rows.jsonl"]
            .iter()
            .any(|w| cmd.contains(w));
        if ["run", "compare", "sweep"].contains(&sub.as_str()) && !needs_more {
            if !argv.contains(&"--dry-run".to_string()) {
                argv.push("--dry-run".into());
            }
        } else {
            argv.push("--help".into());
        }
        let o = rayblas(&argv);
        assert!(
            o.status.success(),
            "{page}: `rayblas {cmd}` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
