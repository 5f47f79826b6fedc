//! One stage of encode+sign in a loop, for instruction counts under
//! `valgrind --tool=callgrind` (which do not drift with the machine's load):
//! `count_stages N ours|whole|design|body|validate|encode`.
use std::hint::black_box;
use std::time::Instant;

use personalize_events_benches::*;
use personalize_events_core::{Encode, Poll, Validate};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let stage = args.next().unwrap_or_else(|| "ours".into());
    let items = args.next().as_deref() == Some("items");
    let core = client_core();
    let ev = put_events(10);
    let it = put_items(10);
    let creds = credentials();
    for _ in 0..n {
        match (stage.as_str(), items) {
            ("ours", false) => {
                let now = Instant::now();
                let mut call = core.call(&ev, now, 1).expect("valid");
                if let Poll::Send(s) = call.poll(now, wall(), &creds, 0.5) {
                    black_box(s);
                }
            }
            ("ours", true) => {
                let now = Instant::now();
                let mut call = core.call(&it, now, 1).expect("valid");
                if let Poll::Send(s) = call.poll(now, wall(), &creds, 0.5) {
                    black_box(s);
                }
            }
            ("whole", false) => drop(black_box(whole_call(&core, &ev, &creds))),
            ("design", false) => drop(black_box(floor::put_events_design_floor(&ev))),
            ("design", true) => drop(black_box(floor::put_items_design_floor(&it))),
            ("body", false) => drop(black_box(floor::put_events_body(&ev))),
            ("body", true) => drop(black_box(floor::put_items_body(&it))),
            ("validate", false) => black_box(&ev).validate().expect("valid"),
            ("validate", true) => black_box(&it).validate().expect("valid"),
            ("encode", false) => drop(black_box(black_box(&ev).encode())),
            ("encode", true) => drop(black_box(black_box(&it).encode())),
            _ => panic!("unknown stage"),
        }
    }
}
