//! A call that fails after its retries goes to the failed file with the
//! event ids it was sent with; running the tool again on that file finishes
//! the job, and cannot count an event twice.

mod common;

use std::collections::HashSet;

use common::*;
use personalize_events_local::{parse_fault_script, LocalServer};

fn fail_then_rerun(script: &str) -> (LocalServer, HashSet<String>, TempDir) {
    let dir = TempDir::new("rerun");
    let server = LocalServer::builder()
        .fault_script(parse_fault_script(script).unwrap())
        .start_blocking()
        .unwrap();
    let input = dir.write("events.jsonl", &events(30, 1));

    // One worker, two attempts: the first call (10 events) fails twice.
    let out = run(bin_for(&dir, &server, "put-events")
        .args([
            "--tracking-id",
            "tid",
            "--concurrency",
            "1",
            "--max-attempts",
            "2",
        ])
        .args(["--output", "json"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["failedAfterRetries"], 10);
    assert_eq!(out.json()["sent"], 20);
    assert!(
        out.stderr.contains("failed: ServiceUnavailable (HTTP 503)"),
        "{}",
        out.stderr
    );

    let failed_path = dir.join("events.jsonl.failed.jsonl");
    let failed = json_lines(&failed_path);
    assert_eq!(failed.len(), 10);
    let failed_ids: HashSet<String> = failed
        .iter()
        .map(|l| {
            assert_eq!(l["trackingId"], "tid");
            assert_eq!(l["sessionId"], "s0");
            l["eventId"]
                .as_str()
                .expect("the event id that was sent")
                .to_owned()
        })
        .collect();
    assert_eq!(failed_ids.len(), 10);

    // Again on the failed file, same flags: everything goes through.
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "tid"])
        .arg(&failed_path));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!dir.join("events.jsonl.failed.jsonl.failed.jsonl").exists());
    (server, failed_ids, dir)
}

#[test]
fn rerun_after_faults_before_keeping_delivers_each_event_once() {
    let (server, failed_ids, _dir) = fail_then_rerun("503*2");
    let records = server.records();
    assert_eq!(records.len(), 30);
    let ids = event_ids(&records);
    assert_eq!(ids.len(), 30);
    assert!(failed_ids.is_subset(&ids), "sent again with the same ids");
}

#[test]
fn rerun_after_faults_after_keeping_only_repeats_known_event_ids() {
    let (server, failed_ids, _dir) = fail_then_rerun("503*2@after");
    let records = server.records();
    // The failed call was kept twice by the server, then sent once more.
    assert_eq!(records.len(), 30 + 10 + 10);
    assert_eq!(event_ids(&records).len(), 30, "no event counted twice");
    let dup_ids: HashSet<String> = records
        .iter()
        .filter(|r| r.duplicate)
        .map(|r| r.event_id().unwrap().to_owned())
        .collect();
    assert_eq!(dup_ids, failed_ids);
}
