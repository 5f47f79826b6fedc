//! A small, fast, non-cryptographic random source for backoff jitter and the
//! entropy that event ids are derived from.
//!
//! SplitMix64 over an atomic counter: lock-free, shared by every clone of a
//! client, seeded once from the standard library's per-process random
//! `RandomState` keys, the clock and the process id. Nothing here needs to be
//! unpredictable to an attacker; it needs to be well spread, so that event
//! ids of different processes do not collide and jitter decorrelates.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A shared SplitMix64 generator.
#[derive(Debug)]
pub(crate) struct Rng {
    state: AtomicU64,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded from the process's random hash keys, the clock
    /// and the process id.
    pub(crate) fn from_entropy() -> Self {
        let mut h = RandomState::new().build_hasher();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        Rng::with_seed(h.finish())
    }

    /// A generator with a fixed seed (for tests).
    pub(crate) fn with_seed(seed: u64) -> Self {
        Rng {
            state: AtomicU64::new(mix(seed)),
        }
    }

    /// 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        let s = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        mix(s)
    }

    /// 128 random bits.
    pub(crate) fn next_u128(&self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }

    /// A value in `[0, 1)`.
    pub(crate) fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_spread_and_in_range() {
        let r = Rng::with_seed(1);
        let mut seen = std::collections::HashSet::new();
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
            sum += f;
            assert!(seen.insert(r.next_u128()));
        }
        let mean = sum / 10_000.0;
        assert!((0.45..0.55).contains(&mean), "{mean}");
    }

    #[test]
    fn differently_seeded_generators_differ() {
        let a = Rng::from_entropy();
        let b = Rng::from_entropy();
        assert_ne!(a.next_u128(), b.next_u128());
    }
}
