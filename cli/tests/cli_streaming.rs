//! Input is streamed: records piped in slowly are sent while stdin is still
//! open (a partial call goes out within seconds when a worker is idle), so
//! the tool can sit at the end of a pipe.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use personalize_events_local::LocalServer;

#[test]
fn records_are_sent_before_stdin_closes() {
    let dir = TempDir::new("stream");
    let server = LocalServer::builder().start_blocking().unwrap();
    let mut child = bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "t"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let lines = events(5, 1);
    let mut lines = lines.lines();
    for line in lines.by_ref().take(3) {
        writeln!(stdin, "{line}").unwrap();
    }
    stdin.flush().unwrap();

    // Three events of one session: not a full call, yet they go out.
    // Hang guards only: each wait ends as soon as its event happens.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.records().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "nothing sent while stdin is open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert_eq!(server.records().len(), 5);
    assert_eq!(server.stats().accepted_requests, 2);
}
