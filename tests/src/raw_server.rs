//! A loopback HTTP/1.1 server that answers with raw bytes, for tests of what
//! a client does with answers no well-behaved server sends: garbage instead
//! of HTTP, a body cut short, a huge body, header values that are not
//! UTF-8, and so on. On `std::net` and threads only.
//!
//! The handler sees each request (parsed: method, target, headers, body;
//! the signature is not checked) and returns a [`RawReply`]: bytes written
//! as they are, then the connection kept or closed; a close without an
//! answer; or a stall. Use [`response`] to build a well-formed answer with
//! a correct `content-length`.
//!
//! Everything is bounded: connections, requests per connection, header and
//! body sizes, idle time, stall time and the server's lifetime. Dropping
//! the server stops it and joins its threads.
//!
//! ```
//! use personalize_events_tests::raw_server::{RawReply, RawServer};
//! let server = RawServer::start(|_| RawReply::close(b"SMTP ready\r\n".to_vec()));
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.request_count(), 0);
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::loopback::{lock, Acceptor};
use std::time::{Duration, Instant};

/// Longest a stall lasts, whatever the handler says.
pub const MAX_STALL: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: usize = 2000;
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
const MAX_IDLE: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;
const TICK: Duration = Duration::from_millis(10);

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawReply {
    /// Write these bytes; then keep the connection open for the next
    /// request (`keep_alive`) or close it.
    Bytes {
        /// Written as they are.
        bytes: Vec<u8>,
        /// Read another request on this connection afterwards.
        keep_alive: bool,
    },
    /// Close the connection without writing anything.
    Close,
    /// Wait this long (at most [`MAX_STALL`]) without answering, then close.
    Stall(Duration),
}

impl RawReply {
    /// Writes `bytes`, then closes the connection.
    pub fn close(bytes: Vec<u8>) -> Self {
        RawReply::Bytes {
            bytes,
            keep_alive: false,
        }
    }

    /// Writes `bytes` and keeps the connection for the next request.
    pub fn keep(bytes: Vec<u8>) -> Self {
        RawReply::Bytes {
            bytes,
            keep_alive: true,
        }
    }
}

/// A well-formed HTTP/1.1 answer: the status line, the headers given (raw
/// bytes, so values need not be UTF-8), a `content-length` for `body`, and
/// the body.
pub fn response(status: u16, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} Status\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Arrival order, from 0.
    pub index: usize,
    /// Which connection it came on, from 0.
    pub connection: usize,
    /// The method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Handler = dyn Fn(&RawRequest) -> RawReply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<RawRequest>>,
    stop: Arc<AtomicBool>,
}

/// A running raw server; stops when dropped.
pub struct RawServer {
    shared: Arc<Shared>,
    acceptor: Acceptor,
}

impl std::fmt::Debug for RawServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawServer")
            .field("addr", &self.acceptor.addr())
            .finish_non_exhaustive()
    }
}

impl RawServer {
    /// A server answering each request with what `handler` says.
    pub fn start(handler: impl Fn(&RawRequest) -> RawReply + Send + Sync + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            stop: stop.clone(),
        });
        let s = shared.clone();
        let acceptor = Acceptor::start("raw-server", stop, MAX_CONNECTIONS, move |stream, n| {
            let _ = serve_connection(stream, n, &s);
        });
        RawServer { shared, acceptor }
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
    pub fn requests(&self) -> Vec<RawRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Requests read so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.acceptor.connections()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; `false` when the peer closed, went idle or
/// the server stops.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> bool {
    let idle_since = Instant::now();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) || idle_since.elapsed() > MAX_IDLE {
            return false;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

/// Reads one request; `None` when the connection ends or the request is
/// not something this server can parse.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shared: &Shared,
) -> Option<(String, String, http::HeaderMap, Vec<u8>)> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD || !fill(stream, buf, shared) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split(' ');
    let (method, target) = (start.next()?.to_owned(), start.next()?.to_owned());
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            http::HeaderValue::from_str(value.trim()).ok()?,
        );
    }
    let length: usize = match headers.get(http::header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok()?.parse().ok()?,
        None => 0,
    };
    if length > MAX_BODY {
        return None;
    }
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        if !fill(stream, buf, shared) {
            return None;
        }
    }
    let body = buf[body_start..body_start + length].to_vec();
    buf.drain(..body_start + length);
    Some((method, target, headers, body))
}

fn serve_connection(mut stream: TcpStream, connection: usize, shared: &Shared) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(TICK))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::new();
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let Some((method, path, headers, body)) = read_request(&mut stream, &mut buf, shared)
        else {
            return Ok(());
        };
        let request = {
            let mut all = lock(&shared.requests);
            let r = RawRequest {
                index: all.len(),
                connection,
                method,
                path,
                headers,
                body,
            };
            all.push(r.clone());
            r
        };
        match (shared.handler)(&request) {
            RawReply::Bytes { bytes, keep_alive } => {
                // The client may stop reading (a size limit): that is fine.
                let written = stream.write_all(&bytes).and_then(|()| stream.flush());
                if written.is_err() || !keep_alive {
                    let _ = stream.shutdown(Shutdown::Write);
                    // Let the client read what was sent before the close.
                    std::thread::sleep(Duration::from_millis(20));
                    return Ok(());
                }
            }
            RawReply::Close => {
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
            RawReply::Stall(d) => {
                let until = Instant::now() + d.min(MAX_STALL);
                while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(TICK);
                }
                let _ = stream.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
    Ok(())
}
