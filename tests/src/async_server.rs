//! A small async loopback HTTP/1.1 server for the async client's tests, on
//! Tokio's `TcpListener`.
//!
//! It verifies the SigV4 signature of every request with
//! [`personalize_events_local::verify::verify_request`] (access key
//! [`ACCESS_KEY_ID`], secret [`SECRET_ACCESS_KEY`]), records every request,
//! counts the requests in flight (received in full, not yet answered) and
//! the most seen at once, and answers from a script or a handler: a status
//! with headers and body (optionally after a delay), a reset connection
//! (the socket is dropped after reading the request), or a stall.
//!
//! Everything is bounded: connections, requests per connection, header and
//! body sizes, idle time, delays, stalls and the server's lifetime.
//! Dropping the server stops it: its accept task and every connection task
//! are aborted.
//!
//! ```
//! use personalize_events_tests::async_server::{AsyncServer, Reply};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = AsyncServer::start(vec![Reply::error(400, "InvalidInputException", "bad")]).await;
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.request_count(), 0);
//! # }
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::Credentials;
use personalize_events_local::verify::{verify_request, VerifiedRequest, VerifyError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The access key id the server accepts.
pub const ACCESS_KEY_ID: &str = "AKIDASYNCEXAMPLE";
/// The secret of [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "async/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// The credentials the server accepts.
pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
}

/// Longest a stall or a delay lasts, whatever the script says.
pub const MAX_STALL: Duration = Duration::from_secs(10);
/// Longest a server lives.
const MAX_LIFETIME: Duration = Duration::from_secs(120);
/// Most connections a server accepts.
const MAX_CONNECTIONS: usize = 4096;
/// Most requests on one connection.
const MAX_REQUESTS_PER_CONNECTION: usize = 20_000;
/// A kept-alive connection idle this long is closed.
const MAX_IDLE: Duration = Duration::from_secs(10);
/// Largest request head and body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status, headers and body after `delay` (at most
    /// [`MAX_STALL`]). `content-length` is added, and `x-amzn-RequestId`
    /// (`req-<index>`) unless given.
    Respond {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
        /// How long to wait before answering.
        delay: Duration,
    },
    /// Drop the connection without answering, after reading the request
    /// (with `SO_LINGER` 0, so the client sees a reset).
    Reset,
    /// Read the request, wait this long (at most [`MAX_STALL`]) without
    /// answering, then close the connection. A client hanging up ends the
    /// stall early and is counted in [`AsyncServer::hangups`].
    Stall(Duration),
}

impl Reply {
    /// 200 with an empty body, as the service answers.
    pub fn ok() -> Self {
        Reply::status(200)
    }

    /// A bare status with an empty body.
    pub fn status(status: u16) -> Self {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// An error response of the rest-json protocol: `x-amzn-ErrorType`
    /// and a JSON body with the message.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        let body = serde_json::json!({ "message": message }).to_string();
        Reply::Respond {
            status,
            headers: vec![
                ("x-amzn-ErrorType".into(), code.into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.into_bytes(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header to a `Respond` reply.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Delays a `Respond` reply.
    pub fn delay(mut self, d: Duration) -> Self {
        if let Reply::Respond { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Arrival order, from 0.
    pub index: usize,
    /// Which connection it came on, from 0.
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
    /// The outcome of SigV4 verification.
    pub signature: Result<VerifiedRequest, VerifyError>,
    /// The request id the server answers with.
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

type Handler = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<RecordedRequest>>,
    count: AtomicUsize,
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    hangups: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running server; stops when dropped.
pub struct AsyncServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: JoinHandle<()>,
}

impl std::fmt::Debug for AsyncServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for AsyncServer {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a `JoinSet`), so this
        // stops them all.
        self.acceptor.abort();
    }
}

impl AsyncServer {
    /// A server answering requests with `script` in order (whatever their
    /// connection), then with [`Reply::ok`] once the script runs out.
    pub async fn start(script: Vec<Reply>) -> Self {
        let script = Mutex::new(VecDeque::from(script));
        Self::with_handler(move |_| lock(&script).pop_front().unwrap_or_else(Reply::ok)).await
    }

    /// A server answering each request with what `handler` says about it
    /// (called with the request recorded and its signature checked; a
    /// request whose signature fails is answered 403 without asking).
    pub async fn with_handler(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            hangups: AtomicUsize::new(0),
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        AsyncServer {
            addr,
            shared,
            acceptor,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let mut r = lock(&self.shared.requests).clone();
        r.sort_by_key(|r| r.index);
        r
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let deadline = tokio::time::Instant::now() + MAX_LIFETIME;
    let mut conns = JoinSet::new();
    for _ in 0..MAX_CONNECTIONS {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        // Reap finished connection tasks as we go.
        while conns.try_join_next().is_some() {}
        let Ok((sock, _)) = accepted else { continue };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        conns.spawn(serve_connection(sock, id, Arc::clone(&shared)));
    }
    // Let open connections finish (bounded by their own limits).
    let _ = tokio::time::timeout_at(deadline, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

struct Head {
    method: String,
    path: String,
    headers: http::HeaderMap,
    content_length: usize,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| bad("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let mut headers = http::HeaderMap::new();
    let mut content_length = 0;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header line"))?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| bad("bad header name"))?;
        let value =
            http::HeaderValue::from_str(value.trim()).map_err(|_| bad("bad header value"))?;
        if name == http::header::CONTENT_LENGTH {
            content_length = value
                .to_str()
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("bad content-length"))?;
        }
        if name == http::header::TRANSFER_ENCODING {
            return Err(bad("chunked requests are not supported"));
        }
        headers.append(name, value);
    }
    if content_length > MAX_BODY {
        return Err(bad("body too large"));
    }
    Ok(Head {
        method,
        path,
        headers,
        content_length,
    })
}

/// Reads one request; `None` when the client closed the connection between
/// requests.
async fn read_request(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> io::Result<Option<(Head, Vec<u8>)>> {
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(bad("head too large"));
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = parse_head(&buf[..head_end])?;
    let total = head_end + 4 + head.content_length;
    while buf.len() < total {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Ok(Some((head, body)))
}

/// Waits `d` (at most [`MAX_STALL`]); true when the client hung up meanwhile.
async fn wait_or_hangup(sock: &mut TcpStream, buf: &mut Vec<u8>, d: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + d.min(MAX_STALL);
    let mut chunk = [0u8; 4096];
    // Bounded: each pass either ends the wait or reads bytes, and a client
    // sends at most MAX_HEAD + MAX_BODY bytes before it waits for an answer.
    for _ in 0..((MAX_HEAD + MAX_BODY) / 4096 + 2) {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            r = sock.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return true,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
        }
    }
    false
}

struct InFlight<'a>(&'a AtomicUsize, bool);

impl InFlight<'_> {
    fn end(&mut self) {
        if std::mem::replace(&mut self.1, false) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn serve_connection(mut sock: TcpStream, connection: usize, shared: Arc<Shared>) {
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::with_capacity(8 * 1024);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let (head, body) =
            match tokio::time::timeout(MAX_IDLE, read_request(&mut sock, &mut buf)).await {
                Ok(Ok(Some(r))) => r,
                _ => return,
            };
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut in_flight = InFlight(&shared.in_flight, true);
        let index = shared.count.fetch_add(1, Ordering::SeqCst);

        let mut req = http::Request::builder()
            .method(head.method.as_str())
            .uri(head.path.as_str())
            .body(body)
            .expect("a request from parsed parts");
        *req.headers_mut() = head.headers;
        let signature = verify_request(
            &req,
            |id| (id == ACCESS_KEY_ID).then(credentials),
            SystemTime::now(),
            Duration::from_secs(300),
            "personalize",
        );
        let (parts, body) = req.into_parts();
        let recorded = RecordedRequest {
            index,
            connection,
            received_at: Instant::now(),
            method: head.method,
            path: head.path,
            json: serde_json::from_slice(&body).ok(),
            headers: parts.headers,
            body,
            signature,
            request_id: format!("req-{index}"),
        };
        let reply = match &recorded.signature {
            Ok(_) => (shared.handler)(&recorded),
            Err(e) => Reply::error(e.status(), e.code(), e.message()),
        };
        let request_id = recorded.request_id.clone();
        lock(&shared.requests).push(recorded);

        match reply {
            Reply::Respond {
                status,
                headers,
                body,
                delay,
            } => {
                if !delay.is_zero() && wait_or_hangup(&mut sock, &mut buf, delay).await {
                    shared.hangups.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("x-amzn-requestid"))
                {
                    out.push_str(&format!("x-amzn-RequestId: {request_id}\r\n"));
                }
                for (n, v) in &headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                // Not in flight any more once the answer leaves: the client
                // may start its next call as soon as it has read it.
                in_flight.end();
                if sock.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Reset => {
                let _ = sock.set_zero_linger();
                in_flight.end();
                return;
            }
            Reply::Stall(d) => {
                if wait_or_hangup(&mut sock, &mut buf, d).await {
                    shared.hangups.fetch_add(1, Ordering::SeqCst);
                }
                in_flight.end();
                return;
            }
        }
    }
}
