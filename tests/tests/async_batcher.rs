//! The batcher takes records from many tasks and sends each exactly once,
//! grouped correctly in calls of at most 10, with bounded concurrency,
//! bounded memory and an optional rate limit; flush and close report every
//! record, failed ones with their errors.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use personalize_events_hyper::{
    BatchReport, BatcherConfig, Client, Error, Event, Item, Record, RetryConfig,
};
use personalize_events_tests::async_server::{self, AsyncServer, Reply};

fn client(url: &str) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(async_server::credentials())
        .endpoint_url(url)
        .retry_config(
            RetryConfig::default()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .expect("a client")
}

fn event(id: String, group: &str) -> Event {
    Event::new("click", SystemTime::now())
        .event_id(id)
        .item_id(group.to_string())
}

const TASKS: usize = 50;
const PER_TASK: usize = 200;
const MAX_IN_FLIGHT: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_from_fifty_tasks_arrive_once_grouped_and_bounded() {
    let server = AsyncServer::with_handler(|_| Reply::ok().delay(Duration::from_millis(2))).await;
    let c = client(&server.url());
    let batcher = c.batcher(
        BatcherConfig::default()
            .max_in_flight(MAX_IN_FLIGHT)
            .capacity(1000),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let b = batcher.clone();
        tasks.spawn(async move {
            for i in 0..PER_TASK {
                let session = format!("s{}", (t + i) % 7);
                let user = (i % 3 != 0).then(|| format!("u{}", t % 5));
                // The item id names the group, for the server side to check.
                let group = format!("{session}/{}", user.as_deref().unwrap_or("-"));
                let r = Record::event(
                    "tracking-1",
                    session,
                    user,
                    event(format!("t{t}-e{i}"), &group),
                );
                b.put(r).await.expect("the batcher takes records");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let report = batcher.flush().await.unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(report.records_sent, (TASKS * PER_TASK) as u64);
    assert_eq!(report.calls_made, server.request_count() as u64);
    assert_eq!(report.calls_failed, 0);

    let mut seen = HashSet::new();
    for r in server.requests() {
        assert!(r.signature_ok(), "{:?}", r.signature);
        assert_eq!(r.path, "/events");
        let body = r.json.as_ref().expect("JSON");
        let list = body["eventList"].as_array().unwrap();
        assert!(
            (1..=10).contains(&list.len()),
            "{} events in a call",
            list.len()
        );
        let group = format!(
            "{}/{}",
            body["sessionId"].as_str().unwrap(),
            body["userId"].as_str().unwrap_or("-")
        );
        for ev in list {
            assert_eq!(
                ev["itemId"].as_str(),
                Some(group.as_str()),
                "grouped by session and user"
            );
            let id = ev["eventId"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{id} arrived twice");
        }
    }
    assert_eq!(seen.len(), TASKS * PER_TASK);
    assert!(server.request_count() >= TASKS * PER_TASK / 10);
    let max = server.max_in_flight();
    assert!(max <= MAX_IN_FLIGHT, "{max} calls in flight at once");
    assert!(max >= 2, "calls ran concurrently ({max})");

    // Nothing more to report; then the batcher takes no more records.
    assert_eq!(batcher.close().await.unwrap(), BatchReport::default());
    let refused = batcher
        .put(Record::event("t", "s", None, event("late".into(), "x")))
        .await
        .unwrap_err();
    assert!(
        refused.into_record().is_some(),
        "the refused record is handed back"
    );
    assert!(batcher.flush().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_gives_every_record_back_with_its_error() {
    let server = AsyncServer::with_handler(|_| {
        Reply::error(400, "InvalidInputException", "tracker is not active")
    })
    .await;
    let batcher = client(&server.url()).batcher(BatcherConfig::default());
    let mut put = HashSet::new();
    for i in 0..95 {
        let id = format!("e{i}");
        put.insert(id.clone());
        let session = format!("s{}", i % 4);
        batcher
            .put(Record::event("tracking-1", session, None, event(id, "g")))
            .await
            .unwrap();
    }
    // Items too, for another operation.
    for i in 0..5 {
        let item = Item::new(format!("item-{i}"));
        batcher
            .put(Record::item(
                "arn:aws:personalize:us-east-1:1:dataset/x",
                item,
            ))
            .await
            .unwrap();
    }
    let report = batcher.close().await.unwrap();
    assert_eq!(report.records_sent, 0);
    assert_eq!(report.failed.len(), 100);
    assert_eq!(report.calls_failed, report.calls_made);
    assert_eq!(
        report.calls_made,
        server.request_count() as u64,
        "400 is not retried"
    );
    let mut failed_ids = HashSet::new();
    for f in &report.failed {
        match &f.error {
            Error::InvalidInput {
                message,
                request_id,
            } => {
                assert_eq!(message.as_deref(), Some("tracker is not active"));
                assert!(request_id.is_some());
            }
            other => panic!("unexpected error {other:?}"),
        }
        if let Record::Event { event, .. } = &f.record {
            failed_ids.insert(event.event_id.clone().unwrap());
        }
    }
    assert_eq!(failed_ids, put);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_fails_alone() {
    let server = AsyncServer::start(vec![]).await;
    let batcher = client(&server.url()).batcher(BatcherConfig::default());
    for i in 0..10 {
        let ev = if i == 4 {
            Event::new("", SystemTime::now()).event_id("bad")
        } else {
            event(format!("e{i}"), "g")
        };
        batcher
            .put(Record::event("t", "s", None, ev))
            .await
            .unwrap();
    }
    let report = batcher.flush().await.unwrap();
    assert_eq!(report.records_sent, 9);
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(report.failed[0].error, Error::Validation { .. }));
    assert_eq!(server.request_count(), 1);
    let sent = server.requests()[0].json.clone().unwrap();
    assert_eq!(sent["eventList"].as_array().unwrap().len(), 9);
}

/// Keeps a timer due within a millisecond: a paused clock then never jumps
/// past a pending timeout (an attempt's) while loopback IO is on its way,
/// only a millisecond at a time.
fn tick() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
}

// The paused clock counts the linger; the server is on loopback in the
// same runtime.
#[tokio::test(start_paused = true)]
async fn a_partial_group_goes_out_after_linger() {
    const LINGER: Duration = Duration::from_millis(150);
    let server = AsyncServer::start(vec![]).await;
    let batcher = client(&server.url()).batcher(BatcherConfig::default().linger(LINGER));
    // The batcher idles first: the linger counts from the record's arrival.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let put_at = tokio::time::Instant::now();
    batcher
        .put(Record::event("t", "s", None, event("only".into(), "g")))
        .await
        .unwrap();
    let ticker = tick();
    tokio::time::sleep_until(put_at + LINGER - Duration::from_millis(1)).await;
    assert_eq!(server.request_count(), 0, "the group lingers");
    for _ in 0..2000 {
        if server.request_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(server.request_count(), 1, "sent without a flush");
    assert!(put_at.elapsed() >= LINGER, "{:?}", put_at.elapsed());
    let report = batcher.close().await.unwrap();
    assert_eq!((report.records_sent, report.calls_made), (1, 1));
    ticker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_holds_producers_back() {
    // A slow server and one call at a time: the batcher must stop taking
    // records once its small buffer is full.
    let server = AsyncServer::with_handler(|_| Reply::ok().delay(Duration::from_millis(500))).await;
    let batcher =
        client(&server.url()).batcher(BatcherConfig::default().max_in_flight(1).capacity(10));
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer = {
        let (b, taken) = (batcher.clone(), Arc::clone(&taken));
        tokio::spawn(async move {
            for i in 0..500 {
                b.put(Record::event("t", "s", None, event(format!("e{i}"), "g")))
                    .await
                    .unwrap();
                taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = taken.load(std::sync::atomic::Ordering::SeqCst);
    // Buffer (10) + one call queued (10) + one in flight (10) + a partial group.
    assert!(n < 60, "{n} records taken while the server was busy");
    producer.abort();
}

// The paused clock paces the calls; the server is on loopback in the same
// runtime, and a ticker keeps the clock from jumping to a pending timeout.
#[tokio::test(start_paused = true)]
async fn the_rate_limit_paces_calls() {
    let server = AsyncServer::start(vec![]).await;
    // A long linger: only full calls go out, however slow the producer.
    let batcher = client(&server.url()).batcher(
        BatcherConfig::default()
            .rate_limit(100.0)
            .linger(Duration::from_secs(10)),
    );
    let ticker = tick();
    let started = tokio::time::Instant::now();
    for i in 0..400 {
        batcher
            .put(Record::event("t", "s", None, event(format!("e{i}"), "g")))
            .await
            .unwrap();
    }
    let report = batcher.close().await.unwrap();
    let elapsed = started.elapsed();
    ticker.abort();
    assert_eq!(report.calls_made, 40);
    assert_eq!(server.request_count(), 40);
    // 10 calls at once (a tenth of a second's worth), then 100 per second:
    // on the paused clock, only the limiter's waits count.
    assert!(elapsed >= Duration::from_millis(280), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
