//! One table from one run: per-call time, allocations and bytes allocated of
//! our encode+sign and whole in-memory call, the floor (serde_json + two
//! SHA-256 + one HMAC), and — built with `--features official-sdk` — the
//! official `aws-sdk-personalizeevents` through its in-memory HTTP client.
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
}

/// Measures `run` on inputs made by `setup`: making and dropping the inputs
/// is outside the measurement (the floor borrows its input too; a caller of
/// ours keeps its records).
fn measure<S, T>(
    budget: Duration,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(&S) -> T,
) -> Measure {
    for _ in 0..10 {
        black_box(run(&setup()));
    }
    // Allocations: one iteration after warm-up.
    let input = setup();
    let region = Region::new(GLOBAL);
    let out = black_box(run(&input));
    let stats = region.change();
    drop(out);
    // Time: batches until the budget is spent; the median batch mean.
    let mut means = Vec::new();
    let start = Instant::now();
    let batch = 200;
    while start.elapsed() < budget || means.len() < 5 {
        let inputs: Vec<S> = (0..batch).map(|_| setup()).collect();
        let mut outs = Vec::with_capacity(batch);
        let t = Instant::now();
        for i in &inputs {
            outs.push(black_box(run(i)));
        }
        means.push(t.elapsed().as_nanos() as f64 / batch as f64);
        drop(outs);
        if means.len() > 10_000 {
            break;
        }
    }
    means.sort_by(|a, b| a.total_cmp(b));
    Measure {
        nanos: means[means.len() / 2],
        allocs: stats.allocations as f64 + stats.reallocations as f64,
        bytes: stats.bytes_allocated as f64,
    }
}

fn ours_encode_sign<I: Operation>(
    core: &personalize_events_core::ClientCore,
    input: &I,
) -> http::Request<Vec<u8>> {
    let now = Instant::now();
    let mut call = core.call(input, now, 1).expect("valid");
    match call.poll(now, wall(), &credentials(), 0.5) {
        Poll::Send(s) => s.request,
        _ => unreachable!(),
    }
}

fn ours_whole_call<I: Operation>(
    core: &personalize_events_core::ClientCore,
    input: &I,
) -> I::Output {
    let now = Instant::now();
    let creds = credentials();
    let mut call = core.call(input, now, 1).expect("valid");
    loop {
        match call.poll(now, wall(), &creds, 0.5) {
            Poll::Send(s) => {
                black_box(&s.request);
                let resp = http::Response::builder()
                    .status(200)
                    .header("x-amzn-requestid", "00000000-0000-4000-8000-000000000000")
                    .body(&b""[..])
                    .expect("response");
                call.handle_response(now, wall(), resp);
            }
            Poll::Wait(_) => unreachable!(),
            Poll::Done(r) => return r.expect("ok"),
        }
    }
}

fn fmt_time(n: f64) -> String {
    if n >= 1000.0 {
        format!("{:.2} µs", n / 1000.0)
    } else {
        format!("{n:.0} ns")
    }
}

fn row(name: &str, ours: &Measure, other: Option<(&str, &Measure)>) {
    match other {
        Some((label, o)) => println!(
            "| {name} | {} | {:.0} | {:.0} | {label}: {} | {:.0} | {:.0} | {:.2}x |",
            fmt_time(ours.nanos),
            ours.allocs,
            ours.bytes,
            fmt_time(o.nanos),
            o.allocs,
            o.bytes,
            o.nanos / ours.nanos,
        ),
        None => println!(
            "| {name} | {} | {:.0} | {:.0} | | | | |",
            fmt_time(ours.nanos),
            ours.allocs,
            ours.bytes
        ),
    }
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
    println!("| measurement | ours time | ours allocs | ours bytes | compared with | its allocs | its bytes | its time / ours |");
    println!("|---|---|---|---|---|---|---|---|");

    let floor10 = measure(budget, || (), |_| floor::put_events_floor(&ev10));
    let ours10 = measure(budget, || ev10.clone(), |i| ours_encode_sign(&core, i));
    row(
        "encode+sign PutEvents(10)",
        &ours10,
        Some(("floor", &floor10)),
    );
    let floor1 = measure(budget, || (), |_| floor::put_events_floor(&ev1));
    let ours1 = measure(budget, || ev1.clone(), |i| ours_encode_sign(&core, i));
    row("encode+sign PutEvents(1)", &ours1, Some(("floor", &floor1)));
    let ours_items = measure(budget, || items10.clone(), |i| ours_encode_sign(&core, i));
    row("encode+sign PutItems(10 x 1 KB)", &ours_items, None);

    let whole10 = measure(budget, || ev10.clone(), |i| ours_whole_call(&core, i));
    #[cfg(feature = "official-sdk")]
    {
        let official = official::Official::new();
        let off10 = measure(
            budget,
            || std::cell::Cell::new(Some(official::events(10))),
            |i| official.put_events(i.take().unwrap_or_default()),
        );
        row(
            "whole call PutEvents(10), in-memory HTTP",
            &whole10,
            Some(("official SDK", &off10)),
        );
        let whole1 = measure(budget, || ev1.clone(), |i| ours_whole_call(&core, i));
        let off1 = measure(
            budget,
            || std::cell::Cell::new(Some(official::events(1))),
            |i| official.put_events(i.take().unwrap_or_default()),
        );
        row(
            "whole call PutEvents(1), in-memory HTTP",
            &whole1,
            Some(("official SDK", &off1)),
        );
        println!();
        println!(
            "encode+sign PutEvents(10): ours / floor = {:.2}; official whole call / ours whole call = {:.1}x",
            ours10.nanos / floor10.nanos,
            off10.nanos / whole10.nanos
        );
    }
    #[cfg(not(feature = "official-sdk"))]
    {
        row("whole call PutEvents(10), in-memory HTTP", &whole10, None);
        println!();
        println!(
            "encode+sign PutEvents(10): ours / floor = {:.2} (build with --features official-sdk for the official SDK's column)",
            ours10.nanos / floor10.nanos
        );
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
