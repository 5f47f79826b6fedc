//! The `Call`'s retry decisions at the edges: the operation deadline, the
//! retry quota and clock-skew correction. Time is driven through the core's
//! own `now` and `wall` arguments, so nothing here depends on machine speed.
#![allow(clippy::disallowed_methods)] // one real Instant to start from

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::{
    ClientConfig, ClientCore, Credentials, Error, Event, Poll, PutEventsInput, PutEventsOutput,
    RetryConfig, Timeouts, TransportErrorKind,
};

/// The HTTP `Date` header (IMF-fixdate) a service sends.
fn http_date(t: SystemTime) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from(t).format(fmt).unwrap()
}

/// The AWS SDKs' retry quota as published (smithy-rs
/// `aws-smithy-runtime` `TokenBucket`: `DEFAULT_CAPACITY = 500`; botocore
/// `retries/standard.py` `RetryQuotaChecker`: `_INITIAL_RETRY_TOKENS = 500`,
/// `_RETRY_COST = 5`, `_TIMEOUT_RETRY_COST = 10`, `_NO_RETRY_INCREMENT = 1`).
const INITIAL: u32 = 500;
const RETRY_COST: u32 = 5;

fn core(timeouts: Timeouts, retry: RetryConfig) -> ClientCore {
    let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
    cfg.timeouts = timeouts;
    cfg.retry = retry;
    ClientCore::new(cfg).unwrap()
}

fn input() -> PutEventsInput {
    PutEventsInput::new("tracking", "session").event(Event::new("click", UNIX_EPOCH))
}

fn creds() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "secret", None)
}

/// 2026-11-29T12:00:00Z, a whole second (as `Date` has).
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

fn status(code: u16) -> http::Response<&'static [u8]> {
    http::Response::builder()
        .status(code)
        .body(&b""[..])
        .unwrap()
}

/// A 403 `InvalidSignatureException` stamped with `date`, plus `extra` headers.
fn bad_signature(date: SystemTime, extra: &[(&str, &str)]) -> http::Response<&'static [u8]> {
    let mut b = http::Response::builder()
        .status(403)
        .header("x-amzn-errortype", "InvalidSignatureException")
        .header("date", http_date(date));
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(&br#"{"message":"Signature expired"}"#[..]).unwrap()
}

fn sent(p: Poll<PutEventsOutput>) -> personalize_events_core::SendRequest {
    match p {
        Poll::Send(s) => s,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn x_amz_date(s: &personalize_events_core::SendRequest) -> String {
    s.request.headers()["x-amz-date"]
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_attempt_that_times_out_at_the_deadline_takes_no_retry_token() {
    let core = core(
        Timeouts::default().with_operation(Duration::from_secs(10)),
        RetryConfig::default(),
    );
    let mut now = Instant::now();
    let start = now;
    let mut call = core.call(&input(), now, 1).unwrap();
    let s = sent(call.poll(now, wall(), &creds(), 0.5));
    assert_eq!(s.timeout, Duration::from_secs(10));
    now += s.timeout;
    call.handle_transport_error(
        now,
        Error::transport(TransportErrorKind::Timeout, "stalled"),
    );
    match call.poll(now, wall(), &creds(), 0.5) {
        Poll::Done(Err(Error::OperationTimeout { attempts, .. })) => assert_eq!(attempts, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(now - start, Duration::from_secs(10));
    assert_eq!(core.retry_quota_available(), INITIAL);
}

#[test]
fn fifty_stalled_calls_leave_the_quota_full() {
    let core = core(
        Timeouts::default().with_operation(Duration::from_secs(10)),
        RetryConfig::default(),
    );
    for i in 0..50 {
        let mut now = Instant::now();
        let mut call = core.call(&input(), now, i).unwrap();
        let s = sent(call.poll(now, wall(), &creds(), 0.5));
        now += s.timeout;
        call.handle_transport_error(
            now,
            Error::transport(TransportErrorKind::Timeout, "stalled"),
        );
        assert!(matches!(
            call.poll(now, wall(), &creds(), 0.5),
            Poll::Done(Err(_))
        ));
    }
    assert_eq!(core.retry_quota_available(), INITIAL);
}

#[test]
fn a_backoff_past_the_deadline_ends_the_call_at_once_with_the_last_error() {
    // Full jitter 1.0: the first backoff is 1 s, past the 700 ms deadline.
    let core = core(
        Timeouts::default().with_operation(Duration::from_millis(700)),
        RetryConfig::default(),
    );
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 1.0));
    call.handle_response(now, wall(), status(503));
    match call.poll(now, wall(), &creds(), 1.0) {
        Poll::Done(Err(e)) => assert_eq!(e.status(), Some(503), "{e}"),
        other => panic!("expected the 503 at once, got {other:?}"),
    }
    assert_eq!(call.attempts(), 1);
    assert_eq!(core.retry_quota_available(), INITIAL);
}

#[test]
fn a_backoff_that_ends_before_the_deadline_is_waited_and_paid_for() {
    // Jitter 0.25: 250 ms fits in 700 ms; the next backoff (500 ms, from
    // 250 ms) would end at 750 ms and is not started.
    let core = core(
        Timeouts::default().with_operation(Duration::from_millis(700)),
        RetryConfig::default().with_max_attempts(10),
    );
    let mut now = Instant::now();
    let start = now;
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.25));
    call.handle_response(now, wall(), status(503));
    match call.poll(now, wall(), &creds(), 0.25) {
        Poll::Wait(d) => {
            assert_eq!(d, Duration::from_millis(250));
            now += d;
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(core.retry_quota_available(), INITIAL - RETRY_COST);
    let s = sent(call.poll(now, wall(), &creds(), 0.25));
    assert_eq!(s.attempt, 2);
    assert_eq!(s.timeout, Duration::from_millis(450));
    call.handle_response(now, wall(), status(503));
    match call.poll(now, wall(), &creds(), 0.25) {
        Poll::Done(Err(e)) => assert_eq!(e.status(), Some(503), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(now - start, Duration::from_millis(250));
    // The second retry took nothing; the first one's cost is spent.
    assert_eq!(core.retry_quota_available(), INITIAL - RETRY_COST);
}

#[test]
fn concurrent_calls_signed_with_a_stale_clock_all_retry_once() {
    let core = core(Timeouts::default(), RetryConfig::default());
    let now = Instant::now();
    let server = wall() + Duration::from_secs(600);
    let mut calls: Vec<_> = (0..3)
        .map(|i| core.call(&input(), now, i).unwrap())
        .collect();
    // All three are signed before any answer arrives.
    for c in &mut calls {
        let s = sent(c.poll(now, wall(), &creds(), 0.5));
        assert_eq!(x_amz_date(&s), "20261129T120000Z");
    }
    for c in &mut calls {
        c.handle_response(now, wall(), bad_signature(server, &[]));
        let s = sent(c.poll(now, wall(), &creds(), 0.5));
        assert_eq!(s.attempt, 2);
        assert_eq!(x_amz_date(&s), "20261129T121000Z");
    }
    assert_eq!(core.clock_skew_ms(), 600_000);
}

#[test]
fn a_second_or_two_of_date_rounding_is_no_reason_to_retry() {
    // A wrong secret with clocks in sync: the service's `Date` is 2 s ahead.
    let core = core(Timeouts::default(), RetryConfig::default());
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.5));
    call.handle_response(
        now,
        wall(),
        bad_signature(wall() + Duration::from_secs(2), &[]),
    );
    match call.poll(now, wall(), &creds(), 0.5) {
        Poll::Done(Err(e)) => assert_eq!(e.code(), Some("InvalidSignatureException")),
        other => panic!("expected no retry, got {other:?}"),
    }
    assert_eq!(core.clock_skew_ms(), 0);
}

#[test]
fn a_skew_under_four_minutes_is_not_corrected() {
    let core = core(Timeouts::default(), RetryConfig::default());
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.5));
    call.handle_response(
        now,
        wall(),
        bad_signature(wall() + Duration::from_secs(239), &[]),
    );
    assert!(matches!(
        call.poll(now, wall(), &creds(), 0.5),
        Poll::Done(Err(_))
    ));
    assert_eq!(core.clock_skew_ms(), 0);
    // Four minutes exactly is corrected.
    let mut call = core.call(&input(), now, 2).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.5));
    call.handle_response(
        now,
        wall(),
        bad_signature(wall() + Duration::from_secs(240), &[]),
    );
    assert_eq!(sent(call.poll(now, wall(), &creds(), 0.5)).attempt, 2);
    assert_eq!(core.clock_skew_ms(), 240_000);
}

#[test]
fn skew_is_measured_against_the_midpoint_of_the_attempt() {
    // Sent at T, answered at T + 20 s; the service stamped T + 10 s + 5 min.
    let core = core(Timeouts::default(), RetryConfig::default());
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.5));
    let received = wall() + Duration::from_secs(20);
    call.handle_response(
        now,
        received,
        bad_signature(wall() + Duration::from_secs(310), &[]),
    );
    sent(call.poll(now, received, &creds(), 0.5));
    assert_eq!(core.clock_skew_ms(), 300_000);
}

#[test]
fn a_response_that_may_be_cached_teaches_no_skew() {
    let core = core(Timeouts::default(), RetryConfig::default());
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    sent(call.poll(now, wall(), &creds(), 0.5));
    call.handle_response(
        now,
        wall(),
        bad_signature(wall() + Duration::from_secs(600), &[("age", "30")]),
    );
    assert!(matches!(
        call.poll(now, wall(), &creds(), 0.5),
        Poll::Done(Err(_))
    ));
    assert_eq!(core.clock_skew_ms(), 0);
}
