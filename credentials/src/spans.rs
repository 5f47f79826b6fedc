//! The tracing spans both clients open, written once: one
//! `personalize_events.call` span per call (fields `operation`, `records`,
//! `attempts`, `error`) and one `personalize_events.attempt` span per
//! attempt (`attempt`, `status`, `request_id`, `error`), both at `DEBUG`
//! (a busy service makes thousands of calls a second). Error fields hold
//! [`Error::label`](personalize_events_core::Error::label), never a message;
//! no field holds credentials, a header or a record.
//!
//! The spans are macros so that their target is the client crate that
//! opens them (`personalize_events_blocking`, `personalize_events_hyper`),
//! which is what a `RUST_LOG` filter names.

use personalize_events_core::Error;

/// Opens the `personalize_events.call` span of one call of operation `$op`
/// with `$input`: `call_span!(I, input)`. The caller needs `tracing`.
#[macro_export]
macro_rules! call_span {
    ($op:ty, $input:expr) => {
        ::tracing::debug_span!(
            "personalize_events.call",
            operation = <$op as $crate::__core::Operation>::NAME,
            records = $crate::__core::Operation::record_count(&$input),
            attempts = ::tracing::field::Empty,
            error = ::tracing::field::Empty,
        )
    };
}

/// Opens the `personalize_events.attempt` span of the `SendRequest` `$send`.
#[macro_export]
macro_rules! attempt_span {
    ($send:expr) => {
        ::tracing::debug_span!(
            "personalize_events.attempt",
            attempt = $send.attempt,
            status = ::tracing::field::Empty,
            request_id = ::tracing::field::Empty,
            error = ::tracing::field::Empty,
        )
    };
}

/// Records how a call ended on its span (see [`call_span!`]).
pub fn record_call(span: &tracing::Span, attempts: u32, error: Option<&Error>) {
    span.record("attempts", attempts);
    if let Some(e) = error {
        span.record("error", e.label().as_str());
    }
}

/// Records how an attempt ended on its span (see [`attempt_span!`]): the
/// status and request id of a response, or the error's label.
pub fn record_attempt<B>(span: &tracing::Span, result: &Result<http::Response<B>, Error>) {
    match result {
        Ok(response) => {
            span.record("status", response.status().as_u16());
            if let Some(id) = personalize_events_core::request_id(response.headers()) {
                span.record("request_id", id.as_str());
            }
        }
        Err(e) => {
            span.record("error", e.label().as_str());
        }
    }
}
