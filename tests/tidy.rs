//! Tidy: the pure modules (proto, tree, session, watch, txn, zab, sasl) must do no I/O and
//! read no clock or ambient randomness, so that they can be tested by deterministic
//! simulation. This test fails when one of them mentions a forbidden API.

use std::path::{Path, PathBuf};

const PURE_MODULES: &[&str] = &["proto", "tree", "session", "watch", "txn", "zab", "sasl"];

/// Tokens that mean I/O, clocks, threads or ambient randomness.
const FORBIDDEN: &[&str] = &[
    "glommio",
    "tokio",
    "std::net",
    "std::fs",
    "std::io::stdin",
    "std::thread",
    "std::process",
    "std::env",
    "Instant::now",
    "SystemTime",
    "UNIX_EPOCH",
    "thread_rng",
    "rand::random",
    "OsRng",
    "from_entropy",
    "memmap2",
    "libc::",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Violations in one file's text: `(line number, token)`. Comment lines are skipped
/// so module docs may name what the module must not do.
fn violations(text: &str) -> Vec<(usize, &'static str)> {
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for tok in FORBIDDEN {
            if code.contains(tok) {
                v.push((i + 1, *tok));
            }
        }
    }
    v
}

#[test]
fn the_checker_catches_a_forbidden_call() {
    let bad = "fn f() {\n    let t = std::time::Instant::now();\n}\n";
    assert_eq!(violations(bad), vec![(2, "Instant::now")]);
    assert!(violations("//! must never use std::fs\nfn ok() {}\n").is_empty());
}

#[test]
fn pure_modules_do_no_io_and_read_no_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut scanned = 0;
    for m in PURE_MODULES {
        let mut files = Vec::new();
        rust_files(&root.join(m), &mut files);
        let single = root.join(format!("{m}.rs"));
        if single.exists() {
            files.push(single);
        }
        for f in files {
            scanned += 1;
            let text = std::fs::read_to_string(&f).expect("readable source");
            for (line, tok) in violations(&text) {
                found.push(format!("{}:{line}: {tok}", f.display()));
            }
        }
    }
    assert!(
        scanned > 10,
        "expected to scan the pure modules, scanned {scanned} files"
    );
    assert!(
        found.is_empty(),
        "pure modules must not do I/O:\n{}",
        found.join("\n")
    );
}
