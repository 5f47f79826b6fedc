//! Bad lines are reported with their line numbers and the core's message,
//! written verbatim to the failed file, and the good lines are still sent;
//! the exit code is 1.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn bad_lines_are_reported_kept_and_the_rest_is_sent() {
    let dir = TempDir::new("bad");
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut lines: Vec<String> = events(20, 2).lines().map(str::to_owned).collect();
    let long = "x".repeat(300);
    lines[4] = format!(
        "{{\"sessionId\":\"s0\",\"eventType\":\"click\",\"sentAt\":1795953540,\"itemId\":\"{long}\"}}"
    );
    lines[9] = "{\"sessionId\":\"s0\",\"eventType\":\"click\"".to_owned();
    lines[14] =
        "{\"sessionId\":\"s0\",\"eventType\":\"click\",\"sentAt\":1,\"itemID\":\"a\"}".to_owned();
    lines[16] =
        "{\"sessionId\":\"s0\",\"trackingId\":\"elsewhere\",\"eventType\":\"click\",\"sentAt\":1}"
            .to_owned();
    let input = dir.write("events.jsonl", &(lines.join("\n") + "\n"));

    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "tid", "--output", "json"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("line 5: eventList[0].itemId: length 300 is above the maximum 256"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("line 10: not valid JSON"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("line 15: unknown member `itemID`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("line 17: trackingId `elsewhere` differs from --tracking-id `tid`"),
        "{}",
        out.stderr
    );
    let summary = out.json();
    assert_eq!(summary["sent"], 16);
    assert_eq!(summary["rejectedByValidation"], 4);
    assert_eq!(summary["complete"], false);

    // The failed file holds the four lines exactly as they were.
    let failed = std::fs::read_to_string(dir.join("events.jsonl.failed.jsonl")).unwrap();
    let want: Vec<&str> = [4, 9, 14, 16].iter().map(|&i| lines[i].as_str()).collect();
    assert_eq!(failed.lines().collect::<Vec<_>>(), want);

    // The 16 good lines arrived.
    let mut got = item_ids(&server.records());
    got.sort();
    let mut expected: Vec<String> = (1..=20)
        .filter(|l| ![5, 10, 15, 17].contains(l))
        .map(|l| format!("line-{l}"))
        .collect();
    expected.sort();
    assert_eq!(got, expected);
}
