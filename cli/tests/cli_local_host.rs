//! `personalize-events local --host ADDR` listens on another loopback
//! address or on `[::1]`, and the tool sends to it there; an address that is
//! not loopback needs `--allow-non-loopback`.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use common::*;

/// Starts `local --host host`, sends 3 events to the URL it prints, and
/// returns that URL once the emulator has stopped after the one request.
fn serve_and_send(host: &str, want_prefix: &str) -> String {
    let dir = TempDir::new("local-host");
    let mut child = bin(&dir)
        .args([
            "local",
            "--host",
            host,
            "--max-requests",
            "1",
            "--max-seconds",
            "30",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("AWS_REGION") {
        if stdout.read_line(&mut banner).unwrap() == 0 {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("no banner: {banner} {err}");
        }
    }
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    assert!(url.starts_with(want_prefix), "{url}");
    let input = dir.write("events.jsonl", &events(3, 1));
    let out = run(bin(&dir)
        .env("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", &url)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "us-east-1")
        .args(["put-events", "--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("accepted: 1 requests, 3 records"), "{rest}");
    url
}

#[test]
fn another_loopback_address() {
    serve_and_send("127.0.0.2", "http://127.0.0.2:");
}

#[test]
fn ipv6_loopback() {
    serve_and_send("[::1]", "http://[::1]:");
    serve_and_send("::1", "http://[::1]:");
}

#[test]
fn a_non_loopback_address_needs_the_flag() {
    let dir = TempDir::new("local-host-refused");
    let out = run(bin(&dir).args(["local", "--host", "0.0.0.0", "--max-seconds", "1"]));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("0.0.0.0 is not a loopback address"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--allow-non-loopback"),
        "{}",
        out.stderr
    );
    let out = run(bin(&dir).args(["local", "--host", "example.com", "--max-seconds", "1"]));
    assert!(out.stderr.contains("not an IP address"), "{}", out.stderr);
}
