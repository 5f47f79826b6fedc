//! Records piped on stdin (`-` or no file); the failed file is then
//! ./failed.jsonl.

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn stdin_is_read_and_failures_go_to_failed_jsonl_here() {
    let dir = TempDir::new("stdin");
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut text = events(12, 2);
    text.push_str("not json\n");
    let out = run_with_stdin(
        bin_for(&dir, &server, "put-events").args(["--tracking-id", "t", "-"]),
        text.as_bytes(),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("line 13: not valid JSON"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("failed.jsonl")).unwrap(),
        "not json\n"
    );
    assert_eq!(server.records().len(), 12);

    // No file argument at all is stdin too; sessions and users from flags.
    let line = "{\"eventType\":\"view\",\"sentAt\":\"2026-11-29T11:59:00Z\",\"itemId\":\"x\"}\n";
    let out = run_with_stdin(
        bin_for(&dir, &server, "put-events").args([
            "--tracking-id",
            "t",
            "--session-id",
            "flag-session",
            "--user-id",
            "flag-user",
        ]),
        line.repeat(3).as_bytes(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let records = server.records();
    assert_eq!(records.len(), 15);
    let last = records.last().unwrap().to_json_line();
    assert!(last.contains("\"sessionId\":\"flag-session\""), "{last}");
    assert!(last.contains("\"userId\":\"flag-user\""), "{last}");
}
