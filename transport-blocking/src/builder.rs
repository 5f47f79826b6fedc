//! [`ClientBuilder`]: a client from code, from the environment and the
//! shared config files, or both.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use personalize_events_core::config::{
    ChainTimeouts, ConfigLoader, ConfigOverrides, Environment, FileError,
};
use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::{
    ClientConfig, ClientCore, Credentials, Error, RetryConfig, Timeouts, USER_AGENT_VALUE,
};

use crate::chain::{process_environment, DefaultCredentialsChain};
use crate::{Client, CredentialsProvider, Inner};

/// The default largest response body read, in bytes (1 MiB).
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 1 << 20;

/// Builds a [`Client`]. Start from [`Client::builder`].
///
/// Everything has a default but the region and the credentials, which come
/// from code ([`region`](Self::region), [`credentials`](Self::credentials),
/// [`credentials_provider`](Self::credentials_provider)) or, after
/// [`with_env`](Self::with_env), from the environment and the shared
/// config files, as the AWS CLI finds them.
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
    retry_set: bool,
    timeouts: Timeouts,
    fill_event_ids: bool,
    user_agent_suffix: Option<String>,
    max_response_body: usize,
    env: bool,
    environment: Option<Environment>,
    profile: Option<String>,
    chain_timeouts: ChainTimeouts,
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
            retry_set: false,
            timeouts: Timeouts::default(),
            fill_event_ids: true,
            user_agent_suffix: None,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            env: false,
            environment: None,
            profile: None,
            chain_timeouts: ChainTimeouts::default(),
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
            // Variable names only, never values.
            .field("environment", &self.environment)
            .field("profile", &self.profile)
            .field("chain_timeouts", &self.chain_timeouts)
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

    /// Static credentials for every call (the credentials chain is then
    /// never used).
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
    /// one retry quota. Given here, they win over `max_attempts` and
    /// `retry_mode` from the environment or profile.
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self.retry_set = true;
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

    /// Takes from the environment and the shared config files, at
    /// [`build`](Self::build), what was not set in code (values set in code
    /// always win), as the AWS CLI and SDKs do:
    ///
    /// * the profile: [`profile`](Self::profile), else `AWS_PROFILE`, else
    ///   `default`, read from `AWS_CONFIG_FILE` (`~/.aws/config`) and
    ///   `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`);
    /// * the region from `AWS_REGION`, `AWS_DEFAULT_REGION`, then the
    ///   profile's `region`;
    /// * the endpoint from `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`,
    ///   `AWS_ENDPOINT_URL`, the profile's `services` section
    ///   (`personalize_events = endpoint_url = ..`), then its
    ///   `endpoint_url` (all ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
    ///   or the profile's `ignore_configured_endpoint_urls` is `true`);
    /// * FIPS and dual-stack from `AWS_USE_FIPS_ENDPOINT` /
    ///   `AWS_USE_DUALSTACK_ENDPOINT`, then `use_fips_endpoint` /
    ///   `use_dualstack_endpoint`;
    /// * retries from `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE`, then
    ///   `max_attempts` / `retry_mode` (unless
    ///   [`retry_config`](Self::retry_config) was given);
    /// * credentials, unless given in code, from the default chain
    ///   ([`DefaultCredentialsChain`]): environment keys, web identity, the
    ///   profile (keys, `credential_process`, assumed roles), container
    ///   credentials, EC2 instance metadata. They are resolved at the first
    ///   call (static keys of the environment at once), cached, and
    ///   refreshed before they expire.
    ///
    /// Empty variables count as unset.
    pub fn with_env(mut self) -> Self {
        self.env = true;
        self
    }

    /// Reads this profile of the shared config files, like the CLI's
    /// `--profile` (implies [`with_env`](Self::with_env)): it wins over
    /// `AWS_PROFILE`, and the environment's credentials variables are then
    /// not used.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self.env = true;
        self
    }

    /// Uses this environment snapshot instead of the process's (implies
    /// [`with_env`](Self::with_env)); for tests and programs that build
    /// their own, e.g.
    /// `Environment::from_vars([("AWS_REGION", "eu-west-1"), ("HOME", "/home/me")])`.
    pub fn environment(mut self, env: Environment) -> Self {
        self.environment = Some(env);
        self.env = true;
        self
    }

    /// Timeouts of the credentials chain's steps: instance metadata (1 s),
    /// container endpoint (5 s), STS (10 s), `credential_process` (60 s).
    pub fn credentials_timeouts(mut self, timeouts: ChainTimeouts) -> Self {
        self.chain_timeouts = timeouts;
        self
    }

    /// Builds the client: resolves the configuration and the endpoint,
    /// checks the settings and creates the connection pool.
    ///
    /// # Errors
    ///
    /// `Error::Config` for a missing region, a zero timeout, an endpoint
    /// that is plain http without having been configured explicitly, a bad
    /// user agent suffix, or (with [`with_env`](Self::with_env)) a malformed
    /// or unreadable config file, a profile chosen but not found, or a bad
    /// value; `Error::Endpoint` when the endpoint cannot be resolved or the
    /// URL is malformed; `Error::Credentials` when no credentials were given
    /// without `with_env`, or the environment's are incomplete.
    pub fn build(self) -> Result<Client, Error> {
        let env = match (&self.environment, self.env) {
            (Some(e), _) => Some(e.clone()),
            (None, true) => Some(process_environment()),
            (None, false) => None,
        };
        self.build_in(env)
    }

    pub(crate) fn build_in(self, env: Option<Environment>) -> Result<Client, Error> {
        let t = self.timeouts;
        if t.connect.is_zero() || t.attempt.is_zero() || t.operation.is_zero() {
            return Err(Error::Config("timeouts must be above zero".into()));
        }

        let (region, explicit_endpoint, use_fips, use_dual_stack, retry) = match &env {
            None => (
                self.region.clone().ok_or_else(|| {
                    Error::Config(
                        "no region: set one with ClientBuilder::region, or AWS_REGION with Client::from_env"
                            .into(),
                    )
                })?,
                self.endpoint_url.clone(),
                self.use_fips.unwrap_or(false),
                self.use_dual_stack.unwrap_or(false),
                self.retry.clone(),
            ),
            Some(env) => {
                let files = read_config_files(env);
                let r = ConfigLoader::resolve(env, &files, &self.overrides())?;
                let region = r.region.ok_or_else(|| {
                    Error::Config(format!(
                        "no region: set one with ClientBuilder::region, AWS_REGION, \
                         AWS_DEFAULT_REGION or `region` in profile `{}`",
                        r.profile
                    ))
                })?;
                let mut retry = self.retry.clone();
                if !self.retry_set {
                    if let Some(n) = r.max_attempts {
                        retry = retry.with_max_attempts(n);
                    }
                    if let Some(m) = r.retry_mode {
                        retry = retry.with_mode(m);
                    }
                }
                (
                    region,
                    r.endpoint_url,
                    r.use_fips,
                    r.use_dual_stack,
                    retry,
                )
            }
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

        let credentials: Arc<CredentialsProvider> = match (self.credentials.clone(), env) {
            (Some(c), _) => c,
            (None, Some(env)) => {
                let mut chain = DefaultCredentialsChain::new(env)
                    .timeouts(self.chain_timeouts)
                    .wait_timeout(t.operation);
                if let Some(p) = &self.profile {
                    chain = chain.profile(p.clone());
                }
                if let Some(r) = &self.region {
                    chain = chain.region(r.clone());
                }
                let chain = chain.prepared()?;
                Arc::new(move || chain.provide())
            }
            (None, None) => {
                return Err(Error::Credentials {
                    source_name: "client builder".into(),
                    message: "no credentials: set ClientBuilder::credentials or \
                              credentials_provider, or use Client::from_env"
                        .into(),
                })
            }
        };

        let mut config = ClientConfig::new(region, resolved);
        config.retry = retry;
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

    /// What was set in code, for the configuration loader.
    fn overrides(&self) -> ConfigOverrides {
        let mut o = ConfigOverrides::default();
        if let Some(p) = &self.profile {
            o = o.with_profile(p.clone());
        }
        if let Some(r) = &self.region {
            o = o.with_region(r.clone());
        }
        if let Some(u) = &self.endpoint_url {
            o = o.with_endpoint_url(u.clone());
        }
        if let Some(b) = self.use_fips {
            o = o.with_fips(b);
        }
        if let Some(b) = self.use_dual_stack {
            o = o.with_dual_stack(b);
        }
        o
    }
}

/// The shared config files, read whole (a missing file is reported as such
/// and treated as absent by the loader).
fn read_config_files(env: &Environment) -> HashMap<PathBuf, Result<Vec<u8>, FileError>> {
    ConfigLoader::files_needed(env)
        .into_iter()
        .map(|p| {
            let r = std::fs::read(&p).map_err(FileError::from);
            (p, r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot without home directory: no shared files are read.
    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None)
    }

    #[test]
    fn region_endpoint_and_credentials_from_env() {
        let c = ClientBuilder::default()
            .build_in(Some(env(&[
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "token"),
            ])))
            .unwrap();
        assert_eq!(c.core().config().region, "eu-west-1");
        assert_eq!(
            c.endpoint_url(),
            "https://personalize-events.eu-west-1.amazonaws.com"
        );
        let got = (c.inner.credentials)().unwrap();
        assert_eq!(got.session_token(), Some("token"));

        let c = ClientBuilder::default()
            .build_in(Some(env(&[
                ("AWS_REGION", "us-west-2"),
                ("AWS_DEFAULT_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", "http://127.0.0.1:2"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ])))
            .unwrap();
        assert_eq!(c.core().config().region, "us-west-2");
        assert_eq!(c.endpoint_url(), "http://127.0.0.1:2");

        let c = ClientBuilder::default()
            .build_in(Some(env(&[
                ("AWS_REGION", "us-west-2"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ])))
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
            .region("ap-south-1")
            .credentials(creds())
            .build_in(Some(e.clone()))
            .unwrap();
        assert_eq!(c.core().config().region, "ap-south-1");
        assert_eq!(c.endpoint_url(), "http://127.0.0.1:1");
        let err = ClientBuilder::default()
            .credentials(creds())
            .build_in(None)
            .unwrap_err();
        assert!(err.to_string().contains("no region"), "{err}");
    }

    #[test]
    fn missing_or_partial_credentials_fail_at_build() {
        let err = ClientBuilder::default()
            .region("us-east-1")
            .build_in(None)
            .unwrap_err();
        assert!(matches!(err, Error::Credentials { .. }), "{err}");
        let err = ClientBuilder::default()
            .build_in(Some(env(&[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "  "),
            ])))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials from environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
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
            .build_in(Some(env(&[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "yes"),
            ])))
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
