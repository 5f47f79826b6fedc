//! The limits of retrying, through both clients:
//!
//! * when attempts run out, the call returns the **last** error, typed
//!   (a service error with its code, message and request id, a transport
//!   error of the right kind, or a modeled error that stops retrying);
//! * a failing endpoint **drains the retry quota**, after which calls stop
//!   retrying (one attempt each), and the quota **recovers** with successes;
//! * a stalled server cannot make a call outlive its **operation deadline**:
//!   the deadline, not the attempt budget, ends it (checked by the attempts
//!   the server saw, and exactly on the core's own clock);
//! * a response whose `Date` is 10 minutes off with a clock-skew error
//!   (403 `InvalidSignatureException`) gets **one corrected retry**, and
//!   later calls are signed with the corrected clock.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The AWS SDKs' standard retry quota as published (smithy-rs `TokenBucket`
/// `DEFAULT_CAPACITY = 500`; botocore `retries/standard.py` `RetryQuotaChecker`:
/// 500 initial tokens, 5 per retry, 10 per retry after a timeout, 1 back per
/// first-try success). Written out, not imported: a changed constant fails.
const QUOTA_INITIAL: u32 = 500;
const QUOTA_RETRY_COST: u32 = 5;
use personalize_events_core::{Error, Timeouts, TransportErrorKind, SIGNING_NAME};
use personalize_events_local::verify::{verify_request_with, VerifyParams};
use personalize_events_tests::fake_service::{self, reply, FakeService};
use personalize_events_tests::raw_server::{response, RawReply, RawServer};
use personalize_events_tests::time;
use rel_support::{events, Settings};

fn settings(url: &str) -> Settings {
    Settings::new(url, fake_service::credentials())
}

#[test]
fn exhausted_attempts_return_the_last_error_typed() {
    for which in ["blocking", "async"] {
        let pick = |s: Settings| match which {
            "blocking" => s.blocking(),
            _ => s.hyper(rel_support::runtime()),
        };

        // Three service errors: the third is returned, with its details.
        let server = FakeService::script(vec![
            reply::error(500, "InternalFailure", "first"),
            reply::error(429, "ThrottlingException", "second"),
            reply::error(503, "ServiceUnavailableException", "third"),
        ]);
        let c = pick(settings(&server.url()));
        let e = c.put_events(events()).unwrap_err();
        assert!(
            matches!(&e, Error::Service { status: 503, code: Some(code), .. } if code == "ServiceUnavailableException"),
            "{which}: {e:?}"
        );
        assert_eq!(e.message(), Some("third"), "{which}");
        assert_eq!(e.request_id(), Some("req-2"), "{which}");
        assert!(e.is_retryable(), "{which}: still a retryable kind");
        assert_eq!(server.requests().len(), 3, "{which}");
        assert_eq!(
            c.core().retry_quota_available(),
            QUOTA_INITIAL - 2 * QUOTA_RETRY_COST,
            "{which}: two retries paid, none refunded"
        );

        // Connections reset three times: a transport error of kind Io.
        let server = FakeService::script(vec![reply::reset(), reply::reset(), reply::reset()]);
        let e = pick(settings(&server.url()))
            .put_events(events())
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Io,
                    ..
                }
            ),
            "{which}: {e:?}"
        );
        assert_eq!(server.requests().len(), 3, "{which}");

        // Three stalls past the attempt timeout: a transport timeout.
        let server = FakeService::script(
            (0..3)
                .map(|_| reply::stall(Duration::from_secs(3)))
                .collect(),
        );
        let s = settings(&server.url()).timeouts(
            Timeouts::default()
                .with_attempt(Duration::from_millis(200))
                .with_operation(Duration::from_secs(10)),
        );
        let e = pick(s).put_events(events()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Timeout,
                    ..
                }
            ),
            "{which}: {e:?}"
        );
        assert_eq!(server.requests().len(), 3, "{which}");

        // A modeled error ends the retries at once, whatever is left.
        let server = FakeService::script(vec![
            reply::status(503),
            reply::error(400, "InvalidInputException", "bad tracking id"),
            reply::ok(),
        ]);
        let e = pick(settings(&server.url()).attempts(5))
            .put_events(events())
            .unwrap_err();
        assert_eq!(
            e,
            Error::InvalidInput {
                message: Some("bad tracking id".into()),
                request_id: Some("req-1".into())
            },
            "{which}"
        );
        assert_eq!(server.requests().len(), 2, "{which}");
    }
}

#[test]
fn a_failing_endpoint_drains_the_quota_then_calls_stop_retrying_until_successes_refill_it() {
    for which in ["blocking", "async"] {
        let failing = Arc::new(AtomicBool::new(true));
        let f = failing.clone();
        let server = FakeService::signed(move |_| {
            if f.load(Ordering::SeqCst) {
                reply::error(503, "ServiceUnavailableException", "down")
            } else {
                reply::ok()
            }
        });
        let s = settings(&server.url());
        let c = match which {
            "blocking" => s.blocking(),
            _ => s.hyper(rel_support::runtime()),
        };
        let requests = || server.requests().len();

        // 3 attempts, so a failing call pays 2 retries (10 tokens):
        // 500 tokens last 50 calls.
        let mut calls = 0;
        while c.core().retry_quota_available() >= QUOTA_RETRY_COST {
            let before = requests();
            assert!(c.put_events(events()).is_err());
            let sent = requests() - before;
            calls += 1;
            assert!(sent >= 2, "{which}: call {calls} retried {sent} times");
            assert!(calls <= 60, "{which}: the quota never drained");
        }
        assert_eq!(calls, 50, "{which}");
        assert_eq!(c.core().retry_quota_available(), 0, "{which}");

        // Drained: each call makes one attempt and returns its error.
        for _ in 0..5 {
            let before = requests();
            let e = c.put_events(events()).unwrap_err();
            assert_eq!(e.status(), Some(503), "{which}");
            assert_eq!(requests() - before, 1, "{which}: no retry without quota");
        }

        // The endpoint recovers: each success without a retry adds a token.
        failing.store(false, Ordering::SeqCst);
        for i in 1..=12 {
            c.put_events(events()).expect("a success");
            assert_eq!(c.core().retry_quota_available(), i, "{which}");
        }
        // 12 tokens pay for two retries again.
        failing.store(true, Ordering::SeqCst);
        let before = requests();
        assert!(c.put_events(events()).is_err());
        assert_eq!(requests() - before, 3, "{which}: retries are back");
        assert_eq!(c.core().retry_quota_available(), 2, "{which}");
    }
}

/// A hang guard only: a call that ignored its deadline would run ten
/// attempts into a server that stalls each one for 10 s. Never a measure.
const HANG_GUARD: Duration = Duration::from_secs(60);

#[test]
fn a_stalled_server_cannot_make_a_call_outlive_its_deadline() {
    let server = FakeService::signed(|_| reply::stall(Duration::from_secs(10)));
    // Short attempts retried until the deadline; then one attempt longer
    // than the whole deadline. Each case: at most this many attempts fit
    // (every attempt lasts its full timeout against a stall), 10 allowed.
    let cases = [
        (Duration::from_millis(250), Duration::from_millis(900), 4),
        (Duration::from_secs(10), Duration::from_millis(700), 1),
    ];
    for (attempt, operation, fit) in cases {
        let s = settings(&server.url()).attempts(10).timeouts(
            Timeouts::default()
                .with_attempt(attempt)
                .with_operation(operation),
        );
        let before = server.requests().len();
        for c in s.both() {
            for _ in 0..2 {
                let started = Instant::now();
                let e = c.put_events(events()).unwrap_err();
                assert!(started.elapsed() < HANG_GUARD, "{}: hung: {e}", c.name());
                assert!(
                    matches!(
                        e,
                        Error::OperationTimeout { .. }
                            | Error::Transport {
                                kind: TransportErrorKind::Timeout,
                                ..
                            }
                    ),
                    "{}: {e:?}",
                    c.name()
                );
            }
        }
        // The deadline, not the attempt budget, ended each call: counted by
        // call (its invocation id), so that a request the server records
        // late only lowers a count.
        let mut per_call = std::collections::HashMap::<String, usize>::new();
        for r in &server.requests()[before..] {
            let id = r.headers["amz-sdk-invocation-id"].to_str().unwrap();
            *per_call.entry(id.to_owned()).or_default() += 1;
        }
        assert!(!per_call.is_empty() && per_call.len() <= 4, "{per_call:?}");
        for (id, sent) in per_call {
            assert!(
                sent <= fit,
                "{id}: {sent} attempts for a deadline of {operation:?}"
            );
        }
    }
}

/// The same deadline on the core's own clock, exactly: attempts against a
/// stall each last their timeout, the last one is clipped to what is left,
/// and the call ends at the deadline, not before and not after.
#[test]
fn the_deadline_ends_a_stalled_call_exactly_on_the_cores_clock() {
    use personalize_events_core::{
        ClientConfig, ClientCore, Credentials, Event, Poll, PutEventsInput, RetryConfig,
    };
    let cases = [
        // (deadline, attempt timeout, the timeouts the attempts get), in ms
        (900, 250, vec![250, 250, 250, 150]),
        (700, 10_000, vec![700]),
    ];
    for (operation, attempt, expected) in cases {
        let (operation, attempt) = (
            Duration::from_millis(operation),
            Duration::from_millis(attempt),
        );
        let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
        cfg.timeouts = Timeouts::default()
            .with_attempt(attempt)
            .with_operation(operation);
        cfg.retry = RetryConfig::default().with_max_attempts(10);
        let core = ClientCore::new(cfg).unwrap();
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None);
        let input = PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        let t0 = Instant::now();
        let mut now = t0;
        let mut call = core.call(&input, now, 7).unwrap();
        let mut timeouts = Vec::new();
        let e = loop {
            assert!(timeouts.len() <= 10, "bounded");
            // Jitter 0: every retry starts at once.
            match call.poll(now, SystemTime::now(), &creds, 0.0) {
                Poll::Send(s) => {
                    assert!(now < t0 + operation, "an attempt at the deadline");
                    timeouts.push(s.timeout.as_millis() as u64);
                    now += s.timeout;
                    call.handle_transport_error(
                        now,
                        Error::transport(TransportErrorKind::Timeout, "stalled"),
                    );
                }
                Poll::Wait(d) => now += d,
                Poll::Done(r) => break r.unwrap_err(),
            }
        };
        assert_eq!(timeouts, expected, "{operation:?}");
        // It ran until the deadline: no earlier give-up, no later.
        assert_eq!(now, t0 + operation);
        match e {
            Error::OperationTimeout {
                elapsed_ms,
                attempts,
                ..
            } => {
                assert_eq!(elapsed_ms, operation.as_millis() as u64);
                assert_eq!(attempts as usize, expected.len());
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A server whose clock runs `offset` ahead: it refuses signatures more
/// than 5 minutes off its clock with 403 `InvalidSignatureException` and
/// its own `Date`, as AWS does, and accepts the rest.
fn skewed_server(offset: Duration) -> RawServer {
    RawServer::start(move |req| {
        let server_now = SystemTime::now() + offset;
        let mut r = http::Request::new(&req.body[..]);
        *r.method_mut() = http::Method::from_bytes(req.method.as_bytes()).unwrap();
        *r.uri_mut() = req.path.parse().unwrap();
        *r.headers_mut() = req.headers.clone();
        let params = VerifyParams {
            service: SIGNING_NAME,
            region: None,
            now: server_now,
            max_skew: Duration::from_secs(300),
        };
        let date = time::http_date(server_now);
        let verdict = verify_request_with(
            &r,
            |id| (id == fake_service::ACCESS_KEY_ID).then(fake_service::credentials),
            &params,
        );
        let reply = match verdict {
            Ok(_) => response(200, &[("date", date.as_bytes())], b""),
            Err(e) => response(
                403,
                &[
                    ("x-amzn-errortype", e.code().as_bytes()),
                    ("date", date.as_bytes()),
                    ("content-type", b"application/json"),
                ],
                serde_json::json!({ "message": e.message() })
                    .to_string()
                    .as_bytes(),
            ),
        };
        RawReply::keep(reply)
    })
}

#[test]
fn a_skewed_clock_is_corrected_by_one_retry_and_kept_for_later_calls() {
    let offset = Duration::from_secs(600);
    for which in ["blocking", "async"] {
        let server = skewed_server(offset);
        // The correction is a retry like any other: it needs a spare attempt.
        let s = settings(&server.url());
        let c = match which {
            "blocking" => s.blocking(),
            _ => s.hyper(rel_support::runtime()),
        };
        c.put_events(events())
            .unwrap_or_else(|e| panic!("{which}: {e}"));
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "{which}: the refused attempt and its retry");
        let skew = c.core().clock_skew_ms();
        assert!(
            (598_000..=602_000).contains(&skew),
            "{which}: learnt skew {skew} ms"
        );
        let signed_at = |i: usize| {
            time::parse_amz_date(server.requests()[i].header("x-amz-date").unwrap()).unwrap()
        };
        let off_by = |t: SystemTime, want: SystemTime| {
            t.duration_since(want)
                .unwrap_or_else(|e| e.duration())
                .as_secs()
        };
        assert!(off_by(signed_at(0), SystemTime::now()) <= 5, "{which}");
        assert!(
            off_by(signed_at(1), SystemTime::now() + offset) <= 5,
            "{which}"
        );

        // Later calls are signed with the corrected clock from the start.
        for n in 0..3 {
            c.put_events(events())
                .unwrap_or_else(|e| panic!("{which}: {e}"));
            assert_eq!(server.requests().len(), 3 + n, "{which}: no refusal");
            assert!(
                off_by(signed_at(2 + n), SystemTime::now() + offset) <= 5,
                "{which}"
            );
        }
        // The corrected retry's cost came back with its success.
        assert!(c.core().retry_quota_available() >= QUOTA_INITIAL - QUOTA_RETRY_COST);
    }
}

#[test]
fn a_signature_refusal_with_an_agreeing_clock_is_not_retried() {
    // Date agrees with ours: the refusal is not about the clock (a wrong
    // secret), so there is nothing to correct and nothing to retry.
    let server = skewed_server(Duration::ZERO);
    let mut s = settings(&server.url());
    s.credentials = personalize_events_core::Credentials::new(
        fake_service::ACCESS_KEY_ID,
        "not-the-secret",
        None,
    );
    for c in s.both() {
        let before = server.request_count();
        let e = c.put_events(events()).unwrap_err();
        assert_eq!(e.code(), Some("InvalidSignatureException"), "{}", c.name());
        assert_eq!(e.status(), Some(403));
        assert_eq!(server.request_count() - before, 1, "{}", c.name());
        assert!(c.core().clock_skew_ms().abs() < 2000, "{}", c.name());
    }
}
