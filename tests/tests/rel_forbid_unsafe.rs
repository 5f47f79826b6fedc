//! Every crate of the workspace forbids `unsafe` code: each crate root
//! (`lib.rs`, `main.rs`, `src/bin/*.rs` of every member, and the fuzz
//! crate) says `#![forbid(unsafe_code)]`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// The crate roots of the workspace: every `lib.rs`, `main.rs` and
/// `src/bin/*.rs` of every member (and of the fuzz crate).
fn crate_roots(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<String> = manifest
        .split("members")
        .nth(1)
        .and_then(|s| s.split('[').nth(1))
        .and_then(|s| s.split(']').next())
        .map(|s| {
            s.split(',')
                .map(|m| m.trim().trim_matches('"').to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    assert!(members.len() >= 5, "{members:?}");
    let mut roots = Vec::new();
    for m in members.iter().map(String::as_str).chain(["fuzz"]) {
        let src = root.join(m).join("src");
        for f in ["lib.rs", "main.rs"] {
            if src.join(f).exists() {
                roots.push(src.join(f));
            }
        }
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            roots.extend(bins.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    roots
}

#[test]
fn every_crate_forbids_unsafe_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let roots = crate_roots(&root);
    assert!(roots.len() >= 7, "{roots:?}");
    let missing: Vec<_> = roots
        .iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains("#![forbid(unsafe_code)]")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "without #![forbid(unsafe_code)]: {missing:?}"
    );
}
