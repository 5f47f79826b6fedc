//! A small non-cryptographic random source for backoff jitter and event-id
//! entropy: SplitMix64 over an atomic counter, seeded from std's randomly
//! keyed `RandomState`, the clocks, the process id and a process-wide counter.
//!
//! Nothing here needs to be unpredictable to an attacker: jitter only spreads
//! retries, and event ids only need to differ between calls.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Thread-safe SplitMix64.
#[derive(Debug)]
pub(crate) struct Rng {
    state: AtomicU64,
}

impl Rng {
    /// A generator seeded from everything cheap that differs between
    /// processes, clients and moments.
    pub(crate) fn new() -> Self {
        static CLIENTS: AtomicU64 = AtomicU64::new(0);
        let mut h = RandomState::new().build_hasher();
        SystemTime::now().hash(&mut h);
        Instant::now().hash(&mut h);
        std::process::id().hash(&mut h);
        std::thread::current().id().hash(&mut h);
        CLIENTS.fetch_add(1, Ordering::Relaxed).hash(&mut h);
        Rng::with_seed(h.finish())
    }

    /// A generator with a fixed seed (tests).
    pub(crate) fn with_seed(seed: u64) -> Self {
        Rng {
            state: AtomicU64::new(seed),
        }
    }

    pub(crate) fn next_u64(&self) -> u64 {
        let z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        mix(z)
    }

    /// A value in `[0, 1)`, for backoff jitter.
    pub(crate) fn jitter(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// 128 bits for a call's event ids and invocation id.
    pub(crate) fn entropy(&self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn jitter_stays_in_unit_interval_and_spreads() {
        let r = Rng::with_seed(1);
        let mut low = 0;
        for _ in 0..10_000 {
            let j = r.jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
            if j < 0.5 {
                low += 1;
            }
        }
        assert!((4_500..5_500).contains(&low), "{low}");
    }

    #[test]
    fn entropy_differs_between_calls_and_generators() {
        let a = Rng::new();
        let b = Rng::new();
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.entropy()));
            assert!(seen.insert(b.entropy()));
        }
    }

    #[test]
    fn shared_across_threads_without_repeats() {
        let r = Rng::with_seed(7);
        let all: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..500).map(|_| r.next_u64()).collect::<Vec<_>>()))
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let set: HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), 2000);
    }
}
