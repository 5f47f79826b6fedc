//! One table from one run: per-call time, allocations and bytes allocated of
//! our encode+sign and whole in-memory call for PutEvents(10), PutEvents(1)
//! and PutItems(10 x 1 KB); the physical floor (serde_json + two SHA-256 +
//! one HMAC with a cached key); the design's floor (`serde_json::to_vec` of
//! the same document + the `http::Request` signed by
//! `aws_sigv4::http_request::sign`, the signature applied to it);
//! and — built with `--features official-sdk` — the official
//! `aws-sdk-personalizeevents` through its in-memory HTTP client.
//!
//! The contenders of a row are measured together, a batch of each in turn,
//! so that all meet the same load of a shared machine; a ratio is the median
//! of the round-by-round ratios.
//!
//! ```sh
//! cargo run --release -p personalize-events-benches --bin compare -- --quick
//! cargo run --release -p personalize-events-benches --features official-sdk --bin compare
//! ```
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use personalize_events_benches::*;
use personalize_events_core::{Operation, Poll};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Time per iteration (median of batches) and allocations per iteration.
struct Measure {
    nanos: f64,
    allocs: f64,
    bytes: f64,
    /// The mean of each batch, one per round (see [`together`]).
    rounds: Vec<f64>,
}

/// A contender: runs one batch and gives its mean time per iteration.
type Batch<'a> = Box<dyn FnMut() -> f64 + 'a>;

/// Prepares `run` on inputs made by `setup`: making and dropping the inputs
/// is outside the measurement (ours and the floors borrow the same input
/// every time; the official SDK takes its events by value, so they are made
/// beforehand). Each output is dropped inside the measurement, as a client
/// drops its request once sent. Warms up, counts the allocations of one
/// iteration, and gives the batch runner for [`together`].
fn contender<'a, S: 'a, T: 'a>(
    mut setup: impl FnMut() -> S + 'a,
    mut run: impl FnMut(&S) -> T + 'a,
) -> ((f64, f64), Batch<'a>) {
    for _ in 0..10 {
        black_box(run(&setup()));
    }
    let input = setup();
    let region = Region::new(GLOBAL);
    let out = black_box(run(&input));
    let stats = region.change();
    drop(out);
    let counts = (
        stats.allocations as f64 + stats.reallocations as f64,
        stats.bytes_allocated as f64,
    );
    let batch = 200;
    let runner = move || {
        let inputs: Vec<S> = (0..batch).map(|_| setup()).collect();
        let t = Instant::now();
        for i in &inputs {
            drop(black_box(run(i)));
        }
        t.elapsed().as_nanos() as f64 / batch as f64
    };
    (counts, Box::new(runner))
}

/// Measures the contenders together: one batch of each in turn, round after
/// round, until the budget is spent, so that every contender meets the same
/// load of the (shared) machine. Time is the median batch mean; ratios are
/// taken round by round (see [`ratio`]).
fn together(budget: Duration, contenders: Vec<((f64, f64), Batch<'_>)>) -> Vec<Measure> {
    let (counts, mut runs): (Vec<_>, Vec<_>) = contenders.into_iter().unzip();
    let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    let start = Instant::now();
    while (start.elapsed() < budget * runs.len() as u32 || rounds[0].len() < 5)
        && rounds[0].len() < 10_000
    {
        for (run, r) in runs.iter_mut().zip(&mut rounds) {
            r.push(run());
        }
    }
    counts
        .into_iter()
        .zip(rounds)
        .map(|((allocs, bytes), rounds)| Measure {
            nanos: median(rounds.clone()),
            allocs,
            bytes,
            rounds,
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// `a ÷ b`: the median of the round-by-round ratios.
fn ratio(a: &Measure, b: &Measure) -> f64 {
    median(a.rounds.iter().zip(&b.rounds).map(|(x, y)| x / y).collect())
}

/// The credentials, made once like the design floor's identity (a client
/// holds its credentials; it does not build them for every call).
fn creds() -> &'static personalize_events_core::Credentials {
    static CREDS: std::sync::OnceLock<personalize_events_core::Credentials> =
        std::sync::OnceLock::new();
    CREDS.get_or_init(credentials)
}

fn ours_encode_sign<I: Operation>(
    core: &personalize_events_core::ClientCore,
    input: &I,
) -> http::Request<personalize_events_core::Bytes> {
    let now = Instant::now();
    let mut call = core.call(input, now, 1).expect("valid");
    match call.poll(now, wall(), creds(), 0.5) {
        Poll::Send(s) => s.request,
        _ => unreachable!(),
    }
}

fn fmt_time(n: f64) -> String {
    if n >= 1000.0 {
        format!("{:.2} µs", n / 1000.0)
    } else {
        format!("{n:.0} ns")
    }
}

fn cell(label: &str, m: &Measure, ours: &Measure) -> String {
    format!(
        "{label}: {} / {:.0} allocs / {:.2}x",
        fmt_time(m.nanos),
        m.allocs,
        ratio(ours, m)
    )
}

/// One row: ours, then each comparison as "time / allocations / ours ÷ it".
fn row(name: &str, ours: &Measure, others: &[(&str, &Measure)]) {
    let cols: Vec<String> = others.iter().map(|(l, m)| cell(l, m, ours)).collect();
    println!(
        "| {name} | {} | {:.0} | {:.0} | {} |",
        fmt_time(ours.nanos),
        ours.allocs,
        ours.bytes,
        cols.join(" | ")
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(400)
    } else {
        Duration::from_secs(3)
    };
    let core = client_core();
    let ev1 = put_events(1);
    let ev10 = put_events(10);
    let items10 = put_items(10);

    println!(
        "personalize-events-rs compare ({} mode)",
        if quick { "quick" } else { "full" }
    );
    println!(
        "machine: {} CPU(s), {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!();
    println!(
        "Columns after ours: time / allocations / ours ÷ theirs (below 1 is faster than them)."
    );
    println!("physical floor = serde_json::to_vec + SHA-256 x2 + one HMAC with a cached key;");
    println!(
        "design floor = serde_json::to_vec + the http::Request signed by aws_sigv4::http_request::sign, signature applied."
    );
    println!();
    println!("| measurement | ours time | ours allocs | ours bytes | physical floor | design floor | official SDK |");
    println!("|---|---|---|---|---|---|---|");

    let mut ratios = Vec::new();
    {
        let m = together(
            budget,
            vec![
                contender(|| (), |_| ours_encode_sign(&core, &ev10)),
                contender(|| (), |_| floor::put_events_floor(&ev10)),
                contender(|| (), |_| floor::put_events_design_floor(&ev10)),
            ],
        );
        let (ours, phys, design) = (&m[0], &m[1], &m[2]);
        row(
            "encode+sign PutEvents(10)",
            ours,
            &[("physical", phys), ("design", design)],
        );
        ratios.push(("PutEvents(10)", ratio(ours, design)));
    }
    {
        let m = together(
            budget,
            vec![
                contender(|| (), |_| ours_encode_sign(&core, &ev1)),
                contender(|| (), |_| floor::put_events_floor(&ev1)),
                contender(|| (), |_| floor::put_events_design_floor(&ev1)),
            ],
        );
        let (ours, phys, design) = (&m[0], &m[1], &m[2]);
        row(
            "encode+sign PutEvents(1)",
            ours,
            &[("physical", phys), ("design", design)],
        );
        ratios.push(("PutEvents(1)", ratio(ours, design)));
    }
    {
        let m = together(
            budget,
            vec![
                contender(|| (), |_| ours_encode_sign(&core, &items10)),
                contender(|| (), |_| floor::put_items_floor(&items10)),
                contender(|| (), |_| floor::put_items_design_floor(&items10)),
            ],
        );
        let (ours, phys, design) = (&m[0], &m[1], &m[2]);
        row(
            "encode+sign PutItems(10 x 1 KB)",
            ours,
            &[("physical", phys), ("design", design)],
        );
        ratios.push(("PutItems(10 x 1 KB)", ratio(ours, design)));
    }

    #[cfg(feature = "official-sdk")]
    {
        let official = official::Official::new();
        let m = together(
            budget,
            vec![
                contender(|| (), |_| whole_call(&core, &ev10, creds())),
                contender(
                    || std::cell::Cell::new(Some(official::events(10))),
                    |i| official.put_events(i.take().unwrap_or_default()),
                ),
            ],
        );
        let (whole10, off10) = (&m[0], &m[1]);
        println!(
            "| whole call PutEvents(10), in-memory HTTP | {} | {:.0} | {:.0} | | | {} |",
            fmt_time(whole10.nanos),
            whole10.allocs,
            whole10.bytes,
            cell("official", off10, whole10)
        );
        let m1 = together(
            budget,
            vec![
                contender(|| (), |_| whole_call(&core, &ev1, creds())),
                contender(
                    || std::cell::Cell::new(Some(official::events(1))),
                    |i| official.put_events(i.take().unwrap_or_default()),
                ),
            ],
        );
        let (whole1, off1) = (&m1[0], &m1[1]);
        println!(
            "| whole call PutEvents(1), in-memory HTTP | {} | {:.0} | {:.0} | | | {} |",
            fmt_time(whole1.nanos),
            whole1.allocs,
            whole1.bytes,
            cell("official", off1, whole1)
        );
        println!();
        println!(
            "whole call PutEvents(10): official / ours = {:.1}x faster, allocations ours / official = {:.2}",
            ratio(off10, whole10),
            whole10.allocs / off10.allocs
        );
    }
    #[cfg(not(feature = "official-sdk"))]
    {
        let m = together(
            budget,
            vec![
                contender(|| (), |_| whole_call(&core, &ev10, creds())),
                contender(|| (), |_| whole_call(&core, &ev1, creds())),
            ],
        );
        row("whole call PutEvents(10), in-memory HTTP", &m[0], &[]);
        row("whole call PutEvents(1), in-memory HTTP", &m[1], &[]);
        println!();
        println!("(build with --features official-sdk for the official SDK's column)");
    }
    for (name, r) in ratios {
        println!("encode+sign {name}: ours / design floor = {r:.2}");
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
