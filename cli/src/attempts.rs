//! The tool's tracing: counting the retries the client made, from its
//! spans, and with `--debug` or `RUST_LOG` the clients' own tracing output
//! on stderr.
//!
//! The blocking client records on each `personalize_events.call` span the
//! number of attempts the call took; the counting layer adds up
//! `attempts - 1` over all calls (for the summary's retries), whatever the
//! output filter says. Without `--debug` or `RUST_LOG` nothing else is
//! enabled, so the client's other spans and events cost nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Id, Record};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

static RETRIES: AtomicU64 = AtomicU64::new(0);

/// aws-sigv4 traces a presigned request's canonical query, session token
/// included, at TRACE (header values it redacts): that is never shown,
/// whatever RUST_LOG asks (the emulator's verifier checks presigned
/// requests too).
fn shown(m: &Metadata<'_>) -> bool {
    !(*m.level() == Level::TRACE && m.target().starts_with("aws_sigv4"))
}

/// The call span of the blocking client.
const CALL_SPAN: &str = "personalize_events.call";

/// Installs the global subscriber (once; later calls do nothing): the retry
/// counter, and with `debug` or `RUST_LOG` the clients' tracing output on
/// stderr, filtered by `RUST_LOG` (e.g. `personalize_events_blocking=trace`)
/// or, with `--debug` alone, at the debug level. A `RUST_LOG` that is not a
/// filter is an error.
pub fn install(debug: bool) -> Result<(), String> {
    let counter = Counter.with_filter(filter_fn(|m| m.is_span() && m.name() == CALL_SPAN));
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => Some(
            EnvFilter::builder()
                .parse(&v)
                .map_err(|e| format!("RUST_LOG `{v}` is not a filter: {e}"))?,
        ),
        _ if debug => Some(EnvFilter::new("debug")),
        _ => None,
    };
    let output = filter.map(|f| {
        // A span's fields (a call's operation, records, attempts, error)
        // are told when it closes, with its timing.
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_filter(f.and(filter_fn(shown)))
    });
    let _ = tracing::subscriber::set_global_default(Registry::default().with(counter).with(output));
    Ok(())
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

impl<S: Subscriber> Layer<S> for Counter {
    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        values.record(&mut Attempts);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::{Layer, Registry};

    struct Count(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> Layer<S> for Count {
        fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn aws_sigv4_trace_is_never_shown_whatever_rust_log_says() {
        for spec in [
            "trace",
            "aws_sigv4=trace",
            "aws_sigv4::http_request::sign=trace",
        ] {
            let seen = Arc::new(AtomicUsize::new(0));
            let f = EnvFilter::builder().parse(spec).unwrap();
            let layer = Count(seen.clone()).with_filter(f.and(filter_fn(super::shown)));
            tracing::subscriber::with_default(Registry::default().with(layer), || {
                tracing::trace!(target: "aws_sigv4::http_request::sign", "canonical request");
                tracing::debug!(target: "aws_sigv4::http_request::sign", "signing");
                tracing::trace!(target: "personalize_events_blocking", "ours");
            });
            let want = if spec == "trace" { 2 } else { 1 };
            assert_eq!(seen.load(Ordering::Relaxed), want, "{spec}");
        }
    }
}
