//! Every fault kind, observed on the wire with a raw `std::net` client:
//! 500, 503, 429, connection reset, stall and truncated response, from a
//! script or a seeded failure rate, before or after the records are kept.

mod local_wire;

use std::io;
use std::time::{Duration, Instant, UNIX_EPOCH};

use local_wire::*;
use personalize_events_core::{Event, PutEventsInput};
use personalize_events_local::{FaultKind, LocalServer, Phase, ScriptStep, MAX_STALL};

fn input(event_id: &str) -> PutEventsInput {
    PutEventsInput::new("tracking", "session").event(
        Event::new("click", UNIX_EPOCH + Duration::from_secs(1_795_953_540)).event_id(event_id),
    )
}

fn with_script(steps: &str) -> LocalServer {
    LocalServer::builder()
        .fault_script(personalize_events_local::parse_fault_script(steps).unwrap())
        .stall(Duration::from_millis(400))
        .start_blocking()
        .expect("start")
}

#[test]
fn status_faults_answer_like_aws() {
    let s = with_script("500,503,429");
    let url = s.endpoint_url();
    let r = send(&signed(&url, input("e1"))).unwrap();
    r.assert_error(500, "InternalFailure");
    let r = send(&signed(&url, input("e2"))).unwrap();
    r.assert_error(503, "ServiceUnavailable");
    let r = send(&signed(&url, input("e3"))).unwrap();
    r.assert_error(429, "ThrottlingException");
    assert_eq!(
        r.body,
        br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#
    );
    // The script is over: the next request is accepted.
    assert_eq!(send(&signed(&url, input("e4"))).unwrap().status, 200);
    let ids: Vec<_> = s
        .records()
        .iter()
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["e4"], "faults before keeping keep nothing");
    let st = s.stats();
    assert_eq!(st.faults_total(), 3);
    assert_eq!(st.faults_of(FaultKind::Throttling), 1);
    assert_eq!(st.requests, 4);
}

#[test]
fn reset_closes_the_connection_without_an_answer() {
    let s = with_script("reset");
    let url = s.endpoint_url();
    let (bytes, end) = send_raw(&signed(&url, input("e1")));
    assert!(
        bytes.is_empty(),
        "no answer expected: {}",
        String::from_utf8_lossy(&bytes)
    );
    if let Err(e) = end {
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    }
    assert!(s.records().is_empty());
    assert_eq!(s.stats().faults_of(FaultKind::Reset), 1);
    assert_eq!(send(&signed(&url, input("e2"))).unwrap().status, 200);
}

#[test]
fn truncated_response_announces_more_than_it_sends() {
    let s = with_script("truncate,truncate");
    let url = s.endpoint_url();
    let (bytes, _) = send_raw(&signed(&url, input("e1")));
    let text = String::from_utf8_lossy(&bytes).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("a full head");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    assert!(body.len() < len, "{} of {len} bytes", body.len());
    assert!(head.to_ascii_lowercase().contains("x-amzn-requestid"));
    // A reader that trusts Content-Length sees the connection end early.
    let e = send(&signed(&url, input("e2"))).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    assert_eq!(s.stats().faults_of(FaultKind::Truncate), 2);
}

#[test]
fn stall_holds_the_request_then_answers() {
    let s = with_script("stall,stall");
    let url = s.endpoint_url();
    // The request is held: a read shorter than the stall gets nothing...
    let req = signed(&url, input("e1"));
    let mut stream = connect(&req).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    write_request(&mut stream, &req).unwrap();
    let e = read_response(&mut stream).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    // ...then answered on the same connection (60 s: a hang guard only).
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let r = read_response(&mut stream).unwrap();
    assert_eq!(r.status, 200);
    drop(stream);
    // A client with a shorter read timeout gives up.
    let req = signed(&url, input("e2"));
    let mut stream = connect(&req).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    write_request(&mut stream, &req).unwrap();
    let e = read_response(&mut stream).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    assert_eq!(s.stats().faults_of(FaultKind::Stall), 2);
    // Giving up during a stall before keeping cancels the request.
    drop(stream);
    std::thread::sleep(Duration::from_millis(800));
    let ids: Vec<_> = s
        .records()
        .iter()
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["e1"]);
}

#[test]
fn a_stall_ends_when_the_server_stops() {
    let s = LocalServer::builder()
        .fault_script([FaultKind::Stall])
        .stall(MAX_STALL)
        .start_blocking()
        .unwrap();
    let req = signed(&s.endpoint_url(), input("e1"));
    // Stalled for the longest a stall may be: only the stop can end it
    // before the hang guard.
    const HANG_GUARD: Duration = MAX_STALL;
    let started = Instant::now();
    let client = std::thread::spawn(move || send(&req));
    // Stop only once the request is in (a stop before would refuse it).
    while s.stats().requests == 0 {
        assert!(started.elapsed() < HANG_GUARD, "request never came");
        std::thread::sleep(Duration::from_millis(10));
    }
    s.shutdown();
    let r = client.join().unwrap().unwrap();
    assert_eq!(r.status, 200);
    // Not a measure: only a stall that ran its full MAX_STALL reaches it.
    assert!(started.elapsed() < HANG_GUARD);
}

#[test]
fn after_phase_keeps_the_records_before_phase_does_not() {
    let s = with_script("503@before,503@after,reset@after,truncate@after,429,stall@after");
    let url = s.endpoint_url();
    for i in 1..=6 {
        let _ = send(&signed(&url, input(&format!("e{i}"))));
    }
    let ids: Vec<_> = s
        .records()
        .iter()
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["e2", "e3", "e4", "e6"]);
    assert_eq!(s.stats().faults_total(), 6);
}

#[test]
fn default_phase_applies_to_steps_without_one() {
    let s = LocalServer::builder()
        .fault_phase(Phase::After)
        .fault_script([
            ScriptStep::fault(FaultKind::ServiceUnavailable),
            ScriptStep::fault(FaultKind::ServiceUnavailable).at(Phase::Before),
        ])
        .start_blocking()
        .unwrap();
    let url = s.endpoint_url();
    assert_eq!(send(&signed(&url, input("e1"))).unwrap().status, 503);
    assert_eq!(send(&signed(&url, input("e2"))).unwrap().status, 503);
    let ids: Vec<_> = s
        .records()
        .iter()
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["e1"]);
}

fn statuses(seed: u64, n: usize) -> (Vec<u16>, u64) {
    let s = LocalServer::builder()
        .failure_rate(0.5)
        .seed(seed)
        .random_faults([FaultKind::ServiceUnavailable, FaultKind::Throttling])
        .start_blocking()
        .unwrap();
    let url = s.endpoint_url();
    let codes = (0..n)
        .map(|i| send(&signed(&url, input(&format!("e{i}")))).unwrap().status)
        .collect();
    (codes, s.stats().faults_total())
}

#[test]
fn a_seeded_failure_rate_is_deterministic() {
    let (a, fa) = statuses(11, 24);
    let (b, fb) = statuses(11, 24);
    assert_eq!(a, b);
    assert_eq!(fa, fb);
    assert!(
        a.contains(&200) && (a.contains(&503) || a.contains(&429)),
        "{a:?}"
    );
    assert_eq!(fa as usize, a.iter().filter(|c| **c != 200).count());
    let (c, _) = statuses(12, 24);
    assert_ne!(a, c, "another seed gives another pattern");
}
