//! Transient failures (503, 429, a reset connection, a stalled response)
//! are retried until a success, every attempt the same signed request;
//! once attempts run out the last error comes back; transport failures are
//! classified so that only what may succeed later is retried; timeouts
//! bound each attempt and the whole call. Every scenario runs through the
//! blocking client, the async client and (for retry decisions, on a
//! virtual clock) core's `Call` driven directly. Cancellation, which only
//! the async client has, is at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::Response;
use personalize_events_core::{Error, RetryConfig, TransportErrorKind};
use personalize_events_tests::client_tests;
use personalize_events_tests::clients::{events, AnyClient, Kind, Settings};
use personalize_events_tests::fake_service::{reply, FakeService, RecordedRequest};
use personalize_events_tests::raw_server::{RawReply, RawServer};

/// 3 attempts, 10 ms initial backoff, 300 ms per attempt, 5 s per call.
fn settings(server: &FakeService) -> Settings {
    Settings::for_server(server)
        .retry(
            RetryConfig::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .attempt_timeout(Duration::from_millis(300))
        .operation_timeout(Duration::from_secs(5))
}

fn client(kind: Kind, server: &FakeService) -> AnyClient {
    settings(server).build(kind, server)
}

/// Every attempt is the same signed request: same body (event ids
/// included), same invocation id, attempt numbers counting up.
fn assert_same_call(reqs: &[RecordedRequest]) {
    assert!(reqs.iter().all(RecordedRequest::signature_ok));
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.body, reqs[0].body, "the same body, event id included");
        assert_eq!(
            r.header("amz-sdk-invocation-id"),
            reqs[0].header("amz-sdk-invocation-id")
        );
        assert_eq!(
            r.header("amz-sdk-request"),
            Some(format!("attempt={}; max=3", i + 1).as_str())
        );
    }
}

/// Sends once against `first`, then 200: the retry goes through as the
/// same call.
fn retried_then_ok(kind: Kind, first: Response<Vec<u8>>) -> FakeService {
    let server = FakeService::script(vec![first, reply::ok()]);
    let out = client(kind, &server).put_events(events()).unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("amz-sdk-request"), Some("attempt=1; max=3"));
    assert_eq!(reqs[1].header("amz-sdk-request"), Some("attempt=2; max=3"));
    assert_same_call(&reqs);
    server
}

/// Polls `cond` for up to 2 s.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what}: not within 2 s");
}

client_tests!([blocking, async, call]:
    service_unavailable_is_retried,
    a_bare_503_is_retried,
    throttling_is_retried,
    a_throttling_code_is_retried_whatever_the_status,
    a_dropped_connection_is_retried,
    a_stall_times_out_and_is_retried,
    exhausted_attempts_give_the_last_error,
    exhausted_attempts_of_mixed_failures_give_the_last_one,
    dropped_connections_until_the_end_give_an_io_error,
    a_stall_gives_a_timeout_error_within_the_attempt_timeout,
    the_operation_timeout_bounds_the_whole_call,
    the_operation_timeout_cuts_an_attempt_short,
    clones_share_the_retry_quota,
);

// Sockets of their own: nothing listening, and a server that is not HTTP.
client_tests!([blocking, async]:
    a_refused_connection_is_retried_and_reported_as_connect,
    an_answer_that_is_not_http_is_retried_then_an_io_error,
);

fn service_unavailable_is_retried(kind: Kind) {
    retried_then_ok(
        kind,
        reply::error(503, "ServiceUnavailableException", "busy"),
    );
}

fn a_bare_503_is_retried(kind: Kind) {
    retried_then_ok(kind, reply::status(503));
}

fn throttling_is_retried(kind: Kind) {
    retried_then_ok(kind, reply::error(429, "ThrottlingException", "slow down"));
}

fn a_throttling_code_is_retried_whatever_the_status(kind: Kind) {
    let server = FakeService::script(vec![
        reply::error(429, "ThrottlingException", "slow down"),
        reply::error(400, "ThrottlingException", "slow down"),
        reply::ok(),
    ]);
    let out = client(kind, &server).put_events(events()).unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-2"));
    assert_same_call(&server.requests());
}

fn a_dropped_connection_is_retried(kind: Kind) {
    let server = retried_then_ok(kind, reply::reset());
    if kind != Kind::Call {
        let reqs = server.requests();
        assert_ne!(reqs[0].connection, reqs[1].connection, "a new connection");
        assert_eq!(server.connections(), 2, "a new connection after the reset");
    }
}

fn a_stall_times_out_and_is_retried(kind: Kind) {
    // The stall outlasts the whole operation (5 s): the call can only
    // succeed if the 300 ms attempt timeout ends the first attempt and the
    // retry goes out. No wall-clock threshold: the outcome says it.
    let server = retried_then_ok(kind, reply::stall(Duration::from_secs(10)));
    if kind != Kind::Call {
        let reqs = server.requests();
        assert_ne!(
            reqs[0].connection, reqs[1].connection,
            "the stalled connection is dropped"
        );
        // The timed-out attempt's connection was closed, not kept.
        wait_for("the server sees the hang-up", || server.hangups() == 1);
    }
}

fn exhausted_attempts_give_the_last_error(kind: Kind) {
    let server = FakeService::script(vec![
        reply::error(500, "InternalFailure", "first"),
        reply::error(502, "InternalFailure", "second"),
        reply::error(503, "ServiceUnavailableException", "third"),
        reply::ok(),
    ]);
    let c = client(kind, &server);
    let before = c.core().retry_quota_available();
    let e = c.put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert_eq!(e.message(), Some("third"));
    assert_eq!(e.request_id(), Some("req-2"));
    assert_eq!(server.request_count(), 3);
    // Two retries at 5 tokens each, not refunded by a failure.
    assert_eq!(c.core().retry_quota_available(), before - 10);
}

fn exhausted_attempts_of_mixed_failures_give_the_last_one(kind: Kind) {
    let server = FakeService::script(vec![
        reply::status(503),
        reply::error(429, "ThrottlingException", "slow down"),
        reply::error(500, "InternalFailure", "oops"),
        reply::ok(),
    ]);
    let e = client(kind, &server).put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.code(), Some("InternalFailure"));
    assert_eq!(e.request_id(), Some("req-2"));
    assert_eq!(server.requests().len(), 3);
}

fn dropped_connections_until_the_end_give_an_io_error(kind: Kind) {
    let server = FakeService::signed(|_| reply::reset());
    let e = client(kind, &server).put_events(events()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Io,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

fn a_stall_gives_a_timeout_error_within_the_attempt_timeout(kind: Kind) {
    // A stall longer than the operation: a transport timeout (not the
    // operation's, not the server's close) shows the attempt timeout ended it.
    let server = FakeService::script(vec![reply::stall(Duration::from_secs(10))]);
    let e = settings(&server)
        .attempts(1)
        .build(kind, &server)
        .put_events(events())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

fn the_operation_timeout_bounds_the_whole_call(kind: Kind) {
    let server = FakeService::signed(|_| reply::stall(Duration::from_secs(3)));
    let c = settings(&server)
        .retry(
            RetryConfig::default()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .operation_timeout(Duration::from_millis(800))
        .build(kind, &server);
    let e = c.put_events(events()).unwrap_err();
    // Either the deadline ended an attempt (the operation's timeout, which
    // the core only reports once its clock reached the deadline), or the
    // next backoff would have ended past it (the last attempt's timeout).
    match &e {
        Error::OperationTimeout { elapsed_ms, .. } => assert!(*elapsed_ms >= 800, "{e}"),
        Error::Transport {
            kind: TransportErrorKind::Timeout,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("timeout"), "{e}");
    assert!(server.requests().len() >= 2);
}

fn the_operation_timeout_cuts_an_attempt_short(kind: Kind) {
    // The attempt may take 5 s, but the whole call only 500 ms: the attempt
    // gets what is left of the operation, not the agent's default.
    // The stall (3 s) ends before the attempt timeout (5 s) would: an
    // attempt that was not cut short would end with the server's close (an
    // IO error), not with a timeout.
    let server = FakeService::script(vec![reply::stall(Duration::from_secs(3))]);
    let e = settings(&server)
        .attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_millis(500))
        .build(kind, &server)
        .put_events(events())
        .unwrap_err();
    match &e {
        Error::OperationTimeout { last, .. } => assert!(last.contains("(timeout)"), "{e}"),
        Error::Transport {
            kind: TransportErrorKind::Timeout,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

fn clones_share_the_retry_quota(kind: Kind) {
    let server = FakeService::signed(|_| reply::status(503));
    let c = client(kind, &server);
    let before = c.core().retry_quota_available();
    let clone = c.clone();
    let _ = clone.put_events(events());
    assert!(c.core().retry_quota_available() < before);
}

fn a_refused_connection_is_retried_and_reported_as_connect(kind: Kind) {
    // Nothing listens: a connect error, retried until attempts run out.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = FakeService::script(vec![]);
    let e = Settings::new(
        &format!("http://127.0.0.1:{port}"),
        personalize_events_tests::fake_service::credentials(),
    )
    .build(kind, &server)
    .put_events(events())
    .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
}

fn an_answer_that_is_not_http_is_retried_then_an_io_error(kind: Kind) {
    // A broken answer, retried like a broken connection, and Io when
    // attempts run out.
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let garbage = RawServer::start(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        RawReply::close(b"SMTP ready\r\n\r\n".to_vec())
    });
    let server = FakeService::script(vec![]);
    let e = Settings::new(
        &garbage.url(),
        personalize_events_tests::fake_service::credentials(),
    )
    .build(kind, &server)
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
        "{e}"
    );
    assert!(
        served.load(Ordering::SeqCst) > 1,
        "a malformed response is retried"
    );
}

// Only the async client can drop a call mid-flight.

fn async_client(server: &FakeService) -> personalize_events_hyper::Client {
    Settings::for_server(server)
        .retry(
            RetryConfig::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(10))
        .hyper_client()
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_mid_flight_keeps_the_quota_and_the_client_usable() {
    let server = FakeService::script(vec![
        // A call that fails after two retries leaves the quota below its
        // maximum, so that any change would show.
        reply::status(503),
        reply::status(503),
        reply::status(503),
        // The call that is dropped while waiting for this answer.
        reply::stall(Duration::from_secs(5)),
        reply::ok(),
    ]);
    let c = async_client(&server);
    assert!(c.put_events(events()).await.is_err());
    let before = c.core().retry_quota_available();
    // 500: the SDKs' initial retry quota (smithy-rs `TokenBucket`, botocore).
    assert!(before < 500);

    let dropped = tokio::time::timeout(Duration::from_millis(300), c.put_events(events())).await;
    assert!(dropped.is_err(), "the call was cut short");
    assert_eq!(server.request_count(), 4, "the dropped call was in flight");
    assert_eq!(c.core().retry_quota_available(), before);
    // Its connection is closed, not left behind in the pool.
    eventually("the server sees the hang-up", || server.hangups() == 1).await;

    let out = c.put_events(events()).await.unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-4"));
    assert_eq!(c.core().retry_quota_available(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_during_a_retry_gives_back_its_retry_cost() {
    let server = FakeService::script(vec![
        reply::status(503),
        reply::stall(Duration::from_secs(5)),
        reply::ok(),
    ]);
    let c = async_client(&server);
    let before = c.core().retry_quota_available();
    let dropped = tokio::time::timeout(Duration::from_millis(800), c.put_events(events())).await;
    assert!(dropped.is_err(), "the call was cut short");
    assert_eq!(server.request_count(), 2, "dropped during its retry");
    assert_eq!(c.core().retry_quota_available(), before);
}
