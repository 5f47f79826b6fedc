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
pub use cli::{cli_csv, cli_csv_seeds, cli_json_lines, cli_json_lines_seeds};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::{
    Action, ActionInteraction, AnyInput, ClientConfig, ClientCore, Credentials, Error, Event, Item,
    MetricAttribution, Poll, PutActionInteractionsInput, PutActionsInput, PutEventsInput,
    PutItemsInput, PutUsersInput, User, OPERATIONS, SIGNING_NAME,
};
use personalize_events_local::verify::{self, VerifyParams};

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

/// A small, fast, seeded random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Byte strings that tend to find edges in JSON, HTTP and SigV4 code.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"1e309",
    b"-1e-400",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1.5",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"\\udc00\\ud800\"",
    b"\"\xff\xfe\"",
    b"[]",
    b"{}",
    b"[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":",
    b"\"eventList\"",
    b"\"properties\"",
    b"\"sentAt\"",
    b"\"2026-11-29T11:59:00Z\"",
    b"\"9999-12-31T23:59:59.999999999+14:00\"",
    b"\"impression\"",
    b"\"itemId\"",
    b"\"userId\"",
    b",",
    b":",
    b"\\",
    b"\"",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Authorization: AWS4-HMAC-SHA256 Credential=/,SignedHeaders=;,Signature=\r\n",
    b"X-Amz-Date: 99991231T235959Z\r\n",
    b"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0",
    b"%",
    b"%zz",
    b"\xc3\x28",
    b"\xf0\x9f\x98\x80",
    b"\x00",
    b"\x7f",
];

/// Mutates and makes inputs for one target, from a corpus of seeds.
#[derive(Debug, Clone)]
pub struct Gen {
    rng: Rng,
    corpus: Vec<Vec<u8>>,
    max_len: usize,
}

impl Gen {
    /// A generator over `corpus` (at least one seed), making inputs of at
    /// most `max_len` bytes.
    pub fn new(seed: u64, corpus: Vec<Vec<u8>>, max_len: usize) -> Self {
        let corpus = if corpus.is_empty() {
            vec![Vec::new()]
        } else {
            corpus
        };
        Gen {
            rng: Rng::new(seed),
            corpus,
            max_len: max_len.max(16),
        }
    }

    /// The random generator.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The next input: usually a seed with 1 to 8 mutations, sometimes
    /// random bytes.
    pub fn next_input(&mut self) -> Vec<u8> {
        if self.rng.one_in(20) {
            let n = self.rng.below(self.max_len.min(512));
            return (0..n).map(|_| self.rng.next_u64() as u8).collect();
        }
        let mut data = self.corpus[self.rng.below(self.corpus.len())].clone();
        let rounds = 1 + self.rng.below(8);
        for _ in 0..rounds {
            self.mutate(&mut data);
        }
        data.truncate(self.max_len);
        data
    }

    /// One mutation, in place.
    pub fn mutate(&mut self, data: &mut Vec<u8>) {
        let len = data.len();
        let r = &mut self.rng;
        match r.below(10) {
            // Flip a bit.
            0 if len > 0 => {
                let i = r.below(len);
                data[i] ^= 1 << r.below(8);
            }
            // Set a byte to an interesting value.
            1 if len > 0 => {
                const B: &[u8] = b"\x00\x01\x7f\x80\xff\"\\{}[],:0-9eE.\r\n %+/=&?";
                let i = r.below(len);
                data[i] = B[r.below(B.len())];
            }
            // Delete a range.
            2 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(64));
                data.drain(i..i + n);
            }
            // Duplicate a range.
            3 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(256));
                let chunk = data[i..i + n].to_vec();
                let at = r.below(len + 1);
                data.splice(at..at, chunk);
            }
            // Insert random bytes.
            4 => {
                let at = r.below(len + 1);
                let n = 1 + r.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            // Splice in part of another seed.
            5 => {
                let other = &self.corpus[r.below(self.corpus.len())];
                if !other.is_empty() {
                    let i = r.below(other.len());
                    let n = 1 + r.below((other.len() - i).min(512));
                    let at = r.below(len + 1);
                    data.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            // Truncate.
            6 if len > 0 => data.truncate(r.below(len)),
            // Replace an ASCII digit run with another number.
            7 => {
                if let Some(i) = (0..len)
                    .map(|k| (k + r.below(len.max(1))) % len.max(1))
                    .find(|&k| data.get(k).is_some_and(u8::is_ascii_digit))
                {
                    let num = TOKENS[3 + r.below(7)].to_vec();
                    data.splice(i..i + 1, num);
                }
            }
            // Repeat a range many times (deep nesting, long strings).
            8 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(8));
                let chunk = data[i..i + n].to_vec();
                let times = 1 + r.below(2000);
                let at = r.below(len + 1);
                let rep: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                data.splice(at..at, rep);
            }
            // Insert a token.
            _ => {
                let t = TOKENS[r.below(TOKENS.len())];
                let at = r.below(len + 1);
                data.splice(at..at, t.iter().copied());
            }
        }
    }
}

/// Reads structure out of fuzz bytes, with defaults when they run out.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    /// One byte (0 when none is left).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    /// A chunk whose length is given by the next byte.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.byte() as usize;
        self.take(n)
    }
    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_953_540_250)
}

/// One valid input of each operation, every member set.
pub fn sample_inputs() -> Vec<AnyInput> {
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS";
    vec![
        AnyInput::PutEvents(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id("user-1")
                .event(
                    Event::new("click", at())
                        .event_id("e-1")
                        .item_id("item-1")
                        .event_value(1.5)
                        .properties(r#"{"numberOfRatings":"12","é":"\u00e9"}"#)
                        .recommendation_id("rec-1")
                        .impression(["item-1", "item-2"])
                        .metric_attribution(MetricAttribution::new("partner")),
                )
                .event(Event::new("view", at())),
        ),
        AnyInput::PutItems(
            PutItemsInput::new(arn)
                .item(Item::new("item-1").properties(r#"{"genre":"drama|comedy"}"#)),
        ),
        AnyInput::PutUsers(
            PutUsersInput::new(arn).user(User::new("user-1").properties(r#"{"age":"42"}"#)),
        ),
        AnyInput::PutActions(
            PutActionsInput::new(arn).action(Action::new("action-1").properties(r#"{"v":1}"#)),
        ),
        AnyInput::PutActionInteractions(
            PutActionInteractionsInput::new("tracking-1").action_interaction(
                ActionInteraction::new("action-1", "session-1", at(), "Taken")
                    .user_id("user-1")
                    .event_id("e-2")
                    .recommendation_id("rec-1")
                    .impression(["action-1"])
                    .properties(r#"{"k":"v"}"#),
            ),
        ),
    ]
}

/// The credentials the targets sign with and the emulator accepts.
pub fn credentials() -> Credentials {
    Credentials::new(
        personalize_events_local::DEFAULT_ACCESS_KEY_ID,
        personalize_events_local::DEFAULT_SECRET_ACCESS_KEY,
        None,
    )
}

fn core_for(endpoint: &str) -> ClientCore {
    let params = personalize_events_core::EndpointParams {
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        ..Default::default()
    };
    let endpoint = personalize_events_core::endpoint::resolve(&params).expect("an endpoint");
    ClientCore::new(ClientConfig::new("us-east-1", endpoint)).expect("a core")
}

/// The signed request the client would send for `input` at `wall`.
pub fn signed_request(endpoint: &str, input: AnyInput, wall: SystemTime) -> http::Request<Vec<u8>> {
    let core = core_for(endpoint);
    let now = Instant::now();
    fn first<I: personalize_events_core::Operation>(
        core: &ClientCore,
        i: I,
        now: Instant,
        wall: SystemTime,
    ) -> http::Request<Vec<u8>> {
        let mut call = core.call(&i, now, 1).expect("a valid sample");
        match call.poll(now, wall, &credentials(), 0.5) {
            Poll::Send(s) => s.request,
            _ => unreachable!("a new call sends first"),
        }
    }
    match input {
        AnyInput::PutEvents(i) => first(&core, i, now, wall),
        AnyInput::PutItems(i) => first(&core, i, now, wall),
        AnyInput::PutUsers(i) => first(&core, i, now, wall),
        AnyInput::PutActions(i) => first(&core, i, now, wall),
        AnyInput::PutActionInteractions(i) => first(&core, i, now, wall),
    }
}

/// A request as HTTP/1.1 bytes, with `content-length` and `connection: close`.
pub fn to_wire(req: &http::Request<Vec<u8>>) -> Vec<u8> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut out = format!("{} {target} HTTP/1.1\r\n", req.method()).into_bytes();
    for (k, v) in req.headers() {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            req.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(req.body());
    out
}

/// Seeds for [`decode_response`]: encoded answers of the kinds the service
/// gives (see [`decode_response`] for the layout).
pub fn decode_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // (status, (header name index, value), body)
    type Answer = (u16, &'static [(u8, &'static [u8])], &'static [u8]);
    let answers: [Answer; 8] = [
        (200, &[(1, b"req-1")], b""),
        (
            400,
            &[(0, b"InvalidInputException"), (1, b"r")],
            br#"{"message":"bad"}"#,
        ),
        (
            404,
            &[],
            br#"{"__type":"com.amazon#ResourceNotFoundException","Message":"x"}"#,
        ),
        (
            429,
            &[(0, b"ThrottlingException")],
            br#"{"message":"Rate exceeded"}"#,
        ),
        (503, &[], b"<html>Service Unavailable</html>"),
        (
            403,
            &[
                (0, b"InvalidSignatureException"),
                (3, b"Sun, 29 Nov 2026 12:10:00 GMT"),
            ],
            br#"{"message":"Signature expired"}"#,
        ),
        (
            500,
            &[(4, b"application/json")],
            br#"{"code":"InternalFailure","errorMessage":"boom"}"#,
        ),
        (
            409,
            &[(0, b"ResourceInUseException:http://internal.amazon.com/")],
            br#"{"message":null}"#,
        ),
    ];
    for (status, headers, body) in answers {
        let mut d = vec![(status >> 8) as u8, status as u8, headers.len() as u8];
        for (name, value) in headers {
            d.push(*name);
            d.push(value.len() as u8);
            d.extend_from_slice(value);
        }
        d.extend_from_slice(body);
        out.push(d);
    }
    out
}

/// Seeds for [`request`]: an operation byte and a body, and a few signed
/// requests with a tampering byte.
pub fn request_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, input) in sample_inputs().into_iter().enumerate() {
        let mut d = vec![0, i as u8];
        d.extend_from_slice(&input.encode());
        out.push(d);
        let mut d = vec![1, i as u8, 0, 0];
        d.extend_from_slice(b"tamper");
        out.push(d);
        let wire = to_wire(&signed_request("http://127.0.0.1:1", input, at()));
        let mut d = vec![2];
        d.extend_from_slice(&wire);
        out.push(d);
    }
    out
}

/// Seeds for [`json_lines`]: the samples as JSON lines, and their records.
pub fn json_lines_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for input in sample_inputs() {
        let mut line = input.encode();
        line.push(b'\n');
        out.push(line);
    }
    let v: serde_json::Value = serde_json::from_slice(&sample_inputs()[0].encode()).expect("JSON");
    for e in v["eventList"].as_array().into_iter().flatten() {
        out.push(e.to_string().into_bytes());
    }
    out
}

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
