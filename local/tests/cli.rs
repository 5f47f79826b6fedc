//! The `personalize-events-local` binary: prints its URL, serves until
//! `--max-requests`, writes the JSON-lines log and prints a summary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::{ClientConfig, ClientCore, Credentials, Event, Poll, PutEventsInput};

fn exchange(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn signed_request(url: &str) -> Vec<u8> {
    let ep = endpoint::resolve(&EndpointParams {
        endpoint: Some(url.to_owned()),
        ..Default::default()
    })
    .unwrap();
    let core = ClientCore::new(ClientConfig::new("us-east-1", ep)).unwrap();
    let input = PutEventsInput::new("tracking", "session").event(Event::new(
        "click",
        UNIX_EPOCH + Duration::from_secs(1_795_953_540),
    ));
    let mut call = core.call(&input, Instant::now(), 1).unwrap();
    let creds = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
    );
    let Poll::Send(s) = call.poll(Instant::now(), SystemTime::now(), &creds, 0.0) else {
        panic!("no request")
    };
    let req = s.request;
    let mut head = format!("POST {} HTTP/1.1\r\n", req.uri().path());
    for (k, v) in req.headers() {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body().len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(req.body());
    bytes
}

#[test]
fn serves_until_max_requests_then_prints_a_summary() {
    let log = std::env::temp_dir().join(format!(
        "personalize-local-cli-{}-{}.jsonl",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_personalize-events-local"))
        .args(["--max-requests", "2", "--max-seconds", "60", "--log-file"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("personalize-events-local listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let addr = url.strip_prefix("http://").unwrap().to_owned();

    let ok = exchange(&addr, &signed_request(&url));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let refused = exchange(
        &addr,
        b"POST /events HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    );
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");

    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        // A hang guard only: the loop ends as soon as the binary exits.
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the binary did not stop after --max-requests");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut summary = String::new();
    out.read_to_string(&mut summary).unwrap();
    assert!(summary.contains("requests: 2"), "{summary}");
    assert!(
        summary.contains("accepted: 1 requests, 1 records"),
        "{summary}"
    );
    assert!(
        summary.contains("rejected: 1 (MissingAuthenticationTokenException: 1)"),
        "{summary}"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("\"trackingId\":\"tracking\""), "{lines}");
}

#[test]
fn bad_flags_exit_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_personalize-events-local"))
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown option"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
}
