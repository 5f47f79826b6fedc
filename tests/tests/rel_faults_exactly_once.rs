//! 10 000 events through each sending path (the async batcher, direct async
//! calls, the blocking client's `put_all_concurrently`) against the emulator
//! injecting 20% faults of every kind: 500, 503, 429, connection reset,
//! stall and truncated response.
//!
//! * Faults **before** the records are kept: every event arrives exactly
//!   once (one record per event, no duplicate `eventId` on the server).
//! * Faults **after** the records are kept (the answer is lost, so the
//!   client retries a request that had succeeded): every event arrives, and
//!   every copy the server sees carries the same `eventId` and the same
//!   bytes as the first, so the service can drop the copies.
//!
//! Event ids are not set by the test: the clients fill them in once per
//! call, before the first attempt, which is what keeps retries idempotent.
//!
//! Timing: a stall holds a request for `STALL` (15 s) and the attempt
//! timeout is `ATTEMPT` (3 s), so every stall becomes a client-side
//! timeout and a retry, and the client has long gone (and the emulator
//! dropped the stalled request) before the stall would end, even on a
//! machine so loaded that timers fire late. The attempt timeout stays far
//! above a normal round trip (a few ms; hundreds on a loaded 2-core
//! machine, where the single-threaded emulator shares the cores with the
//! clients and other builds): a request that is kept but answered after
//! the client gave up is a legitimate duplicate (same event id) that would
//! break the exactly-once count, so only injected stalls may time out.
//! (With 500 ms, CI on a loaded machine saw such duplicates.) Each path
//! keeps at most 16 calls in flight.
//! Backoff starts at 5 ms (capped at 40 ms) and 10 attempts are allowed.
//!
//! Retry quota arithmetic (500 tokens; a retry costs 5, or 10 after a
//! timeout; a success gives back 1, or the cost of its last retry). For
//! 1000 calls with a 20% fault rate per request: about 250 retries in all
//! (1000 × 0.2 / 0.8), one in six of them after a stall, so about
//! 250 × (5 × 5/6 + 10 × 1/6) ≈ 1460 tokens are taken. About 200 calls
//! succeed after retrying and give back their last retry's cost
//! (≈ 200 × 5.8 ≈ 1170 tokens) and about 800 succeed at once and give back
//! 1 each (800 tokens). What is never given back is the cost of the
//! earlier retries of calls that failed twice or more (≈ 1000 × 0.04 × 5.8
//! ≈ 230 tokens), far less than the 800 tokens first-time successes return
//! over the run, and at most 16 calls are in flight at once, holding at
//! most 16 × 10 tokens. So one client (one shared quota) never runs dry:
//! the quota refills from successes as it goes, which the test checks by
//! requiring every call to succeed and the quota to end above 400 tokens.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The AWS SDKs' standard retry quota as published (smithy-rs `TokenBucket`
/// `DEFAULT_CAPACITY = 500`; botocore `retries/standard.py` `RetryQuotaChecker`:
/// 500 initial tokens, 5 per retry, 10 per retry after a timeout, 1 back per
/// first-try success). Written out, not imported: a changed constant fails.
const QUOTA_INITIAL: u32 = 500;
use personalize_events_hyper::{BatcherConfig, Record};
use personalize_events_local::{
    FaultKind, LocalServer, Phase, StoredRecord, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};

const EVENTS: usize = 10_000;
const FAILURE_RATE: f64 = 0.2;
const STALL: Duration = Duration::from_secs(15);
const ATTEMPT: Duration = Duration::from_secs(3);
const TRACKING: &str = "tracking-rel";

fn retry() -> personalize_events_core::RetryConfig {
    personalize_events_core::RetryConfig::default()
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(40))
}

fn timeouts() -> personalize_events_core::Timeouts {
    personalize_events_core::Timeouts::default()
        .with_connect(Duration::from_secs(2))
        .with_attempt(ATTEMPT)
        .with_operation(Duration::from_secs(60))
}

fn credentials() -> personalize_events_core::Credentials {
    personalize_events_core::Credentials::new(
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_ACCESS_KEY,
        None,
    )
}

fn emulator(phase: Phase, seed: u64) -> LocalServer {
    LocalServer::builder()
        .failure_rate(FAILURE_RATE)
        .seed(seed)
        .random_faults(FaultKind::ALL)
        .fault_phase(phase)
        .stall(STALL)
        .max_duration(Duration::from_secs(300))
        .start_blocking()
        .expect("start the emulator")
}

fn async_client(url: &str) -> personalize_events_hyper::Client {
    personalize_events_hyper::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url(url)
        .retry_config(retry())
        .timeouts(timeouts())
        .build()
        .expect("an async client")
}

fn blocking_client(url: &str) -> personalize_events_blocking::Client {
    personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url(url)
        .retry_config(retry())
        .timeouts(timeouts())
        .build()
        .expect("a blocking client")
}

/// Event `i`: its item id names it; 10 events per session, so that every
/// call carries 10 events.
fn record(i: usize) -> Record {
    let event = personalize_events_core::Event::new("click", SystemTime::now())
        .item_id(format!("item-{i}"))
        .event_value(i as f32);
    Record::event(
        TRACKING,
        format!("session-{}", i / 10),
        Some(format!("user-{}", (i / 10) % 97)),
        event,
    )
}

fn item_of(r: &StoredRecord) -> String {
    r.json["itemId"]
        .as_str()
        .expect("every event has an item id")
        .to_owned()
}

/// Checks what the emulator kept, for either phase, and returns a summary.
fn check(server: &LocalServer, phase: Phase, calls: usize, path: &str) {
    let records = server.records();
    let stats = server.stats();
    let mut by_item: HashMap<String, Vec<&StoredRecord>> = HashMap::new();
    for r in &records {
        by_item.entry(item_of(r)).or_default().push(r);
    }
    assert_eq!(by_item.len(), EVENTS, "{path}: every event arrived");
    for kind in FaultKind::ALL {
        assert!(
            stats.faults_of(kind) > 0,
            "{path}: no {kind} fault was injected: {stats}"
        );
    }
    match phase {
        Phase::Before => {
            let twice: Vec<_> = by_item.iter().filter(|(_, v)| v.len() > 1).collect();
            assert!(
                twice.is_empty(),
                "{path}: {} events arrived more than once, e.g. {:?}",
                twice.len(),
                twice.first().map(|(k, _)| k)
            );
            assert_eq!(stats.duplicates, 0, "{path}: {stats}");
            assert_eq!(stats.accepted_records, EVENTS as u64, "{path}: {stats}");
        }
        Phase::After => {
            for (item, copies) in &by_item {
                let first = &copies[0];
                assert!(
                    first.event_id().is_some_and(|id| id.len() == 36),
                    "{path}: {item} has no filled-in event id"
                );
                assert!(
                    !first.duplicate,
                    "{path}: {item}: first copy marked duplicate"
                );
                for c in &copies[1..] {
                    assert_eq!(
                        c.event_id(),
                        first.event_id(),
                        "{path}: {item}: a copy with another event id"
                    );
                    assert_eq!(c.json, first.json, "{path}: {item}: a copy that differs");
                    assert!(c.duplicate, "{path}: {item}: a copy not seen as duplicate");
                }
            }
            let copies = records.len() - EVENTS;
            assert_eq!(stats.duplicates, copies as u64, "{path}: {stats}");
            // Every fault after keeping forces one resend (a retry) of a
            // call whose records were kept: each retry brings 1 to 10 copies.
            let retries = stats.requests as usize - calls;
            assert!(
                retries >= stats.faults_total() as usize,
                "{path}: {retries} retries for {} faults",
                stats.faults_total()
            );
            assert!(
                (retries..=10 * retries).contains(&copies),
                "{path}: {copies} copies for {retries} retries"
            );
            assert!(copies > 0, "{path}: faults after keeping made no copies");
        }
    }
    // Every call ended in a success, each after at most a few attempts.
    assert!(
        stats.requests as usize >= calls + stats.faults_total() as usize,
        "{path}: {stats}"
    );
    eprintln!(
        "{path} {phase}: {calls} calls, {} requests, {} faults {:?}, {} records, {} duplicates",
        stats.requests,
        stats.faults_total(),
        stats.faults,
        records.len(),
        stats.duplicates
    );
}

async fn via_batcher(phase: Phase, seed: u64) {
    let server = emulator(phase, seed);
    let client = async_client(&server.endpoint_url());
    let batcher = client.batcher(
        BatcherConfig::default()
            .max_in_flight(16)
            .linger(Duration::from_millis(20)),
    );
    let started = Instant::now();
    let mut producers = tokio::task::JoinSet::new();
    for p in 0..4 {
        let b = batcher.clone();
        producers.spawn(async move {
            // Each producer hands over whole sessions, so groups fill to 10.
            for i in (p * EVENTS / 4)..((p + 1) * EVENTS / 4) {
                b.put(record(i)).await.expect("the batcher is open");
            }
        });
    }
    while let Some(r) = producers.join_next().await {
        r.expect("a producer panicked");
    }
    let report = batcher.close().await.expect("close");
    assert!(
        report.is_success(),
        "{} records failed, first: {:?}",
        report.failed.len(),
        report.failed.first().map(|f| &f.error)
    );
    assert_eq!(report.records_sent, EVENTS as u64);
    assert!(client.core().retry_quota_available() > QUOTA_INITIAL - 100);
    eprintln!("batcher {phase}: {:?}", started.elapsed());
    check(&server, phase, report.calls_made as usize, "batcher");
}

async fn via_direct_calls(phase: Phase, seed: u64) {
    let server = emulator(phase, seed);
    let client = async_client(&server.endpoint_url());
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let client = client.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut failures = Vec::new();
            loop {
                let call = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if call >= EVENTS / 10 {
                    break;
                }
                let mut input = personalize_events_core::PutEventsInput::new(
                    TRACKING,
                    format!("session-{call}"),
                );
                for i in call * 10..call * 10 + 10 {
                    let Record::Event { event, .. } = record(i) else {
                        unreachable!()
                    };
                    input = input.event(event);
                }
                if let Err(e) = client.put_events(input).await {
                    failures.push(e);
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(r) = workers.join_next().await {
        failures.extend(r.expect("a worker panicked"));
    }
    assert!(
        failures.is_empty(),
        "{} calls failed: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(client.core().retry_quota_available() > QUOTA_INITIAL - 100);
    eprintln!("direct {phase}: {:?}", started.elapsed());
    check(&server, phase, EVENTS / 10, "direct async calls");
}

fn via_blocking(phase: Phase, seed: u64) {
    let server = emulator(phase, seed);
    let client = blocking_client(&server.endpoint_url());
    let started = Instant::now();
    let report = client.put_all_concurrently((0..EVENTS).map(record), 16);
    assert!(
        report.is_success(),
        "{} records failed: {:?}",
        report.records_failed(),
        report.failed.first()
    );
    assert_eq!(report.records_sent, EVENTS as u64);
    assert_eq!(report.calls_made as usize, EVENTS / 10);
    assert!(client.core().retry_quota_available() > QUOTA_INITIAL - 100);
    eprintln!("blocking {phase}: {:?}", started.elapsed());
    check(
        &server,
        phase,
        report.calls_made as usize,
        "blocking put_all_concurrently",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batcher_faults_before_keeping_every_event_arrives_exactly_once() {
    via_batcher(Phase::Before, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batcher_faults_after_keeping_copies_carry_the_original_event_id() {
    via_batcher(Phase::After, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_async_faults_before_keeping_every_event_arrives_exactly_once() {
    via_direct_calls(Phase::Before, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_async_faults_after_keeping_copies_carry_the_original_event_id() {
    via_direct_calls(Phase::After, 4).await;
}

#[test]
fn blocking_faults_before_keeping_every_event_arrives_exactly_once() {
    via_blocking(Phase::Before, 5);
}

#[test]
fn blocking_faults_after_keeping_copies_carry_the_original_event_id() {
    via_blocking(Phase::After, 6);
}
