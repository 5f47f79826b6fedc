//! Counting the retries the client made, from its tracing spans.
//!
//! The blocking client records on each `personalize_events.call` span the
//! number of attempts the call took; this minimal subscriber adds up
//! `attempts - 1` over all calls. It enables nothing else, so the client's
//! other spans and events cost nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static RETRIES: AtomicU64 = AtomicU64::new(0);

/// The call span of the blocking client.
const CALL_SPAN: &str = "personalize_events.call";

/// Installs the counter as the global subscriber (once; later calls do
/// nothing).
pub fn install() {
    let _ = tracing::subscriber::set_global_default(Counter);
}

/// Retries made so far by every client of this process.
pub fn retries() -> u64 {
    RETRIES.load(Ordering::Relaxed)
}

struct Counter;

struct Attempts;

impl Visit for Attempts {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "attempts" && value > 0 {
            RETRIES.fetch_add(value - 1, Ordering::Relaxed);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, u64::try_from(value).unwrap_or(0));
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for Counter {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_span() && metadata.name() == CALL_SPAN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Attempts);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
