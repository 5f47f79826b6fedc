//! A scripted loopback HTTP/1.1 server for transport tests, on `std::net`
//! and threads only.
//!
//! It verifies the SigV4 signature of every request with
//! [`personalize_events_local::verify::verify_request`] (access key
//! [`ACCESS_KEY_ID`], secret [`SECRET_ACCESS_KEY`]), records every request
//! (headers, body, parsed JSON, signature check, connection), and answers
//! from a script: a status with headers and body, a dropped connection, or
//! a stall. Connections are kept alive between requests.
//!
//! Everything is bounded: requests per connection, connections, header and
//! body sizes, idle time, stall time and the server's lifetime. Dropping the
//! server stops it and joins its threads.
//!
//! ```
//! use personalize_events_tests::scripted_server::{Reply, ScriptedServer};
//! let server = ScriptedServer::start(vec![Reply::error(400, "InvalidInputException", "bad")]);
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(server.requests().is_empty());
//! ```

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::loopback::{lock, Acceptor};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::Credentials;
use personalize_events_local::verify::{verify_request, VerifiedRequest, VerifyError};

/// The access key id the server accepts.
pub const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The secret of [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// The credentials the server accepts.
pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
}

/// Longest a stall lasts, whatever the script says.
pub const MAX_STALL: Duration = Duration::from_secs(10);
/// Longest a server lives.
/// Most connections a server accepts.
const MAX_CONNECTIONS: usize = 1000;
/// Most requests on one connection.
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
/// A kept-alive connection idle this long is closed.
const MAX_IDLE: Duration = Duration::from_secs(5);
/// Largest request head and body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How often blocked threads look at the stop flag.
const TICK: Duration = Duration::from_millis(10);

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer with this status, headers and body. `content-length` is
    /// added, and `x-amzn-RequestId` (`req-<index>`) unless given.
    Respond {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Close the connection without answering (after reading the request).
    Reset,
    /// Read the request, wait this long (at most [`MAX_STALL`]) without
    /// answering, then close the connection.
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
        }
    }

    /// Adds a header to a `Respond` reply.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
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
    stop: Arc<AtomicBool>,
}

/// A running scripted server; stops when dropped.
pub struct ScriptedServer {
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl std::fmt::Debug for ScriptedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedServer")
            .field("addr", &self.acceptor.addr())
            .finish_non_exhaustive()
    }
}

impl ScriptedServer {
    /// A server answering requests with `script` in order (whatever their
    /// connection), then with [`Reply::ok`] once the script runs out.
    pub fn start(script: Vec<Reply>) -> Self {
        let script = Mutex::new(VecDeque::from(script));
        Self::with_handler(move |_| lock(&script).pop_front().unwrap_or_else(Reply::ok))
    }

    /// A server answering each request with what `handler` says about it
    /// (called with the request already recorded, signature checked).
    pub fn with_handler(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            stop: stop.clone(),
        });
        let s = shared.clone();
        let acceptor = Acceptor::start(
            "scripted-server",
            stop,
            MAX_CONNECTIONS,
            move |stream, n| {
                let _ = serve_connection(stream, n, &s);
            },
        );
        ScriptedServer { shared, acceptor }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.acceptor.addr())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.acceptor.addr()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }
}

/// Why reading a request stopped.
enum ReadEnd {
    /// The peer closed the connection (or went idle, or the server stops).
    Closed,
    /// The request cannot be parsed: answer 400 and close.
    Malformed(&'static str),
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads more bytes, waiting at most `MAX_IDLE`, stopping with the server.
    fn fill(&mut self, shared: &Shared) -> Result<(), ReadEnd> {
        let idle_since = Instant::now();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if shared.stop.load(Ordering::SeqCst) || idle_since.elapsed() > MAX_IDLE {
                return Err(ReadEnd::Closed);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Closed),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Err(ReadEnd::Closed),
            }
        }
    }

    /// Reads one request: method, target, headers, body.
    fn read_request(
        &mut self,
        shared: &Shared,
    ) -> Result<(String, String, http::HeaderMap, Vec<u8>), ReadEnd> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadEnd::Malformed("request head too large"));
            }
            self.fill(shared)?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| ReadEnd::Malformed("request head is not UTF-8"))?
            .to_owned();
        let mut lines = head.split("\r\n");
        let mut start = lines.next().unwrap_or("").split(' ');
        let (Some(method), Some(target), Some(version)) =
            (start.next(), start.next(), start.next())
        else {
            return Err(ReadEnd::Malformed("bad request line"));
        };
        if version != "HTTP/1.1" {
            return Err(ReadEnd::Malformed("not HTTP/1.1"));
        }
        let mut headers = http::HeaderMap::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or(ReadEnd::Malformed("header without a colon"))?;
            let name = http::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ReadEnd::Malformed("bad header name"))?;
            let value = http::HeaderValue::from_str(value.trim())
                .map_err(|_| ReadEnd::Malformed("bad header value"))?;
            headers.append(name, value);
        }
        if headers.contains_key(http::header::TRANSFER_ENCODING) {
            return Err(ReadEnd::Malformed(
                "chunked request bodies are not supported",
            ));
        }
        let length: usize = match headers.get(http::header::CONTENT_LENGTH) {
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
            self.fill(shared)?;
        }
        let body = self.buf[body_start..body_start + length].to_vec();
        self.buf.drain(..body_start + length);
        Ok((method.to_owned(), target.to_owned(), headers, body))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn serve_connection(stream: TcpStream, connection: usize, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
    };
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let (method, path, headers, body) = match conn.read_request(shared) {
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
        let close = headers
            .get(http::header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let signature = {
            let mut req = http::Request::new(body.as_slice());
            *req.method_mut() =
                http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
            *req.uri_mut() = path.parse().unwrap_or_else(|_| http::Uri::from_static("/"));
            *req.headers_mut() = headers.clone();
            verify_request(
                &req,
                |id| (id == ACCESS_KEY_ID).then(credentials),
                SystemTime::now(),
                Duration::from_secs(300),
                personalize_events_core::SIGNING_NAME,
            )
        };
        let recorded = {
            let mut all = lock(&shared.requests);
            let index = all.len();
            let r = RecordedRequest {
                index,
                connection,
                received_at: Instant::now(),
                json: serde_json::from_slice(&body).ok(),
                method,
                path,
                headers,
                body,
                signature,
                request_id: format!("req-{index}"),
            };
            all.push(r.clone());
            r
        };
        let reply = match &recorded.signature {
            Err(e) => Reply::error(e.status(), e.code(), e.message()),
            Ok(_) => (shared.handler)(&recorded),
        };
        match reply {
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("x-amzn-requestid"))
                {
                    out.push_str(&format!("x-amzn-RequestId: {}\r\n", recorded.request_id));
                }
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("content-length: {}\r\n", body.len()));
                if close {
                    out.push_str("connection: close\r\n");
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                conn.stream.write_all(&bytes)?;
                conn.stream.flush()?;
                if close {
                    return Ok(());
                }
            }
            Reply::Reset => {
                let _ = conn.stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            Reply::Stall(d) => {
                let until = Instant::now() + d.min(MAX_STALL);
                while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(TICK);
                }
                let _ = conn.stream.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
