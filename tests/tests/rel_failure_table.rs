//! One failure table for both clients: the same broken answers, driven
//! through the blocking client (ureq) and the async client (hyper), end the
//! same way — the same transport error kind, the same number of attempts,
//! the same retry-quota cost — because both map their libraries' errors to
//! the core's `failure` table and the core decides. And after a transient
//! server error the retry arrives on a new connection (the old one is
//! "poisoned", as the AWS SDKs do), while after throttling the connection
//! is kept.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;

use std::time::Duration;

use personalize_events_core::{Error, TransportErrorKind};
use personalize_events_tests::fake_service;
use personalize_events_tests::raw_server::{response, RawReply, RawServer};
use rel_support::{events, Settings};

/// The AWS SDKs' retry quota as published (smithy-rs `TokenBucket`
/// `DEFAULT_CAPACITY = 500`, botocore `retries/standard.py`
/// `RetryQuotaChecker`: 500 initial tokens, a retry costs 5, a retry after
/// a timeout 10).
const INITIAL: u32 = 500;
const RETRY_COST: u32 = 5;
const TIMEOUT_RETRY_COST: u32 = 10;

fn ok() -> Vec<u8> {
    response(
        200,
        &[
            ("content-type", b"application/json"),
            ("x-amzn-requestid", b"r-ok"),
        ],
        b"{}",
    )
}

fn status(code: u16) -> Vec<u8> {
    response(code, &[("content-type", b"application/json")], b"{}")
}

/// A response whose header block is 500 KiB: past the blocking client's 16 KiB and
/// hyper's ~400 KiB limits.
fn oversized_head() -> Vec<u8> {
    let big = vec![b'a'; 500 * 1024];
    response(200, &[("x-big", &big[..])], b"{}")
}

struct Case {
    name: &'static str,
    reply: fn() -> RawReply,
    kind: TransportErrorKind,
    attempts: usize,
    quota_after: u32,
}

fn cases() -> Vec<Case> {
    use TransportErrorKind as K;
    vec![
        Case {
            name: "not HTTP at all",
            reply: || RawReply::close(b"SMTP ready\r\n".to_vec()),
            kind: K::Io,
            attempts: 2,
            quota_after: INITIAL - RETRY_COST,
        },
        Case {
            name: "closed without an answer",
            reply: || RawReply::Close,
            kind: K::Io,
            attempts: 2,
            quota_after: INITIAL - RETRY_COST,
        },
        Case {
            name: "a head cut short",
            reply: || RawReply::close(b"HTTP/1.1 200 OK\r\ncontent-le".to_vec()),
            kind: K::Io,
            attempts: 2,
            quota_after: INITIAL - RETRY_COST,
        },
        Case {
            name: "oversized response headers",
            reply: || RawReply::close(oversized_head()),
            kind: K::Other,
            attempts: 1,
            quota_after: INITIAL,
        },
        Case {
            name: "a stall past the attempt timeout",
            reply: || RawReply::Stall(Duration::from_secs(5)),
            kind: K::Timeout,
            attempts: 2,
            quota_after: INITIAL - TIMEOUT_RETRY_COST,
        },
    ]
}

fn settings(url: &str) -> Settings {
    Settings::new(url, fake_service::credentials())
        .attempts(2)
        .timeouts(
            personalize_events_core::Timeouts::default()
                .with_connect(Duration::from_secs(2))
                .with_attempt(Duration::from_millis(300))
                .with_operation(Duration::from_secs(10)),
        )
}

fn kind_of(e: &Error) -> Option<TransportErrorKind> {
    match e {
        Error::Transport { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[test]
fn both_clients_end_the_same_failures_the_same_way() {
    let mut outcomes = Vec::new();
    for case in cases() {
        for client_index in 0..2 {
            let server = RawServer::start(move |_| (case.reply)());
            let clients = settings(&server.url()).both();
            let c = &clients[client_index];
            let e = c.put_events(events()).unwrap_err();
            let got = (
                kind_of(&e),
                server.request_count(),
                c.core().retry_quota_available(),
            );
            outcomes.push(format!(
                "{} / {}: {:?} after {} attempt(s), quota {} ({e})",
                case.name,
                c.name(),
                got.0,
                got.1,
                got.2
            ));
            assert_eq!(
                got,
                (Some(case.kind), case.attempts, case.quota_after),
                "{} / {}: {e}",
                case.name,
                c.name()
            );
        }
    }
    println!("{}", outcomes.join("\n"));
}

#[test]
fn a_refused_connection_is_retried_at_the_plain_cost_in_both() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for c in settings(&format!("http://127.0.0.1:{port}")).both() {
        let e = c.put_events(events()).unwrap_err();
        assert_eq!(
            kind_of(&e),
            Some(TransportErrorKind::Connect),
            "{}: {e}",
            c.name()
        );
        assert_eq!(
            c.core().retry_quota_available(),
            INITIAL - RETRY_COST,
            "{}",
            c.name()
        );
    }
}

/// A plain-TCP server on loopback that answers whatever arrives (a TLS
/// ClientHello included) with an HTTP 400 and closes; at most `n`
/// connections, each read for at most 2 s.
fn plain_http_answerer(n: usize) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&status(400));
        }
    });
    (port, t)
}

#[test]
fn https_to_a_plain_http_server_is_a_retried_connect_failure_in_both() {
    // The TLS handshake reads garbage: a broken handshake, retried.
    let (port, server) = plain_http_answerer(4);
    let url = format!("https://127.0.0.1:{port}");
    for c in settings(&url).both() {
        let e = c.put_events(events()).unwrap_err();
        assert_eq!(
            kind_of(&e),
            Some(TransportErrorKind::Connect),
            "{}: {e}",
            c.name()
        );
        assert_eq!(
            c.core().retry_quota_available(),
            INITIAL - RETRY_COST,
            "{}",
            c.name()
        );
    }
    server.join().unwrap();
}

/// A server answering its first request with `first`, kept alive, and
/// every later one with a success.
fn first_then_ok(first: u16) -> RawServer {
    RawServer::start(move |req| {
        if req.index == 0 {
            RawReply::keep(status(first))
        } else {
            RawReply::keep(ok())
        }
    })
}

#[test]
fn after_a_server_error_the_retry_takes_a_new_connection() {
    for code in [500, 502, 503, 504] {
        for client_index in 0..2 {
            let server = first_then_ok(code);
            let clients = settings(&server.url()).both();
            let c = &clients[client_index];
            c.put_events(events()).unwrap();
            let requests = server.requests();
            assert_eq!(requests.len(), 2, "{code} / {}", c.name());
            assert_ne!(
                requests[0].connection,
                requests[1].connection,
                "{code} / {}: the retry reused the connection of the {code}",
                c.name()
            );
            assert_eq!(server.connections(), 2, "{code} / {}", c.name());
        }
    }
}

#[test]
fn after_throttling_the_connection_is_kept() {
    for client_index in 0..2 {
        let server = first_then_ok(429);
        let clients = settings(&server.url()).both();
        let c = &clients[client_index];
        c.put_events(events()).unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{}", c.name());
        assert_eq!(
            requests[0].connection,
            requests[1].connection,
            "{}: a healthy connection is reused",
            c.name()
        );
    }
}
