//! The one fake service of the behaviour tests: a loopback HTTP/1.1 server
//! on `std::net` and threads (so sync and async tests alike can use it)
//! whose every answer comes from a handler
//! `Fn(&http::Request<Vec<u8>>) -> http::Response<Vec<u8>>`.
//!
//! What a test needs beyond an answer rides in the response's extensions,
//! set by the [`reply`] helpers and [`ReplyExt`]: answer after a delay,
//! drop the connection without answering ([`reply::reset`]) or stall
//! ([`reply::stall`]). Each request carries its [`Arrival`] (index and
//! connection) in its extensions. The server records every request
//! ([`RecordedRequest`], with the outcome of SigV4 verification against
//! [`credentials`]), counts connections, requests in flight (received in
//! full, not yet answered), the most in flight at once, and clients that
//! hung up while waiting for an answer. [`FakeService::signed`] and
//! [`FakeService::script`] answer a request whose signature fails with the
//! service's 403 without asking the handler; [`FakeService::start`] (for
//! unsigned endpoints such as IMDS or STS) does not check.
//!
//! The same handler can answer without a socket: [`FakeService::answer`]
//! records and answers one request in-process, for driving core's `Call`
//! directly.
//!
//! Everything is bounded: connections, requests per connection, header and
//! body sizes, idle time, delays, stalls and the server's lifetime.
//! Dropping the server stops it and joins its threads. For answers no
//! well-behaved server sends, use [`crate::raw_server`].
//!
//! ```
//! use personalize_events_tests::fake_service::{reply, FakeService};
//! let server = FakeService::script(vec![reply::error(400, "InvalidInputException", "bad")]);
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(server.requests().is_empty());
//! ```

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::{Request, Response};
use personalize_events_core::Credentials;
use personalize_events_local::verify::{verify_request, VerifiedRequest, VerifyError};

use crate::loopback::{lock, Acceptor};

/// The access key id the server accepts.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The secret of [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// The credentials the server accepts.
pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
}

/// Longest a stall or a delay lasts, whatever the handler says.
pub const MAX_STALL: Duration = Duration::from_secs(10);
/// Most connections a server accepts.
const MAX_CONNECTIONS: usize = 4096;
/// Most requests on one connection.
const MAX_REQUESTS_PER_CONNECTION: usize = 20_000;
/// A kept-alive connection idle this long is closed.
const MAX_IDLE: Duration = Duration::from_secs(10);
/// Largest request head and body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(5);

/// A handler: the answer to a request.
pub type Handler = dyn Fn(&Request<Vec<u8>>) -> Response<Vec<u8>> + Send + Sync;

/// Where a request came in, in its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Arrival order, from 0.
    pub index: usize,
    /// Which connection it came on, from 0 (0 for [`FakeService::answer`]).
    pub connection: usize,
}

/// Something other than a plain answer, in a response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer, but only after this long (at most [`MAX_STALL`]); a client
    /// hanging up meanwhile is counted in [`FakeService::hangups`].
    Delay(Duration),
    /// Close the connection without answering.
    Reset,
    /// Wait this long (at most [`MAX_STALL`]) without answering, then close
    /// the connection; a client hanging up ends it early and is counted.
    Stall(Duration),
}

/// The action of a response ([`Action::Delay`] of zero when none).
pub fn action_of(response: &Response<Vec<u8>>) -> Action {
    response
        .extensions()
        .get::<Action>()
        .copied()
        .unwrap_or(Action::Delay(Duration::ZERO))
}

/// Answers as the service gives them.
pub mod reply {
    use super::{Action, Response};
    use std::time::Duration;

    /// A status with headers and a body.
    pub fn respond(
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Response<Vec<u8>> {
        let mut b = Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.into()).expect("a valid status and headers")
    }

    /// 200 with an empty body, as the service answers.
    pub fn ok() -> Response<Vec<u8>> {
        status(200)
    }

    /// A bare status with an empty body.
    pub fn status(status: u16) -> Response<Vec<u8>> {
        respond(status, &[], Vec::new())
    }

    /// An error response of the rest-json protocol: `x-amzn-ErrorType` and
    /// a JSON body with the message.
    pub fn error(status: u16, code: &str, message: &str) -> Response<Vec<u8>> {
        let body = serde_json::json!({ "message": message }).to_string();
        respond(
            status,
            &[
                ("x-amzn-ErrorType", code),
                ("content-type", "application/json"),
            ],
            body,
        )
    }

    /// Close the connection without answering (after reading the request).
    pub fn reset() -> Response<Vec<u8>> {
        with_action(Action::Reset)
    }

    /// Read the request, wait `d` (at most [`super::MAX_STALL`]) without
    /// answering, then close the connection.
    pub fn stall(d: Duration) -> Response<Vec<u8>> {
        with_action(Action::Stall(d))
    }

    fn with_action(a: Action) -> Response<Vec<u8>> {
        let mut r = status(200);
        r.extensions_mut().insert(a);
        r
    }
}

/// Builder steps on an answer.
pub trait ReplyExt {
    /// Adds a header.
    fn header(self, name: &str, value: &str) -> Self;
    /// Answers only after `d` (at most [`MAX_STALL`]).
    fn delay(self, d: Duration) -> Self;
}

impl ReplyExt for Response<Vec<u8>> {
    fn header(mut self, name: &str, value: &str) -> Self {
        let name = http::HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        let value = http::HeaderValue::from_str(value).expect("a header value");
        self.headers_mut().append(name, value);
        self
    }

    fn delay(mut self, d: Duration) -> Self {
        self.extensions_mut().insert(Action::Delay(d));
        self
    }
}

/// What handlers read of a request.
pub trait RequestExt {
    /// A header's value as text.
    fn header(&self, name: &str) -> Option<&str>;
    /// The body as JSON, when it is JSON.
    fn json(&self) -> Option<serde_json::Value>;
    /// Where it came in.
    fn arrival(&self) -> Arrival;
}

impl RequestExt for Request<Vec<u8>> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.body()).ok()
    }

    fn arrival(&self) -> Arrival {
        self.extensions()
            .get::<Arrival>()
            .copied()
            .unwrap_or(Arrival {
                index: 0,
                connection: 0,
            })
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Arrival order, from 0.
    pub index: usize,
    /// Which connection it came on, from 0 (to see keep-alive at work).
    pub connection: usize,
    /// When it was read in full.
    pub received_at: Instant,
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The body as JSON, when it is JSON.
    pub json: Option<serde_json::Value>,
    /// The outcome of SigV4 verification against [`credentials`].
    pub signature: Result<VerifiedRequest, VerifyError>,
    /// The request id the server answers with (unless the handler gives one).
    pub request_id: String,
}

impl RecordedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// True when the signature verified.
    pub fn signature_ok(&self) -> bool {
        self.signature.is_ok()
    }
}

struct Shared {
    handler: Box<Handler>,
    check_signatures: bool,
    requests: Mutex<Vec<RecordedRequest>>,
    count: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    hangups: AtomicUsize,
    stop: Arc<AtomicBool>,
}

impl Shared {
    /// Records `req` and asks the handler (or answers the failed signature).
    /// The request counts as in flight until the caller ends it.
    fn receive(&self, mut req: Request<Vec<u8>>, connection: usize) -> Response<Vec<u8>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let signature = verify_request(
            &req,
            |id| (id == ACCESS_KEY_ID).then(credentials),
            SystemTime::now(),
            Duration::from_secs(300),
            personalize_events_core::SIGNING_NAME,
        );
        let refused = match (&signature, self.check_signatures) {
            (Err(e), true) => Some(reply::error(e.status(), e.code(), e.message())),
            _ => None,
        };
        let index = {
            let mut all = lock(&self.requests);
            let index = self.count.fetch_add(1, Ordering::SeqCst);
            all.push(RecordedRequest {
                index,
                connection,
                received_at: Instant::now(),
                method: req.method().to_string(),
                path: req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned(),
                headers: req.headers().clone(),
                body: req.body().clone(),
                json: serde_json::from_slice(req.body()).ok(),
                signature,
                request_id: format!("req-{index}"),
            });
            index
        };
        req.extensions_mut().insert(Arrival { index, connection });
        let mut resp = refused.unwrap_or_else(|| (self.handler)(&req));
        if !resp.headers().contains_key("x-amzn-requestid") {
            let id = http::HeaderValue::from_str(&format!("req-{index}")).expect("an id");
            resp.headers_mut().insert("x-amzn-requestid", id);
        }
        resp
    }

    fn end_in_flight(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running fake service; stops when dropped.
pub struct FakeService {
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl std::fmt::Debug for FakeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeService")
            .field("addr", &self.acceptor.addr())
            .finish_non_exhaustive()
    }
}

impl FakeService {
    /// A server answering every request with `handler`, signatures not
    /// checked (still recorded).
    pub fn start(
        handler: impl Fn(&Request<Vec<u8>>) -> Response<Vec<u8>> + Send + Sync + 'static,
    ) -> Self {
        Self::new(Box::new(handler), false)
    }

    /// A server for the Personalize Events API: a request whose SigV4
    /// signature does not verify against [`credentials`] gets the service's
    /// 403, the others `handler`'s answer.
    pub fn signed(
        handler: impl Fn(&Request<Vec<u8>>) -> Response<Vec<u8>> + Send + Sync + 'static,
    ) -> Self {
        Self::new(Box::new(handler), true)
    }

    /// A [`signed`](Self::signed) server answering requests with `script`
    /// in order (whatever their connection), then with [`reply::ok`] once
    /// the script runs out.
    pub fn script(script: Vec<Response<Vec<u8>>>) -> Self {
        let script = Mutex::new(VecDeque::from(script));
        Self::signed(move |_| lock(&script).pop_front().unwrap_or_else(reply::ok))
    }

    fn new(handler: Box<Handler>, check_signatures: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            handler,
            check_signatures,
            requests: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            hangups: AtomicUsize::new(0),
            stop: stop.clone(),
        });
        let s = shared.clone();
        let acceptor = Acceptor::start("fake-service", stop, MAX_CONNECTIONS, move |stream, n| {
            let _ = serve_connection(stream, n, &s);
        });
        FakeService { shared, acceptor }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.acceptor.addr())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// Records and answers `req` in-process, as the server would (the
    /// response's [`Action`] is left to the caller to carry out).
    pub fn answer(&self, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        self.answerer().answer(req)
    }

    /// A handle that answers in-process ([`FakeService::answer`]), for a
    /// caller that outlives this borrow.
    pub fn answerer(&self) -> Answerer {
        Answerer {
            shared: self.shared.clone(),
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }

    /// Requests received in full and not yet answered, now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests in flight at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many times a client hung up while a request waited (stalled or
    /// delayed) for its answer.
    pub fn hangups(&self) -> usize {
        self.shared.hangups.load(Ordering::SeqCst)
    }
}

/// Answers requests in-process with a [`FakeService`]'s handler, recording
/// them on it.
#[derive(Clone)]
pub struct Answerer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerer").finish_non_exhaustive()
    }
}

impl Answerer {
    /// Records and answers `req` (connection 0).
    pub fn answer(&self, req: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let resp = self.shared.receive(req, 0);
        self.shared.end_in_flight();
        resp
    }
}

/// Why reading a request stopped.
enum ReadEnd {
    /// The peer closed the connection (or went idle, or the server stops).
    Closed,
    /// The request cannot be parsed: answer 400 and close.
    Malformed(&'static str),
}

struct Conn<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    shared: &'a Shared,
}

impl Conn<'_> {
    /// Reads more bytes, waiting at most `MAX_IDLE`, stopping with the server.
    fn fill(&mut self) -> Result<(), ReadEnd> {
        let idle_since = Instant::now();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.shared.stop.load(Ordering::SeqCst) || idle_since.elapsed() > MAX_IDLE {
                return Err(ReadEnd::Closed);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if waiting(&e) => {}
                Err(_) => return Err(ReadEnd::Closed),
            }
        }
    }

    /// Reads one request.
    fn read_request(&mut self) -> Result<Request<Vec<u8>>, ReadEnd> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadEnd::Malformed("request head too large"));
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| ReadEnd::Malformed("request head is not UTF-8"))?
            .to_owned();
        let mut lines = head.split("\r\n");
        let mut start = lines.next().unwrap_or("").split(' ');
        let (Some(method), Some(target), Some("HTTP/1.1")) =
            (start.next(), start.next(), start.next())
        else {
            return Err(ReadEnd::Malformed("bad request line"));
        };
        let mut req = Request::new(Vec::new());
        *req.method_mut() = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| ReadEnd::Malformed("bad method"))?;
        *req.uri_mut() = target
            .parse()
            .map_err(|_| ReadEnd::Malformed("bad request target"))?;
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or(ReadEnd::Malformed("header without a colon"))?;
            let name = http::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ReadEnd::Malformed("bad header name"))?;
            let value = http::HeaderValue::from_str(value.trim())
                .map_err(|_| ReadEnd::Malformed("bad header value"))?;
            req.headers_mut().append(name, value);
        }
        if req.headers().contains_key(http::header::TRANSFER_ENCODING) {
            return Err(ReadEnd::Malformed(
                "chunked request bodies are not supported",
            ));
        }
        let length: usize = match req.headers().get(http::header::CONTENT_LENGTH) {
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or(ReadEnd::Malformed("bad content-length"))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(ReadEnd::Malformed("request body too large"));
        }
        let body_start = head_end + 4;
        while self.buf.len() < body_start + length {
            self.fill()?;
        }
        *req.body_mut() = self.buf[body_start..body_start + length].to_vec();
        self.buf.drain(..body_start + length);
        Ok(req)
    }

    /// Waits `d` (at most [`MAX_STALL`]); true when the client hung up
    /// meanwhile (what it sends meanwhile is kept for the next request).
    fn wait_or_hangup(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d.min(MAX_STALL);
        let mut chunk = [0u8; 4096];
        while Instant::now() < until && !self.shared.stop.load(Ordering::SeqCst) {
            if self.buf.len() > MAX_HEAD + MAX_BODY {
                std::thread::sleep(TICK);
                continue;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if waiting(&e) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

fn waiting(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_close(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

fn serve_connection(stream: TcpStream, connection: usize, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        shared,
    };
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let req = match conn.read_request() {
            Ok(r) => r,
            Err(ReadEnd::Closed) => return Ok(()),
            Err(ReadEnd::Malformed(why)) => {
                let reply = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{why}",
                    why.len()
                );
                let _ = conn.stream.write_all(reply.as_bytes());
                return Ok(());
            }
        };
        let close = is_close(req.headers());
        let resp = shared.receive(req, connection);
        match action_of(&resp) {
            Action::Delay(d) => {
                if !d.is_zero() && conn.wait_or_hangup(d) {
                    shared.hangups.fetch_add(1, Ordering::SeqCst);
                    shared.end_in_flight();
                    return Ok(());
                }
                let close = close || is_close(resp.headers());
                let bytes = encode(resp, close);
                // Not in flight any more once the answer leaves: the client
                // may start its next call as soon as it has read it.
                shared.end_in_flight();
                conn.stream.write_all(&bytes)?;
                conn.stream.flush()?;
                if close {
                    let _ = conn.stream.shutdown(Shutdown::Both);
                    return Ok(());
                }
            }
            Action::Reset => {
                shared.end_in_flight();
                let _ = conn.stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Action::Stall(d) => {
                if conn.wait_or_hangup(d) {
                    shared.hangups.fetch_add(1, Ordering::SeqCst);
                }
                shared.end_in_flight();
                let _ = conn.stream.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The response's bytes on the wire, with its `content-length`.
fn encode(resp: Response<Vec<u8>>, close: bool) -> Vec<u8> {
    let (parts, body) = resp.into_parts();
    let status = parts.status;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Status")
    )
    .into_bytes();
    for (k, v) in &parts.headers {
        if k == http::header::CONTENT_LENGTH || k == http::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}
