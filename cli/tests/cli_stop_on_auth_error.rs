//! An error no retry can fix (bad credentials) stops sending after the first
//! call; the rest of the input still goes to the failed file, so nothing is
//! lost, and fixing the credentials and running again finishes the job.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn bad_credentials_stop_sending_and_keep_every_record() {
    let dir = TempDir::new("auth");
    let server = LocalServer::builder().start_blocking().unwrap();
    let input = dir.write("events.jsonl", &events(200, 4));
    let out = run(bin_for(&dir, &server, "put-events")
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .args([
            "--tracking-id",
            "t",
            "--concurrency",
            "1",
            "--output",
            "json",
        ])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("InvalidSignatureException"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("sending stopped"), "{}", out.stderr);
    let s = out.json();
    assert_eq!(s["sent"], 0);
    assert_eq!(
        s["failedAfterRetries"].as_u64().unwrap() + s["notSent"].as_u64().unwrap(),
        200
    );
    assert!(server.stats().requests <= 3, "{:?}", server.stats());
    let failed = dir.join("events.jsonl.failed.jsonl");
    assert_eq!(json_lines(&failed).len(), 200);

    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t"])
        .arg(&failed));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 200);
}
