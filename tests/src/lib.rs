//! Shared helpers for the behaviour tests under `tests/`.
#![forbid(unsafe_code)]

use std::path::PathBuf;

pub mod clients;
pub mod fake_aws;
pub mod fake_service;
mod loopback;
pub mod model_walk;
pub mod raw_server;
pub mod sigv4_expect;
pub mod time;

/// The repository's `spec/` folder (service model, endpoint rules, SigV4
/// suite and conformance vectors; `spec/README.md` says where each came
/// from); `PERSONALIZE_SPEC_DIR` overrides it.
pub fn spec_dir() -> PathBuf {
    if let Ok(p) = std::env::var("PERSONALIZE_SPEC_DIR") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec")
}

/// Reads and parses a JSON file under `spec/`, panicking with the path
/// when it is missing (a test that cannot read its vectors must fail).
pub fn read_spec_json(rel: &str) -> serde_json::Value {
    let p = spec_dir().join(rel);
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Every conformance vector of a kind (`valid` or `invalid`), as (id, vector).
pub fn conformance_vectors(kind: &str) -> Vec<(String, serde_json::Value)> {
    let dir = spec_dir().join("conformance").join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(spec_dir())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let v = read_spec_json(&rel);
            (v["id"].as_str().unwrap_or(&rel).to_string(), v)
        })
        .collect()
}

/// JSON text with every number token replaced by a canonical spelling of
/// its value, so that `1e+20` and `1e20`, or `7` and `7.0`, compare equal
/// while everything else (member order, string escapes) must match byte
/// for byte.
pub fn canonical_numbers(json: &str) -> String {
    let b = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push_str(&json[start..i]);
        } else if c == b'-' || c.is_ascii_digit() {
            let start = i;
            while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                i += 1;
            }
            let v: f64 = json[start..i].parse().unwrap_or(f64::NAN);
            out.push_str(&format!("{v:e}"));
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}
