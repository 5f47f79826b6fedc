//! Allocations per stage of encode+sign, for finding where they come from.
use std::time::Instant;

use personalize_events_benches::*;
use personalize_events_core::{Encode, Poll, Validate};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let core = client_core();
    let creds = credentials();
    for _ in 0..3 {
        let input = put_events(10);
        let r = Region::new(GLOBAL);
        input.validate().unwrap();
        println!("validate: {}", r.change().allocations);
        let r = Region::new(GLOBAL);
        let b = input.encode();
        println!(
            "encode: {} (len {} cap {})",
            r.change().allocations,
            b.len(),
            b.capacity()
        );
        let now = Instant::now();
        let r = Region::new(GLOBAL);
        let mut call = core.call(&input, now, 1).unwrap();
        println!("call(): {}", r.change().allocations);
        let r = Region::new(GLOBAL);
        let p = call.poll(now, wall(), &creds, 0.5);
        println!("poll(): {}", r.change().allocations);
        let r = Region::new(GLOBAL);
        drop(p);
        drop(call);
        println!("drop: {}", r.change().allocations);
    }
    let _ = Poll::<()>::Wait(std::time::Duration::ZERO);
}
