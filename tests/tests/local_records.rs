//! What the emulator keeps: accepted records of all five operations, the
//! JSON-lines log, duplicates by `eventId` (also across the client's own
//! retries), and its limits on requests and time.

mod local_wire;

use std::io;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use local_wire::*;
use personalize_events_core::batch::Record;
use personalize_events_core::{
    Action, ActionInteraction, Error, Event, Item, Operation, Poll, PutActionInteractionsInput,
    PutActionsInput, PutEventsInput, PutItemsInput, PutUsersInput, TransportErrorKind, User,
};
use personalize_events_local::LocalServer;
use serde_json::Value;

fn sent() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_540)
}

fn events(ids: &[&str]) -> PutEventsInput {
    PutEventsInput::new("tracking", "session")
        .user_id("user-1")
        .events(
            ids.iter()
                .map(|id| Event::new("click", sent()).event_id(*id).item_id("item-1")),
        )
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "personalize-local-{name}-{}-{nanos}.jsonl",
        std::process::id()
    ))
}

#[test]
fn records_of_all_five_operations_are_kept() {
    let s = LocalServer::builder().start_blocking().unwrap();
    let url = s.endpoint_url();
    let calls: Vec<http::Request<Vec<u8>>> =
        vec![
            signed(&url, events(&["e1", "e2"])),
            signed(
                &url,
                PutItemsInput::new(DATASET).item(Item::new("i1").properties(r#"{"genre":"x"}"#)),
            ),
            signed(&url, PutUsersInput::new(DATASET).user(User::new("u1"))),
            signed(
                &url,
                PutActionsInput::new(DATASET).action(Action::new("a1")),
            ),
            signed(
                &url,
                PutActionInteractionsInput::new("tracking")
                    .action_interaction(ActionInteraction::new("a1", "s", sent(), "Taken")),
            ),
        ];
    let mut ids = Vec::new();
    for c in &calls {
        let r = send(c).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        ids.push(r.header("x-amzn-requestid").unwrap().to_owned());
    }
    let recs = s.records();
    let ops: Vec<_> = recs.iter().map(|r| r.operation).collect();
    assert_eq!(
        ops,
        [
            "PutEvents",
            "PutEvents",
            "PutItems",
            "PutUsers",
            "PutActions",
            "PutActionInteractions"
        ]
    );
    let seqs: Vec<_> = recs.iter().map(|r| r.request_seq).collect();
    assert_eq!(seqs, [1, 1, 2, 3, 4, 5]);
    assert_eq!(recs[0].request_id, ids[0]);
    assert_eq!(recs[5].request_id, ids[4]);
    match &recs[1].record {
        Record::Event {
            tracking_id,
            session_id,
            user_id,
            event,
        } => {
            assert_eq!(tracking_id, "tracking");
            assert_eq!(session_id, "session");
            assert_eq!(user_id.as_deref(), Some("user-1"));
            assert_eq!(event.event_id.as_deref(), Some("e2"));
            assert_eq!(event.sent_at, sent());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(recs[2].dataset_arn(), Some(DATASET));
    assert_eq!(recs[2].json["properties"], r#"{"genre":"x"}"#);
    assert_eq!(recs[5].tracking_id(), Some("tracking"));
    assert_eq!(recs[5].json["actionId"], "a1");
    let st = s.stats();
    assert_eq!(
        (st.requests, st.accepted_requests, st.accepted_records),
        (5, 5, 6)
    );
    assert_eq!(s.take_records().len(), 6);
    assert!(s.records().is_empty());
}

#[test]
fn accepted_records_are_appended_to_the_json_lines_file() {
    let path = temp_path("log");
    {
        let s = LocalServer::builder()
            .log_file(&path)
            .start_blocking()
            .unwrap();
        let url = s.endpoint_url();
        assert_eq!(
            send(&signed(&url, events(&["e1", "e2"]))).unwrap().status,
            200
        );
        assert_eq!(
            send(&signed(
                &url,
                PutItemsInput::new(DATASET).item(Item::new("i1"))
            ))
            .unwrap()
            .status,
            200
        );
        // Refused requests are not logged.
        let r = send(&sign_raw(&url, "/items", "{}")).unwrap();
        assert_eq!(r.status, 400);
        s.shutdown();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["operation"], "PutEvents");
    assert_eq!(lines[0]["trackingId"], "tracking");
    assert_eq!(lines[0]["sessionId"], "session");
    assert_eq!(lines[0]["userId"], "user-1");
    assert_eq!(lines[0]["requestSeq"], 1);
    assert_eq!(lines[0]["duplicate"], false);
    assert_eq!(lines[1]["record"]["eventId"], "e2");
    assert_eq!(lines[1]["record"]["itemId"], "item-1");
    assert_eq!(lines[2]["operation"], "PutItems");
    assert_eq!(lines[2]["datasetArn"], DATASET);
    assert_eq!(lines[2]["record"]["itemId"], "i1");
    assert!(lines[2]["receivedAt"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn duplicates_by_event_id_are_counted() {
    let s = LocalServer::builder().start_blocking().unwrap();
    let url = s.endpoint_url();
    send(&signed(&url, events(&["e1", "e2"]))).unwrap();
    send(&signed(&url, events(&["e2", "e3"]))).unwrap();
    let ai = || {
        PutActionInteractionsInput::new("tracking")
            .action_interaction(ActionInteraction::new("a", "s", sent(), "Taken").event_id("e1"))
    };
    // Another family: an action interaction "e1" is not an event "e1".
    send(&signed(&url, ai())).unwrap();
    send(&signed(&url, ai())).unwrap();
    let flags: Vec<_> = s.records().iter().map(|r| r.duplicate).collect();
    assert_eq!(flags, [false, false, true, false, false, true]);
    assert_eq!(s.stats().duplicates, 2);
    assert_eq!(s.stats().accepted_records, 6);
}

/// Drives a core `Call` over the raw client: retries included.
fn drive<I: Operation>(url: &str, input: I) -> (Result<I::Output, Error>, u32) {
    let core = client(url);
    let mut call = core.call(&input, Instant::now(), 5).unwrap();
    loop {
        match call.poll(Instant::now(), SystemTime::now(), &creds(), 0.0) {
            Poll::Send(s) => match send(&s.request) {
                Ok(r) => {
                    let mut resp = http::Response::builder().status(r.status);
                    for (k, v) in &r.headers {
                        resp = resp.header(k.as_str(), v.as_str());
                    }
                    let resp = resp.body(&r.body[..]).unwrap();
                    call.handle_response(Instant::now(), SystemTime::now(), resp);
                }
                Err(e) => call.handle_transport_error(
                    Instant::now(),
                    Error::transport(TransportErrorKind::Io, e.to_string()),
                ),
            },
            Poll::Wait(d) => std::thread::sleep(d.min(Duration::from_secs(1))),
            Poll::Done(r) => return (r, call.attempts()),
        }
    }
}

#[test]
fn client_retries_after_a_kept_request_are_duplicates_not_new_records() {
    for (script, kept, dups) in [
        ("503@before", 1, 0),
        ("503@after", 2, 1),
        ("reset@after", 2, 1),
        ("truncate@after", 2, 1),
        ("429@after,500@after", 3, 2),
    ] {
        let s = LocalServer::builder()
            .fault_script(personalize_events_local::parse_fault_script(script).unwrap())
            .start_blocking()
            .unwrap();
        // No eventId: the client fills one in once for every attempt.
        let input = PutEventsInput::new("tracking", "session").event(Event::new("click", sent()));
        let (out, attempts) = drive(&s.endpoint_url(), input);
        assert!(out.is_ok(), "{script}: {out:?}");
        assert_eq!(attempts as usize, kept.max(2), "{script}");
        let recs = s.records();
        assert_eq!(recs.len(), kept, "{script}");
        assert_eq!(s.stats().duplicates, dups, "{script}");
        let first = recs[0].event_id().unwrap();
        assert!(recs.iter().all(|r| r.event_id() == Some(first)), "{script}");
    }
}

#[test]
fn max_requests_stops_the_server() {
    let s = LocalServer::builder()
        .max_requests(3)
        .start_blocking()
        .unwrap();
    let url = s.endpoint_url();
    for i in 0..3 {
        let r = send(&signed(&url, events(&[&format!("e{i}")]))).unwrap();
        assert_eq!(r.status, 200, "request {i}");
    }
    assert!(s.wait_timeout(Duration::from_secs(10)), "stopped by itself");
    assert!(s.is_stopped());
    let refused = std::net::TcpStream::connect(s.local_addr());
    assert!(refused.is_err(), "no longer listening");
    let st = s.shutdown();
    assert_eq!((st.requests, st.accepted_records), (3, 3));
}

#[test]
fn max_duration_stops_the_server() {
    // Long enough that a request made at once is served first (the order
    // is the check, not a duration); the waits below are hang guards only.
    let s = LocalServer::builder()
        .max_duration(Duration::from_secs(3))
        .start_blocking()
        .unwrap();
    assert!(!s.is_stopped(), "not stopped at start");
    let r = send(&signed(&s.endpoint_url(), events(&["e0"]))).unwrap();
    assert_eq!(r.status, 200, "served before its time is up");
    assert!(s.wait_timeout(Duration::from_secs(60)), "stopped by itself");
    let e = send(&signed(&s.endpoint_url(), events(&["e1"]))).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    assert_eq!(s.shutdown().requests, 1);
}
