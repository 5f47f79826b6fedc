//! Encode + sign of PutEvents (1 and 10 events) and PutItems (10 x 1 KB).
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use personalize_events_benches::*;
use personalize_events_core::{Operation, Poll};

fn first_request<I: Operation + Clone>(
    c: &personalize_events_core::ClientCore,
    input: &I,
) -> http::Request<Vec<u8>> {
    let now = Instant::now();
    let mut call = c.call(input, now, 1).expect("valid input");
    match call.poll(now, wall(), &credentials(), 0.5) {
        Poll::Send(s) => s.request,
        _ => unreachable!("the first poll sends"),
    }
}

fn bench(c: &mut Criterion) {
    let core = client_core();
    for n in [1, 10] {
        let input = put_events(n);
        c.bench_function(&format!("encode_sign/put_events_{n}"), |b| {
            b.iter(|| black_box(first_request(&core, black_box(&input))))
        });
    }
    let items = put_items(10);
    c.bench_function("encode_sign/put_items_10x1KB", |b| {
        b.iter(|| black_box(first_request(&core, black_box(&items))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
