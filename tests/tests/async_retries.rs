//! Transient failures (503, 429, a reset connection, a stalled response)
//! are retried until a success; when attempts run out the last error is
//! returned; transport failures are classified so that only what may
//! succeed later is retried; and a call dropped mid-flight releases its
//! connection without touching the retry quota.

use std::time::{Duration, SystemTime};

use personalize_events_hyper::{
    Client, Error, Event, PutEventsInput, RetryConfig, Timeouts, TransportErrorKind,
};
use personalize_events_tests::async_server::{self, AsyncServer, Reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client_with(url: &str, attempts: u32, attempt_timeout: Duration) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(async_server::credentials())
        .endpoint_url(url)
        .retry_config(
            RetryConfig::default()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .timeouts(
            Timeouts::default()
                .with_attempt(attempt_timeout)
                .with_operation(Duration::from_secs(10)),
        )
        .build()
        .expect("a client")
}

fn client(url: &str) -> Client {
    client_with(url, 3, Duration::from_secs(2))
}

fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(Event::new("click", SystemTime::now()))
}

/// Sends once against `first` then 200, and checks the retry went through
/// with the same event id and a new attempt number.
async fn retried_then_ok(first: Reply, c: impl Fn(&str) -> Client) -> AsyncServer {
    let server = AsyncServer::start(vec![first, Reply::ok()]).await;
    let out = c(&server.url()).put_events(events()).await;
    assert_eq!(out.unwrap().request_id.as_deref(), Some("req-1"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("amz-sdk-request"), Some("attempt=1; max=3"));
    assert_eq!(reqs[1].header("amz-sdk-request"), Some("attempt=2; max=3"));
    assert_eq!(
        reqs[0].header("amz-sdk-invocation-id"),
        reqs[1].header("amz-sdk-invocation-id")
    );
    assert_eq!(
        reqs[0].body, reqs[1].body,
        "the same body, event id included"
    );
    assert!(reqs.iter().all(|r| r.signature_ok()));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_retried() {
    retried_then_ok(
        Reply::error(503, "ServiceUnavailableException", "busy"),
        client,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried() {
    retried_then_ok(
        Reply::error(429, "ThrottlingException", "slow down"),
        client,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_is_retried() {
    let server = retried_then_ok(Reply::Reset, client).await;
    assert_eq!(server.connections(), 2, "a new connection after the reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_response_times_out_and_is_retried() {
    // The stall lasts as long as the whole operation (10 s): the call can
    // only succeed if the 300 ms attempt timeout ends the first attempt and
    // the retry goes out. The outcome says it, not a wall-clock threshold.
    let server = retried_then_ok(Reply::Stall(Duration::from_secs(10)), |url| {
        client_with(url, 3, Duration::from_millis(300))
    })
    .await;
    // The timed-out attempt's connection was closed, not kept.
    wait_for(|| server.hangups() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_attempts_give_the_last_error() {
    let server = AsyncServer::start(vec![
        Reply::error(500, "InternalFailure", "first"),
        Reply::error(502, "InternalFailure", "second"),
        Reply::error(503, "ServiceUnavailableException", "third"),
        Reply::ok(),
    ])
    .await;
    let c = client(&server.url());
    let before = c.core().retry_quota_available();
    let e = c.put_events(events()).await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert_eq!(e.message(), Some("third"));
    assert_eq!(e.request_id(), Some("req-2"));
    assert_eq!(server.request_count(), 3);
    // Two retries at 5 tokens each, not refunded by a failure.
    assert_eq!(c.core().retry_quota_available(), before - 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_are_classified() {
    // Nothing listens: a connect error, retried until attempts run out.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client(&format!("http://127.0.0.1:{port}"))
        .put_events(events())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Connect,
                ..
            }
        ),
        "{e}"
    );

    // One attempt each, to see the kind of the failure itself.
    let server = AsyncServer::start(vec![Reply::Reset, Reply::Stall(Duration::from_secs(5))]).await;
    let c = client_with(&server.url(), 1, Duration::from_millis(300));
    let e = c.put_events(events()).await.unwrap_err();
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
    let e = c.put_events(events()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        ),
        "{e}"
    );

    // A response that is not HTTP: a broken answer, retried like a broken
    // connection (as the blocking client does), and Io when attempts run out.
    let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", garbage.local_addr().unwrap());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    let answering = tokio::spawn(async move {
        while counter.load(std::sync::atomic::Ordering::SeqCst) < 10 {
            let Ok(Ok((mut s, _))) =
                tokio::time::timeout(Duration::from_secs(5), garbage.accept()).await
            else {
                break;
            };
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await;
            let _ = s.write_all(b"SMTP ready\r\n\r\n").await;
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let e = client(&url).put_events(events()).await.unwrap_err();
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
    answering.abort();
    assert!(
        served.load(std::sync::atomic::Ordering::SeqCst) > 1,
        "a malformed response is retried"
    );
}

async fn wait_for(cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_mid_flight_keeps_the_quota_and_the_client_usable() {
    let server = AsyncServer::start(vec![
        // A call that fails after two retries leaves the quota below its
        // maximum, so that any change would show.
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
        // The call that is dropped while waiting for this answer.
        Reply::Stall(Duration::from_secs(5)),
        Reply::ok(),
    ])
    .await;
    let c = client(&server.url());
    assert!(c.put_events(events()).await.is_err());
    let before = c.core().retry_quota_available();
    // 500: the SDKs' initial retry quota (smithy-rs `TokenBucket`, botocore).
    assert!(before < 500);

    let dropped = tokio::time::timeout(Duration::from_millis(300), c.put_events(events())).await;
    assert!(dropped.is_err(), "the call was cut short");
    assert_eq!(server.request_count(), 4, "the dropped call was in flight");
    assert_eq!(c.core().retry_quota_available(), before);
    // Its connection is closed, not left behind in the pool.
    wait_for(|| server.hangups() == 1).await;

    let out = c.put_events(events()).await.unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-4"));
    assert_eq!(c.core().retry_quota_available(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_during_a_retry_gives_back_its_retry_cost() {
    let server = AsyncServer::start(vec![
        Reply::status(503),
        Reply::Stall(Duration::from_secs(5)),
        Reply::ok(),
    ])
    .await;
    let c = client(&server.url());
    let before = c.core().retry_quota_available();
    let dropped = tokio::time::timeout(Duration::from_millis(800), c.put_events(events())).await;
    assert!(dropped.is_err(), "the call was cut short");
    assert_eq!(server.request_count(), 2, "dropped during its retry");
    assert_eq!(c.core().retry_quota_available(), before);
}
