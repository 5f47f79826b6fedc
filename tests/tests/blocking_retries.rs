//! The blocking client: throttling, server errors, dropped connections and
//! stalls are retried then succeed; once attempts run out the last error
//! comes back; every wait stays within its timeout.

use std::time::{Duration, UNIX_EPOCH};

use personalize_events_blocking::*;
use personalize_events_tests::scripted_server::{self, RecordedRequest, Reply, ScriptedServer};

fn builder(url: &str) -> ClientBuilder {
    Client::builder()
        .region("us-east-1")
        .credentials(scripted_server::credentials())
        .endpoint_url(url)
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(10)))
        .attempt_timeout(Duration::from_millis(300))
        .operation_timeout(Duration::from_secs(5))
}

fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(Event::new(
        "click",
        UNIX_EPOCH + Duration::from_secs(1_795_953_540),
    ))
}

/// Every attempt is the same signed request: same body (event ids
/// included), same invocation id, attempt numbers counting up.
fn assert_same_call(reqs: &[RecordedRequest]) {
    assert!(reqs.iter().all(RecordedRequest::signature_ok));
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(r.body, reqs[0].body);
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

#[test]
fn service_unavailable_is_retried_then_succeeds() {
    let server = ScriptedServer::start(vec![Reply::status(503), Reply::ok()]);
    let out = builder(&server.url())
        .build()
        .unwrap()
        .put_events(events())
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_same_call(&reqs);
}

#[test]
fn throttling_is_retried_then_succeeds() {
    let server = ScriptedServer::start(vec![
        Reply::error(429, "ThrottlingException", "slow down"),
        Reply::error(400, "ThrottlingException", "slow down"),
        Reply::ok(),
    ]);
    let client = builder(&server.url()).build().unwrap();
    let out = client.put_events(events()).unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-2"));
    assert_same_call(&server.requests());
}

#[test]
fn a_dropped_connection_is_retried_then_succeeds() {
    let server = ScriptedServer::start(vec![Reply::Reset, Reply::ok()]);
    let out = builder(&server.url())
        .build()
        .unwrap()
        .put_events(events())
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_same_call(&reqs);
    assert_ne!(reqs[0].connection, reqs[1].connection, "a new connection");
}

#[test]
fn a_stall_times_out_and_is_retried_then_succeeds() {
    // The stall outlasts the whole operation (5 s): the call can only
    // succeed if the 300 ms attempt timeout ends the first attempt and the
    // retry goes out. No wall-clock threshold: the outcome says it.
    let server = ScriptedServer::start(vec![Reply::Stall(Duration::from_secs(10)), Reply::ok()]);
    let client = builder(&server.url()).build().unwrap();
    let out = client.put_events(events()).unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_same_call(&reqs);
    assert_ne!(
        reqs[0].connection, reqs[1].connection,
        "the stalled connection is dropped"
    );
}

#[test]
fn a_stall_gives_a_timeout_error_within_the_attempt_timeout() {
    // A stall longer than the operation: a transport timeout (not the
    // operation's, not the server's close) shows the attempt timeout ended it.
    let server = ScriptedServer::start(vec![Reply::Stall(Duration::from_secs(10))]);
    let client = builder(&server.url())
        .retry_config(RetryConfig::default().with_max_attempts(1))
        .build()
        .unwrap();
    let e = client.put_events(events()).unwrap_err();
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

#[test]
fn the_operation_timeout_bounds_the_whole_call() {
    let server = ScriptedServer::with_handler(|_| Reply::Stall(Duration::from_secs(3)));
    let client = builder(&server.url())
        .retry_config(
            RetryConfig::default()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .operation_timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let e = client.put_events(events()).unwrap_err();
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

#[test]
fn exhausted_attempts_give_the_last_error() {
    let server = ScriptedServer::start(vec![
        Reply::status(503),
        Reply::error(429, "ThrottlingException", "slow down"),
        Reply::error(500, "InternalFailure", "oops"),
        Reply::ok(),
    ]);
    let e = builder(&server.url())
        .build()
        .unwrap()
        .put_events(events())
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.code(), Some("InternalFailure"));
    assert_eq!(e.request_id(), Some("req-2"));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn dropped_connections_until_the_end_give_an_io_error() {
    let server = ScriptedServer::with_handler(|_| Reply::Reset);
    let e = builder(&server.url())
        .build()
        .unwrap()
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
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_refused_connection_is_retried_and_reported_as_connect() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = builder(&format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap()
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

#[test]
fn clones_share_the_retry_quota() {
    let server = ScriptedServer::with_handler(|_| Reply::status(503));
    let client = builder(&server.url()).build().unwrap();
    let before = client.core().retry_quota_available();
    let clone = client.clone();
    let _ = clone.put_events(events());
    assert!(client.core().retry_quota_available() < before);
}

#[test]
fn the_operation_timeout_cuts_an_attempt_short() {
    // The attempt may take 5 s, but the whole call only 500 ms: the attempt
    // gets what is left of the operation, not the agent's default.
    // The stall (3 s) ends before the attempt timeout (5 s) would: an
    // attempt that was not cut short would end with the server's close (an
    // IO error), not with a timeout.
    let server = ScriptedServer::start(vec![Reply::Stall(Duration::from_secs(3))]);
    let client = builder(&server.url())
        .attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let e = client.put_events(events()).unwrap_err();
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
