//! Cancelling async calls (dropping their futures: a timeout, a `select!`,
//! an aborted task) at every point of a call: waiting for the first answer,
//! sleeping in backoff, waiting for a retry's answer. Each time the call's
//! connection is closed (not left in the pool, not leaked: the process's
//! file descriptors come back to where they were), its retry cost goes back
//! to the shared quota (the core refunds it when a `Call` is dropped), and
//! the client goes on working.
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime};

/// The AWS SDKs' standard retry quota as published (smithy-rs `TokenBucket`
/// `DEFAULT_CAPACITY = 500`; botocore `retries/standard.py` `RetryQuotaChecker`:
/// 500 initial tokens, 5 per retry, 10 per retry after a timeout, 1 back per
/// first-try success). Written out, not imported: a changed constant fails.
const QUOTA_INITIAL: u32 = 500;
const QUOTA_RETRY_COST: u32 = 5;
use personalize_events_hyper::{Client, Event, PutEventsInput, RetryConfig, Timeouts};
use personalize_events_tests::fake_service::{self, reply, FakeService, RequestExt};

fn client(url: &str, backoff: Duration) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(fake_service::credentials())
        .endpoint_url(url)
        .retry_config(
            RetryConfig::default()
                .with_max_attempts(3)
                .with_initial_backoff(backoff)
                .with_max_backoff(backoff),
        )
        .timeouts(
            Timeouts::default()
                .with_attempt(Duration::from_secs(8))
                .with_operation(Duration::from_secs(30)),
        )
        .build()
        .expect("a client")
}

fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(Event::new("click", SystemTime::now()))
}

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 3 s");
}

/// Lowers the quota below its maximum with a call that fails after two
/// retries, so that a refund (or a leak) would show.
async fn spend_some_quota(c: &Client, server: &FakeService) -> u32 {
    let before = server.request_count();
    assert!(c.put_events(events()).await.is_err());
    assert_eq!(server.request_count() - before, 3);
    let q = c.core().retry_quota_available();
    assert_eq!(q, QUOTA_INITIAL - 2 * QUOTA_RETRY_COST);
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_while_waiting_for_its_answer_closes_its_connection() {
    let server = FakeService::script(vec![
        reply::status(503),
        reply::status(503),
        reply::status(503),
        reply::stall(Duration::from_secs(8)),
        reply::ok(),
    ]);
    let c = client(&server.url(), Duration::from_millis(1));
    let quota = spend_some_quota(&c, &server).await;

    let cut = tokio::time::timeout(Duration::from_millis(200), c.put_events(events())).await;
    assert!(cut.is_err(), "the call was cancelled");
    assert_eq!(server.request_count(), 4);
    eventually("the server sees the hang-up", || server.hangups() == 1).await;
    // (Each 503 poisoned its connection, so the cancelled call had a new one.)
    let connections = server.connections();
    assert_eq!(c.core().retry_quota_available(), quota, "no retry was paid");

    // The next call cannot reuse the closed connection: it opens one.
    c.put_events(events())
        .await
        .expect("the client still works");
    assert_eq!(server.connections(), connections + 1);
    assert_eq!(c.core().retry_quota_available(), quota + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_during_a_retry_gives_its_retry_cost_back() {
    let server = FakeService::script(vec![
        reply::status(503),
        reply::status(503),
        reply::status(503),
        // Cancelled while its retry waits for this answer.
        reply::status(503),
        reply::stall(Duration::from_secs(8)),
        reply::ok(),
    ]);
    let c = client(&server.url(), Duration::from_millis(1));
    let quota = spend_some_quota(&c, &server).await;

    let call = c.put_events(events());
    let cut = tokio::time::timeout(Duration::from_millis(400), call).await;
    assert!(cut.is_err());
    assert_eq!(server.request_count(), 5, "cancelled during its retry");
    // While the retry was in flight its cost was held; it came back.
    assert_eq!(c.core().retry_quota_available(), quota);
    eventually("the server sees the hang-up", || server.hangups() == 1).await;
    c.put_events(events())
        .await
        .expect("the client still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_cancelled_during_backoff_give_their_retry_cost_back() {
    // Every first attempt fails; the backoff before the retry is up to 20 s
    // (full jitter), so a cancel at 250 ms nearly always finds the call
    // asleep in backoff, holding the retry's cost. A call whose jitter was
    // tiny is in its retry instead (stalled), which must refund as well.
    let server = FakeService::signed(|r| {
        if r.header("amz-sdk-request")
            .is_some_and(|v| v.starts_with("attempt=1;"))
        {
            reply::status(503)
        } else {
            reply::stall(Duration::from_secs(8))
        }
    });
    let c = client(&server.url(), Duration::from_secs(20));
    let mut in_backoff = 0;
    for _ in 0..10 {
        let before = server.request_count();
        let cut = tokio::time::timeout(Duration::from_millis(250), c.put_events(events())).await;
        assert!(cut.is_err());
        if server.request_count() - before == 1 {
            in_backoff += 1;
        }
        assert_eq!(c.core().retry_quota_available(), QUOTA_INITIAL);
    }
    assert!(in_backoff >= 7, "only {in_backoff} of 10 cut in backoff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_cancelled_calls_leak_no_connection_no_descriptor_and_no_quota() {
    const CALLS: usize = 50;
    let server = FakeService::signed(|r| {
        if r.json().is_some_and(|j| j["sessionId"] == "fast") {
            reply::ok()
        } else {
            reply::stall(Duration::from_secs(8))
        }
    });
    let c = client(&server.url(), Duration::from_millis(1));
    let fast =
        || PutEventsInput::new("tracking-1", "fast").event(Event::new("click", SystemTime::now()));
    // Warm up: one pooled connection, the runtime's own descriptors.
    c.put_events(fast()).await.unwrap();
    let fds = open_fds();

    // Three ways to cancel: a timeout, a select!, an aborted task.
    let mut tasks = Vec::new();
    for i in 0..CALLS {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            match i % 3 {
                0 => {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(300), c.put_events(events()))
                            .await;
                }
                1 => tokio::select! {
                    _ = c.put_events(events()) => panic!("a stalled call finished"),
                    _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                },
                _ => {
                    let _ = c.put_events(events()).await;
                }
            }
        }));
    }
    eventually("every call is in flight", || server.in_flight() == CALLS).await;
    assert!(
        open_fds() >= fds + CALLS,
        "one connection per call in flight"
    );
    for (i, t) in tasks.into_iter().enumerate() {
        if i % 3 == 2 {
            t.abort();
            assert!(t.await.unwrap_err().is_cancelled());
        } else {
            t.await.unwrap();
        }
    }
    eventually("the server sees every hang-up", || {
        server.hangups() == CALLS
    })
    .await;
    eventually("descriptors come back", || open_fds() <= fds + 1).await;
    assert_eq!(c.core().retry_quota_available(), QUOTA_INITIAL);
    assert_eq!(server.in_flight(), 0);

    c.put_events(fast()).await.expect("the client still works");
}
