//! Fuzz targets for personalize-events-rs that run on stable Rust, and the
//! seeded mutational generator that drives them.
//!
//! `cargo fuzz` needs a nightly compiler; this crate does without: inputs
//! come from a seeded generator ([`Gen`]) that mutates a built-in corpus of
//! valid inputs (and sometimes makes bytes from nothing), with no coverage
//! feedback. Each target is a plain function that panics when an invariant
//! breaks, so the same functions serve the `personalize-events-fuzz` binary
//! (bounded by `--seconds`) and the property tests in
//! `tests/tests/rel_proptest.rs` (a short pass in CI).
//!
//! Targets:
//!
//! * [`decode_response`]: arbitrary status, headers and body through the
//!   core's `decode_response` and a `Call` fed up to three such answers.
//! * [`request`]: what the emulator does with a request body
//!   (`AnyInput::from_json`, validation, encoding) and with a request's
//!   signature (`personalize_events_local::verify::verify_request` on arbitrary requests, and on signed
//!   requests with one part tampered with).
//! * [`json_lines`]: what a JSON-lines reader (the CLI's) does with each
//!   line: decoding as any operation's input and as each record shape.
//! * [`Wire`]: raw bytes to a running emulator over a loopback socket; it
//!   must answer or close, and keep serving.
//! * [`cli_json_lines`] and [`cli_csv`]: the command-line tool's own
//!   JSON-lines and strict CSV readers, as a run drives them.
#![forbid(unsafe_code)]

mod cli;
mod generator;
mod seeds;
pub use cli::{cli_csv, cli_csv_seeds, cli_json_lines, cli_json_lines_seeds};
pub use generator::{Gen, Reader, Rng};
pub use seeds::{
    credentials, decode_seeds, json_lines_seeds, request_seeds, sample_inputs, signed_request,
    to_wire,
};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::{
    Action, ActionInteraction, AnyInput, Error, Event, Item, Poll, PutEventsInput, PutItemsInput,
    User, OPERATIONS, SIGNING_NAME,
};
use personalize_events_local::verify::{self, VerifyParams};

use seeds::{at, core_for};

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

const HEADER_NAMES: [&str; 8] = [
    "x-amzn-errortype",
    "x-amzn-requestid",
    "x-amz-request-id",
    "date",
    "content-type",
    "content-length",
    "x-amzn-query-error",
    "server",
];

/// Decodes fuzz bytes into a response: 2 bytes of status (taken modulo 900,
/// plus 100), a header count (modulo 8), each header as a name index and a
/// length-prefixed value, then the body. Runs `decode_response` and a `Call`
/// fed this answer up to three times; panics when an invariant breaks:
/// success exactly for 2xx, a non-empty error text naming the status,
/// clipped messages, at most the configured attempts.
pub fn decode_response(data: &[u8]) {
    let mut r = Reader::new(data);
    let status = 100 + (u16::from_be_bytes([r.byte(), r.byte()]) % 900);
    let mut b = http::Response::builder().status(status);
    for _ in 0..(r.byte() % 8) {
        let name = HEADER_NAMES[(r.byte() % 8) as usize];
        if let Ok(v) = http::HeaderValue::from_bytes(r.chunk()) {
            b = b.header(name, v);
        }
    }
    let body = r.rest();
    let Ok(resp) = b.body(body) else { return };
    match personalize_events_core::decode_response(&resp) {
        Ok(_) => assert!((200..300).contains(&status), "{status} decoded as success"),
        Err(e) => {
            assert!(!(200..300).contains(&status), "{status}: {e}");
            let text = e.to_string();
            assert!(!text.trim().is_empty());
            // A modeled error (InvalidInput, ResourceNotFound, ResourceInUse)
            // reports its modeled status; any other error the status received.
            if e.code().is_none() || matches!(e, Error::Service { .. }) {
                assert_eq!(e.status(), Some(status));
                assert!(text.contains(&status.to_string()), "{text}");
            }
            assert!(e.message().is_none_or(|m| m.len() <= 2051), "unclipped");
        }
    }
    // The whole state machine, with this answer to every attempt.
    let core = core_for("http://127.0.0.1:1");
    let mut now = Instant::now();
    let wall = at();
    let Ok(mut call) = core.call(
        &PutItemsInput::new("arn:aws:personalize:::d").item(Item::new("i")),
        now,
        3,
    ) else {
        unreachable!("a valid input")
    };
    let mut sent = 0;
    for _ in 0..20 {
        match call.poll(now, wall, &credentials(), 0.5) {
            Poll::Send(_) => {
                sent += 1;
                call.handle_response(now, wall, resp.clone());
            }
            Poll::Wait(d) => now += d,
            Poll::Done(r) => {
                assert!(sent <= 3, "{sent} attempts");
                assert_eq!(r.is_ok(), (200..300).contains(&status));
                return;
            }
        }
    }
    panic!("the call did not finish in 20 steps");
}

fn operation(i: u8) -> &'static str {
    OPERATIONS[(i % 5) as usize].0
}

/// Requests as the emulator sees them. The first byte picks a mode:
///
/// * `0`: an operation byte, then a body: decoded, validated, and when
///   valid encoded again (the encoding must decode to the same bytes again
///   and stay valid); errors must be validation errors naming `(body)` or a
///   member.
/// * `1`: a sample's signed request with one part changed (method, path,
///   a header, the body) by the rest of the bytes; verification must not
///   panic, must pass when nothing changed, and must fail when the body
///   changed.
/// * otherwise: the bytes as a whole request (method, target, headers,
///   body), verified.
pub fn request(data: &[u8]) {
    let mut r = Reader::new(data);
    match r.byte() % 3 {
        0 => body(operation(r.byte()), r.rest()),
        1 => tampered(&mut r),
        _ => raw_request(r.rest()),
    }
}

fn body(op: &str, body: &[u8]) {
    match AnyInput::from_json(op, body) {
        Ok(input) => {
            assert_eq!(input.operation_name(), op);
            if input.validate().is_ok() {
                let once = input.encode();
                let again = AnyInput::from_json(op, &once)
                    .unwrap_or_else(|e| panic!("our own encoding does not decode: {e}"));
                again
                    .validate()
                    .unwrap_or_else(|e| panic!("our own encoding is not valid: {e}"));
                assert_eq!(again.encode(), once, "encoding is not stable");
                let _ = serde_json::from_slice::<serde_json::Value>(&once)
                    .unwrap_or_else(|e| panic!("our own encoding is not JSON: {e}"));
            }
        }
        Err(Error::Validation { path, problem }) => {
            assert!(
                !path.is_empty() && !problem.is_empty(),
                "a validation error without a path or a problem: {path:?} {problem:?}"
            );
        }
        Err(e) => panic!("decoding gave a non-validation error: {e:?}"),
    }
}

fn verify(req: &http::Request<Vec<u8>>, now: SystemTime) -> Result<(), String> {
    let params = VerifyParams {
        service: SIGNING_NAME,
        region: None,
        now,
        max_skew: Duration::from_secs(300),
    };
    verify::verify_request_with(
        req,
        |id| (id == credentials().access_key_id()).then(credentials),
        &params,
    )
    .map(|_| ())
    .map_err(|e| {
        assert!(!e.message().is_empty());
        assert_eq!(e.status(), 403);
        e.to_string()
    })
}

fn tampered(r: &mut Reader<'_>) {
    let samples = sample_inputs();
    let input = samples[(r.byte() % 5) as usize].clone();
    let mut req = signed_request("http://127.0.0.1:1", input, at());
    let original_body = req.body().clone();
    let what = r.byte() % 5;
    let which = r.byte() as usize;
    let bytes = r.rest();
    let mut changed = false;
    match what {
        0 => {
            if let Ok(m) = http::Method::from_bytes(bytes) {
                changed = m != req.method();
                *req.method_mut() = m;
            }
        }
        1 => {
            let mut target = b"/".to_vec();
            target.extend_from_slice(bytes);
            if let Ok(u) = http::Uri::try_from(target) {
                changed = &u != req.uri();
                *req.uri_mut() = u;
            }
        }
        2 => {
            let names: Vec<http::HeaderName> = req.headers().keys().cloned().collect();
            let name = names[which % names.len()].clone();
            if let Ok(v) = http::HeaderValue::from_bytes(bytes) {
                changed = req.headers().get(&name) != Some(&v);
                req.headers_mut().insert(name, v);
            }
        }
        3 => {
            let body = req.body_mut();
            if !body.is_empty() {
                let i = which % body.len();
                body[i] ^= bytes.first().copied().unwrap_or(1).max(1);
            }
            changed = req.body() != &original_body;
        }
        _ => {
            req.body_mut().extend_from_slice(bytes);
            changed = !bytes.is_empty();
        }
    }
    let verdict = verify(&req, at());
    if !changed {
        assert!(verdict.is_ok(), "an untouched request failed: {verdict:?}");
    }
    if req.body() != &original_body {
        assert!(verdict.is_err(), "a changed body verified");
    }
    // Clock skew: the same request five minutes and a bit later.
    if !changed {
        assert!(verify(&req, at() + Duration::from_secs(301)).is_err());
    }
}

fn raw_request(data: &[u8]) {
    let mut r = Reader::new(data);
    let method = r.chunk();
    let target = r.chunk();
    let mut req = http::Request::new(Vec::new());
    if let Ok(m) = http::Method::from_bytes(method) {
        *req.method_mut() = m;
    }
    if let Ok(u) = http::Uri::try_from(target) {
        *req.uri_mut() = u;
    }
    for _ in 0..(r.byte() % 12) {
        let name = r.chunk();
        let value = r.chunk();
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            req.headers_mut().append(n, v);
        }
    }
    *req.body_mut() = r.rest().to_vec();
    let _ = verify(&req, at());
    let _ = verify(&req, SystemTime::now());
}

/// Lines as a JSON-lines reader sees them: each line is decoded as the
/// input of every operation (see [`request`]'s body checks) and as each
/// record shape (`Event`, `Item`, `User`, `Action`, `ActionInteraction`).
///
/// The CLI's own reader is fuzzed by [`cli_json_lines`]; this fuzzes the
/// core parsing it is built on.
pub fn json_lines(data: &[u8]) {
    for line in data.split(|b| *b == b'\n').take(64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        for (op, _) in OPERATIONS {
            body(op, line);
        }
        let _ = serde_json::from_slice::<Event>(line);
        let _ = serde_json::from_slice::<Item>(line);
        let _ = serde_json::from_slice::<User>(line);
        let _ = serde_json::from_slice::<Action>(line);
        let _ = serde_json::from_slice::<ActionInteraction>(line);
        if let Ok(s) = std::str::from_utf8(line) {
            let _ = serde_json::from_str::<PutEventsInput>(s);
        }
    }
}

/// Raw bytes to a running emulator over loopback: each input is written on
/// a new connection (and the write side closed); the emulator must answer
/// with HTTP or close, within 5 s. Every `check_every` inputs a valid
/// signed request must still be accepted.
#[derive(Debug)]
pub struct Wire {
    server: personalize_events_local::LocalServer,
    sent: u64,
    check_every: u64,
}

impl Wire {
    /// Starts an emulator for the target (bounded to `lifetime`).
    pub fn start(lifetime: Duration) -> std::io::Result<Self> {
        let server = personalize_events_local::LocalServer::builder()
            .max_duration(lifetime)
            .start_blocking()?;
        Ok(Wire {
            server,
            sent: 0,
            check_every: 50,
        })
    }

    /// The emulator's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Seeds: the samples as signed HTTP/1.1 requests to this emulator
    /// (signed for now; they stay valid for the 5 minutes of allowed skew).
    pub fn seeds(&self) -> Vec<Vec<u8>> {
        let url = self.server.endpoint_url();
        sample_inputs()
            .into_iter()
            .map(|i| to_wire(&signed_request(&url, i, SystemTime::now())))
            .collect()
    }

    /// Sends one input; panics if the emulator stops answering.
    pub fn run(&mut self, data: &[u8]) {
        self.sent += 1;
        let answer = exchange(self.addr(), data, true);
        if let Some(a) = &answer {
            assert!(
                a.is_empty() || a.starts_with(b"HTTP/1."),
                "not HTTP: {:?}",
                String::from_utf8_lossy(&a[..a.len().min(64)])
            );
        }
        if self.sent % self.check_every == 0 {
            self.assert_alive();
        }
    }

    /// Sends a valid signed request and checks it is accepted.
    pub fn assert_alive(&self) {
        let url = self.server.endpoint_url();
        let req = to_wire(&signed_request(
            &url,
            sample_inputs().remove(1),
            SystemTime::now(),
        ));
        let answer = exchange(self.addr(), &req, false).expect("the emulator answers");
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "the emulator refused a valid request: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        );
    }

    /// The emulator's statistics.
    pub fn stats(&self) -> personalize_events_local::Stats {
        self.server.stats()
    }
}

/// Writes `data`, closes the write side when `half_close` (so that a
/// partial request ends), reads the answer (at most 5 s and 1 MiB). `None`
/// when the connection could not be made.
///
/// The emulator, like hyper's server by default, takes a client's
/// half-close as a hang-up (that is how a client cancels a stalled
/// request), so a request followed at once by a half-close may get no
/// answer: the liveness check keeps its write side open.
fn exchange(addr: SocketAddr, data: &[u8], half_close: bool) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let _ = s.write_all(data);
    if half_close {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 8192];
    while started.elapsed() < Duration::from_secs(5) && answer.len() < (1 << 20) {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer within 5 s: {e}"),
        }
    }
    Some(answer)
}
