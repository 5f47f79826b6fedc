//! `--local` works with no AWS configuration at all, and `local` runs the
//! emulator on its own, printing the endpoint and credentials to use.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::*;

#[test]
fn local_flag_sends_the_sample_events_to_an_embedded_emulator() {
    let dir = TempDir::new("local");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.jsonl");
    // No AWS_* variables at all: the emulator's own credentials are used.
    let out = run(bin(&dir)
        .args([
            "put-events",
            "--local",
            "--tracking-id",
            "demo",
            "--output",
            "json",
        ])
        .arg("--failed-out")
        .arg(dir.join("failed.jsonl"))
        .arg(&sample));
    assert_eq!(out.code, 0, "{out:?}");
    let s = out.json();
    assert_eq!(s["sent"], 3000);
    assert_eq!(s["local"]["records"], 3000);
    assert_eq!(s["local"]["duplicates"], 0);
    assert!(
        out.stderr.contains("local emulator received 3000 records"),
        "{}",
        out.stderr
    );
}

#[test]
fn local_subcommand_prints_endpoint_and_credentials_then_serves() {
    let dir = TempDir::new("local-sub");
    let mut child = bin(&dir)
        .args(["local", "--max-requests", "1", "--max-seconds", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    while !banner.contains("AWS_REGION") {
        assert!(stdout.read_line(&mut banner).unwrap() > 0, "{banner}");
    }
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap()
        .to_owned();
    assert!(
        banner.contains(&format!("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS={url}")),
        "{banner}"
    );
    assert!(banner.contains("AWS_ACCESS_KEY_ID=AKIDEXAMPLE"), "{banner}");

    // Configured only through the variables it printed.
    let input = dir.write("events.jsonl", &events(5, 1));
    let out = run(bin(&dir)
        .env("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", &url)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "eu-west-1")
        .args(["put-events", "--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");

    // One request was the limit: the emulator stops and prints its statistics.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(rest.contains("accepted: 1 requests, 5 records"), "{rest}");
}
