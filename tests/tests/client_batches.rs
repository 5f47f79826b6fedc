//! Many records, sent in calls of at most 10 grouped by the API's rules
//! (events by tracking id, session and user; items, users and actions by
//! dataset; action interactions by tracking id), each record once; failed
//! calls hand back every record with its error.
//!
//! The two clients batch through different APIs: the blocking client's
//! batch helper (`put_all`, a call after another, or
//! `put_all_concurrently`) and the async client's `Batcher` (records put
//! from many tasks, sent in the background, reported by `flush` and
//! `close`). Both report in core's one `BatchReport`; [`send_all`] runs a
//! list of records through either, for the scenarios both share; what only
//! one of them has is tested for that one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::batch::Record;
use personalize_events_core::{Action, ActionInteraction, Error, Event, Item, RetryConfig, User};
use personalize_events_hyper::{BatchReport, BatcherConfig, FailedRecord};
use personalize_events_local::LocalServer;
use personalize_events_tests::client_tests;
use personalize_events_tests::clients::{runtime, Kind, Settings};
use personalize_events_tests::fake_service::{self, reply, FakeService, RecordedRequest, ReplyExt};

fn settings(server: &FakeService) -> Settings {
    Settings::for_server(server).retry(
        RetryConfig::default()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(10)),
    )
}

/// Sends `records` with the blocking client's `put_all` or through the
/// async client's `Batcher`, then `close`. The batcher gets one call in
/// flight (so that calls go out in the order they were formed) and a long
/// linger (so that only full groups go out before `close`), which makes
/// its calls the ones `put_all` makes.
fn send_all(kind: Kind, server: &FakeService, records: Vec<Record>) -> BatchReport {
    match kind {
        Kind::Blocking => settings(server)
            .blocking_builder()
            .build()
            .unwrap()
            .put_all(records),
        Kind::Async => {
            let c = settings(server).hyper_client();
            runtime().block_on(async move {
                let batcher = c.batcher(
                    BatcherConfig::default()
                        .max_in_flight(1)
                        .linger(Duration::from_secs(30)),
                );
                for r in records {
                    batcher.put(r).await.expect("the batcher takes records");
                }
                batcher.close().await.unwrap()
            })
        }
        Kind::Call => unreachable!("batching is the transports'"),
    }
}

/// 95 events interleaved across three (session, user) groups of 40, 30 and
/// 25: 4 + 3 + 3 = 10 calls.
fn records() -> Vec<Record> {
    let groups: [(&str, Option<&str>, usize); 3] = [
        ("s1", Some("u1"), 40),
        ("s2", Some("u1"), 30),
        ("s3", None, 25),
    ];
    let mut left: Vec<usize> = groups.iter().map(|g| g.2).collect();
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < 95 {
        for (g, (session, user, _)) in groups.iter().enumerate() {
            if left[g] > 0 {
                left[g] -= 1;
                let ev = Event::new("click", UNIX_EPOCH + Duration::from_secs(1_795_953_540 + n))
                    .item_id(format!("item-{n}"));
                out.push(Record::event(
                    "tracking-1",
                    *session,
                    user.map(String::from),
                    ev,
                ));
                n += 1;
            }
        }
    }
    out
}

/// (session, user) -> item ids in the order the server received them.
fn received(reqs: &[RecordedRequest]) -> BTreeMap<(String, Option<String>), Vec<String>> {
    let mut by_group: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for r in reqs {
        assert!(r.signature_ok());
        assert_eq!(r.path, "/events");
        let b = r.json.as_ref().unwrap();
        let list = b["eventList"].as_array().unwrap();
        assert!(!list.is_empty() && list.len() <= 10, "{}", list.len());
        let key = (
            b["sessionId"].as_str().unwrap().to_owned(),
            b["userId"].as_str().map(String::from),
        );
        by_group.entry(key).or_default().extend(
            list.iter()
                .map(|e| e["itemId"].as_str().unwrap().to_owned()),
        );
    }
    by_group
}

fn item_ids<'a>(records: impl IntoIterator<Item = &'a Record>, session: &str) -> Vec<String> {
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Event {
                session_id, event, ..
            } if session_id == session => event.item_id.clone(),
            _ => None,
        })
        .collect()
}

fn event_ids(reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter()
        .flat_map(|r| {
            r.json.as_ref().unwrap()["eventList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn event(id: String, group: &str) -> Event {
    Event::new("click", SystemTime::now())
        .event_id(id)
        .item_id(group.to_string())
}

client_tests!([blocking, async]:
    ninety_five_events_go_in_ten_calls_grouped_by_session_and_user,
    failed_calls_are_reported_with_their_records,
    a_failing_server_gives_every_record_back_with_its_error,
    every_record_kind_goes_to_its_own_operation,
    a_bad_record_fails_locally,
);

fn ninety_five_events_go_in_ten_calls_grouped_by_session_and_user(kind: Kind) {
    let server = FakeService::script(vec![]);
    let recs = records();
    let out = send_all(kind, &server, recs.clone());
    assert!(out.failed.is_empty(), "{:?}", out.failed.first());
    assert_eq!(out.calls_made, 10);
    assert_eq!(out.records_sent, 95);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 10);
    let got = received(&reqs);
    assert_eq!(got.len(), 3);
    // Each group's events arrive once each, in their order.
    assert_eq!(
        got[&("s1".into(), Some("u1".into()))],
        item_ids(&recs, "s1")
    );
    assert_eq!(
        got[&("s2".into(), Some("u1".into()))],
        item_ids(&recs, "s2")
    );
    assert_eq!(got[&("s3".into(), None)], item_ids(&recs, "s3"));
    // Every event got its own id.
    let ids: HashSet<String> = event_ids(&reqs).into_iter().collect();
    assert_eq!(ids.len(), 95);
}

fn failed_calls_are_reported_with_their_records(kind: Kind) {
    // Everything of session s2 is refused (not retryable); the rest goes through.
    let server = FakeService::signed(|r| {
        use personalize_events_tests::fake_service::RequestExt;
        if r.json().is_some_and(|b| b["sessionId"] == "s2") {
            reply::error(400, "InvalidInputException", "bad session")
        } else {
            reply::ok()
        }
    });
    let recs = records();
    let out = send_all(kind, &server, recs.clone());
    assert_eq!(out.calls_made, 10);
    assert_eq!(out.records_sent, 65);
    assert_eq!(out.calls_failed, 3);
    assert_eq!(out.failed.len(), 30);
    for f in &out.failed {
        assert!(
            matches!(f.error, Error::InvalidInput { .. }),
            "{:?}",
            f.error
        );
        assert!(matches!(f.record, Record::Event { .. }));
    }
    // Nothing lost: the failed records are exactly session s2's, in order,
    // carrying the event ids they were sent with.
    let s2: Vec<RecordedRequest> = server
        .requests()
        .into_iter()
        .filter(|r| r.json.as_ref().unwrap()["sessionId"] == "s2")
        .collect();
    let sent_ids: HashSet<String> = event_ids(&s2).into_iter().collect();
    assert_eq!(sent_ids.len(), 30);
    let failed: Vec<Record> = out.into_failed_records();
    assert_eq!(item_ids(&failed, "s2"), item_ids(&recs, "s2"));
    for r in &failed {
        let Record::Event {
            tracking_id,
            user_id,
            event,
            ..
        } = r
        else {
            panic!("not an event")
        };
        assert_eq!(tracking_id, "tracking-1");
        assert_eq!(user_id.as_deref(), Some("u1"));
        assert!(sent_ids.contains(event.event_id.as_ref().unwrap()));
    }
}

fn a_failing_server_gives_every_record_back_with_its_error(kind: Kind) {
    let server = FakeService::signed(|_| {
        reply::error(400, "InvalidInputException", "tracker is not active")
    });
    let mut put = HashSet::new();
    let mut recs = Vec::new();
    for i in 0..95 {
        let id = format!("e{i}");
        put.insert(id.clone());
        let session = format!("s{}", i % 4);
        recs.push(Record::event("tracking-1", session, None, event(id, "g")));
    }
    // Items too, for another operation.
    for i in 0..5 {
        recs.push(Record::item(
            "arn:aws:personalize:us-east-1:1:dataset/x",
            Item::new(format!("item-{i}")),
        ));
    }
    let out = send_all(kind, &server, recs);
    assert_eq!(out.records_sent, 0);
    assert_eq!(out.failed.len(), 100);
    assert_eq!(out.calls_failed, out.calls_made);
    assert_eq!(
        out.calls_made,
        server.request_count() as u64,
        "400 is not retried"
    );
    let mut failed_ids = HashSet::new();
    for FailedRecord { record, error, .. } in &out.failed {
        match error {
            Error::InvalidInput {
                message,
                request_id,
            } => {
                assert_eq!(message.as_deref(), Some("tracker is not active"));
                assert!(request_id.is_some());
            }
            other => panic!("unexpected error {other:?}"),
        }
        if let Record::Event { event, .. } = record {
            failed_ids.insert(event.event_id.clone().unwrap());
        }
    }
    assert_eq!(failed_ids, put);
}

fn every_record_kind_goes_to_its_own_operation(kind: Kind) {
    let server = FakeService::script(vec![]);
    let arn =
        |kind: &str| format!("arn:aws:personalize:us-east-1:123456789012:dataset/shop/{kind}");
    let t = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
    let mut recs = Vec::new();
    for i in 0..12 {
        recs.push(Record::item(arn("ITEMS"), Item::new(format!("i{i}"))));
    }
    recs.push(Record::user(arn("USERS"), User::new("u")));
    recs.push(Record::action(arn("ACTIONS"), Action::new("a")));
    recs.push(Record::action_interaction(
        "tracking-2",
        ActionInteraction::new("a", "s", t, "Viewed"),
    ));
    let out = send_all(kind, &server, recs);
    assert!(out.failed.is_empty(), "{:?}", out.failed.first());
    assert_eq!((out.calls_made, out.records_sent), (5, 15));
    let mut paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/action-interactions",
            "/actions",
            "/items",
            "/items",
            "/users"
        ]
    );
}

/// Both check each record before a call goes out (core's
/// `batch::checked`): a bad one is refused alone, with a local error, and
/// the others are sent in one call without it.
fn a_bad_record_fails_locally(kind: Kind) {
    let server = FakeService::script(vec![]);
    let recs = (0..10)
        .map(|i| {
            let ev = if i == 4 {
                Event::new("", SystemTime::now()).event_id("bad")
            } else {
                event(format!("e{i}"), "g")
            };
            Record::event("t", "s", None, ev)
        })
        .collect();
    let out = send_all(kind, &server, recs);
    assert!(out
        .failed
        .iter()
        .all(|f| matches!(f.error, Error::Validation { .. }) && f.error.is_local()));
    assert_eq!(out.records_sent, 9);
    assert_eq!((out.calls_made, out.calls_failed), (1, 0));
    assert_eq!(out.failed.len(), 1);
    assert_eq!(server.request_count(), 1);
    let sent = server.requests()[0].json.clone().unwrap();
    assert_eq!(sent["eventList"].as_array().unwrap().len(), 9);
}

// The blocking client's batch helper only.

fn blocking(server: &FakeService) -> personalize_events_blocking::Client {
    settings(server).blocking_builder().build().unwrap()
}

#[test]
fn concurrent_batches_send_the_same_calls() {
    let server = FakeService::script(vec![]);
    let report = blocking(&server).put_all_concurrently(records(), 4);
    assert!(report.is_success(), "{report:?}");
    assert_eq!((report.calls_made, report.records_sent), (10, 95));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 10);
    let got = received(&reqs);
    let total: usize = got.values().map(Vec::len).sum();
    assert_eq!(total, 95);
    assert!(server.connections() <= 4, "{}", server.connections());
}

#[test]
fn convenience_helpers_batch_one_kind() {
    let server = FakeService::script(vec![]);
    let c = blocking(&server);
    let t = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
    let r = c.put_events_batched(
        "tracking-1",
        "s",
        Some("u"),
        (0..25).map(|_| Event::new("click", t)),
    );
    assert_eq!((r.calls_made, r.records_sent), (3, 25));
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";
    let r = c.put_items_batched(arn, (0..10).map(|i| Item::new(format!("i{i}"))));
    assert_eq!((r.calls_made, r.records_sent), (1, 10));
    assert_eq!(server.requests().len(), 4);
}

// The async client's batcher only: many producers, concurrency and memory
// bounds, linger, rate limit, closing.

const TASKS: usize = 50;
const PER_TASK: usize = 200;
const MAX_IN_FLIGHT: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_from_fifty_tasks_arrive_once_grouped_and_bounded() {
    let server = FakeService::signed(|_| reply::ok().delay(Duration::from_millis(2)));
    let c = settings(&server).hyper_client();
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
async fn a_full_buffer_holds_producers_back() {
    // A slow server and one call at a time: the batcher must stop taking
    // records once its small buffer is full.
    let server = FakeService::signed(|_| reply::ok().delay(Duration::from_millis(500)));
    let batcher = settings(&server)
        .hyper_client()
        .batcher(BatcherConfig::default().max_in_flight(1).capacity(10));
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

/// The emulator, serving on the test's own (paused-clock) runtime: a
/// paused clock only jumps ahead when the runtime is idle, so the server
/// must be a task of it, not a thread of its own.
async fn emulator() -> LocalServer {
    LocalServer::builder()
        .credential(fake_service::credentials())
        .start()
        .await
        .expect("the emulator starts")
}

fn emulator_client(server: &LocalServer) -> personalize_events_hyper::Client {
    Settings::new(&server.endpoint_url(), fake_service::credentials())
        .retry(
            RetryConfig::default()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .hyper_client()
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

// The paused clock counts the linger.
#[tokio::test(start_paused = true)]
async fn a_partial_group_goes_out_after_linger() {
    const LINGER: Duration = Duration::from_millis(150);
    let server = emulator().await;
    let requests = || server.stats().requests;
    let batcher = emulator_client(&server).batcher(BatcherConfig::default().linger(LINGER));
    // The batcher idles first: the linger counts from the record's arrival.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let put_at = tokio::time::Instant::now();
    batcher
        .put(Record::event("t", "s", None, event("only".into(), "g")))
        .await
        .unwrap();
    let ticker = tick();
    tokio::time::sleep_until(put_at + LINGER - Duration::from_millis(1)).await;
    assert_eq!(requests(), 0, "the group lingers");
    for _ in 0..2000 {
        if requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(requests(), 1, "sent without a flush");
    assert!(put_at.elapsed() >= LINGER, "{:?}", put_at.elapsed());
    let report = batcher.close().await.unwrap();
    assert_eq!((report.records_sent, report.calls_made), (1, 1));
    ticker.abort();
}

// The paused clock paces the calls; a ticker keeps the clock from jumping
// to a pending timeout.
#[tokio::test(start_paused = true)]
async fn the_rate_limit_paces_calls() {
    let server = emulator().await;
    // A long linger: only full calls go out, however slow the producer.
    let batcher = emulator_client(&server).batcher(
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
    assert_eq!(server.stats().requests, 40);
    // 10 calls at once (a tenth of a second's worth), then 100 per second:
    // on the paused clock, only the limiter's waits count.
    assert!(elapsed >= Duration::from_millis(280), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
