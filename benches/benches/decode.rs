//! `personalize_events_core::decode_response` of a success (200 with
//! `x-amzn-RequestId`) and of an `InvalidInputException` (400 with
//! `X-Amzn-Errortype`, a request id and a JSON body with a message), as the
//! service sends them. The responses are built once, outside the measurement.
//!
//! ```sh
//! cargo bench -p personalize-events-benches --bench decode
//! ```
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use personalize_events_core::{decode_response, Error};

const REQUEST_ID: &str = "7b1f4c2e-3a5d-4e6f-8a9b-0c1d2e3f4a5b";
const INVALID_INPUT_BODY: &[u8] = br#"{"message":"1 validation error detected: Value null at 'eventList.1.member.eventType' failed to satisfy constraint: Member must not be null"}"#;

fn success() -> http::Response<&'static [u8]> {
    http::Response::builder()
        .status(200)
        .header("Date", "Sun, 29 Nov 2026 12:00:00 GMT")
        .header("Content-Type", "application/json")
        .header("Content-Length", "0")
        .header("Connection", "keep-alive")
        .header("x-amzn-RequestId", REQUEST_ID)
        .body(&b""[..])
        .expect("response")
}

fn invalid_input() -> http::Response<&'static [u8]> {
    http::Response::builder()
        .status(400)
        .header("Date", "Sun, 29 Nov 2026 12:00:00 GMT")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Content-Length", INVALID_INPUT_BODY.len())
        .header("Connection", "keep-alive")
        .header("x-amzn-RequestId", REQUEST_ID)
        .header(
            "X-Amzn-Errortype",
            "InvalidInputException:http://internal.amazon.com/coral/com.amazonaws.personalize.events/",
        )
        .body(INVALID_INPUT_BODY)
        .expect("response")
}

fn bench(c: &mut Criterion) {
    let ok = success();
    let err = invalid_input();
    // The inputs decode as the service means them.
    assert_eq!(
        decode_response(&ok).expect("success").as_deref(),
        Some(REQUEST_ID)
    );
    assert!(matches!(
        decode_response(&err),
        Err(Error::InvalidInput {
            message: Some(_),
            request_id: Some(_)
        })
    ));

    let mut g = c.benchmark_group("decode");
    g.bench_function("success_200", |b| {
        b.iter(|| black_box(decode_response(black_box(&ok))))
    });
    g.bench_function("invalid_input_400", |b| {
        b.iter(|| black_box(decode_response(black_box(&err))))
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
