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
    for _ in 0..n {
        let now = Instant::now();
        let mut call = core.call(input.clone(), now, 1).expect("valid");
        if let Poll::Send(s) = call.poll(now, wall(), &creds, 0.5) {
            total += s.request.body().len();
        }
    }
    println!("{total}");
}
