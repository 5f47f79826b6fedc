//! The blocking client's batch helper: records grouped into calls of at
//! most 10 by the API's rules, and failed calls reported with their records.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use personalize_events_blocking::*;
use personalize_events_tests::scripted_server::{self, RecordedRequest, Reply, ScriptedServer};

fn client(server: &ScriptedServer) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(scripted_server::credentials())
        .endpoint_url(server.url())
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap()
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

fn item_ids(records: &[Record], session: &str) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Event {
                session_id, event, ..
            } if session_id == session => event.item_id.clone(),
            _ => None,
        })
        .collect()
}

#[test]
fn ninety_five_events_go_in_ten_calls_grouped_by_session_and_user() {
    let server = ScriptedServer::start(vec![]);
    let recs = records();
    let report = client(&server).put_all(recs.clone());
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.calls, 10);
    assert_eq!(report.records_sent, 95);
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
    let ids: HashSet<String> = reqs
        .iter()
        .flat_map(|r| {
            r.json.as_ref().unwrap()["eventList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(ids.len(), 95);
}

#[test]
fn failed_calls_are_reported_with_their_records() {
    // Everything of session s2 is refused (not retryable); the rest goes through.
    let server = ScriptedServer::with_handler(|r| {
        if r.json.as_ref().is_some_and(|b| b["sessionId"] == "s2") {
            Reply::error(400, "InvalidInputException", "bad session")
        } else {
            Reply::ok()
        }
    });
    let recs = records();
    let report = client(&server).put_all(recs.clone());
    assert_eq!(report.calls, 10);
    assert_eq!(report.records_sent, 65);
    assert_eq!(report.failures.len(), 3);
    assert_eq!(report.records_failed(), 30);
    for f in &report.failures {
        assert_eq!(f.operation, "PutEvents");
        assert!(
            matches!(f.error, Error::InvalidInput { .. }),
            "{:?}",
            f.error
        );
        assert!(!f.records.is_empty() && f.records.len() <= 10);
    }
    // Nothing lost: the failed records are exactly session s2's, in order,
    // carrying the event ids they were sent with.
    let sent_ids: HashSet<String> = server
        .requests()
        .iter()
        .filter(|r| r.json.as_ref().unwrap()["sessionId"] == "s2")
        .flat_map(|r| {
            r.json.as_ref().unwrap()["eventList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(sent_ids.len(), 30);
    let failed = report.into_failed_records();
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

#[test]
fn concurrent_batches_send_the_same_calls() {
    let server = ScriptedServer::start(vec![]);
    let report = client(&server).put_all_concurrently(records(), 4);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.calls, report.records_sent), (10, 95));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 10);
    let got = received(&reqs);
    let total: usize = got.values().map(Vec::len).sum();
    assert_eq!(total, 95);
    assert!(server.connections() <= 4, "{}", server.connections());
}

#[test]
fn every_record_kind_goes_to_its_own_operation() {
    let server = ScriptedServer::start(vec![]);
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
    let report = client(&server).put_all(recs);
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.calls, report.records_sent), (5, 15));
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

#[test]
fn convenience_helpers_batch_one_kind() {
    let server = ScriptedServer::start(vec![]);
    let c = client(&server);
    let t = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
    let r = c.put_events_batched(
        "tracking-1",
        "s",
        Some("u"),
        (0..25).map(|_| Event::new("click", t)),
    );
    assert_eq!((r.calls, r.records_sent), (3, 25));
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";
    let r = c.put_items_batched(arn, (0..10).map(|i| Item::new(format!("i{i}"))));
    assert_eq!((r.calls, r.records_sent), (1, 10));
    assert_eq!(server.requests().len(), 4);
}
