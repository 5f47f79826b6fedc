//! Both clients' tracing, the same spans with the same fields: a span per
//! call and per attempt with the operation, record count, attempt, status,
//! request id and an error label, and no secret, header or record payload in
//! any field.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use personalize_events_core::*;
use personalize_events_tests::clients::{Kind, Settings};
use personalize_events_tests::fake_service::{self, reply, FakeService};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event as TraceEvent, Metadata, Subscriber};

#[derive(Default)]
struct Seen {
    /// (span name, field name, value), from creation and later records.
    fields: Mutex<Vec<(String, String, String)>>,
    names: Mutex<Vec<(u64, String)>>,
    next: AtomicU64,
}

#[derive(Clone, Default)]
struct Capture(Arc<Seen>);

struct Collect<'a>(&'a Seen, String);
impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.fields.lock().unwrap().push((
            self.1.clone(),
            field.name().to_owned(),
            format!("{value:?}"),
        ));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.fields.lock().unwrap().push((
            self.1.clone(),
            field.name().to_owned(),
            value.to_owned(),
        ));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
        let name = attrs.metadata().name().to_owned();
        self.0.names.lock().unwrap().push((id, name.clone()));
        attrs.record(&mut Collect(&self.0, name));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &SpanRecord<'_>) {
        let name = self
            .0
            .names
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _)| *i == span.into_u64())
            .map(|(_, n)| n.clone())
            .unwrap_or_default();
        values.record(&mut Collect(&self.0, name));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &TraceEvent<'_>) {
        event.record(&mut Collect(&self.0, "event".into()));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

personalize_events_tests::client_tests!([blocking, async]: spans_name_the_call_and_attempts_but_no_secret_or_payload, failed_calls_carry_a_label_not_a_message);

fn spans_name_the_call_and_attempts_but_no_secret_or_payload(kind: Kind) {
    let server = FakeService::script(vec![reply::status(503), reply::ok()]);
    let client = Settings::for_server(&server)
        .retry(RetryConfig::default().with_initial_backoff(Duration::from_millis(5)))
        .build(kind, &server);
    let t = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
    let input = PutEventsInput::new("tracking-1", "session-1")
        .user_id("user-payload")
        .event(Event::new("click-payload", t).item_id("item-payload"))
        .event(Event::new("view-payload", t).properties(r#"{"k":"prop-payload"}"#));
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || client.put_events(input)).unwrap();

    let fields = capture.0.fields.lock().unwrap().clone();
    let has = |span: &str, field: &str, value: &str| {
        fields
            .iter()
            .any(|(s, f, v)| s == span && f == field && v == value)
    };
    // What a subscriber sees of the call and of each attempt.
    for (span, field, value) in [
        ("personalize_events.call", "operation", "PutEvents"),
        ("personalize_events.call", "records", "2"),
        ("personalize_events.call", "attempts", "2"),
        ("personalize_events.attempt", "attempt", "1"),
        ("personalize_events.attempt", "attempt", "2"),
        ("personalize_events.attempt", "status", "503"),
        ("personalize_events.attempt", "status", "200"),
        ("personalize_events.attempt", "request_id", "req-0"),
        ("personalize_events.attempt", "request_id", "req-1"),
    ] {
        assert!(
            has(span, field, value),
            "{span} {field}={value}: {fields:?}"
        );
    }

    let sent = &server.requests()[0];
    let signature = sent
        .header("authorization")
        .unwrap()
        .rsplit('=')
        .next()
        .unwrap()
        .to_owned();
    for (_, _, v) in &fields {
        for secret in [
            fake_service::SECRET_ACCESS_KEY,
            "AWS4-HMAC-SHA256",
            signature.as_str(),
            // Every record value ends in "-payload" (aws-sigv4's own trace
            // names its `payload_checksum_kind` setting, which is no record).
            "-payload",
        ] {
            assert!(!v.contains(secret), "field value {v:?} holds {secret:?}");
        }
    }
}

fn failed_calls_carry_a_label_not_a_message(kind: Kind) {
    let server = FakeService::script(vec![reply::error(
        400,
        "InvalidInputException",
        "bad-message-payload",
    )]);
    let client = Settings::for_server(&server).build(kind, &server);
    let input = PutEventsInput::new("tracking-1", "session-1").event(Event::new(
        "click",
        UNIX_EPOCH + Duration::from_secs(1_795_953_540),
    ));
    let capture = Capture::default();
    let e = tracing::subscriber::with_default(capture.clone(), || client.put_events(input))
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidInputException"));
    let fields = capture.0.fields.lock().unwrap().clone();
    let has = |span: &str, field: &str, value: &str| {
        fields
            .iter()
            .any(|(s, f, v)| s == span && f == field && v == value)
    };
    assert!(
        has("personalize_events.call", "error", "InvalidInputException"),
        "{fields:?}"
    );
    assert!(
        has("personalize_events.call", "attempts", "1"),
        "{fields:?}"
    );
    assert!(
        has("personalize_events.attempt", "status", "400"),
        "{fields:?}"
    );
    for (_, _, v) in &fields {
        assert!(
            !v.contains("bad-message-payload"),
            "field value {v:?} holds the message"
        );
    }
}
