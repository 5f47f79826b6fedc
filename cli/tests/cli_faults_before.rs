//! Faults before the records are kept (resets, 503s, 500s, throttling):
//! the client retries, and every good record arrives exactly once.

mod common;

use common::*;
use personalize_events_local::{parse_fault_script, LocalServer};

#[test]
fn retried_faults_before_keeping_deliver_each_record_once() {
    let dir = TempDir::new("before");
    let server = LocalServer::builder()
        .fault_script(parse_fault_script("reset,503,ok,429,500,reset,ok,503").unwrap())
        .start_blocking()
        .unwrap();
    let input = dir.write("events.jsonl", &events(100, 7));
    let out = run(bin_for(&dir, &server, "put-events")
        .args([
            "--tracking-id",
            "tid",
            "--max-attempts",
            "5",
            "--output",
            "json",
        ])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    let summary = out.json();
    assert_eq!(summary["sent"], 100);
    assert_eq!(summary["retries"], 6, "one retry per fault: {summary}");

    let records = server.records();
    assert_eq!(records.len(), 100, "each record once");
    assert_eq!(event_ids(&records).len(), 100, "distinct event ids");
    assert!(records.iter().all(|r| !r.duplicate));
    let mut items = item_ids(&records);
    items.sort();
    items.dedup();
    assert_eq!(items.len(), 100);
    assert_eq!(server.stats().faults_total(), 6);
    assert!(!dir.join("events.jsonl.failed.jsonl").exists());
}
