//! Ctrl-C stops reading and sending, lets the calls in flight finish, and
//! still accounts for every record read: sent, or in the failed file.
#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use personalize_events_local::{parse_fault_script, LocalServer};

#[test]
fn ctrl_c_keeps_every_record_read() {
    let dir = TempDir::new("interrupt");
    // Every request is held a while, so the run is slow enough to interrupt.
    let server = LocalServer::builder()
        .fault_script(parse_fault_script("stall*100000").unwrap())
        .stall(Duration::from_millis(200))
        .start_blocking()
        .unwrap();
    let input = dir.write("events.jsonl", &events(5000, 50));
    let mut child = bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "--output", "json"])
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard only: the wait ends as soon as the requests arrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.stats().requests < 2 {
        assert!(Instant::now() < deadline, "no request arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-s", "INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let status = child.wait().unwrap();
    // It ended on the interrupt; 60 s is a hang guard, not a measure.
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(status.code(), Some(1));

    let s: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {s}"));
    let read = n("interruptedAfterLine");
    assert!(read < 5000, "stopped reading early: {s}");
    assert_eq!(n("records"), read);
    assert_eq!(
        n("sent") + n("failedAfterRetries") + n("notSent"),
        read,
        "{s}"
    );
    assert_eq!(n("failedOutLines"), n("failedAfterRetries") + n("notSent"));
    let failed = json_lines(&dir.join("events.jsonl.failed.jsonl"));
    assert_eq!(failed.len() as u64, n("failedOutLines"));
    assert_eq!(server.records().len() as u64, n("sent"));
    assert_eq!(server.stats().duplicates, 0);
}

/// Stdin stays open and idle (a terminal, or a producer with nothing to
/// say) when the signal comes: the run ends on the signal, without waiting
/// for input, and accounts for exactly the lines it read.
fn signal_while_stdin_waits(signal: &str) {
    let dir = TempDir::new(&format!("interrupt-stdin-{signal}"));
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut child = bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t", "--output", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, events(3, 3).as_bytes()).unwrap();
    // A hang guard only: the wait ends once the three records arrive.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.records().len() < 3 {
        assert!(Instant::now() < deadline, "the records did not arrive");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = std::process::Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Stdin is still held open here: the run must end without its EOF
    // (`wait` fails the test after its limit).
    let out = wait(child);
    drop(stdin);
    assert_eq!(out.code, 1, "interrupted is not complete: {out:?}");
    let s = out.json();
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {s}"));
    assert_eq!(n("interruptedAfterLine"), 3, "{s}");
    assert_eq!(n("records"), 3, "{s}");
    assert_eq!(n("sent"), 3, "{s}");
    assert_eq!(server.stats().duplicates, 0);
    // Stdin cannot be read again: no `tail -n +4 -` advice.
    assert!(
        out.stderr
            .contains("to go on, send the input from line 4 again"),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_ends_a_run_whose_stdin_waits() {
    signal_while_stdin_waits("INT");
}

#[test]
fn sigterm_stops_like_ctrl_c() {
    signal_while_stdin_waits("TERM");
}
