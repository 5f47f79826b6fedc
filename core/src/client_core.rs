//! The protocol side of a client, shared by all its calls: configuration,
//! timeouts, the prepared request parts, and the state every clone shares
//! (retry quota, clock skew, signing keys, the adaptive rate limiter). A
//! call of it is a [`Call`](crate::Call) (`call.rs`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST, USER_AGENT};

use crate::call::Call;
use crate::endpoint::ResolvedEndpoint;
use crate::operation::Operation;
use crate::retry::{RateLimiter, RetryConfig, RetryQuota};
use crate::sign::{self, SigningCache, SigningParams};
use crate::{Credentials, Error};

const INVOCATION_ID: HeaderName = HeaderName::from_static("amz-sdk-invocation-id");
const AMZ_SDK_REQUEST: HeaderName = HeaderName::from_static("amz-sdk-request");

/// The largest clock correction learnt from a response `Date` (one day).
pub(crate) const MAX_LEARNED_SKEW_MS: i64 = 24 * 3600 * 1000;

/// The smallest clock error worth correcting: 4 minutes, as the AWS SDK for
/// Java v2 decides (`software.amazon.awssdk.core.retry.ClockSkew`,
/// `CLOCK_SKEW_ADJUST_THRESHOLD = Duration.ofMinutes(4)`, compared with
/// `>=`; the AWS SDK for Swift's `AWSClockSkewProvider` uses 5 minutes;
/// smithy-rs records the skew without a threshold). `Date` has one-second
/// resolution and a response takes time to arrive, so clocks in sync measure
/// a second or two; SigV4 itself accepts 5 minutes either way.
pub(crate) const SKEW_CORRECTION_THRESHOLD_MS: i64 = 4 * 60 * 1000;

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
pub(crate) struct Shared {
    pub(crate) quota: RetryQuota,
    pub(crate) skew_ms: AtomicI64,
    pub(crate) keys: SigningCache,
    pub(crate) limiter: RateLimiter,
}

/// The protocol side of a client: configuration plus shared state. Cheap to
/// clone; clones share the retry quota, clock skew and signing keys.
#[derive(Debug, Clone)]
pub struct ClientCore {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) prepared: Arc<Prepared>,
}

/// What every request of a client shares, built once so that a request is
/// assembled from reference-counted clones instead of fresh allocations.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) user_agent: HeaderValue,
    pub(crate) host: HeaderValue,
    /// One URI per operation, in the order of [`crate::OPERATIONS`].
    pub(crate) uris: Vec<http::Uri>,
    /// `amz-sdk-request` values for attempts 1..=max_attempts.
    pub(crate) attempt_values: Vec<HeaderValue>,
}

impl ClientCore {
    /// A transport's `Client` as `Debug` shows it: region, endpoint, retry
    /// settings and timeouts (nothing secret is held here).
    pub fn debug_client(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let config = self.config();
        f.debug_struct("Client")
            .field("region", &config.region)
            .field("endpoint", &config.endpoint.url())
            .field("retry", &config.retry)
            .field("timeouts", &config.timeouts)
            .finish_non_exhaustive()
    }

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
        Ok(Call::new(self.clone(), body, now, entropy))
    }

    /// The unsigned request for `body` as attempt `attempt`.
    pub(crate) fn request<B>(
        &self,
        path: &str,
        body: B,
        attempt: u32,
        invocation_id: Option<&HeaderValue>,
    ) -> http::Request<B> {
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
            h.insert(INVOCATION_ID, v.clone());
        }
        let attempt_value = match p.attempt_values.get(attempt.saturating_sub(1) as usize) {
            Some(v) => v.clone(),
            None => HeaderValue::try_from(format!(
                "attempt={attempt}; max={}",
                self.config.retry.max_attempts
            ))
            .unwrap_or(HeaderValue::from_static("attempt=0")),
        };
        h.insert(AMZ_SDK_REQUEST, attempt_value);
        req
    }

    pub(crate) fn signing_region(&self) -> &str {
        self.config
            .endpoint
            .signing_region()
            .unwrap_or(&self.config.region)
    }

    pub(crate) fn signing_time(&self, wall: SystemTime) -> SystemTime {
        shift(wall, self.shared.skew_ms.load(Ordering::Relaxed))
    }

    /// Signs a request for this client (used by every attempt).
    pub fn sign<B: AsRef<[u8]>>(
        &self,
        req: &mut http::Request<B>,
        credentials: &Credentials,
        wall: SystemTime,
    ) -> Result<(), Error> {
        self.sign_at(req, credentials, self.signing_time(wall))
    }

    pub(crate) fn sign_at<B: AsRef<[u8]>>(
        &self,
        req: &mut http::Request<B>,
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
        req.headers_mut().remove(INVOCATION_ID);
        req.headers_mut().remove(AMZ_SDK_REQUEST);
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
pub(crate) fn shift(wall: SystemTime, skew_ms: i64) -> SystemTime {
    if skew_ms >= 0 {
        wall + Duration::from_millis(skew_ms as u64)
    } else {
        wall.checked_sub(Duration::from_millis(skew_ms.unsigned_abs()))
            .unwrap_or(wall)
    }
}

/// Signed milliseconds from `from` to `to`.
pub(crate) fn millis_between(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}
