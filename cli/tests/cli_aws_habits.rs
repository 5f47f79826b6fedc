//! AWS CLI habits: `--region`, `--endpoint-url`, `--output` and `--debug`
//! go before the subcommand too; `--debug` shows the client's own tracing
//! (its call spans); `--cli-input-json` takes one whole request in the
//! API's shape, from a file, `file://`, or `-` for stdin.

mod common;

use common::*;
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};

fn with_keys(dir: &TempDir) -> std::process::Command {
    let mut c = bin(dir);
    c.env("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY);
    c
}

#[test]
fn options_before_the_subcommand_and_debug_output() {
    let dir = TempDir::new("aws-habits");
    let server = LocalServer::builder().start_blocking().unwrap();
    let input = dir.write("events.jsonl", &events(3, 1));
    let out = run(with_keys(&dir)
        .args(["--region", "us-east-1", "--endpoint-url"])
        .arg(server.endpoint_url())
        .args([
            "--output",
            "json",
            "--debug",
            "put-events",
            "--tracking-id",
            "t",
        ])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["sent"], 3);
    assert!(
        out.stderr.contains("personalize_events.call") && out.stderr.contains("PutEvents"),
        "{}",
        out.stderr
    );
    // Without --debug, no tracing output.
    let out = run(with_keys(&dir)
        .args(["--region", "us-east-1", "--endpoint-url"])
        .arg(server.endpoint_url())
        .args(["put-events", "--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stderr.contains("personalize_events.call"),
        "{}",
        out.stderr
    );
    // --local still refuses an endpoint, wherever it is given.
    let out = run(bin(&dir)
        .args([
            "--endpoint-url",
            "http://127.0.0.1:1",
            "put-events",
            "--local",
        ])
        .arg(&input));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn cli_input_json_takes_one_whole_request() {
    let dir = TempDir::new("cli-input-json");
    let server = LocalServer::builder().start_blocking().unwrap();
    let request = r#"{"trackingId":"t","sessionId":"s1","userId":"u1","eventList":[
        {"eventType":"click","sentAt":1795953540,"itemId":"a"},
        {"eventType":"view","sentAt":"2026-11-29T11:59:00Z","itemId":"b"}]}"#;
    let path = dir.write("request.json", request);
    let out = run(bin_for(&dir, &server, "put-events")
        .arg("--cli-input-json")
        .arg(&path));
    assert_eq!(out.code, 0, "{out:?}");
    let out = run(bin_for(&dir, &server, "put-events")
        .arg("--cli-input-json")
        .arg(format!("file://{}", path.display())));
    assert_eq!(out.code, 0, "{out:?}");
    let items = r#"{"datasetArn":"arn:aws:personalize:us-east-1:1:dataset/d/ITEMS","items":[{"itemId":"i1","properties":{"a":"1"}}]}"#;
    let out = run_with_stdin(
        bin_for(&dir, &server, "put-items").args(["--cli-input-json", "-"]),
        items.as_bytes(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 5);
    // A request that is not valid is refused whole: exit 2, nothing sent.
    let bad = dir.write(
        "bad.json",
        r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"c","sentAt":1,"eventID":"x"}]}"#,
    );
    let out = run(bin_for(&dir, &server, "put-events")
        .arg("--cli-input-json")
        .arg(&bad));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("eventList[0]") && out.stderr.contains("eventID"),
        "{}",
        out.stderr
    );
    assert_eq!(server.records().len(), 5);
}
