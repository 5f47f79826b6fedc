//! [`ClientBuilder`]: a client from code, from the environment, or both.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::{
    ClientConfig, ClientCore, Credentials, Error, RetryConfig, Timeouts, USER_AGENT_VALUE,
};

use crate::{Client, CredentialsProvider, Inner};

/// The default largest response body read, in bytes (1 MiB).
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 1 << 20;

/// Builds a [`Client`]. Start from [`Client::builder`].
///
/// Everything has a default but the region and the credentials, which come
/// from code ([`region`](Self::region), [`credentials`](Self::credentials),
/// [`credentials_provider`](Self::credentials_provider)) or, after
/// [`with_env`](Self::with_env), from the environment.
///
/// ```
/// use std::time::Duration;
/// use personalize_events_blocking::{Client, Credentials, RetryConfig};
///
/// let client = Client::builder()
///     .region("eu-west-1")
///     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None))
///     .retry_config(RetryConfig::default().with_max_attempts(5))
///     .attempt_timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(client.endpoint_url(), "https://personalize-events.eu-west-1.amazonaws.com");
/// # Ok::<(), personalize_events_blocking::Error>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    region: Option<String>,
    endpoint_url: Option<String>,
    use_fips: Option<bool>,
    use_dual_stack: Option<bool>,
    credentials: Option<Arc<CredentialsProvider>>,
    retry: RetryConfig,
    timeouts: Timeouts,
    fill_event_ids: bool,
    user_agent_suffix: Option<String>,
    max_response_body: usize,
    env: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            region: None,
            endpoint_url: None,
            use_fips: None,
            use_dual_stack: None,
            credentials: None,
            retry: RetryConfig::default(),
            timeouts: Timeouts::default(),
            fill_event_ids: true,
            user_agent_suffix: None,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            env: false,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("use_fips", &self.use_fips)
            .field("use_dual_stack", &self.use_dual_stack)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "** provider **"),
            )
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("fill_event_ids", &self.fill_event_ids)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("max_response_body", &self.max_response_body)
            .field("env", &self.env)
            .finish()
    }
}

impl ClientBuilder {
    /// The region requests are signed for (and whose endpoint is used unless
    /// [`endpoint_url`](Self::endpoint_url) is set), e.g. `us-east-1`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends to this URL instead of the region's endpoint, e.g. a local
    /// emulator at `http://127.0.0.1:8080`. Plain `http://` is accepted only
    /// here (and from `AWS_ENDPOINT_URL*`): a resolved endpoint is always https.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses the region's FIPS endpoint.
    pub fn use_fips(mut self, on: bool) -> Self {
        self.use_fips = Some(on);
        self
    }

    /// Uses the region's dual-stack (IPv4 and IPv6) endpoint.
    pub fn use_dual_stack(mut self, on: bool) -> Self {
        self.use_dual_stack = Some(on);
        self
    }

    /// Static credentials for every call.
    pub fn credentials(self, credentials: Credentials) -> Self {
        self.credentials_provider(move || Ok(credentials.clone()))
    }

    /// A source of credentials, asked once at the start of every call (so it
    /// can refresh temporary credentials). Its error ends the call before
    /// anything is sent.
    pub fn credentials_provider(
        mut self,
        provider: impl Fn() -> Result<Credentials, Error> + Send + Sync + 'static,
    ) -> Self {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// Retry settings (attempts, backoff, mode). Clones of the client share
    /// one retry quota.
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// All timeouts at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Connecting, TCP and TLS (default 3 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_connect(d);
        self
    }

    /// One attempt, from connecting to the last byte of the response
    /// (default 10 s).
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_attempt(d);
        self
    }

    /// The whole call, retries and backoff included (default 30 s).
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_operation(d);
        self
    }

    /// Whether to give events and action interactions without an `eventId`
    /// one before the first attempt, so retries never count them twice
    /// (default true).
    pub fn fill_event_ids(mut self, on: bool) -> Self {
        self.fill_event_ids = on;
        self
    }

    /// Text appended to the `User-Agent` header, e.g. `my-tool/1.2`.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// The largest response body read (default 1 MiB); a longer one is cut.
    /// The service answers with small JSON documents.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// Takes from the environment, at [`build`](Self::build), what was not
    /// set in code:
    ///
    /// * the region from `AWS_REGION`, then `AWS_DEFAULT_REGION`;
    /// * static credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    ///   and `AWS_SESSION_TOKEN`;
    /// * the endpoint from `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`, then
    ///   `AWS_ENDPOINT_URL` (both ignored when
    ///   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`);
    /// * `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT` (`true`/`false`).
    ///
    /// Empty variables count as unset.
    pub fn with_env(mut self) -> Self {
        self.env = true;
        self
    }

    /// Builds the client: resolves the endpoint, checks the settings and
    /// creates the connection pool.
    ///
    /// # Errors
    ///
    /// `Error::Config` for a missing region, a zero timeout, an endpoint
    /// that is plain http without having been given explicitly, or a bad
    /// user agent suffix; `Error::Endpoint` when the endpoint cannot be
    /// resolved or the URL is malformed; `Error::Credentials` when no
    /// credentials were given (or the environment's are incomplete).
    pub fn build(self) -> Result<Client, Error> {
        self.build_with(&|name| std::env::var(name).ok())
    }

    pub(crate) fn build_with(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Client, Error> {
        let var = |name: &str| -> Option<String> {
            if !self.env {
                return None;
            }
            env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag = |name: &str| -> Result<Option<bool>, Error> {
            match var(name) {
                None => Ok(None),
                Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
                Some(_) => Err(Error::Config(format!("{name} must be true or false"))),
            }
        };

        let region = self
            .region
            .clone()
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                Error::Config(
                    "no region: set one with ClientBuilder::region, or AWS_REGION with Client::from_env"
                        .into(),
                )
            })?;

        let ignore_env_endpoints = flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.unwrap_or(false);
        let explicit_endpoint = self.endpoint_url.clone().or_else(|| {
            if ignore_env_endpoints {
                None
            } else {
                var("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS").or_else(|| var("AWS_ENDPOINT_URL"))
            }
        });
        let use_fips = match self.use_fips {
            Some(v) => v,
            None => flag("AWS_USE_FIPS_ENDPOINT")?.unwrap_or(false),
        };
        let use_dual_stack = match self.use_dual_stack {
            Some(v) => v,
            None => flag("AWS_USE_DUALSTACK_ENDPOINT")?.unwrap_or(false),
        };
        let resolved = endpoint::resolve(&EndpointParams {
            region: Some(region.clone()),
            use_fips,
            use_dual_stack,
            endpoint: explicit_endpoint.clone(),
        })?;
        let https = resolved.scheme() == "https";
        if !https && explicit_endpoint.is_none() {
            return Err(Error::Config(format!(
                "endpoint {} is not https; plain http is used only for an endpoint given explicitly",
                resolved.url()
            )));
        }

        let t = self.timeouts;
        if t.connect.is_zero() || t.attempt.is_zero() || t.operation.is_zero() {
            return Err(Error::Config("timeouts must be above zero".into()));
        }

        let credentials: Arc<CredentialsProvider> = match self.credentials.clone() {
            Some(c) => c,
            None if self.env => {
                let c = env_credentials(&var)?;
                Arc::new(move || Ok(c.clone()))
            }
            None => {
                return Err(Error::Credentials {
                    source_name: "client builder".into(),
                    message: "no credentials: set ClientBuilder::credentials or \
                              credentials_provider, or use Client::from_env"
                        .into(),
                })
            }
        };

        let mut config = ClientConfig::new(region, resolved);
        config.retry = self.retry;
        config.timeouts = t;
        config.fill_event_ids = self.fill_event_ids;
        config.user_agent_suffix = self.user_agent_suffix;
        let user_agent = match &config.user_agent_suffix {
            Some(s) => format!("{USER_AGENT_VALUE} {s}"),
            None => USER_AGENT_VALUE.to_owned(),
        };
        let core = ClientCore::new(config)?;
        let http = crate::transport::Http::new(
            https,
            &user_agent,
            t.connect,
            t.attempt,
            self.max_response_body,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                core,
                http,
                credentials,
                rng: crate::rng::Rng::new(),
            }),
        })
    }
}

/// Static credentials from the environment, read once.
fn env_credentials(var: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, Error> {
    let missing = |name: &str| Error::Credentials {
        source_name: "environment".into(),
        message: format!("{name} is not set"),
    };
    let id = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
    let secret = var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
    Ok(Credentials::new(id, secret, var("AWS_SESSION_TOKEN")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None)
    }

    #[test]
    fn region_endpoint_and_credentials_from_env() {
        let c = ClientBuilder::default()
            .with_env()
            .build_with(&env(&[
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "token"),
            ]))
            .unwrap();
        assert_eq!(c.core().config().region, "eu-west-1");
        assert_eq!(
            c.endpoint_url(),
            "https://personalize-events.eu-west-1.amazonaws.com"
        );
        let got = (c.inner.credentials)().unwrap();
        assert_eq!(got.session_token(), Some("token"));

        let c = ClientBuilder::default()
            .with_env()
            .build_with(&env(&[
                ("AWS_REGION", "us-west-2"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", "http://127.0.0.1:2"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ]))
            .unwrap();
        assert_eq!(c.core().config().region, "us-west-2");
        assert_eq!(c.endpoint_url(), "http://127.0.0.1:2");

        let c = ClientBuilder::default()
            .with_env()
            .build_with(&env(&[
                ("AWS_REGION", "us-west-2"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ]))
            .unwrap();
        assert_eq!(
            c.endpoint_url(),
            "https://personalize-events.us-west-2.amazonaws.com"
        );
    }

    #[test]
    fn code_wins_over_env_and_env_is_read_only_when_asked() {
        let e = env(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ]);
        let c = ClientBuilder::default()
            .with_env()
            .region("ap-south-1")
            .credentials(creds())
            .build_with(&e)
            .unwrap();
        assert_eq!(c.core().config().region, "ap-south-1");
        assert_eq!(c.endpoint_url(), "http://127.0.0.1:1");
        let err = ClientBuilder::default()
            .credentials(creds())
            .build_with(&e)
            .unwrap_err();
        assert!(err.to_string().contains("no region"), "{err}");
    }

    #[test]
    fn missing_or_partial_credentials_fail_at_build() {
        let err = ClientBuilder::default()
            .region("us-east-1")
            .build_with(&env(&[]))
            .unwrap_err();
        assert!(matches!(err, Error::Credentials { .. }), "{err}");
        let err = ClientBuilder::default()
            .with_env()
            .build_with(&env(&[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "  "),
            ]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials from environment: AWS_SECRET_ACCESS_KEY is not set"
        );
    }

    #[test]
    fn http_only_when_given_and_bad_settings_refused() {
        let b = || {
            ClientBuilder::default()
                .region("us-east-1")
                .credentials(creds())
        };
        let c = b()
            .endpoint_url("http://127.0.0.1:9000/base")
            .build()
            .unwrap();
        assert_eq!(c.endpoint_url(), "http://127.0.0.1:9000/base");
        assert!(matches!(
            b().endpoint_url("ftp://x").build().unwrap_err(),
            Error::Endpoint(_)
        ));
        assert!(matches!(
            b().region("bad/region").build().unwrap_err(),
            Error::Endpoint(_)
        ));
        let c = b().use_fips(true).use_dual_stack(true).build().unwrap();
        assert_eq!(
            c.endpoint_url(),
            "https://personalize-events-fips.us-east-1.api.aws"
        );
        let e = b().attempt_timeout(Duration::ZERO).build().unwrap_err();
        assert!(e.to_string().contains("above zero"), "{e}");
        let e = b().user_agent_suffix("bad\nsuffix").build().unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        let e = ClientBuilder::default()
            .with_env()
            .build_with(&env(&[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "yes"),
            ]))
            .unwrap_err();
        assert!(e.to_string().contains("AWS_USE_FIPS_ENDPOINT"), "{e}");
    }

    #[test]
    fn debug_never_shows_credentials() {
        let b = ClientBuilder::default()
            .region("us-east-1")
            .credentials(Credentials::new(
                "AKIDEXAMPLE",
                "very-secret",
                Some("tok".into()),
            ));
        let s = format!("{b:?}");
        assert!(!s.contains("very-secret"), "{s}");
        let c = b.build().unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("very-secret"), "{s}");
    }
}
