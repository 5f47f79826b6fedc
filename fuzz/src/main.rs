//! `personalize-events-fuzz`: runs the fuzz targets of this crate for a
//! bounded time with a seeded mutational generator, on stable Rust.
//!
//! ```text
//! cargo run --release -p personalize-events-fuzz -- <target|all> [--seconds N] [--seed S]
//!     [--max-len BYTES] [--crashes DIR]
//! targets: decode, request, jsonl, wire, cli-jsonl, cli-csv
//! ```
//!
//! Each input runs under `catch_unwind`; the first one that panics is
//! written to the crashes folder (default `fuzz/crashes/`) as
//! `<target>-<seed>-<n>.bin`, and the run exits with status 1. Re-run one
//! saved input with `--replay FILE --target NAME`.
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use personalize_events_fuzz as fz;

const TARGETS: [&str; 6] = ["decode", "request", "jsonl", "wire", "cli-jsonl", "cli-csv"];
/// Whatever `--seconds` says, a run stops after this many inputs per target.
const MAX_ITERATIONS: u64 = 50_000_000;

struct Args {
    targets: Vec<String>,
    seconds: f64,
    seed: u64,
    max_len: usize,
    crashes: PathBuf,
    replay: Option<PathBuf>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: personalize-events-fuzz <{}|all> [--seconds N (default 10)] [--seed S] \
         [--max-len BYTES (default 65536)] [--crashes DIR]\n       \
         personalize-events-fuzz --replay FILE --target NAME",
        TARGETS.join("|")
    );
    ExitCode::from(2)
}

fn parse() -> Option<Args> {
    let mut args = Args {
        targets: Vec::new(),
        seconds: 10.0,
        seed: 0x5eed,
        max_len: 65_536,
        crashes: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crashes"),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => args.seconds = it.next()?.parse().ok()?,
            "--seed" => args.seed = it.next()?.parse().ok()?,
            "--max-len" => args.max_len = it.next()?.parse().ok()?,
            "--crashes" => args.crashes = it.next()?.into(),
            "--replay" => args.replay = Some(it.next()?.into()),
            "--target" => args.targets.push(it.next()?),
            "all" => args.targets.extend(TARGETS.iter().map(|s| s.to_string())),
            t if TARGETS.contains(&t) => args.targets.push(t.to_string()),
            _ => return None,
        }
    }
    if args.targets.is_empty() || !(args.seconds > 0.0 && args.seconds <= 86_400.0) {
        return None;
    }
    Some(args)
}

/// Runs one input of a target.
type RunOne = Box<dyn FnMut(&[u8])>;

/// A target: its seeds and the function running one input.
struct Target {
    seeds: Vec<Vec<u8>>,
    run: RunOne,
}

fn target(name: &str, lifetime: Duration) -> Target {
    match name {
        "decode" => Target {
            seeds: fz::decode_seeds(),
            run: Box::new(fz::decode_response),
        },
        "request" => Target {
            seeds: fz::request_seeds(),
            run: Box::new(fz::request),
        },
        "jsonl" => Target {
            seeds: fz::json_lines_seeds(),
            run: Box::new(fz::json_lines),
        },
        "cli-jsonl" => Target {
            seeds: fz::cli_json_lines_seeds(),
            run: Box::new(fz::cli_json_lines),
        },
        "cli-csv" => Target {
            seeds: fz::cli_csv_seeds(),
            run: Box::new(fz::cli_csv),
        },
        _ => {
            let mut wire = fz::Wire::start(lifetime + Duration::from_secs(30))
                .expect("start an emulator on loopback");
            Target {
                seeds: wire.seeds(),
                run: Box::new(move |d| wire.run(d)),
            }
        }
    }
}

fn main() -> ExitCode {
    let Some(args) = parse() else {
        return usage();
    };
    if let Some(file) = &args.replay {
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        for name in &args.targets {
            (target(name, Duration::from_secs(60)).run)(&data);
            println!("{name}: {} passes", file.display());
        }
        return ExitCode::SUCCESS;
    }
    let per_target = Duration::from_secs_f64(args.seconds / args.targets.len() as f64);
    for (k, name) in args.targets.iter().enumerate() {
        let seed = args.seed.wrapping_add(k as u64);
        let mut t = target(name, per_target);
        let mut gen = fz::Gen::new(seed, t.seeds.clone(), args.max_len);
        // The seeds themselves first.
        let mut inputs: Vec<Vec<u8>> = t.seeds.clone();
        let started = Instant::now();
        let mut n: u64 = 0;
        let mut bytes: u64 = 0;
        while n < MAX_ITERATIONS && (n < inputs.len() as u64 || started.elapsed() < per_target) {
            let data = match inputs.get_mut(n as usize) {
                Some(seed_input) => std::mem::take(seed_input),
                None => gen.next_input(),
            };
            bytes += data.len() as u64;
            let outcome = catch_unwind(AssertUnwindSafe(|| (t.run)(&data)));
            if outcome.is_err() {
                let _ = std::fs::create_dir_all(&args.crashes);
                let file = args.crashes.join(format!("{name}-{seed}-{n}.bin"));
                let saved = std::fs::write(&file, &data).is_ok();
                eprintln!(
                    "{name}: input {n} panicked ({} bytes){}",
                    data.len(),
                    if saved {
                        format!(", saved to {}", file.display())
                    } else {
                        String::new()
                    }
                );
                return ExitCode::from(1);
            }
            n += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {n} inputs in {secs:.1} s ({:.0}/s, {:.1} MB), seed {seed}, no panic",
            n as f64 / secs.max(1e-9),
            bytes as f64 / 1e6
        );
    }
    ExitCode::SUCCESS
}
