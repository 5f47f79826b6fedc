//! Rough time per stage of encode+sign (for finding what to optimise).
use std::hint::black_box;
use std::time::Instant;

use personalize_events_benches::*;
use personalize_events_core::{sign, Encode, Validate};

fn time(name: &str, n: u32, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!("{name:>28}: {best:>8.0} ns");
}

fn main() {
    let input = put_events(10);
    let body = input.encode();
    let creds = credentials();
    let cache = sign::SigningCache::new();
    time("validate", 20000, || black_box(&input).validate().unwrap());
    time("encode", 20000, || {
        black_box(black_box(&input).encode());
    });
    time("body clone", 20000, || {
        black_box(black_box(&body).clone());
    });
    time("sign (request prebuilt)", 20000, || {
        let mut req =
            http::Request::post("https://personalize-events.us-east-1.amazonaws.com/events")
                .header("host", "personalize-events.us-east-1.amazonaws.com")
                .header("content-type", "application/json")
                .body(body.clone())
                .unwrap();
        let p = sign::SigningParams {
            credentials: &creds,
            region: "us-east-1",
            service: "personalize",
            time: wall(),
        };
        sign::sign_request(&mut req, &p, &cache).unwrap();
        black_box(req);
    });
    time("sha256 body", 20000, || {
        black_box(ring::digest::digest(
            &ring::digest::SHA256,
            black_box(&body),
        ));
    });
    let mut pool: Vec<_> = (0..22000).map(|_| input.clone()).collect();
    time("drop an input (10 events)", 2000, || {
        drop(pool.pop());
    });
    time("floor", 20000, || {
        black_box(floor::put_events_floor(black_box(&input)));
    });
}
