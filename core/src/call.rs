//! The `Call` state machine that every transport drives, and the client
//! state it shares across calls (retry quota, clock skew, signing keys, the
//! adaptive rate limiter).
//!
//! A transport's loop is a few lines:
//!
//! ```text
//! loop {
//!     match call.poll(Instant::now(), SystemTime::now(), &credentials, random()) {
//!         Poll::Send(send) => match transport.send(send.request, send.timeout) {
//!             Ok(response) => call.handle_response(Instant::now(), response),
//!             Err(e) => call.handle_transport_error(Instant::now(), e),
//!         },
//!         Poll::Wait(d) => sleep(d),
//!         Poll::Done(result) => return result,
//!     }
//! }
//! ```

use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};

use crate::endpoint::ResolvedEndpoint;
use crate::operation::Operation;
use crate::retry::{self, RateLimiter, RetryConfig, RetryMode, RetryQuota};
use crate::sign::{self, SigningCache, SigningParams};
use crate::{Credentials, Error, TransportErrorKind};

/// The largest clock correction learnt from a response `Date` (one day).
const MAX_LEARNED_SKEW_MS: i64 = 24 * 3600 * 1000;

/// The smallest clock error worth correcting: 4 minutes, as the AWS SDK for
/// Java v2 decides (`software.amazon.awssdk.core.retry.ClockSkew`,
/// `CLOCK_SKEW_ADJUST_THRESHOLD = Duration.ofMinutes(4)`, compared with
/// `>=`; the AWS SDK for Swift's `AWSClockSkewProvider` uses 5 minutes;
/// smithy-rs records the skew without a threshold). `Date` has one-second
/// resolution and a response takes time to arrive, so clocks in sync measure
/// a second or two; SigV4 itself accepts 5 minutes either way.
const SKEW_CORRECTION_THRESHOLD_MS: i64 = 4 * 60 * 1000;

/// The signing name of the service (not the endpoint prefix).
pub const SIGNING_NAME: &str = "personalize";

/// The `User-Agent` of this crate.
pub const USER_AGENT_VALUE: &str = concat!("personalize-events-rs/", env!("CARGO_PKG_VERSION"));

/// Timeouts that keep every call bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Connecting (TCP and TLS); default 3 s. Enforced by the transport.
    pub connect: Duration,
    /// One attempt, from sending to the last byte of the response; default 10 s.
    pub attempt: Duration,
    /// The whole operation, retries and backoff included; default 30 s.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(10),
            operation: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    /// Sets the connect timeout.
    pub fn with_connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }
    /// Sets the per-attempt timeout.
    pub fn with_attempt(mut self, d: Duration) -> Self {
        self.attempt = d;
        self
    }
    /// Sets the whole-operation timeout.
    pub fn with_operation(mut self, d: Duration) -> Self {
        self.operation = d;
        self
    }
}

/// Everything about a client that does not change between calls.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The region requests are signed for.
    pub region: String,
    /// Where requests go.
    pub endpoint: ResolvedEndpoint,
    /// Retry settings.
    pub retry: RetryConfig,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Fill in a missing `eventId` before the first attempt (default true).
    pub fill_event_ids: bool,
    /// Extra text appended to the `User-Agent` header.
    pub user_agent_suffix: Option<String>,
}

impl ClientConfig {
    /// A configuration for `region` sending to the resolved `endpoint`, with
    /// default retries and timeouts.
    pub fn new(region: impl Into<String>, endpoint: ResolvedEndpoint) -> Self {
        ClientConfig {
            region: region.into(),
            endpoint,
            retry: RetryConfig::default(),
            timeouts: Timeouts::default(),
            fill_event_ids: true,
            user_agent_suffix: None,
        }
    }

    /// Resolves the endpoint for `region` with the service's rules.
    pub fn for_region(region: impl Into<String>) -> Result<Self, Error> {
        let region = region.into();
        let endpoint = crate::endpoint::resolve(&crate::endpoint::EndpointParams {
            region: Some(region.clone()),
            ..Default::default()
        })?;
        Ok(ClientConfig::new(region, endpoint))
    }
}

/// State shared by every call of a client and all its clones.
#[derive(Debug, Default)]
struct Shared {
    quota: RetryQuota,
    skew_ms: AtomicI64,
    keys: SigningCache,
    limiter: RateLimiter,
}

/// The protocol side of a client: configuration plus shared state. Cheap to
/// clone; clones share the retry quota, clock skew and signing keys.
#[derive(Debug, Clone)]
pub struct ClientCore {
    config: Arc<ClientConfig>,
    shared: Arc<Shared>,
    prepared: Arc<Prepared>,
}

/// What every request of a client shares, built once so that a request is
/// assembled from reference-counted clones instead of fresh allocations.
#[derive(Debug)]
struct Prepared {
    user_agent: HeaderValue,
    host: HeaderValue,
    /// One URI per operation, in the order of [`crate::OPERATIONS`].
    uris: Vec<http::Uri>,
    /// `amz-sdk-request` values for attempts 1..=max_attempts.
    attempt_values: Vec<HeaderValue>,
}

impl ClientCore {
    /// A client core for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let ua = match &config.user_agent_suffix {
            Some(s) => format!("{USER_AGENT_VALUE} {s}"),
            None => USER_AGENT_VALUE.to_string(),
        };
        let user_agent = HeaderValue::from_str(&ua)
            .map_err(|_| Error::Config("user agent suffix is not a valid header value".into()))?;
        let url_prefix = format!(
            "{}://{}{}",
            config.endpoint.scheme(),
            config.endpoint.authority(),
            config.endpoint.base_path()
        );
        let uris = crate::OPERATIONS
            .iter()
            .map(|(_, path)| http::Uri::try_from(format!("{url_prefix}{path}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("endpoint does not form a valid URI: {e}")))?;
        let host = HeaderValue::from_str(config.endpoint.authority())
            .map_err(|_| Error::Config("endpoint host is not a valid header value".into()))?;
        let max = config.retry.max_attempts.max(1);
        let attempt_values = (1..=max.min(100))
            .map(|i| HeaderValue::try_from(format!("attempt={i}; max={max}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::Config("attempt header".into()))?;
        Ok(ClientCore {
            config: Arc::new(config),
            shared: Arc::default(),
            prepared: Arc::new(Prepared {
                user_agent,
                host,
                uris,
                attempt_values,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The `User-Agent` this client sends.
    pub fn user_agent(&self) -> &str {
        self.prepared
            .user_agent
            .to_str()
            .unwrap_or(USER_AGENT_VALUE)
    }

    /// Retry tokens left in the shared quota.
    pub fn retry_quota_available(&self) -> u32 {
        self.shared.quota.available()
    }

    /// The clock correction learnt from the service, added to the local
    /// clock when signing.
    pub fn clock_skew(&self) -> Duration {
        Duration::from_millis(self.shared.skew_ms.load(Ordering::Relaxed).unsigned_abs())
    }

    /// The clock correction in signed milliseconds (server minus local).
    pub fn clock_skew_ms(&self) -> i64 {
        self.shared.skew_ms.load(Ordering::Relaxed)
    }

    /// Starts a call: validates the input (nothing is sent when it is bad)
    /// and encodes the body once for all attempts, writing missing event ids
    /// derived from `entropy` (when configured; the same ids
    /// [`Operation::fill_event_ids`] with `entropy` gives, so a caller that
    /// needs to know them can fill them in first). The input is only read.
    pub fn call<I: Operation>(
        &self,
        input: &I,
        now: Instant,
        entropy: u128,
    ) -> Result<Call<I>, Error> {
        input.validate()?;
        let seed = self.config.fill_event_ids.then_some(entropy);
        let body = input.encode_with(seed);
        Ok(Call {
            core: self.clone(),
            body,
            started: now,
            attempts: 0,
            state: State::Ready,
            last_error: None,
            retry_cost: 0,
            signed_skew_ms: 0,
            sent_wall: None,
            invocation_id: HeaderValue::from_bytes(&crate::operation::uuid_bytes(
                entropy,
                u64::MAX,
            ))
            .expect("a UUID is a valid header value"),
            result: None,
            _op: PhantomData,
        })
    }

    /// The unsigned request for `body` as attempt `attempt`.
    fn request(
        &self,
        path: &str,
        body: Vec<u8>,
        attempt: u32,
        invocation_id: Option<&HeaderValue>,
    ) -> http::Request<Vec<u8>> {
        let p = &*self.prepared;
        let index = crate::OPERATIONS
            .iter()
            .position(|(_, op_path)| *op_path == path)
            .unwrap_or(0);
        let mut req = http::Request::new(body);
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = p.uris[index].clone();
        let h = req.headers_mut();
        h.reserve(8);
        h.insert(HOST, p.host.clone());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(USER_AGENT, p.user_agent.clone());
        if let Some(v) = invocation_id {
            h.insert("amz-sdk-invocation-id", v.clone());
        }
        let attempt_value = match p.attempt_values.get(attempt.saturating_sub(1) as usize) {
            Some(v) => v.clone(),
            None => HeaderValue::try_from(format!(
                "attempt={attempt}; max={}",
                self.config.retry.max_attempts
            ))
            .unwrap_or(HeaderValue::from_static("attempt=0")),
        };
        h.insert("amz-sdk-request", attempt_value);
        req
    }

    fn signing_region(&self) -> &str {
        self.config
            .endpoint
            .signing_region()
            .unwrap_or(&self.config.region)
    }

    fn signing_time(&self, wall: SystemTime) -> SystemTime {
        shift(wall, self.shared.skew_ms.load(Ordering::Relaxed))
    }

    /// Signs a request for this client (used by every attempt).
    pub fn sign(
        &self,
        req: &mut http::Request<Vec<u8>>,
        credentials: &Credentials,
        wall: SystemTime,
    ) -> Result<(), Error> {
        self.sign_at(req, credentials, self.signing_time(wall))
    }

    fn sign_at(
        &self,
        req: &mut http::Request<Vec<u8>>,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<(), Error> {
        let params = SigningParams {
            credentials,
            region: self.signing_region(),
            service: SIGNING_NAME,
            time,
        };
        sign::sign_request(req, &params, &self.shared.keys)
    }

    /// A presigned request for `input`: the signature travels in the query
    /// string and the body is bound by its hash, so a party without
    /// credentials can send this one prepared batch (as the same POST, with
    /// the same body and headers) until it expires. `expires_in` defaults to
    /// 3600 s when `None` and may be at most 7 days.
    ///
    /// This is the equivalent of boto3's `generate_presigned_url`. The
    /// service has no paginators and no waiters, so there is nothing like
    /// `can_paginate`, `get_paginator` or `get_waiter` here.
    pub fn presign<I: Operation>(
        &self,
        input: &I,
        credentials: &Credentials,
        wall: SystemTime,
        expires_in: Option<Duration>,
        entropy: u128,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        input.validate()?;
        let seed = self.config.fill_event_ids.then_some(entropy);
        let mut req = self.request(I::PATH, input.encode_with(seed), 1, None);
        // Only what the sender must repeat exactly is signed.
        req.headers_mut().remove(USER_AGENT);
        req.headers_mut().remove("amz-sdk-invocation-id");
        req.headers_mut().remove("amz-sdk-request");
        let params = SigningParams {
            credentials,
            region: self.signing_region(),
            service: SIGNING_NAME,
            time: self.signing_time(wall),
        };
        sign::presign_request(
            req,
            &params,
            expires_in.unwrap_or(Duration::from_secs(3600)),
            &self.shared.keys,
        )
    }
}

/// `wall` moved by `skew_ms` milliseconds.
fn shift(wall: SystemTime, skew_ms: i64) -> SystemTime {
    if skew_ms >= 0 {
        wall + Duration::from_millis(skew_ms as u64)
    } else {
        wall.checked_sub(Duration::from_millis(skew_ms.unsigned_abs()))
            .unwrap_or(wall)
    }
}

/// Signed milliseconds from `from` to `to`.
fn millis_between(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// What a transport must do next for a [`Call`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned by value once per step; boxing would allocate per attempt
pub enum Poll<O> {
    /// Send this request and report the response or the failure.
    Send(SendRequest),
    /// Come back after this long (backoff, rate limit).
    Wait(Duration),
    /// The call is over.
    Done(Result<O, Error>),
}

/// A signed request and the time the transport may spend on it.
/// `Debug` shows the request without its secrets: the `authorization` and
/// `x-amz-security-token` values are redacted and the body (the records) is
/// shown by its length only.
#[non_exhaustive]
pub struct SendRequest {
    /// The signed request, with an absolute URI.
    pub request: http::Request<Vec<u8>>,
    /// How long this attempt may take, all included.
    pub timeout: Duration,
    /// The connect timeout (at most `timeout`).
    pub connect_timeout: Duration,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

#[derive(Debug)]
enum State {
    Ready,
    InFlight,
    /// Waiting before the next attempt. The retry's quota `cost` is taken
    /// once the wait is known to end before the deadline (`until` set).
    Backoff {
        base: Duration,
        until: Option<Instant>,
        cost: u32,
    },
    Done,
}

/// One operation call from start to finish, across its attempts.
///
/// Create it with [`ClientCore::call`], then drive it with [`poll`](Self::poll),
/// [`handle_response`](Self::handle_response) and
/// [`handle_transport_error`](Self::handle_transport_error). Time, credentials
/// and randomness enter only as arguments.
/// `Debug` shows the body (the records) by its length only.
pub struct Call<I: Operation> {
    core: ClientCore,
    body: Vec<u8>,
    started: Instant,
    attempts: u32,
    state: State,
    last_error: Option<Error>,
    retry_cost: u32,
    /// The clock skew the attempt in flight was signed with.
    signed_skew_ms: i64,
    /// The local clock when the attempt in flight was signed.
    sent_wall: Option<SystemTime>,
    invocation_id: HeaderValue,
    result: Option<Result<I::Output, Error>>,
    _op: PhantomData<fn() -> I>,
}

impl std::fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Headers<'a>(&'a http::HeaderMap);
        impl std::fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let redacted: &dyn std::fmt::Debug = &"** redacted **";
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        let secret =
                            k == http::header::AUTHORIZATION || k == "x-amz-security-token";
                        (
                            k,
                            if secret {
                                redacted
                            } else {
                                v as &dyn std::fmt::Debug
                            },
                        )
                    }))
                    .finish()
            }
        }
        f.debug_struct("SendRequest")
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("headers", &Headers(self.request.headers()))
            .field("body_len", &self.request.body().len())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl<I: Operation> std::fmt::Debug for Call<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("operation", &I::NAME)
            .field("body_len", &self.body.len())
            .field("attempts", &self.attempts)
            .field("state", &self.state)
            .field("last_error", &self.last_error)
            .field("retry_cost", &self.retry_cost)
            .finish_non_exhaustive()
    }
}

impl<I: Operation> Call<I> {
    /// The encoded body (the same for every attempt).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the whole operation must end.
    pub fn deadline(&self) -> Instant {
        self.started + self.core.config.timeouts.operation
    }

    /// The time left before the deadline (zero once it passed). Resolving
    /// credentials is part of the operation: a transport bounds it by this.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline().saturating_duration_since(now)
    }

    /// Ends the call because its credentials could not be had, and returns
    /// the error to report: `error` as it is while the deadline has not
    /// passed, else `Error::OperationTimeout` naming credential resolution
    /// (with `error`, when resolving failed, as its last problem; `None`
    /// when the transport cut resolution short at the deadline).
    pub fn credentials_failed(&mut self, now: Instant, error: Option<Error>) -> Error {
        self.state = State::Done;
        match error {
            Some(e) if now < self.deadline() => e,
            e => Error::OperationTimeout {
                elapsed_ms: now.saturating_duration_since(self.started).as_millis() as u64,
                attempts: self.attempts,
                last: match e {
                    Some(e) => format!("resolving credentials: {e}"),
                    None => "resolving credentials did not finish".into(),
                },
            },
        }
    }

    /// The last error seen, if the call is retrying.
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    fn finish(&mut self, r: Result<I::Output, Error>) -> Poll<I::Output> {
        self.state = State::Done;
        Poll::Done(r)
    }

    fn timed_out(&mut self, now: Instant) -> Poll<I::Output> {
        let last = self
            .last_error
            .take()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "none".into());
        self.finish(Err(Error::OperationTimeout {
            elapsed_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            attempts: self.attempts,
            last,
        }))
    }

    /// What to do next. `jitter` is a random value in `[0, 1)` for the backoff.
    pub fn poll(
        &mut self,
        now: Instant,
        wall: SystemTime,
        credentials: &Credentials,
        jitter: f64,
    ) -> Poll<I::Output> {
        let deadline = self.deadline();
        loop {
            match self.state {
                State::Done => {
                    return Poll::Done(
                        self.result.take().unwrap_or_else(|| {
                            Err(Error::Config("the call is already over".into()))
                        }),
                    )
                }
                State::InFlight => {
                    return Poll::Done(Err(Error::Config(
                        "poll while a request is in flight: report its response or failure first"
                            .into(),
                    )))
                }
                _ if now >= deadline => return self.timed_out(now),
                State::Backoff {
                    base,
                    until: None,
                    cost,
                } => {
                    let until = now + base.mul_f64(jitter.clamp(0.0, 1.0));
                    // A retry that cannot start before the deadline is not
                    // waited for and costs nothing: the call ends now, with
                    // the error that made it retry.
                    if until >= deadline || !self.core.shared.quota.try_acquire(cost) {
                        let e = self
                            .last_error
                            .take()
                            .unwrap_or_else(|| Error::Config("retry without an error".into()));
                        return self.finish(Err(e));
                    }
                    self.retry_cost = cost;
                    self.state = State::Backoff {
                        base,
                        until: Some(until),
                        cost,
                    };
                }
                State::Backoff {
                    until: Some(until), ..
                } => {
                    if now < until {
                        return Poll::Wait(until.min(deadline) - now);
                    }
                    self.state = State::Ready;
                }
                State::Ready => {
                    if self.core.config.retry.mode == RetryMode::Adaptive {
                        if let Some(wait) = self.core.shared.limiter.acquire(now) {
                            return Poll::Wait(wait.min(deadline - now));
                        }
                    }
                    self.attempts += 1;
                    let mut req = self.core.request(
                        I::PATH,
                        self.body.clone(),
                        self.attempts,
                        Some(&self.invocation_id),
                    );
                    // The skew is read once: the retry decision compares
                    // what the service says with what this attempt used.
                    let skew = self.core.shared.skew_ms.load(Ordering::Relaxed);
                    if let Err(e) = self.core.sign_at(&mut req, credentials, shift(wall, skew)) {
                        return self.finish(Err(e));
                    }
                    self.signed_skew_ms = skew;
                    self.sent_wall = Some(wall);
                    let remaining = deadline - now;
                    let timeout = self.core.config.timeouts.attempt.min(remaining);
                    self.state = State::InFlight;
                    return Poll::Send(SendRequest {
                        request: req,
                        timeout,
                        connect_timeout: self.core.config.timeouts.connect.min(timeout),
                        attempt: self.attempts,
                    });
                }
            }
        }
    }

    /// Reports the response to the request last sent. `wall` is the local
    /// clock when the response arrived, to learn the clock skew from the
    /// `Date` header when the service says the signature is out of date.
    pub fn handle_response(
        &mut self,
        now: Instant,
        wall: SystemTime,
        response: http::Response<&[u8]>,
    ) {
        if !matches!(self.state, State::InFlight) {
            return;
        }
        let status = response.status().as_u16();
        let limiter = (self.core.config.retry.mode == RetryMode::Adaptive)
            .then_some(&self.core.shared.limiter);
        match crate::decode::decode_response(&response) {
            Ok(request_id) => {
                if let Some(l) = limiter {
                    l.on_response(now, false);
                }
                let refund = if self.retry_cost > 0 {
                    self.retry_cost
                } else {
                    retry::QUOTA_NO_RETRY_INCREMENT
                };
                self.core.shared.quota.release(refund);
                self.state = State::Done;
                self.last_error = None;
                self.result = Some(Ok(I::output(request_id)));
            }
            Err(e) => {
                if let Some(l) = limiter {
                    l.on_response(now, retry::is_throttling(status, e.code()));
                }
                let skew_fixed = self.learn_skew(&e, wall, response.headers());
                self.fail(now, e, skew_fixed);
            }
        }
    }

    /// Reports that the request last sent failed in the transport.
    pub fn handle_transport_error(&mut self, now: Instant, error: Error) {
        if !matches!(self.state, State::InFlight) {
            return;
        }
        self.fail(now, error, false);
    }

    /// Learns the service's clock from a clock-skew error response; true
    /// when this attempt was signed with a clock off by at least
    /// [`SKEW_CORRECTION_THRESHOLD_MS`], so that a retry signed with the
    /// corrected clock can succeed.
    ///
    /// The skew is measured against the midpoint of the attempt (the
    /// service stamped `Date` somewhere between sending and receiving), and
    /// compared with the skew *this* attempt was signed with: calls signed
    /// concurrently with the same stale clock all retry once, whichever
    /// learnt the new value first. A response with an `Age` header may come
    /// from a cache, and its `Date` says nothing about the service's clock.
    fn learn_skew(&self, e: &Error, wall: SystemTime, headers: &http::HeaderMap) -> bool {
        let Some(code) = e.code() else { return false };
        if !retry::CLOCK_SKEW_CODES.contains(&code) || headers.contains_key(http::header::AGE) {
            return false;
        }
        let Some(server) = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::time::parse_http_date)
        else {
            return false;
        };
        let sent = self.sent_wall.unwrap_or(wall);
        let midpoint = match wall.duration_since(sent) {
            Ok(d) => sent + d / 2,
            // The local clock went back during the attempt.
            Err(_) => wall,
        };
        let skew_ms = millis_between(midpoint, server);
        // A `Date` more than a day off is a broken header, not a clock to
        // follow: signing every later call a year ahead would fail them all.
        if skew_ms.abs() > MAX_LEARNED_SKEW_MS {
            return false;
        }
        if (skew_ms - self.signed_skew_ms).abs() < SKEW_CORRECTION_THRESHOLD_MS {
            return false;
        }
        self.core.shared.skew_ms.store(skew_ms, Ordering::Relaxed);
        true
    }

    fn fail(&mut self, _now: Instant, e: Error, skew_fixed: bool) {
        let retryable = skew_fixed || e.is_retryable();
        let timeout = matches!(
            e,
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        );
        if !retryable || self.attempts >= self.core.config.retry.max_attempts {
            self.state = State::Done;
            self.result = Some(Err(e));
            return;
        }
        let cost = if timeout {
            retry::QUOTA_TIMEOUT_RETRY_COST
        } else {
            retry::QUOTA_RETRY_COST
        };
        let base = if skew_fixed {
            Duration::ZERO
        } else {
            self.core.config.retry.backoff(self.attempts - 1, 1.0)
        };
        self.last_error = Some(e);
        self.state = State::Backoff {
            base,
            until: None,
            cost,
        };
    }
}

impl<I: Operation> Drop for Call<I> {
    /// A call dropped before it finished (a cancelled future) gives back the
    /// retry cost it holds, so cancellation never drains the shared quota.
    fn drop(&mut self) {
        if !matches!(self.state, State::Done) && self.retry_cost > 0 {
            self.core.shared.quota.release(self.retry_cost);
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need a real Instant to start from
mod tests {
    use super::*;
    use crate::{Event, PutEventsInput, PutEventsOutput};
    use std::time::UNIX_EPOCH;

    fn core_with(retry: RetryConfig) -> ClientCore {
        let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
        cfg.retry = retry;
        ClientCore::new(cfg).unwrap()
    }

    fn input() -> PutEventsInput {
        PutEventsInput::new("tracking", "session").event(Event::new("click", UNIX_EPOCH))
    }

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None)
    }

    fn wall() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_953_600)
    }

    fn status(code: u16) -> http::Response<&'static [u8]> {
        http::Response::builder()
            .status(code)
            .body(&b""[..])
            .unwrap()
    }

    /// Drives a call with scripted outcomes; returns the result and the attempts.
    fn drive(
        core: &ClientCore,
        mut script: Vec<Result<http::Response<&'static [u8]>, Error>>,
    ) -> (Result<PutEventsOutput, Error>, u32, Duration) {
        let mut now = Instant::now();
        let start = now;
        let mut call = core.call(&input(), now, 7).unwrap();
        script.reverse();
        loop {
            match call.poll(now, wall(), &creds(), 0.5) {
                Poll::Send(s) => {
                    assert_eq!(s.request.uri().path(), "/events");
                    assert!(s.request.headers().contains_key("authorization"));
                    match script.pop().expect("script ran out") {
                        Ok(r) => call.handle_response(now, wall(), r),
                        Err(e) => call.handle_transport_error(now, e),
                    }
                }
                Poll::Wait(d) => now += d,
                Poll::Done(r) => return (r, call.attempts(), now - start),
            }
        }
    }

    #[test]
    fn success_first_time() {
        let core = core_with(RetryConfig::default());
        let r = http::Response::builder()
            .status(200)
            .header("x-amzn-RequestId", "rid")
            .body(&b""[..])
            .unwrap();
        let (out, attempts, _) = drive(&core, vec![Ok(r)]);
        assert_eq!(out.unwrap().request_id.as_deref(), Some("rid"));
        assert_eq!(attempts, 1);
        assert_eq!(core.retry_quota_available(), 500);
    }

    #[test]
    fn retries_transient_then_succeeds_with_backoff() {
        let core = core_with(RetryConfig::default());
        let reset = Error::transport(TransportErrorKind::Io, "connection reset");
        let (out, attempts, waited) =
            drive(&core, vec![Ok(status(503)), Err(reset), Ok(status(200))]);
        assert!(out.is_ok());
        assert_eq!(attempts, 3);
        // jitter 0.5: 0.5 s after the first failure, 1 s after the second.
        assert_eq!(waited, Duration::from_millis(1500));
        assert_eq!(core.retry_quota_available(), 495);
    }

    #[test]
    fn modeled_errors_are_not_retried() {
        let core = core_with(RetryConfig::default());
        let r = http::Response::builder()
            .status(400)
            .header("x-amzn-errortype", "InvalidInputException")
            .body(&br#"{"message":"no"}"#[..])
            .unwrap();
        let (out, attempts, _) = drive(&core, vec![Ok(r)]);
        assert!(matches!(out, Err(Error::InvalidInput { .. })));
        assert_eq!(attempts, 1);
    }

    #[test]
    fn attempts_exhausted_gives_last_error() {
        let core = core_with(RetryConfig::default().with_max_attempts(2));
        let (out, attempts, _) = drive(&core, vec![Ok(status(500)), Ok(status(429))]);
        assert_eq!(out.unwrap_err().status(), Some(429));
        assert_eq!(attempts, 2);
    }

    #[test]
    fn drained_quota_stops_retries() {
        let core = core_with(RetryConfig::default().with_max_attempts(2));
        while core.shared.quota.try_acquire(5) {}
        let (out, attempts, _) = drive(&core, vec![Ok(status(503))]);
        assert_eq!(out.unwrap_err().status(), Some(503));
        assert_eq!(attempts, 1);
    }

    #[test]
    fn a_dropped_call_gives_back_its_retry_cost() {
        let core = core_with(RetryConfig::default());
        let now = Instant::now();
        let mut call = core.call(&input(), now, 1).unwrap();
        let Poll::Send(_) = call.poll(now, wall(), &creds(), 0.5) else {
            panic!()
        };
        call.handle_response(now, wall(), status(503));
        // The retry's cost is taken once its backoff is known to fit.
        assert!(matches!(
            call.poll(now, wall(), &creds(), 0.5),
            Poll::Wait(_)
        ));
        assert_eq!(core.retry_quota_available(), 495);
        drop(call);
        assert_eq!(core.retry_quota_available(), 500);
    }

    #[test]
    fn operation_deadline_holds() {
        let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
        cfg.timeouts = Timeouts::default().with_operation(Duration::from_millis(700));
        cfg.retry = RetryConfig::default().with_max_attempts(10);
        let core = ClientCore::new(cfg).unwrap();
        let mut now = Instant::now();
        let start = now;
        let mut call = core.call(&input(), now, 1).unwrap();
        // Attempts that answer slowly (250 ms each), backoffs of 50 and
        // 100 ms (jitter 0.05), and a third attempt the deadline cuts short.
        loop {
            match call.poll(now, wall(), &creds(), 0.05) {
                Poll::Send(s) => {
                    assert!(s.timeout <= Duration::from_millis(700));
                    assert!(now + s.timeout <= start + Duration::from_millis(700));
                    if s.timeout < Duration::from_millis(250) {
                        now += s.timeout;
                        call.handle_transport_error(
                            now,
                            Error::transport(TransportErrorKind::Timeout, "attempt timeout"),
                        );
                    } else {
                        now += Duration::from_millis(250);
                        call.handle_response(now, wall(), status(503));
                    }
                }
                Poll::Wait(d) => now += d,
                Poll::Done(r) => {
                    let e = r.unwrap_err();
                    assert!(matches!(e, Error::OperationTimeout { .. }), "{e}");
                    assert!(e.to_string().contains("timeout"), "{e}");
                    assert_eq!(now - start, Duration::from_millis(700));
                    assert_eq!(call.attempts(), 3);
                    return;
                }
            }
        }
    }

    #[test]
    fn clock_skew_is_learnt_and_kept() {
        let core = core_with(RetryConfig::default());
        let server = wall() + Duration::from_secs(600);
        let date = crate::time::http_date(server);
        let skewed = http::Response::builder()
            .status(403)
            .header("x-amzn-errortype", "InvalidSignatureException")
            .header("date", date.as_str())
            .body(&br#"{"message":"Signature expired"}"#[..])
            .unwrap();
        let now = Instant::now();
        let mut call = core.call(&input(), now, 1).unwrap();
        let Poll::Send(first) = call.poll(now, wall(), &creds(), 0.5) else {
            panic!()
        };
        assert_eq!(first.request.headers()["x-amz-date"], "20261129T120000Z");
        call.handle_response(now, wall(), skewed);
        let Poll::Send(second) = call.poll(now, wall(), &creds(), 0.5) else {
            panic!("no immediate retry")
        };
        assert_eq!(second.request.headers()["x-amz-date"], "20261129T121000Z");
        assert_eq!(core.clock_skew(), Duration::from_secs(600));
        // Later calls sign with the corrected clock too.
        let mut next = core.call(&input(), now, 2).unwrap();
        let Poll::Send(s) = next.poll(now, wall(), &creds(), 0.5) else {
            panic!()
        };
        assert_eq!(s.request.headers()["x-amz-date"], "20261129T121000Z");
    }

    #[test]
    fn an_absurd_date_is_not_learnt_as_skew() {
        let core = core_with(RetryConfig::default());
        let far = http::Response::builder()
            .status(403)
            .header("x-amzn-errortype", "InvalidSignatureException")
            .header("date", "Fri, 31 Dec 9999 23:59:59 GMT")
            .body(&b""[..])
            .unwrap();
        let now = Instant::now();
        let mut call = core.call(&input(), now, 1).unwrap();
        let Poll::Send(_) = call.poll(now, wall(), &creds(), 0.5) else {
            panic!()
        };
        call.handle_response(now, wall(), far);
        assert!(matches!(
            call.poll(now, wall(), &creds(), 0.5),
            Poll::Done(Err(_))
        ));
        assert_eq!(core.clock_skew_ms(), 0);
    }

    #[test]
    fn event_ids_are_filled_once_for_all_attempts() {
        let core = core_with(RetryConfig::default());
        let call = core.call(&input(), Instant::now(), 42).unwrap();
        let body: serde_json::Value = serde_json::from_slice(call.body()).unwrap();
        let id = body["eventList"][0]["eventId"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        let mut cfg = ClientConfig::for_region("us-east-1").unwrap();
        cfg.fill_event_ids = false;
        let core = ClientCore::new(cfg).unwrap();
        let call = core.call(&input(), Instant::now(), 42).unwrap();
        assert!(!String::from_utf8_lossy(call.body()).contains("eventId"));
    }

    #[test]
    fn bad_input_fails_before_any_request() {
        let core = core_with(RetryConfig::default());
        let e = core
            .call(&PutEventsInput::new("t", "s"), Instant::now(), 0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "eventList: has 0 entries, below the minimum 1"
        );
    }
}
