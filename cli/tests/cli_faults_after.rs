//! Faults after the records were kept: the client's retry sends them again
//! with the same event ids, so the service can drop the duplicates.

mod common;

use std::collections::HashMap;

use common::*;
use personalize_events_local::{parse_fault_script, LocalServer};

#[test]
fn retries_after_keeping_are_duplicates_with_the_same_event_ids() {
    let dir = TempDir::new("after");
    let server = LocalServer::builder()
        .fault_script(parse_fault_script("503@after,ok,reset@after,500@after").unwrap())
        .start_blocking()
        .unwrap();
    let input = dir.write("events.jsonl", &events(60, 6));
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "tid", "--max-attempts", "5"])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");

    let records = server.records();
    let stats = server.stats();
    assert_eq!(stats.faults_total(), 3);
    // Every line arrived; the faulted calls' records arrived twice.
    assert_eq!(event_ids(&records).len(), 60);
    let duplicates: Vec<_> = records.iter().filter(|r| r.duplicate).collect();
    assert_eq!(duplicates.len() as u64, stats.duplicates);
    assert_eq!(records.len(), 60 + duplicates.len());
    assert!(!duplicates.is_empty() && duplicates.len() <= 30);
    // A duplicate is the same record as its first copy: same event id,
    // same line.
    let first: HashMap<&str, &str> = records
        .iter()
        .filter(|r| !r.duplicate)
        .map(|r| (r.event_id().unwrap(), r.json["itemId"].as_str().unwrap()))
        .collect();
    for d in duplicates {
        assert_eq!(
            first[d.event_id().unwrap()],
            d.json["itemId"].as_str().unwrap()
        );
    }
}
