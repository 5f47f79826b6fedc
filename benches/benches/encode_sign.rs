//! Encode + sign of PutEvents (1 and 10 events) and PutItems (10 x 1 KB),
//! and the floor (`floor::put_events_floor`: serde_json + two SHA-256 + one
//! HMAC) for PutEvents(1) and (10) in the same group, so one run shows both.
//!
//! Measured: `ClientCore::call` (validate + encode, borrowing the input: no
//! clone in the timed loop) and the first `poll` (sign). The input, the core
//! and the credentials are made once, outside the measurement.
//!
//! ```sh
//! cargo bench -p personalize-events-benches --bench encode_sign
//! ```
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use personalize_events_benches::*;
use personalize_events_core::{ClientCore, Credentials, Operation, Poll};

/// The signed request of the first attempt.
fn first_request<I: Operation>(
    core: &ClientCore,
    creds: &Credentials,
    input: &I,
) -> http::Request<personalize_events_core::Bytes> {
    let now = Instant::now();
    let mut call = core.call(input, now, 1).expect("valid input");
    match call.poll(now, wall(), creds, 0.5) {
        Poll::Send(s) => s.request,
        _ => unreachable!("the first poll sends"),
    }
}

fn bench(c: &mut Criterion) {
    let core = client_core();
    let creds = credentials();
    let mut g = c.benchmark_group("encode_sign");
    for n in [1, 10] {
        let input = put_events(n);
        g.bench_function(format!("put_events_{n}"), |b| {
            b.iter(|| black_box(first_request(&core, &creds, black_box(&input))))
        });
        g.bench_function(format!("floor_put_events_{n}"), |b| {
            b.iter(|| black_box(floor::put_events_floor(black_box(&input))))
        });
    }
    let items = put_items(10);
    g.bench_function("put_items_10x1KB", |b| {
        b.iter(|| black_box(first_request(&core, &creds, black_box(&items))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
