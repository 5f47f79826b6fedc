//! Unit tests of the `Call` state machine and `ClientCore`.
use super::*;
use crate::client_core::{ClientConfig, Timeouts};
use crate::retry::RetryConfig;
use crate::{Event, PutEventsInput, PutEventsOutput};
use std::time::UNIX_EPOCH;

fn core_with(retry: RetryConfig) -> ClientCore {
    let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
    cfg.retry = retry;
    ClientCore::new(cfg).unwrap()
}

fn input() -> PutEventsInput {
    PutEventsInput::new("tracking", "session").event(Event::new("click", UNIX_EPOCH))
}

fn creds() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "secret", None)
}

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

fn status(code: u16) -> http::Response<&'static [u8]> {
    http::Response::builder()
        .status(code)
        .body(&b""[..])
        .unwrap()
}

/// Drives a call with scripted outcomes; returns the result and the attempts.
fn drive(
    core: &ClientCore,
    mut script: Vec<Result<http::Response<&'static [u8]>, Error>>,
) -> (Result<PutEventsOutput, Error>, u32, Duration) {
    let mut now = Instant::now();
    let start = now;
    let mut call = core.call(&input(), now, 7).unwrap();
    script.reverse();
    loop {
        match call.poll(now, wall(), &creds(), 0.5) {
            Poll::Send(s) => {
                assert_eq!(s.request.uri().path(), "/events");
                assert!(s.request.headers().contains_key("authorization"));
                match script.pop().expect("script ran out") {
                    Ok(r) => call.handle_response(now, wall(), r),
                    Err(e) => call.handle_transport_error(now, e),
                }
            }
            Poll::Wait(d) => now += d,
            Poll::Done(r) => return (r, call.attempts(), now - start),
        }
    }
}

#[test]
fn success_first_time() {
    let core = core_with(RetryConfig::default());
    let r = http::Response::builder()
        .status(200)
        .header("x-amzn-RequestId", "rid")
        .body(&b""[..])
        .unwrap();
    let (out, attempts, _) = drive(&core, vec![Ok(r)]);
    assert_eq!(out.unwrap().request_id.as_deref(), Some("rid"));
    assert_eq!(attempts, 1);
    assert_eq!(core.retry_quota_available(), 500);
}

#[test]
fn retries_transient_then_succeeds_with_backoff() {
    let core = core_with(RetryConfig::default());
    let reset = Error::transport(TransportErrorKind::Io, "connection reset");
    let (out, attempts, waited) = drive(&core, vec![Ok(status(503)), Err(reset), Ok(status(200))]);
    assert!(out.is_ok());
    assert_eq!(attempts, 3);
    // jitter 0.5: 0.5 s after the first failure, 1 s after the second.
    assert_eq!(waited, Duration::from_millis(1500));
    assert_eq!(core.retry_quota_available(), 495);
}

#[test]
fn modeled_errors_are_not_retried() {
    let core = core_with(RetryConfig::default());
    let r = http::Response::builder()
        .status(400)
        .header("x-amzn-errortype", "InvalidInputException")
        .body(&br#"{"message":"no"}"#[..])
        .unwrap();
    let (out, attempts, _) = drive(&core, vec![Ok(r)]);
    assert!(matches!(out, Err(Error::InvalidInput { .. })));
    assert_eq!(attempts, 1);
}

#[test]
fn attempts_exhausted_gives_last_error() {
    let core = core_with(RetryConfig::default().with_max_attempts(2));
    let (out, attempts, _) = drive(&core, vec![Ok(status(500)), Ok(status(429))]);
    assert_eq!(out.unwrap_err().status(), Some(429));
    assert_eq!(attempts, 2);
}

#[test]
fn drained_quota_stops_retries() {
    let core = core_with(RetryConfig::default().with_max_attempts(2));
    while core.shared.quota.try_acquire(5) {}
    let (out, attempts, _) = drive(&core, vec![Ok(status(503))]);
    assert_eq!(out.unwrap_err().status(), Some(503));
    assert_eq!(attempts, 1);
}

#[test]
fn a_dropped_call_gives_back_its_retry_cost() {
    let core = core_with(RetryConfig::default());
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    let Poll::Send(_) = call.poll(now, wall(), &creds(), 0.5) else {
        panic!()
    };
    call.handle_response(now, wall(), status(503));
    // The retry's cost is taken once its backoff is known to fit.
    assert!(matches!(
        call.poll(now, wall(), &creds(), 0.5),
        Poll::Wait(_)
    ));
    assert_eq!(core.retry_quota_available(), 495);
    drop(call);
    assert_eq!(core.retry_quota_available(), 500);
}

#[test]
fn operation_deadline_holds() {
    let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
    cfg.timeouts = Timeouts::default().with_operation(Duration::from_millis(700));
    cfg.retry = RetryConfig::default().with_max_attempts(10);
    let core = ClientCore::new(cfg).unwrap();
    let mut now = Instant::now();
    let start = now;
    let mut call = core.call(&input(), now, 1).unwrap();
    // Attempts that answer slowly (250 ms each), backoffs of 50 and
    // 100 ms (jitter 0.05), and a third attempt the deadline cuts short.
    loop {
        match call.poll(now, wall(), &creds(), 0.05) {
            Poll::Send(s) => {
                assert!(s.timeout <= Duration::from_millis(700));
                assert!(now + s.timeout <= start + Duration::from_millis(700));
                if s.timeout < Duration::from_millis(250) {
                    now += s.timeout;
                    call.handle_transport_error(
                        now,
                        Error::transport(TransportErrorKind::Timeout, "attempt timeout"),
                    );
                } else {
                    now += Duration::from_millis(250);
                    call.handle_response(now, wall(), status(503));
                }
            }
            Poll::Wait(d) => now += d,
            Poll::Done(r) => {
                let e = r.unwrap_err();
                assert!(matches!(e, Error::OperationTimeout { .. }), "{e}");
                assert!(e.to_string().contains("timeout"), "{e}");
                assert_eq!(now - start, Duration::from_millis(700));
                assert_eq!(call.attempts(), 3);
                return;
            }
        }
    }
}

#[test]
fn clock_skew_is_learnt_and_kept() {
    let core = core_with(RetryConfig::default());
    let server = wall() + Duration::from_secs(600);
    let date = crate::time::http_date(server);
    let skewed = http::Response::builder()
        .status(403)
        .header("x-amzn-errortype", "InvalidSignatureException")
        .header("date", date.as_str())
        .body(&br#"{"message":"Signature expired"}"#[..])
        .unwrap();
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    let Poll::Send(first) = call.poll(now, wall(), &creds(), 0.5) else {
        panic!()
    };
    assert_eq!(first.request.headers()["x-amz-date"], "20261129T120000Z");
    call.handle_response(now, wall(), skewed);
    let Poll::Send(second) = call.poll(now, wall(), &creds(), 0.5) else {
        panic!("no immediate retry")
    };
    assert_eq!(second.request.headers()["x-amz-date"], "20261129T121000Z");
    assert_eq!(core.clock_skew(), Duration::from_secs(600));
    // Later calls sign with the corrected clock too.
    let mut next = core.call(&input(), now, 2).unwrap();
    let Poll::Send(s) = next.poll(now, wall(), &creds(), 0.5) else {
        panic!()
    };
    assert_eq!(s.request.headers()["x-amz-date"], "20261129T121000Z");
}

#[test]
fn an_absurd_date_is_not_learnt_as_skew() {
    let core = core_with(RetryConfig::default());
    let far = http::Response::builder()
        .status(403)
        .header("x-amzn-errortype", "InvalidSignatureException")
        .header("date", "Fri, 31 Dec 9999 23:59:59 GMT")
        .body(&b""[..])
        .unwrap();
    let now = Instant::now();
    let mut call = core.call(&input(), now, 1).unwrap();
    let Poll::Send(_) = call.poll(now, wall(), &creds(), 0.5) else {
        panic!()
    };
    call.handle_response(now, wall(), far);
    assert!(matches!(
        call.poll(now, wall(), &creds(), 0.5),
        Poll::Done(Err(_))
    ));
    assert_eq!(core.clock_skew_ms(), 0);
}

#[test]
fn event_ids_are_filled_once_for_all_attempts() {
    let core = core_with(RetryConfig::default());
    let call = core.call(&input(), Instant::now(), 42).unwrap();
    let body: serde_json::Value = serde_json::from_slice(call.body()).unwrap();
    let id = body["eventList"][0]["eventId"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
    cfg.fill_event_ids = false;
    let core = ClientCore::new(cfg).unwrap();
    let call = core.call(&input(), Instant::now(), 42).unwrap();
    assert!(!String::from_utf8_lossy(call.body()).contains("eventId"));
}

#[test]
fn bad_input_fails_before_any_request() {
    let core = core_with(RetryConfig::default());
    let e = core
        .call(&PutEventsInput::new("t", "s"), Instant::now(), 0)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "eventList: has 0 entries, below the minimum 1"
    );
}
