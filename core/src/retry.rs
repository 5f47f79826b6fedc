//! AWS retry behaviour: which errors are retried, the shared retry quota,
//! full-jitter backoff and the adaptive mode's client-side rate limiter.
//!
//! Everything here takes time as an argument; nothing sleeps.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RetryMode {
    /// AWS standard mode: full-jitter exponential backoff and a retry quota.
    #[default]
    Standard,
    /// Standard mode plus a client-side send rate that drops after
    /// throttling and recovers after successes (CUBIC), as the AWS SDKs define it.
    Adaptive,
}

impl std::str::FromStr for RetryMode {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "legacy" => Ok(RetryMode::Standard),
            "adaptive" => Ok(RetryMode::Adaptive),
            other => Err(crate::Error::Config(format!(
                "retry mode `{other}` is not one of standard, adaptive, legacy"
            ))),
        }
    }
}

/// Retry settings of a client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all, the first included (default 3; 1 disables retries).
    pub max_attempts: u32,
    /// The backoff base: attempt `i` waits `rand * min(base * 2^i, max_backoff)`.
    pub initial_backoff: Duration,
    /// The backoff cap (default 20 s).
    pub max_backoff: Duration,
    /// Standard or adaptive.
    pub mode: RetryMode,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            mode: RetryMode::Standard,
        }
    }
}

impl RetryConfig {
    /// Sets the number of attempts (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Sets the backoff base.
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }
    /// Sets the backoff cap.
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }
    /// Sets the mode.
    pub fn with_mode(mut self, m: RetryMode) -> Self {
        self.mode = m;
        self
    }

    /// The backoff before retry number `i` (0 for the first retry), given a
    /// random value in `[0, 1)`.
    pub fn backoff(&self, i: u32, rand: f64) -> Duration {
        let exp = self
            .initial_backoff
            .checked_mul(1u32.checked_shl(i.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff);
        exp.mul_f64(rand.clamp(0.0, 1.0))
    }
}

/// Error codes the AWS SDKs treat as throttling.
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes the AWS SDKs treat as transient.
pub(crate) const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Error codes that mean the request was signed with a skewed clock.
pub(crate) const CLOCK_SKEW_CODES: &[&str] = &[
    "RequestTimeTooSkewed",
    "RequestExpired",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "RequestInTheFuture",
];

/// Whether a response is throttling (429 or a throttling code).
pub(crate) fn is_throttling(status: u16, code: Option<&str>) -> bool {
    status == 429 || code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// Whether standard mode retries an error response.
pub(crate) fn is_retryable_status_or_code(status: u16, code: Option<&str>) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
        || is_throttling(status, code)
        || code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
}

/// Whether the connection that carried a response with this status is
/// closed rather than reused ("poisoned"), so that the retry opens a new
/// one: after the transient server errors of the AWS SDKs' standard mode
/// (500, 502, 503, 504; smithy-rs `TRANSIENT_ERROR_STATUS_CODES` and its
/// `ConnectionPoisoningInterceptor`). Timeouts and broken connections are
/// never reused either: the transports drop them.
pub fn poisons_connection(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// The retry quota: a token bucket that stops retries when an endpoint keeps
/// failing, shared by every call of a client.
#[derive(Debug)]
pub(crate) struct RetryQuota {
    tokens: AtomicU32,
    max: u32,
}

/// Initial and maximal size of the quota.
pub(crate) const QUOTA_INITIAL: u32 = 500;
/// Cost of a retry.
pub(crate) const QUOTA_RETRY_COST: u32 = 5;
/// Cost of a retry after a timeout.
pub(crate) const QUOTA_TIMEOUT_RETRY_COST: u32 = 10;
/// What a success without retries puts back.
pub(crate) const QUOTA_NO_RETRY_INCREMENT: u32 = 1;

impl Default for RetryQuota {
    fn default() -> Self {
        RetryQuota::new(QUOTA_INITIAL)
    }
}

impl RetryQuota {
    /// A full quota of `max` tokens.
    pub fn new(max: u32) -> Self {
        RetryQuota {
            tokens: AtomicU32::new(max),
            max,
        }
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// Takes `cost` tokens; false (and nothing taken) when too few are left.
    pub fn try_acquire(&self, cost: u32) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost))
            .is_ok()
    }

    /// Puts `n` tokens back, up to the maximum.
    pub fn release(&self, n: u32) {
        let max = self.max;
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(n).min(max))
            });
    }
}

/// The adaptive mode's client-side rate limiter (a token bucket whose rate
/// follows CUBIC), shared by every call of a client.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    inner: Mutex<Cubic>,
}

#[derive(Debug)]
struct Cubic {
    origin: Option<Instant>,
    enabled: bool,
    // token bucket
    fill_rate: f64,
    max_capacity: f64,
    capacity: f64,
    last_refill: f64,
    // CUBIC
    w_max: f64,
    k: f64,
    last_fail: f64,
    // measured send rate
    measured: f64,
    count: f64,
    last_bucket: f64,
}

const MIN_FILL_RATE: f64 = 0.5;
const SCALE: f64 = 0.4;
const BETA: f64 = 0.7;
const SMOOTH: f64 = 0.8;

impl Default for Cubic {
    fn default() -> Self {
        Cubic {
            origin: None,
            enabled: false,
            fill_rate: MIN_FILL_RATE,
            max_capacity: 1.0,
            capacity: 0.0,
            last_refill: 0.0,
            w_max: 0.0,
            k: 0.0,
            last_fail: 0.0,
            measured: 0.0,
            count: 0.0,
            last_bucket: 0.0,
        }
    }
}

impl Cubic {
    fn secs(&mut self, now: Instant) -> f64 {
        let o = *self.origin.get_or_insert(now);
        now.saturating_duration_since(o).as_secs_f64()
    }
    fn refill(&mut self, t: f64) {
        let add = (t - self.last_refill).max(0.0) * self.fill_rate;
        self.capacity = (self.capacity + add).min(self.max_capacity);
        self.last_refill = t;
    }
    fn set_max_rate(&mut self, t: f64, rate: f64) {
        self.refill(t);
        self.fill_rate = rate.max(MIN_FILL_RATE);
        self.max_capacity = rate.max(1.0);
        self.capacity = self.capacity.min(self.max_capacity);
    }
    fn zero_point(&self) -> f64 {
        (self.w_max * (1.0 - BETA) / SCALE).cbrt()
    }
}

impl RateLimiter {
    /// Takes a send token: `None` to send now, or how long to wait first.
    /// Until the first throttling response the limiter lets everything through.
    pub fn acquire(&self, now: Instant) -> Option<Duration> {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if !c.enabled {
            return None;
        }
        let t = c.secs(now);
        c.refill(t);
        if c.capacity >= 1.0 {
            c.capacity -= 1.0;
            None
        } else {
            let wait = (1.0 - c.capacity) / c.fill_rate;
            Some(Duration::from_secs_f64(wait.clamp(0.0, 60.0)))
        }
    }

    /// Records a response: throttling lowers the rate, success raises it.
    pub fn on_response(&self, now: Instant, throttled: bool) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let t = c.secs(now);
        // measured send rate, in half-second buckets
        let bucket = (t * 2.0).floor() / 2.0;
        c.count += 1.0;
        if bucket > c.last_bucket {
            let rate = c.count / (bucket - c.last_bucket);
            c.measured = rate * SMOOTH + c.measured * (1.0 - SMOOTH);
            c.count = 0.0;
            c.last_bucket = bucket;
        }
        let new_rate = if throttled {
            let rate = if c.enabled {
                c.measured.min(c.fill_rate)
            } else {
                c.measured
            };
            c.w_max = rate;
            c.k = c.zero_point();
            c.last_fail = t;
            c.enabled = true;
            rate * BETA
        } else {
            let dt = t - c.last_fail;
            SCALE * (dt - c.k).powi(3) + c.w_max
        };
        let cap = 2.0 * c.measured;
        c.set_max_rate(t, new_rate.min(cap));
    }

    /// The current send rate in calls per second, when the limiter is active.
    #[cfg(test)]
    fn rate(&self) -> Option<f64> {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.enabled.then_some(c.fill_rate)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need a real Instant to start from
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_capped() {
        let c = RetryConfig::default();
        assert_eq!(c.backoff(0, 1.0), Duration::from_secs(1));
        assert_eq!(c.backoff(3, 1.0), Duration::from_secs(8));
        assert_eq!(c.backoff(10, 1.0), Duration::from_secs(20));
        assert_eq!(c.backoff(40, 0.5), Duration::from_secs(10));
        assert_eq!(c.backoff(2, 0.0), Duration::ZERO);
    }

    /// The numbers as the AWS SDKs publish them (smithy-rs `TokenBucket`:
    /// `DEFAULT_CAPACITY = 500`, retry cost 5, timeout retry cost 10;
    /// botocore `retries/standard.py` `RetryQuotaChecker`: 500, 5, 10 and
    /// `_NO_RETRY_INCREMENT = 1`), written out so a changed constant fails.
    #[test]
    fn quota_numbers_are_the_sdks() {
        assert_eq!(
            (
                QUOTA_INITIAL,
                QUOTA_RETRY_COST,
                QUOTA_TIMEOUT_RETRY_COST,
                QUOTA_NO_RETRY_INCREMENT
            ),
            (500, 5, 10, 1)
        );
    }

    #[test]
    fn quota_drains_and_recovers() {
        let q = RetryQuota::default();
        let mut n = 0;
        while q.try_acquire(5) {
            n += 1;
        }
        assert_eq!(n, 100);
        assert!(!q.try_acquire(5));
        q.release(5);
        assert!(q.try_acquire(5));
        q.release(10_000);
        assert_eq!(q.available(), 500);
    }

    /// The codes smithy-rs retries (`aws-runtime` `retries/classifiers.rs`:
    /// `THROTTLING_ERRORS` and `TRANSIENT_ERRORS`; botocore's
    /// `retries/standard.py` lists the same throttling codes), and its
    /// transient statuses 500, 502, 503, 504, written out.
    #[test]
    fn the_sdks_retryable_codes_are_retried() {
        let throttling = [
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "TransactionInProgressException",
            "RequestLimitExceeded",
            "BandwidthLimitExceeded",
            "LimitExceededException",
            "RequestThrottled",
            "SlowDown",
            "PriorRequestNotComplete",
            "EC2ThrottledException",
        ];
        for code in throttling {
            assert!(is_throttling(400, Some(code)), "{code}");
            assert!(is_retryable_status_or_code(400, Some(code)), "{code}");
        }
        for code in ["RequestTimeout", "RequestTimeoutException"] {
            assert!(is_retryable_status_or_code(400, Some(code)), "{code}");
            assert!(!is_throttling(400, Some(code)), "{code}");
        }
        for status in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status_or_code(status, None), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413, 501, 505] {
            assert!(!is_retryable_status_or_code(status, None), "{status}");
        }
        assert!(!is_retryable_status_or_code(
            400,
            Some("AccessDeniedException")
        ));
    }

    #[test]
    fn classification() {
        assert!(is_retryable_status_or_code(503, None));
        assert!(is_retryable_status_or_code(
            400,
            Some("ThrottlingException")
        ));
        assert!(!is_retryable_status_or_code(
            400,
            Some("InvalidInputException")
        ));
        assert!(!is_retryable_status_or_code(403, None));
        assert!(is_throttling(429, None));
    }

    #[test]
    fn adaptive_rate_drops_on_throttle_and_recovers() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        // Before any throttling: no limit.
        assert_eq!(l.acquire(t0), None);
        // Send at ~20/s for 3 s, then throttle.
        let mut t = t0;
        for _ in 0..60 {
            t += Duration::from_millis(50);
            l.on_response(t, false);
        }
        l.on_response(t, true);
        let after_throttle = l.rate().unwrap();
        assert!(after_throttle < 20.0, "{after_throttle}");
        // Tokens now limit sending.
        let mut waited = false;
        for _ in 0..50 {
            if l.acquire(t).is_some() {
                waited = true;
                break;
            }
        }
        assert!(waited);
        // Successes over time raise the rate again.
        for _ in 0..100 {
            t += Duration::from_millis(50);
            l.on_response(t, false);
        }
        assert!(l.rate().unwrap() > after_throttle);
    }
}
