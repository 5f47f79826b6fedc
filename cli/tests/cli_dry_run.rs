//! `--dry-run` validates and counts, sends nothing, and writes no failed
//! file unless asked.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn dry_run_validates_and_sends_nothing() {
    let dir = TempDir::new("dry");
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut text = events(23, 1);
    text.push_str("{\"sessionId\":\"s\",\"eventType\":\"\",\"sentAt\":1}\n");
    let input = dir.write("events.jsonl", &text);

    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--dry-run", "--tracking-id", "tid", "--output", "json"])
        .arg(&input));
    assert_eq!(out.code, 1, "one line is invalid: {out:?}");
    let s = out.json();
    assert_eq!(s["dryRun"], true);
    assert_eq!(s["valid"], 23);
    assert_eq!(s["rejectedByValidation"], 1);
    assert_eq!(s["calls"], 3, "23 events of one session: 10 + 10 + 3");
    assert_eq!(s["sent"], 0);
    assert!(
        out.stderr.contains("line 24: eventList[0].eventType"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("dry run of put-events"),
        "{}",
        out.stderr
    );
    assert!(!dir.join("events.jsonl.failed.jsonl").exists());
    assert_eq!(server.stats().requests, 0);

    // With --failed-out, the invalid line is written; all-valid input exits 0.
    let out = run(bin_for(&dir, &server, "put-events")
        .args([
            "--dry-run",
            "--tracking-id",
            "tid",
            "--failed-out",
            "bad.jsonl",
        ])
        .arg(&input));
    assert_eq!(out.code, 1);
    assert_eq!(
        std::fs::read_to_string(dir.join("bad.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    let good = dir.write("good.jsonl", &events(5, 2));
    let out = run(bin(&dir)
        .args(["put-events", "--dry-run", "--tracking-id", "t"])
        .arg(&good));
    assert_eq!(out.code, 0, "no credentials needed: {out:?}");
    assert_eq!(server.stats().requests, 0);
}
