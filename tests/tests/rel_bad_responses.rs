//! Answers no good server sends: garbage instead of HTTP, a head or body
//! cut short, a 5 MB body, the wrong content type, an error body that is not
//! JSON, an unknown error type, invalid UTF-8 in the body and in header
//! values, odd and oversized headers, nonsense dates. Through both clients
//! (a raw loopback server writes the bytes) and directly through the core's
//! `decode_response` and `Call`: always a clear error (or a success where the
//! answer is a success), never a panic, never more attempts than allowed.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;

use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::{
    decode_response, ClientConfig, ClientCore, Credentials, Error, Poll, PutEventsOutput,
    TransportErrorKind,
};
use personalize_events_tests::fake_service;
use personalize_events_tests::raw_server::{response, RawReply, RawServer};
use rel_support::{events, Settings};

const ATTEMPTS: usize = 2;
const FIVE_MB: usize = 5 * 1024 * 1024;

type Outcome = Result<PutEventsOutput, Error>;

/// What a case expects of a client's outcome.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A success.
    Ok,
    /// A transport error (any kind).
    Transport,
    /// A service error with this status (and code, when given).
    Service(u16, Option<&'static str>),
    /// Either a transport error or a service error with this status:
    /// where the two HTTP stacks draw the line differently.
    TransportOrStatus(u16),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    want: Want,
    /// Whether the blocking client (which cuts long bodies and decodes what
    /// it kept) and the async client (which refuses them) differ.
    blocking_want: Option<Want>,
}

fn case(name: &'static str, bytes: Vec<u8>, want: Want) -> Case {
    Case {
        name,
        bytes,
        want,
        blocking_want: None,
    }
}

fn json_error(status: u16, code: &str, message: &str) -> Vec<u8> {
    answer(
        status,
        &[
            ("x-amzn-errortype", code.as_bytes()),
            ("content-type", b"application/json"),
        ],
        serde_json::json!({ "message": message })
            .to_string()
            .as_bytes(),
    )
}

/// A well-formed answer that also says the connection closes after it (the
/// server closes it): otherwise a client may send its retry on the closed
/// connection before it notices, and lose an attempt to a stale connection
/// rather than to the answer under test.
fn answer(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut h = headers.to_vec();
    h.push(("connection", b"close"));
    response(status, &h, body)
}

fn cases() -> Vec<Case> {
    let big_message = format!(r#"{{"message":"{}"}}"#, "m".repeat(FIVE_MB));
    let mut many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..300 {
        many_headers.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    many_headers.extend_from_slice(b"content-length: 0\r\n\r\n");
    vec![
        case(
            "garbage instead of HTTP",
            b"SMTP ready\r\n\r\n".to_vec(),
            Want::Transport,
        ),
        case(
            "binary garbage",
            (0..=255u8).cycle().take(4096).collect(),
            Want::Transport,
        ),
        case(
            "head cut short",
            b"HTTP/1.1 200 OK\r\ncontent-le".to_vec(),
            Want::Transport,
        ),
        case(
            "body cut short",
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"mess".to_vec(),
            Want::Transport,
        ),
        case(
            "error body cut short",
            b"HTTP/1.1 500 Oops\r\ncontent-length: 100\r\n\r\n{\"mess".to_vec(),
            Want::Transport,
        ),
        // Both clients cut a long body at 1 MiB and decode what they kept.
        case(
            "5 MB success body",
            answer(200, &[], &vec![b' '; FIVE_MB]),
            Want::Ok,
        ),
        Case {
            name: "5 MB error message",
            bytes: answer(
                400,
                &[("x-amzn-errortype", b"InvalidInputException")],
                big_message.as_bytes(),
            ),
            // Cut at 1 MiB, the JSON no longer parses: the status and code
            // from the header remain.
            want: Want::Service(400, Some("InvalidInputException")),
            blocking_want: None,
        },
        case(
            "wrong content type on an error",
            answer(
                400,
                &[
                    ("x-amzn-errortype", b"InvalidInputException"),
                    ("content-type", b"text/html; charset=latin1"),
                ],
                br#"{"message":"bad"}"#,
            ),
            Want::Service(400, Some("InvalidInputException")),
        ),
        case(
            "wrong content type on a success",
            answer(200, &[("content-type", b"image/png")], b"\x89PNG\r\n"),
            Want::Ok,
        ),
        case(
            "HTML error page from a proxy",
            answer(
                502,
                &[("content-type", b"text/html")],
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            Want::Service(502, None),
        ),
        case(
            "unknown error type",
            json_error(
                400,
                "com.example#NoSuchThingException:http://internal/",
                "what?",
            ),
            Want::Service(400, Some("NoSuchThingException")),
        ),
        case(
            "error type only in the body",
            answer(
                400,
                &[],
                br#"{"__type":"aws.protocols#WeirdException","Message":"m"}"#,
            ),
            Want::Service(400, Some("WeirdException")),
        ),
        case(
            "invalid UTF-8 error body",
            answer(400, &[], b"\xff\xfe\xfd{\"message\":\xc3\x28}"),
            Want::Service(400, None),
        ),
        case(
            "invalid UTF-8 in the error type header",
            answer(
                400,
                &[("x-amzn-errortype", b"Invalid\xff\xfeException")],
                br#"{"message":"m"}"#,
            ),
            Want::Service(400, None),
        ),
        case(
            "invalid UTF-8 in the request id",
            answer(200, &[("x-amzn-requestid", b"req-\xff\xfe")], b""),
            Want::Ok,
        ),
        case(
            "an 8 KB request id",
            answer(
                200,
                &[("x-amzn-requestid", "r".repeat(8192).as_bytes())],
                b"",
            ),
            Want::Ok,
        ),
        case(
            "a control character in a header value",
            b"HTTP/1.1 200 OK\r\nx-amzn-requestid: a\x01b\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Want::TransportOrStatus(200),
        ),
        case(
            "a header line without a colon",
            b"HTTP/1.1 200 OK\r\nnot a header\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Want::Transport,
        ),
        case(
            "two different content lengths",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ncontent-length: 5\r\n\r\nhello".to_vec(),
            Want::TransportOrStatus(200),
        ),
        case("300 headers", many_headers, Want::TransportOrStatus(200)),
        case(
            "a 100 KB header",
            answer(200, &[("x-big", "b".repeat(100_000).as_bytes())], b""),
            // The blocking client refuses heads over 16 KiB; hyper reads up to ~400 KiB.
            Want::TransportOrStatus(200),
        ),
        case(
            "malformed chunked body",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            Want::Transport,
        ),
        case(
            "chunked error body",
            b"HTTP/1.1 400 Bad\r\nx-amzn-errortype: InvalidInputException\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"mes\r\nb\r\nsage\":\"ok\"}\r\n0\r\n\r\n"
                .to_vec(),
            Want::Service(400, Some("InvalidInputException")),
        ),
        case(
            "a status code of 999",
            answer(999, &[], b""),
            Want::TransportOrStatus(999),
        ),
        case(
            "a status line without a reason",
            b"HTTP/1.1 503\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Want::Service(503, None),
        ),
        case(
            "HTTP/1.0 answer",
            b"HTTP/1.0 200 OK\r\n\r\n".to_vec(),
            Want::Ok,
        ),
        case(
            "an informational answer first",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
            Want::Ok,
        ),
        case(
            "a skew error with a nonsense Date",
            answer(
                403,
                &[
                    ("x-amzn-errortype", b"InvalidSignatureException"),
                    ("date", b"yesterday, around noon"),
                ],
                br#"{"message":"Signature expired"}"#,
            ),
            Want::Service(403, Some("InvalidSignatureException")),
        ),
        case(
            "a skew error dated in the year 9999",
            answer(
                403,
                &[
                    ("x-amzn-errortype", b"InvalidSignatureException"),
                    ("date", b"Fri, 31 Dec 9999 23:59:59 GMT"),
                ],
                br#"{"message":"Signature expired"}"#,
            ),
            Want::Service(403, Some("InvalidSignatureException")),
        ),
        case(
            "a skew error dated before 1970",
            answer(
                403,
                &[
                    ("x-amzn-errortype", b"RequestTimeTooSkewed"),
                    ("date", b"Thu, 01 Jan 1900 00:00:00 GMT"),
                ],
                br#"{"message":"Signature expired"}"#,
            ),
            Want::Service(403, Some("RequestTimeTooSkewed")),
        ),
        case(
            "a message that is an object",
            answer(
                400,
                &[("x-amzn-errortype", b"InvalidInputException")],
                br#"{"message":{"deep":[1,2,{"x":null}]}}"#,
            ),
            Want::Service(400, Some("InvalidInputException")),
        ),
        case(
            "JSON nested 100 000 deep",
            answer(500, &[], "[".repeat(100_000).as_bytes()),
            Want::Service(500, None),
        ),
    ]
}

/// Checks an outcome against what the case wants; returns a line for the log.
fn judge(client: &str, case: &str, want: Want, outcome: &Outcome, requests: usize) {
    let shown = match outcome {
        Ok(o) => format!("ok {:?}", o.request_id.as_deref().map(|s| s.len())),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.trim().is_empty(), "{client} / {case}: an empty error");
            assert!(
                text.len() <= 4096,
                "{client} / {case}: a {} byte error message",
                text.len()
            );
            text
        }
    };
    assert!(
        (1..=ATTEMPTS).contains(&requests),
        "{client} / {case}: {requests} requests"
    );
    let is_transport = |e: &Error| matches!(e, Error::Transport { .. });
    let ok = match (want, outcome) {
        (Want::Ok, Ok(_)) => true,
        (Want::Transport, Err(e)) => is_transport(e),
        (Want::Service(status, code), Err(e)) => {
            !is_transport(e) && e.status() == Some(status) && (code.is_none() || e.code() == code)
        }
        (Want::TransportOrStatus(status), Err(e)) => is_transport(e) || e.status() == Some(status),
        (Want::TransportOrStatus(s), Ok(_)) => (200..300).contains(&s),
        _ => false,
    };
    assert!(ok, "{client} / {case}: wanted {want:?}, got {shown}");
    eprintln!("{client:>8} / {case}: {requests} request(s): {shown:.160}");
}

#[test]
fn bad_answers_give_clear_errors_through_both_clients() {
    let settings =
        |url: &str| Settings::new(url, fake_service::credentials()).attempts(ATTEMPTS as u32);
    for case in cases() {
        let bytes = case.bytes.clone();
        let server = RawServer::start(move |_| RawReply::close(bytes.clone()));
        let [blocking, hyper] = settings(&server.url()).both();
        let out = blocking.put_events(events());
        let n = server.request_count();
        judge(
            "blocking",
            case.name,
            case.blocking_want.unwrap_or(case.want),
            &out,
            n,
        );
        let out = hyper.put_events(events());
        judge(
            "async",
            case.name,
            case.want,
            &out,
            server.request_count() - n,
        );
    }
}

#[test]
fn the_connection_after_a_bad_answer_is_not_reused() {
    // A truncated answer on a kept-alive connection: the next call must not
    // read the rest of it as its own answer.
    let server = RawServer::start(|r| {
        if r.index == 0 {
            RawReply::keep(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n{\"x\":".to_vec())
        } else {
            RawReply::keep(response(200, &[("x-amzn-requestid", b"good")], b""))
        }
    });
    for c in Settings::new(&server.url(), fake_service::credentials())
        .attempts(1)
        .timeouts(
            personalize_events_core::Timeouts::default()
                .with_attempt(Duration::from_millis(500))
                .with_operation(Duration::from_secs(5)),
        )
        .both()
    {
        let _ = c.put_events(events());
        let out = c.put_events(events()).expect("a clean answer");
        assert_eq!(out.request_id.as_deref(), Some("good"), "{}", c.name());
    }
}

fn resp(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, http::HeaderValue::from_bytes(v).unwrap());
    }
    b.body(body.to_vec()).unwrap()
}

fn direct_cases() -> Vec<http::Response<Vec<u8>>> {
    let mut out = Vec::new();
    let bodies: Vec<Vec<u8>> = vec![
        vec![],
        b"   \r\n\t ".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"\"just a string\"".to_vec(),
        b"12345678901234567890123456789".to_vec(),
        b"{\"message\":null,\"code\":null}".to_vec(),
        b"{\"code\":5,\"message\":true}".to_vec(),
        b"{\"code\":\"\",\"__type\":\"#\"}".to_vec(),
        b"{\"code\":\":::###\"}".to_vec(),
        b"{\"__type\":\"a#b#c:d:e\"}".to_vec(),
        b"{\"message\":\"\\ud800\"}".to_vec(),
        b"{\"message\":\"\xff\"}".to_vec(),
        "{\"message\":\"é\"".repeat(3000).into_bytes(),
        format!("{{\"message\":\"{}\"}}", "é".repeat(5000)).into_bytes(),
        "[".repeat(200_000).into_bytes(),
        "{\"a\":".repeat(50_000).into_bytes(),
        vec![0u8; 10_000],
        (0..=255u8).collect(),
        vec![b'x'; FIVE_MB],
    ];
    let header_sets: Vec<Vec<(&str, &[u8])>> = vec![
        vec![],
        vec![("x-amzn-errortype", b"")],
        vec![("x-amzn-errortype", b":")],
        vec![("x-amzn-errortype", b"\xff\xfe")],
        vec![("x-amzn-errortype", b"ThrottlingException")],
        vec![
            ("x-amzn-errortype", b"InvalidSignatureException"),
            ("date", b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ],
        vec![
            ("x-amzn-errortype", b"RequestExpired"),
            ("date", b"Thu, 01 Jan 1970 00:00:00 GMT"),
        ],
        vec![
            ("x-amzn-errortype", b"RequestTimeTooSkewed"),
            ("date", b"\xff"),
        ],
        vec![
            ("x-amzn-requestid", b"\xff\x80"),
            ("x-amz-request-id", b"fallback"),
        ],
        vec![("x-amzn-requestid", b"")],
    ];
    for status in [
        100u16, 199, 200, 204, 299, 300, 304, 400, 403, 404, 409, 413, 429, 500, 502, 503, 504,
        599, 999,
    ] {
        for (i, body) in bodies.iter().enumerate() {
            let headers = &header_sets[(i + status as usize) % header_sets.len()];
            out.push(resp(status, headers, body));
        }
        for headers in &header_sets {
            out.push(resp(status, headers, br#"{"message":"m"}"#));
        }
    }
    out
}

#[test]
fn decode_response_never_panics_and_always_says_something() {
    for r in direct_cases() {
        let (parts, body) = r.into_parts();
        let view = http::Response::from_parts(parts, &body[..]);
        let status = view.status().as_u16();
        match decode_response(&view) {
            Ok(_) => assert!(
                (200..300).contains(&status),
                "{status} decoded as a success"
            ),
            Err(e) => {
                assert!(!(200..300).contains(&status), "{status}: {e}");
                assert_eq!(e.status(), Some(status));
                let text = e.to_string();
                assert!(text.contains(&status.to_string()), "{text}");
                // Messages are clipped: a 5 MB body gives a short error.
                assert!(text.len() < 4096, "{} bytes", text.len());
                assert!(e.message().is_none_or(|m| m.len() <= 2048 + 3));
            }
        }
    }
}

#[test]
fn a_call_fed_bad_answers_ends_within_its_attempts() {
    let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
    cfg.retry = cfg.retry.clone().with_max_attempts(3);
    let core = ClientCore::new(cfg).unwrap();
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", None);
    let wall = SystemTime::now();
    for (n, r) in direct_cases().into_iter().enumerate() {
        let (parts, body) = r.into_parts();
        let mut now = Instant::now();
        let mut call = core.call(&events(), now, n as u128).unwrap();
        let mut sent = 0;
        let result = loop {
            match call.poll(now, wall, &credentials, 0.5) {
                Poll::Send(_) => {
                    sent += 1;
                    let view = http::Response::from_parts(parts.clone(), &body[..]);
                    call.handle_response(now, wall, view);
                }
                Poll::Wait(d) => now += d,
                Poll::Done(r) => break r,
            }
            assert!(sent <= 3, "more attempts than allowed");
        };
        let status = parts.status.as_u16();
        assert_eq!(result.is_ok(), (200..300).contains(&status), "{status}");
    }
    // Huge skews from a hostile Date are learnt but never overflow the clock.
    assert!(core.clock_skew_ms() != i64::MIN);
}

#[test]
fn transport_errors_are_typed_for_what_the_stack_reports() {
    // Nothing listens: a connect error, retried, then reported as such.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    for c in Settings::new(&url, fake_service::credentials()).both() {
        let e = c.put_events(events()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Connect,
                    ..
                }
            ),
            "{}: {e:?}",
            c.name()
        );
    }
}
