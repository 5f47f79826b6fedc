//! Bad input is refused with its line number instead of sent: a CSV row
//! with an unclosed quote or a field count that differs from the header's,
//! a timestamp that cannot be meant as epoch seconds (the message names the
//! unit it looks like), a value of the wrong type (the message names its
//! path); the rest goes on. A directory as input is a usage error.

mod common;

use common::*;
use personalize_events_local::LocalServer;

const ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";

#[test]
fn malformed_csv_rows_are_refused_and_rerunnable() {
    let dir = TempDir::new("strict-csv");
    let server = LocalServer::builder().start_blocking().unwrap();
    let csv = "ITEM_ID,TITLE\nx1,ok\nx2\nx4,a,b\n\"x5\"junk,c\nx6,fine\n\"x3,unterminated\n";
    let input = dir.write("items.csv", csv);
    let out = run(bin_for(&dir, &server, "put-items")
        .args(["--dataset-arn", ARN])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    for want in [
        "line 3: the row has 1 field but the header 2",
        "line 4: the row has 3 fields but the header 2",
        "line 5: text after the closing quote of field 1",
        "line 7: unclosed quote",
    ] {
        assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
    }
    let mut sent: Vec<String> = server
        .records()
        .iter()
        .map(|r| r.json["itemId"].as_str().unwrap().to_owned())
        .collect();
    sent.sort();
    assert_eq!(sent, ["x1", "x6"], "nothing malformed is sent");
    // The failed file is CSV with the header and the rows as they were.
    let failed_path = dir.join("items.csv.failed.csv");
    let failed = std::fs::read_to_string(&failed_path).unwrap();
    assert_eq!(
        failed,
        "ITEM_ID,TITLE\nx2\nx4,a,b\n\"x5\"junk,c\n\"x3,unterminated\n"
    );
    let fixed = failed
        .replace("x2\n", "x2,two\n")
        .replace("x4,a,b", "x4,\"a,b\"")
        .replace("\"x5\"junk", "x5")
        .replace("\"x3,unterminated", "\"x3\",closed");
    std::fs::write(&failed_path, fixed).unwrap();
    let out = run(bin_for(&dir, &server, "put-items")
        .args(["--dataset-arn", ARN, "--failed-out", "again.csv"])
        .arg(&failed_path));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 6);
}

#[test]
fn timestamps_types_and_directories() {
    let dir = TempDir::new("strict-json");
    let server = LocalServer::builder().start_blocking().unwrap();
    let text = [
        r#"{"sessionId":"s","eventType":"c","sentAt":1700000000123}"#,
        r#"{"sessionId":"s","eventType":"c","sentAt":-5}"#,
        r#"{"sessionId":"s","eventType":"c","sentAt":1700000000123456}"#,
        r#"{"sessionId":"s","eventType":"c","sentAt":1,"eventValue":"high"}"#,
        r#"{"sessionId":"s","eventType":"c","sentAt":1795953540,"itemId":"good"}"#,
    ]
    .join("\n");
    let input = dir.write("events.jsonl", &text);
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    for want in [
        "line 1: eventList[0].sentAt: the timestamp looks like milliseconds",
        "line 2: eventList[0].sentAt: a negative timestamp",
        "line 3: eventList[0].sentAt: the timestamp looks like microseconds",
        "line 4: eventList[0].eventValue: invalid type: string \"high\", expected f32",
    ] {
        assert!(out.stderr.contains(want), "{want}: {}", out.stderr);
    }
    let records = server.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].json["itemId"], "good");

    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t"])
        .arg(dir.path()));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is a directory"), "{}", out.stderr);
    let out = run_with_stdin_file(
        bin_for(&dir, &server, "put-events").args(["--tracking-id", "t"]),
        dir.path(),
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!dir.join("failed.jsonl").exists());
}
