//! The Markdown pages' links: every relative link names a file that exists, and every `#anchor`
//! a heading of its page (GitHub's slugs). Run by xtask's tests, so by `cargo xtask test`.

#![cfg(test)]

use std::path::{Path, PathBuf};

/// The pages checked: the top-level pages, `docs/`, `benchmarks/`, and the crates' READMEs.
fn pages(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        root.to_path_buf(),
        root.join("docs"),
        root.join("benchmarks"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    for extra in ["cli/README.md", "fuzz/README.md"] {
        let p = root.join(extra);
        if p.exists() {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// GitHub's anchor for a heading: lower case, letters, digits, `-` and `_` kept, spaces made
/// `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| {
            if c == ' ' {
                Some('-')
            } else if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else {
                None
            }
        })
        .collect()
}

/// The text outside fenced code blocks, line by line.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// The anchors of a page's headings.
fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .into_iter()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// The `](target)` link targets of a line, outside inline code.
fn targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    let bytes: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '`' => in_code = !in_code,
            ']' if !in_code && bytes.get(i + 1) == Some(&'(') => {
                let rest: String = bytes[i + 2..].iter().collect();
                if let Some(end) = rest.find(')') {
                    out.push(rest[..end].to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[test]
fn every_link_between_the_pages_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    let mut broken = Vec::new();
    let pages = pages(&root);
    assert!(pages.len() >= 10, "pages found: {pages:?}");
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for line in prose(&text) {
            for target in targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let file = if path.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(path)
                };
                let name = page.strip_prefix(&root).unwrap().display().to_string();
                if !file.exists() {
                    broken.push(format!("{name}: {target}: no such file"));
                    continue;
                }
                if let Some(a) = anchor {
                    let other = std::fs::read_to_string(&file).unwrap_or_default();
                    if !anchors(&other).iter().any(|h| h == a) {
                        broken.push(format!("{name}: {target}: no heading with that anchor"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    assert_eq!(
        slug(" Out of core: `.npy` files larger than memory"),
        "out-of-core-npy-files-larger-than-memory"
    );
    assert_eq!(
        slug("One thread pool per process (OpenBLAS ≥ 0.3.28)"),
        "one-thread-pool-per-process-openblas--0328"
    );
    assert_eq!(slug("Per-call cost"), "per-call-cost");
    assert_eq!(
        targets("see [a](x.md#b) and `[c](d)` and [e](f)"),
        vec!["x.md#b", "f"]
    );
}
