//! The server: its builder, the handle tests hold, the accept loop and the
//! handling of one request.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::verify::{self, VerifyParams};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use personalize_events_core::{
    missing_required_members, service_validation_message, time, uuid_from_seed, AnyInput,
    Credentials, Error, OPERATIONS, SIGNING_NAME,
};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::body::Body;
use crate::fault::{FaultKind, FaultPlan, Phase, ScriptStep};
use crate::store::{Stats, Store, StoredRecord};

/// The access key id the emulator accepts unless told otherwise (the one
/// of the AWS SigV4 test suite).
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The secret key that goes with [`DEFAULT_ACCESS_KEY_ID`].
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The longest stall a fault may hold a request.
pub const MAX_STALL: Duration = Duration::from_secs(60);
/// The largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Default clock-skew tolerance, as AWS front ends allow.
const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);
/// Default stall time.
const DEFAULT_STALL: Duration = Duration::from_secs(2);
/// How long a client may take to send the request headers, then its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish once the server stops.
const GRACE: Duration = Duration::from_secs(5);
/// What a truncated response announces and what it sends of it.
const TRUNCATED_LENGTH: u64 = 64;
const TRUNCATED_PART: &[u8] = b"{\"message\":\"cut short";

#[derive(Debug, Clone)]
struct Config {
    addr: SocketAddr,
    credentials: HashMap<String, Credentials>,
    region: Option<String>,
    max_skew: Duration,
    tracking_ids: Option<HashSet<String>>,
    dataset_arns: Option<HashSet<String>>,
    log_file: Option<PathBuf>,
    max_requests: Option<u64>,
    max_duration: Option<Duration>,
    faults: FaultPlan,
    stall: Duration,
    expected_records: usize,
}

/// Configures and starts a [`LocalServer`].
///
/// Every setting has a default: loopback on a free port, the
/// `AKIDEXAMPLE` credentials, any region, 5 minutes of clock skew, any
/// tracking id or dataset, no log file, no limits, no faults.
#[derive(Debug, Clone)]
#[must_use]
pub struct LocalServerBuilder {
    config: Config,
    default_credentials: bool,
}

impl Default for LocalServerBuilder {
    fn default() -> Self {
        let mut credentials = HashMap::new();
        credentials.insert(
            DEFAULT_ACCESS_KEY_ID.to_owned(),
            Credentials::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None),
        );
        LocalServerBuilder {
            config: Config {
                addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
                credentials,
                region: None,
                max_skew: DEFAULT_MAX_SKEW,
                tracking_ids: None,
                dataset_arns: None,
                log_file: None,
                max_requests: None,
                max_duration: None,
                faults: FaultPlan::default(),
                stall: DEFAULT_STALL,
                expected_records: 0,
            },
            default_credentials: true,
        }
    }
}

impl LocalServerBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// The address to listen on, keeping the port (default `127.0.0.1`);
    /// e.g. another loopback address or `::1`. Nothing is checked here:
    /// [`parse_host`](crate::parse_host) refuses non-loopback input.
    pub fn host(mut self, ip: std::net::IpAddr) -> Self {
        self.config.addr.set_ip(ip);
        self
    }

    /// The port to listen on, keeping the address (0 picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.config.addr.set_port(port);
        self
    }

    /// Accepts requests signed with this key pair. The first call replaces
    /// the default `AKIDEXAMPLE` pair; later calls add more.
    pub fn credentials(
        self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credential(Credentials::new(
            access_key_id.into(),
            secret_access_key.into(),
            None,
        ))
    }

    /// Accepts requests signed with these credentials; when they have a
    /// session token, requests must carry the same token. The first call
    /// replaces the default pair; later calls add more.
    pub fn credential(mut self, credentials: Credentials) -> Self {
        if self.default_credentials {
            self.config.credentials.clear();
            self.default_credentials = false;
        }
        self.config
            .credentials
            .insert(credentials.access_key_id().to_owned(), credentials);
        self
    }

    /// Requires this region in the signature's credential scope (default:
    /// any region).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = Some(region.into());
        self
    }

    /// The largest accepted difference between a request's signing time
    /// and the server's clock (default 5 minutes).
    pub fn max_skew(mut self, skew: Duration) -> Self {
        self.config.max_skew = skew;
        self
    }

    /// Knows these tracking ids: `PutEvents` and `PutActionInteractions`
    /// for any other get 404 `ResourceNotFoundException`. Without this
    /// call every tracking id exists. Calls add up.
    pub fn tracking_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .tracking_ids
            .get_or_insert_with(HashSet::new)
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Knows these dataset ARNs: `PutItems`, `PutUsers` and `PutActions`
    /// for any other get 404 `ResourceNotFoundException`. Without this
    /// call every dataset exists. Calls add up.
    pub fn dataset_arns<I, S>(mut self, arns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .dataset_arns
            .get_or_insert_with(HashSet::new)
            .extend(arns.into_iter().map(Into::into));
        self
    }

    /// Appends every accepted record to this file as one JSON line (see
    /// [`StoredRecord::to_json_line`]); the file is created if needed.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.log_file = Some(path.into());
        self
    }

    /// Sizes the store for this many records up front, so that a long run
    /// (a soak test) does not pause while the duplicate-detection set
    /// rehashes; the default is to grow as needed.
    pub fn expected_records(mut self, n: usize) -> Self {
        self.config.expected_records = n;
        self
    }

    /// Stops after answering this many requests (at least 1).
    pub fn max_requests(mut self, n: u64) -> Self {
        self.config.max_requests = Some(n);
        self
    }

    /// Stops this long after starting.
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.config.max_duration = Some(d);
        self
    }

    /// Injects a fault into this share of the requests after the script
    /// (0.0 to 1.0, default 0), chosen deterministically from the
    /// [`seed`](Self::seed) and the request's number.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.config.faults.rate = rate;
        self
    }

    /// The seed of the failure rate (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.faults.seed = seed;
        self
    }

    /// The kinds the failure rate draws from (default
    /// [`FaultKind::DEFAULT_RANDOM`]).
    pub fn random_faults(mut self, kinds: impl IntoIterator<Item = FaultKind>) -> Self {
        self.config.faults.kinds = kinds.into_iter().collect();
        self
    }

    /// The phase of random faults and of script steps without one
    /// (default [`Phase::Before`]).
    pub fn fault_phase(mut self, phase: Phase) -> Self {
        self.config.faults.phase = phase;
        self
    }

    /// A fault script: step *i* decides what happens to request *i*
    /// (from 1). Accepts [`ScriptStep`]s or plain [`FaultKind`]s; see
    /// [`parse_fault_script`](crate::parse_fault_script) for the text form.
    pub fn fault_script<I, S>(mut self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<ScriptStep>,
    {
        self.config.faults.script = steps.into_iter().map(Into::into).collect();
        self
    }

    /// How long a stall fault holds a request (default 2 s, at most
    /// [`MAX_STALL`]). A stall ends early when the server stops.
    pub fn stall(mut self, d: Duration) -> Self {
        self.config.stall = d;
        self
    }

    fn check(&self) -> io::Result<()> {
        let bad = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
        let c = &self.config;
        if !(0.0..=1.0).contains(&c.faults.rate) {
            return bad(format!(
                "failure rate {} is not between 0 and 1",
                c.faults.rate
            ));
        }
        if c.faults.rate > 0.0 && c.faults.kinds.is_empty() {
            return bad("a failure rate needs at least one fault kind".into());
        }
        if c.stall > MAX_STALL {
            return bad(format!(
                "stall {:?} is longer than the maximum {:?}",
                c.stall, MAX_STALL
            ));
        }
        if c.max_requests == Some(0) {
            return bad("max requests must be at least 1".into());
        }
        if c.credentials.is_empty() {
            return bad("no credentials configured".into());
        }
        Ok(())
    }

    fn shared(self) -> io::Result<Arc<Shared>> {
        self.check()?;
        let log = match &self.config.log_file {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("log file {}: {e}", p.display()))
                    })?,
            ),
            None => None,
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let instance = nanos ^ (u128::from(std::process::id()) << 64) ^ next_instance();
        let expected_records = self.config.expected_records;
        Ok(Arc::new(Shared {
            config: self.config,
            store: Mutex::new(Store::with_log(log, expected_records)),
            seq: AtomicU64::new(0),
            instance,
            shutdown: watch::channel(false).0,
            stopped: watch::channel(false).0,
            stopped_sync: (Mutex::new(false), Condvar::new()),
        }))
    }

    /// Binds and starts serving on the current tokio runtime (which must
    /// have I/O and time enabled). Do not block that runtime's threads
    /// while talking to the server: from synchronous code, use
    /// [`start_blocking`](Self::start_blocking).
    pub async fn start(self) -> io::Result<LocalServer> {
        let shared = self.shared()?;
        let listener = TcpListener::bind(shared.config.addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener, shared.clone()));
        Ok(LocalServer {
            addr,
            shared,
            thread: None,
        })
    }

    /// Binds, then serves from a thread of its own running a
    /// single-threaded tokio runtime: for synchronous tests and tools.
    /// Returns once the port is open.
    pub fn start_blocking(self) -> io::Result<LocalServer> {
        let shared = self.shared()?;
        let listener = std::net::TcpListener::bind(shared.config.addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("personalize-events-local:{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => serve(l, task_shared).await,
                        Err(e) => {
                            eprintln!("personalize-events-local: cannot listen: {e}");
                            task_shared.mark_stopped();
                        }
                    }
                });
            })?;
        Ok(LocalServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }
}

/// Distinguishes servers started in the same nanosecond.
fn next_instance() -> u128 {
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

struct Shared {
    config: Config,
    store: Mutex<Store>,
    seq: AtomicU64,
    instance: u128,
    shutdown: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    stopped_sync: (Mutex<bool>, Condvar),
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere must not take the records down with it.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    fn mark_stopped(&self) {
        self.stopped.send_replace(true);
        let (m, cv) = &self.stopped_sync;
        *m.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }
}

/// A running emulator.
///
/// Dropping it stops the server (a server from
/// [`start_blocking`](LocalServerBuilder::start_blocking) is also joined).
pub struct LocalServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalServer")
            .field("addr", &self.addr)
            .field("stopped", &self.shared.is_stopped())
            .finish_non_exhaustive()
    }
}

impl LocalServer {
    /// A builder with the defaults.
    pub fn builder() -> LocalServerBuilder {
        LocalServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL to give a client: `http://127.0.0.1:PORT`
    /// (`http://[::1]:PORT` for IPv6).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every record accepted so far, in arrival order, duplicates included.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.shared.store().records()
    }

    /// Takes the records accepted so far, leaving none (duplicate
    /// detection still remembers their event ids).
    pub fn take_records(&self) -> Vec<StoredRecord> {
        self.shared.store().take_records()
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        self.shared.store().stats.clone()
    }

    /// True once the server has stopped (asked to, or by its limits).
    pub fn is_stopped(&self) -> bool {
        self.shared.is_stopped()
    }

    /// Asks the server to stop without waiting: it accepts no more
    /// connections, lets answers in progress finish (for at most 5 s),
    /// then closes everything.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Blocks until the server has stopped (by its limits or
    /// [`stop`](Self::stop)), at most `timeout`; true if it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (m, cv) = &self.shared.stopped_sync;
        let guard = m.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// Waits until the server has stopped (by its limits or
    /// [`stop`](Self::stop)).
    pub async fn wait(&self) {
        let mut rx = self.shared.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops the server, waits until it has stopped, and returns the final
    /// statistics. For a server from [`start`](LocalServerBuilder::start)
    /// called on a tokio runtime thread, this only asks it to stop (waiting
    /// there could deadlock): use [`shutdown_async`](Self::shutdown_async).
    pub fn shutdown(mut self) -> Stats {
        self.shared.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        } else if tokio::runtime::Handle::try_current().is_err() {
            self.wait_timeout(GRACE + Duration::from_secs(5));
        }
        self.stats()
    }

    /// Stops the server, waits until it has stopped, and returns the final
    /// statistics.
    pub async fn shutdown_async(self) -> Stats {
        self.shared.stop();
        self.wait().await;
        self.stats()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Accept loop and connections
// ---------------------------------------------------------------------------

/// Resolves once the server is asked to stop (the watch guard is not held).
async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let deadline = shared
        .config
        .max_duration
        .map(|d| tokio::time::Instant::now() + d);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopping(&mut shutdown) => break,
            _ = until(deadline) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(connection(stream, shared.clone()));
                }
                // Out of file descriptors and the like: breathe, go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    shared.stop();
    drop(listener);
    let drained =
        tokio::time::timeout(GRACE, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.shutdown().await;
    }
    shared.mark_stopped();
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // Keep a second handle on the socket, to reset it on purpose.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(raw) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let raw = Arc::new(raw);
    let svc_shared = shared.clone();
    let service = service_fn(move |req| handle(svc_shared.clone(), raw.clone(), req));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut shutdown = shared.shutdown.subscribe();
    let stopping = tokio::select! {
        _ = conn.as_mut() => false,
        _ = stopping(&mut shutdown) => true,
    };
    if stopping {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}

// ---------------------------------------------------------------------------
// One request
// ---------------------------------------------------------------------------

/// Makes hyper close the connection without an answer.
#[derive(Debug)]
struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed without an answer")
    }
}

impl std::error::Error for Aborted {}

enum ReadError {
    TooLarge,
    Broken,
}

async fn read_body(body: Incoming) -> Result<Bytes, ReadError> {
    let limited = Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(ReadError::TooLarge),
        _ => Err(ReadError::Broken),
    }
}

async fn handle(
    shared: Arc<Shared>,
    raw: Arc<std::net::TcpStream>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Aborted> {
    let seq = shared.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let request_id = uuid_from_seed(shared.instance, seq);
    if let Some(max) = shared.config.max_requests {
        if seq > max {
            return Ok(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The emulator is stopping: it has answered its maximum number of requests.",
                &request_id,
            ));
        }
    }
    shared.store().stats.requests += 1;
    let result = answer(&shared, &raw, req, seq, &request_id).await;
    if shared.config.max_requests == Some(seq) {
        // The answer is still written: hyper finishes it before closing.
        shared.stop();
    }
    result
}

async fn answer(
    shared: &Shared,
    raw: &std::net::TcpStream,
    req: Request<Incoming>,
    seq: u64,
    request_id: &str,
) -> Result<Response<Body>, Aborted> {
    let (parts, body) = req.into_parts();
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            return Ok(reject(
                shared,
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
                request_id,
            ))
        }
        Err(ReadError::Broken) => return Err(Aborted),
    };
    let fault = shared.config.faults.decide(seq);
    if let Some((kind, Phase::Before)) = fault {
        shared.store().fault(kind);
        if kind == FaultKind::Stall {
            stall(shared).await;
        } else {
            return inject(kind, raw, request_id);
        }
    }
    let response = process(shared, Request::from_parts(parts, body), seq, request_id);
    if let Some((kind, Phase::After)) = fault {
        shared.store().fault(kind);
        if kind == FaultKind::Stall {
            stall(shared).await;
        } else {
            return inject(kind, raw, request_id);
        }
    }
    Ok(response)
}

async fn stall(shared: &Shared) {
    let mut shutdown = shared.shutdown.subscribe();
    tokio::select! {
        _ = tokio::time::sleep(shared.config.stall) => {}
        _ = stopping(&mut shutdown) => {}
    }
}

fn inject(
    kind: FaultKind,
    raw: &std::net::TcpStream,
    request_id: &str,
) -> Result<Response<Body>, Aborted> {
    Ok(match kind {
        FaultKind::InternalError => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            request_id,
        ),
        FaultKind::ServiceUnavailable => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
            request_id,
        ),
        FaultKind::Throttling => error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Rate exceeded",
            request_id,
        ),
        FaultKind::Truncate => {
            let mut r = base_response(StatusCode::OK, request_id, Body::truncated(TRUNCATED_PART));
            r.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(TRUNCATED_LENGTH));
            r
        }
        // Reset: a zero linger turns the close into a TCP reset.
        _ => {
            let _ = socket2::SockRef::from(raw).set_linger(Some(Duration::ZERO));
            return Err(Aborted);
        }
    })
}

fn base_response(status: StatusCode, request_id: &str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&time::http_date(SystemTime::now())) {
        h.insert(DATE, v);
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Response<Body> {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    let mut r = base_response(status, request_id, Body::full(body));
    r.headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    r
}

fn reject(
    shared: &Shared,
    status: StatusCode,
    code: &'static str,
    message: &str,
    request_id: &str,
) -> Response<Body> {
    shared.store().reject(code);
    error_response(status, code, message, request_id)
}

/// Verifies, routes, decodes, validates and keeps one request.
fn process(shared: &Shared, req: Request<Bytes>, seq: u64, request_id: &str) -> Response<Body> {
    let cfg = &shared.config;
    let params = VerifyParams {
        service: SIGNING_NAME,
        region: cfg.region.as_deref(),
        now: SystemTime::now(),
        max_skew: cfg.max_skew,
    };
    if let Err(e) =
        verify::verify_request_with(&req, |ak| cfg.credentials.get(ak).cloned(), &params)
    {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
        return reject(shared, status, e.code(), e.message(), request_id);
    }

    let path = req.uri().path();
    let operation = OPERATIONS
        .iter()
        .find(|(_, p)| *p == path)
        .filter(|_| req.method() == Method::POST);
    let Some(&(operation, _)) = operation else {
        let message = format!(
            "Unknown operation: {} {}",
            req.method(),
            path.chars().take(128).collect::<String>()
        );
        return reject(
            shared,
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &message,
            request_id,
        );
    };

    // An absent payload is an empty structure, as in every rest-json service.
    let body: &[u8] = if req.body().iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        req.body()
    };
    let value: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return reject(
                shared,
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "The request body must be a JSON object.",
                request_id,
            )
        }
        Err(e) => {
            return reject(
                shared,
                StatusCode::BAD_REQUEST,
                "SerializationException",
                &format!("The request body is not valid JSON: {e}"),
                request_id,
            )
        }
    };
    // Required members first, as the service does: they are found on the
    // JSON itself (decoding stops at the first one, without its path).
    let missing = missing_required_members(operation, &value);
    if !missing.is_empty() {
        return reject(
            shared,
            StatusCode::BAD_REQUEST,
            "InvalidInputException",
            &service_validation_message(&missing),
            request_id,
        );
    }
    let input = match AnyInput::from_json(operation, body) {
        Ok(i) => i,
        Err(Error::Validation { problem, .. }) => {
            let (code, message) = classify_decode_error(&problem);
            return reject(shared, StatusCode::BAD_REQUEST, code, &message, request_id);
        }
        Err(e) => {
            return reject(
                shared,
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                &e.to_string(),
                request_id,
            )
        }
    };
    let violations = input.service_violations();
    if !violations.is_empty() {
        return reject(
            shared,
            StatusCode::BAD_REQUEST,
            "InvalidInputException",
            &service_validation_message(&violations),
            request_id,
        );
    }
    if let Some(message) = missing_resource(cfg, &input) {
        return reject(
            shared,
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &message,
            request_id,
        );
    }
    shared.store().accept(input, &value, seq, request_id);
    base_response(StatusCode::OK, request_id, Body::empty())
}

/// A decoding failure of well-formed JSON: a missing required member is
/// invalid input (named in the message); a member of the wrong type is a
/// serialization error, as AWS JSON front ends answer.
fn classify_decode_error(problem: &str) -> (&'static str, String) {
    if let Some(rest) = problem.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return (
            "InvalidInputException",
            format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ),
        );
    }
    ("SerializationException", problem.to_owned())
}

fn missing_resource(cfg: &Config, input: &AnyInput) -> Option<String> {
    let tracking = |id: &str| {
        cfg.tracking_ids
            .as_ref()
            .filter(|known| !known.contains(id))
            .map(|_| format!("No event tracker with the tracking ID {id} exists."))
    };
    let dataset = |arn: &str| {
        cfg.dataset_arns
            .as_ref()
            .filter(|known| !known.contains(arn))
            .map(|_| format!("No dataset with the ARN {arn} exists."))
    };
    match input {
        AnyInput::PutEvents(i) => tracking(&i.tracking_id),
        AnyInput::PutActionInteractions(i) => tracking(&i.tracking_id),
        AnyInput::PutItems(i) => dataset(&i.dataset_arn),
        AnyInput::PutUsers(i) => dataset(&i.dataset_arn),
        AnyInput::PutActions(i) => dataset(&i.dataset_arn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_members_are_invalid_input_wrong_types_serialization() {
        let (code, msg) = classify_decode_error("missing field `sessionId` at line 1 column 20");
        assert_eq!(code, "InvalidInputException");
        assert!(msg.contains("'sessionId'"), "{msg}");
        let (code, _) = classify_decode_error("invalid type: string \"x\", expected a sequence");
        assert_eq!(code, "SerializationException");
    }

    #[test]
    fn builder_refuses_unbounded_or_nonsense_settings() {
        assert!(LocalServer::builder().failure_rate(1.5).check().is_err());
        assert!(LocalServer::builder()
            .failure_rate(f64::NAN)
            .check()
            .is_err());
        assert!(LocalServer::builder()
            .failure_rate(0.5)
            .random_faults([])
            .check()
            .is_err());
        assert!(LocalServer::builder()
            .stall(MAX_STALL + Duration::from_secs(1))
            .check()
            .is_err());
        assert!(LocalServer::builder().max_requests(0).check().is_err());
        assert!(LocalServer::builder().check().is_ok());
    }

    #[test]
    fn credentials_replace_the_default_then_add_up() {
        let b = LocalServer::builder()
            .credentials("A", "a")
            .credentials("B", "b");
        let mut keys: Vec<_> = b.config.credentials.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["A", "B"]);
        assert!(LocalServer::builder()
            .config
            .credentials
            .contains_key(DEFAULT_ACCESS_KEY_ID));
    }

    #[test]
    fn resources_are_checked_only_when_configured() {
        let open = LocalServer::builder().config;
        let input = AnyInput::from_json(
            "PutEvents",
            br#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"x","sentAt":1}]}"#,
        )
        .unwrap();
        assert_eq!(missing_resource(&open, &input), None);
        let closed = LocalServer::builder().tracking_ids(["other"]).config;
        assert!(missing_resource(&closed, &input)
            .unwrap()
            .contains("tracking ID t"));
        let known = LocalServer::builder().tracking_ids(["t"]).config;
        assert_eq!(missing_resource(&known, &input), None);
    }

    #[test]
    fn start_blocking_serves_and_stops() {
        let server = LocalServer::builder().start_blocking().unwrap();
        assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
        assert!(!server.is_stopped());
        server.stop();
        assert!(server.wait_timeout(Duration::from_secs(10)));
        assert!(std::net::TcpStream::connect(server.local_addr()).is_err());
        let stats = server.shutdown();
        assert_eq!(stats.requests, 0);
    }
}
