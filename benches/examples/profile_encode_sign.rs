//! A loop for profilers: `valgrind --tool=callgrind target/release/examples/profile_encode_sign`.
use std::time::Instant;

use personalize_events_benches::*;
use personalize_events_core::Poll;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let core = client_core();
    let input = put_events(10);
    let creds = credentials();
    let mut total = 0;
    if std::env::args().nth(2).as_deref() == Some("validate") {
        for _ in 0..n {
            personalize_events_core::Validate::validate(&input).expect("valid");
        }
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("encode") {
        for _ in 0..n {
            total += personalize_events_core::Encode::encode(&input).len();
        }
        println!("{total}");
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("floor") {
        for _ in 0..n {
            total += floor::put_events_floor(&input)[0] as usize;
        }
        println!("{total}");
        return;
    }
    let inputs: Vec<_> = (0..n).map(|_| input.clone()).collect();
    for input in inputs {
        let now = Instant::now();
        let mut call = core.call(&input, now, 1).expect("valid");
        if let Poll::Send(s) = call.poll(now, wall(), &creds, 0.5) {
            total += s.request.body().len();
        }
    }
    println!("{total}");
}
