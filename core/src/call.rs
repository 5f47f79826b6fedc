//! The `Call` state machine that every transport drives (its client side,
//! `ClientCore`, is `client_core.rs`).
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
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use http::header::HeaderValue;

use crate::client_core::{
    millis_between, shift, ClientCore, MAX_LEARNED_SKEW_MS, SKEW_CORRECTION_THRESHOLD_MS,
};
use crate::operation::Operation;
use crate::retry::{self, RetryMode};
use crate::{Credentials, Error, TransportErrorKind};

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
    /// The body is shared with the [`Call`] (a retry sends the same bytes
    /// again without copying them).
    pub request: http::Request<bytes::Bytes>,
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
    body: bytes::Bytes,
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
    /// A call of `core` whose body is encoded (see [`ClientCore::call`]).
    pub(crate) fn new(core: ClientCore, body: Vec<u8>, now: Instant, entropy: u128) -> Self {
        Call {
            core,
            body: bytes::Bytes::from(body),
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
        }
    }

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
#[path = "call_tests.rs"]
mod tests;
