//! A closed stderr or stdout (`personalize-events ... 2>&1 | head -1`)
//! ends the run promptly and cleanly: no panic, no thread left waiting,
//! exit 1, and every record read is sent or in the failed file (the
//! summary on stdout says where reading stopped).

mod common;

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn a_closed_stderr_stops_the_run_and_loses_nothing() {
    let dir = TempDir::new("closed-pipe");
    let server = LocalServer::builder().start_blocking().unwrap();
    // Many bad lines, so that the tool has much to say on stderr.
    let mut text = String::new();
    for (i, line) in events(20_000, 50).lines().enumerate() {
        if i % 10 == 0 {
            text.push_str("{\"bad\n");
        }
        text.push_str(line);
        text.push('\n');
    }
    let input = dir.write("big.jsonl", &text);
    let out = run_with_closed_stderr(
        bin_for(&dir, &server, "put-events")
            .args(["--tracking-id", "t", "--output", "json"])
            .arg(&input),
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stdout.contains("panicked"), "{out:?}");
    let summary = out.json();
    assert_eq!(summary["outputClosed"], true, "{summary}");
    let read = summary["interruptedAfterLine"].as_u64().unwrap();
    assert!(read < 22_000, "{summary}");
    // Everything read is sent or in the failed file, once.
    let sent = server.records().len() as u64;
    let failed = std::fs::read_to_string(dir.join("big.jsonl.failed.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(summary["sent"].as_u64(), Some(sent), "{summary}");
    assert_eq!(summary["records"].as_u64(), Some(read), "{summary}");
    assert_eq!(sent + failed, read, "{summary}");
    assert_eq!(summary["lost"], 0);
}
