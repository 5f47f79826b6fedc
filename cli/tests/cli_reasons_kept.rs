//! Every reason is kept: with `-q` too, each record not accepted has a line
//! in the reasons file beside the failed file, with the input's line and
//! why; the failed file itself stays exactly re-runnable.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn quiet_runs_keep_each_reason_with_its_line() {
    let dir = TempDir::new("reasons");
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut lines: Vec<String> = events(12, 3).lines().map(str::to_owned).collect();
    lines[2] = r#"{"sessionId":"s0","eventType":"click","sentAt":1,"eventValue":"high"}"#.into();
    lines[7] = r#"{"sessionId":"s0","eventType":"click","sentAt":1700000000123}"#.into();
    let input = dir.write("events.jsonl", &(lines.join("\n") + "\n"));
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "-q"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        !out.stderr.contains("line 3:"),
        "-q prints no per-line messages"
    );
    assert!(
        out.stderr.contains("events.jsonl.failed.reasons.jsonl"),
        "{}",
        out.stderr
    );
    let reasons = json_lines(&dir.join("events.jsonl.failed.reasons.jsonl"));
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0]["line"], 3);
    assert_eq!(reasons[0]["failedOutLine"], 1);
    assert!(reasons[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("eventList[0].eventValue: invalid type"));
    assert_eq!(reasons[1]["line"], 8);
    assert_eq!(reasons[1]["failedOutLine"], 2);
    assert!(reasons[1]["reason"]
        .as_str()
        .unwrap()
        .contains("milliseconds"));
    // The failed file is the two lines as they were: fixed, a re-run takes them.
    let failed = std::fs::read_to_string(dir.join("events.jsonl.failed.jsonl")).unwrap();
    assert_eq!(failed, format!("{}\n{}\n", lines[2], lines[7]));
    let fixed = dir.write(
        "fixed.jsonl",
        &failed
            .replace("\"high\"", "1.5")
            .replace("1700000000123", "1700000000"),
    );
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "-q"])
        .arg(&fixed));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 12);
}

#[test]
fn failed_calls_keep_their_reason_too() {
    let dir = TempDir::new("reasons-calls");
    let server = LocalServer::builder()
        .fault_script(personalize_events_local::parse_fault_script("503").unwrap())
        .start_blocking()
        .unwrap();
    let input = dir.write("events.jsonl", &events(3, 1));
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "-q", "--max-attempts", "1"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    let reasons = json_lines(&dir.join("events.jsonl.failed.reasons.jsonl"));
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    for (i, r) in reasons.iter().enumerate() {
        assert_eq!(r["failedOutLine"], i as u64 + 1);
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("PutEvents call of 3 records failed"),
            "{r}"
        );
    }
    assert_eq!(json_lines(&dir.join("events.jsonl.failed.jsonl")).len(), 3);
}
