//! What a transport's `ClientBuilder` collects, and how it becomes a client.
//!
//! [`ClientSettings`] holds every builder setting that does not depend on
//! the transport; [`ClientSettings::build`] combines it with the
//! environment and the shared config files (read by the transport: the
//! paths of [`ConfigLoader::files_needed`]) into a [`ClientCore`], and says
//! whether the transport must drive a default credentials chain
//! ([`PreparedChain`]).
//!
//! ```text
//! let env = settings.environment_to_read(process_environment);
//! let files = env.as_ref().map(read_files).unwrap_or_default();
//! let built = settings.build(env, &files, credentials, SystemTime::now(), &MESSAGES)?;
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::{
    ChainSettings, ChainTimeouts, ConfigLoader, ConfigOverrides, Environment, FileError,
    PreparedChain, ProxySettings, TrustSettings,
};
use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::{ClientConfig, ClientCore, Error, RetryConfig, Timeouts};

/// The shared config files as the transport read them, by path (the input
/// of [`ConfigLoader::resolve`]).
pub type ConfigFiles = HashMap<PathBuf, Result<Vec<u8>, FileError>>;

/// The wording of the build errors that name a transport's own methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildMessages {
    /// The `Error::Config` message when no region is set and the
    /// environment is not read.
    pub no_region: &'static str,
    /// The `Error::Credentials` message when no credentials are given and
    /// the environment is not read.
    pub no_credentials: &'static str,
}

/// The transport-independent settings of a client builder.
///
/// Everything has a default but the region and the credentials. Values set
/// here win over the environment and the shared config files, which are
/// read only when asked ([`with_env`](Self::with_env),
/// [`profile`](Self::profile), [`environment`](Self::environment)).
#[derive(Clone)]
pub struct ClientSettings {
    region: Option<String>,
    endpoint_url: Option<String>,
    use_fips: Option<bool>,
    use_dual_stack: Option<bool>,
    retry: RetryConfig,
    retry_set: bool,
    timeouts: Timeouts,
    fill_event_ids: bool,
    user_agent_suffix: Option<String>,
    app_id: Option<String>,
    use_env: bool,
    environment: Option<Environment>,
    profile: Option<String>,
    chain_timeouts: ChainTimeouts,
    proxy: Option<ProxySettings>,
    trust: Option<TrustSettings>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            region: None,
            endpoint_url: None,
            use_fips: None,
            use_dual_stack: None,
            retry: RetryConfig::default(),
            retry_set: false,
            timeouts: Timeouts::default(),
            fill_event_ids: true,
            user_agent_suffix: None,
            app_id: None,
            use_env: false,
            environment: None,
            profile: None,
            chain_timeouts: ChainTimeouts::default(),
            proxy: None,
            trust: None,
        }
    }
}

impl fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSettings")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("use_fips", &self.use_fips)
            .field("use_dual_stack", &self.use_dual_stack)
            .field("retry", &self.retry)
            .field("timeouts", &self.timeouts)
            .field("fill_event_ids", &self.fill_event_ids)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("app_id", &self.app_id)
            .field("use_env", &self.use_env)
            // Variable names only, never values.
            .field("environment", &self.environment)
            .field("profile", &self.profile)
            .field("chain_timeouts", &self.chain_timeouts)
            .field("proxy", &self.proxy)
            .field("trust", &self.trust)
            .finish()
    }
}

/// What [`ClientSettings::build`] gives the transport; `C` is the
/// transport's credentials provider.
#[derive(Debug)]
#[non_exhaustive]
pub struct BuiltClient<C> {
    /// The protocol core, configured.
    pub core: ClientCore,
    /// Whether the endpoint is `https` (else it is plain `http`, given
    /// explicitly).
    pub https: bool,
    /// Where the client's credentials come from.
    pub credentials: CredentialsSource<C>,
    /// The proxies: set in code, else the environment's variables; `None`
    /// when neither was set nor an environment read, and the transport then
    /// reads the process's proxy variables ([`ProxySettings::from_env`]),
    /// as curl and the AWS SDKs always do.
    pub proxy: Option<ProxySettings>,
    /// Whom TLS trusts: set in code, else `AWS_CA_BUNDLE` or the profile's
    /// `ca_bundle`, else the system store; the bundled roots (nothing read)
    /// for a plain-http endpoint.
    pub trust: TrustSettings,
}

/// Where a client's credentials come from.
#[derive(Debug)]
pub enum CredentialsSource<C> {
    /// The provider given in code.
    Given(C),
    /// The default credentials chain, for the transport to drive.
    Chain(PreparedChain),
}

impl ClientSettings {
    /// Default settings.
    pub fn new() -> Self {
        ClientSettings::default()
    }

    /// The region to sign for (and whose endpoint to use); a blank one
    /// counts as unset.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// A custom endpoint URL; plain `http://` is accepted only given
    /// explicitly (here, or as a configured endpoint).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses the region's FIPS endpoint.
    pub fn use_fips(mut self, on: bool) -> Self {
        self.use_fips = Some(on);
        self
    }

    /// Uses the region's dual-stack endpoint.
    pub fn use_dual_stack(mut self, on: bool) -> Self {
        self.use_dual_stack = Some(on);
        self
    }

    /// Retry settings; given here, they win over `max_attempts` and
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

    /// The connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_connect(d);
        self
    }

    /// The per-attempt timeout.
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_attempt(d);
        self
    }

    /// The whole-call timeout.
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_operation(d);
        self
    }

    /// Whether to fill in missing event ids before the first attempt.
    pub fn fill_event_ids(mut self, on: bool) -> Self {
        self.fill_event_ids = on;
        self
    }

    /// Text appended to the `User-Agent` header.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// The application id sent in the `User-Agent` as `app/<id>` (wins
    /// over `AWS_SDK_UA_APP_ID` and the profile's `sdk_ua_app_id`), so that
    /// logs tell one program from another.
    pub fn app_id(mut self, id: impl Into<String>) -> Self {
        self.app_id = Some(id.into());
        self
    }

    /// Reads the process's environment and the shared config files at build.
    pub fn with_env(mut self) -> Self {
        self.use_env = true;
        self
    }

    /// Reads this profile of the shared config files (implies
    /// [`with_env`](Self::with_env)).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Uses this environment snapshot instead of the process's (implies
    /// [`with_env`](Self::with_env)).
    pub fn environment(mut self, env: Environment) -> Self {
        self.environment = Some(env);
        self
    }

    /// Timeouts of the credentials chain's steps.
    pub fn credentials_timeouts(mut self, timeouts: ChainTimeouts) -> Self {
        self.chain_timeouts = timeouts;
        self
    }

    /// The proxies to use instead of the environment's proxy variables
    /// (`ProxySettings::none()` for direct connections).
    pub fn proxy(mut self, proxy: ProxySettings) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whom TLS trusts, instead of `AWS_CA_BUNDLE`, the profile's
    /// `ca_bundle` or the system store.
    pub fn trust(mut self, trust: TrustSettings) -> Self {
        self.trust = Some(trust);
        self
    }

    /// Trusts only the CAs of this PEM file (like `AWS_CA_BUNDLE`).
    pub fn ca_bundle(self, path: impl Into<std::path::PathBuf>) -> Self {
        self.trust(TrustSettings::Bundle(path.into()))
    }

    /// The environment [`build`](Self::build) should see: the snapshot
    /// given, else `process()` when the environment is to be read (with
    /// [`with_env`](Self::with_env) or a [`profile`](Self::profile)), else
    /// none.
    pub fn environment_to_read(
        &self,
        process: impl FnOnce() -> Environment,
    ) -> Option<Environment> {
        match &self.environment {
            Some(e) => Some(e.clone()),
            None if self.use_env || self.profile.is_some() => Some(process()),
            None => None,
        }
    }

    /// The region set in code, trimmed; `None` when unset or blank.
    fn code_region(&self) -> Option<String> {
        self.region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
    }

    /// What was set in code, for the configuration loader.
    fn overrides(&self) -> ConfigOverrides {
        let mut o = ConfigOverrides::default();
        if let Some(p) = &self.profile {
            o = o.with_profile(p.clone());
        }
        if let Some(r) = self.code_region() {
            o = o.with_region(r);
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
        if let Some(id) = &self.app_id {
            o = o.with_app_id(id.clone());
        }
        if let Some(TrustSettings::Bundle(p)) = &self.trust {
            o = o.with_ca_bundle(p.clone());
        }
        o
    }

    /// Resolves the settings: checks the timeouts, combines code,
    /// environment and profile (`env` is `None` when they are not read;
    /// `files` holds the contents of [`ConfigLoader::files_needed`]),
    /// resolves the endpoint, and prepares the default credentials chain
    /// when no `credentials` were given in code (its first step, at `now`).
    ///
    /// # Errors
    ///
    /// `Error::Config` for a zero timeout, a missing region, a plain http
    /// endpoint that was not configured explicitly, a bad user agent
    /// suffix, or a malformed or unreadable config file, a profile chosen
    /// but not found, or a bad value; `Error::Endpoint` when the endpoint
    /// cannot be resolved; `Error::Credentials` when no credentials are
    /// given without an environment, or the environment's are incomplete.
    pub fn build<C>(
        self,
        env: Option<Environment>,
        files: &ConfigFiles,
        credentials: Option<C>,
        now: SystemTime,
        messages: &BuildMessages,
    ) -> Result<BuiltClient<C>, Error> {
        let t = self.timeouts;
        if t.connect.is_zero() || t.attempt.is_zero() || t.operation.is_zero() {
            return Err(Error::Config("timeouts must be above zero".into()));
        }
        let code_region = self.code_region();
        let mut trust = self.trust.clone();
        let (region, explicit_endpoint, use_fips, use_dual_stack, retry, app_id) = match &env {
            None => (
                code_region
                    .clone()
                    .ok_or_else(|| Error::Config(messages.no_region.into()))?,
                self.endpoint_url.clone(),
                self.use_fips.unwrap_or(false),
                self.use_dual_stack.unwrap_or(false),
                self.retry.clone(),
                self.app_id.clone(),
            ),
            Some(env) => {
                let r = ConfigLoader::resolve(env, files, &self.overrides())?;
                let region = r.region.ok_or_else(|| {
                    Error::Config(format!(
                        "no region: set one with ClientBuilder::region, AWS_REGION, \
                         AWS_DEFAULT_REGION or `region` in profile `{}`",
                        r.profile
                    ))
                })?;
                if trust.is_none() {
                    trust = r.ca_bundle.clone().map(TrustSettings::Bundle);
                }
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
                    r.app_id,
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

        let proxy = (self.proxy.clone()).or_else(|| env.as_ref().map(ProxySettings::from_env));
        let credentials = match (credentials, env) {
            (Some(c), _) => CredentialsSource::Given(c),
            (None, Some(env)) => {
                let mut chain = ChainSettings::new(env)
                    .timeouts(self.chain_timeouts)
                    .wait_timeout(t.operation);
                if let Some(p) = self.profile {
                    chain = chain.profile(p);
                }
                if let Some(r) = code_region {
                    chain = chain.region(r);
                }
                // The chain's STS and SSO requests go out as the client's.
                let chain_proxy = proxy
                    .clone()
                    .unwrap_or_else(|| chain.proxy_settings().clone());
                let chain = chain.network(chain_proxy, trust.clone().unwrap_or_default());
                CredentialsSource::Chain(chain.prepare(now)?)
            }
            (None, None) => {
                return Err(Error::Credentials {
                    source_name: "client builder".into(),
                    message: messages.no_credentials.into(),
                })
            }
        };

        let mut config = ClientConfig::new(region, resolved);
        config.retry = retry;
        config.timeouts = t;
        config.fill_event_ids = self.fill_event_ids;
        config.user_agent_suffix =
            crate::ua::suffix_with_app_id(app_id.as_deref(), self.user_agent_suffix);
        Ok(BuiltClient {
            core: ClientCore::new(config)?,
            https,
            credentials,
            proxy,
            // A plain-http endpoint makes no TLS connection: its client
            // does not read the system store (a cold start's largest cost)
            // or a CA bundle. The chain's own https requests keep theirs.
            trust: match https {
                true => trust.unwrap_or_default(),
                false => TrustSettings::WebPki,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const MESSAGES: BuildMessages = BuildMessages {
        no_region: "no region (test)",
        no_credentials: "no credentials (test)",
    };

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn build(
        s: ClientSettings,
        e: Option<Environment>,
        given: bool,
    ) -> Result<BuiltClient<&'static str>, Error> {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        s.build(
            e,
            &ConfigFiles::new(),
            given.then_some("given"),
            now,
            &MESSAGES,
        )
    }

    #[test]
    fn app_id_from_code_env_or_profile_goes_into_the_user_agent() {
        let files: ConfigFiles = [(
            PathBuf::from("/cfg/config"),
            Ok(b"[default]\nregion = us-east-1\nsdk_ua_app_id = from-profile\n".to_vec()),
        )]
        .into_iter()
        .collect();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ua = |s: ClientSettings, vars: &[(&str, &str)]| {
            let mut all = vec![("AWS_CONFIG_FILE", "/cfg/config")];
            all.extend_from_slice(vars);
            s.build(Some(env(&all)), &files, Some("given"), now, &MESSAGES)
                .unwrap()
                .core
                .user_agent()
                .to_string()
        };
        let base = personalize_events_core::USER_AGENT_VALUE;
        assert_eq!(
            ua(ClientSettings::new(), &[]),
            format!("{base} app/from-profile")
        );
        assert_eq!(
            ua(ClientSettings::new(), &[("AWS_SDK_UA_APP_ID", "from env")]),
            format!("{base} app/from-env")
        );
        assert_eq!(
            ua(
                ClientSettings::new()
                    .app_id("code")
                    .user_agent_suffix("tool/2"),
                &[("AWS_SDK_UA_APP_ID", "env")]
            ),
            format!("{base} app/code tool/2")
        );
        // Without the environment, only code counts.
        let b = build(
            ClientSettings::new().region("us-east-1").app_id("code"),
            None,
            true,
        )
        .unwrap();
        assert_eq!(b.core.user_agent(), format!("{base} app/code"));
        let b = build(ClientSettings::new().region("us-east-1"), None, true).unwrap();
        assert_eq!(b.core.user_agent(), base);
    }

    #[test]
    fn code_wins_and_env_fills_the_rest() {
        let e = env(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_MAX_ATTEMPTS", "7"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let b = build(
            ClientSettings::new().region(" ap-south-1 "),
            Some(e.clone()),
            false,
        )
        .unwrap();
        let c = b.core.config();
        assert_eq!(c.region, "ap-south-1");
        assert_eq!(c.endpoint.url(), "http://127.0.0.1:1");
        assert_eq!(c.retry.max_attempts, 7);
        assert!(!b.https);
        let CredentialsSource::Chain(chain) = b.credentials else {
            panic!("no chain")
        };
        assert_eq!(chain.cache.current().unwrap().access_key_id(), "AKIDENV");
        let b = build(
            ClientSettings::new().retry_config(RetryConfig::default().with_max_attempts(2)),
            Some(e),
            true,
        )
        .unwrap();
        assert_eq!(b.core.config().retry.max_attempts, 2);
        assert!(matches!(b.credentials, CredentialsSource::Given("given")));
    }

    #[test]
    fn proxy_and_trust_from_code_env_or_profile() {
        let e = env(&[
            ("AWS_REGION", "us-west-2"),
            ("HTTPS_PROXY", "http://127.0.0.1:3128"),
            ("AWS_CA_BUNDLE", "/env.pem"),
        ]);
        let b = build(ClientSettings::new(), Some(e.clone()), true).unwrap();
        let proxy = b.proxy.unwrap();
        assert_eq!(proxy.for_scheme("https"), Some("http://127.0.0.1:3128"));
        assert_eq!(b.trust, TrustSettings::Bundle("/env.pem".into()));
        let s = ClientSettings::new()
            .proxy(ProxySettings::none())
            .ca_bundle("/code.pem");
        let b = build(s, Some(e), true).unwrap();
        assert_eq!(b.proxy, Some(ProxySettings::none()));
        assert_eq!(b.trust, TrustSettings::Bundle("/code.pem".into()));
        let b = build(ClientSettings::new().region("us-east-1"), None, true).unwrap();
        assert_eq!((b.proxy, b.trust), (None, TrustSettings::System));
    }

    #[test]
    fn a_plain_http_endpoint_reads_no_trust_store_but_the_chain_keeps_its_trust() {
        let e = env(&[("AWS_REGION", "us-west-2"), ("AWS_CA_BUNDLE", "/env.pem")]);
        let s = ClientSettings::new().endpoint_url("http://127.0.0.1:9");
        let b = build(s, Some(e), false).unwrap();
        assert_eq!(b.trust, TrustSettings::WebPki);
        let CredentialsSource::Chain(chain) = b.credentials else {
            panic!("the chain, as no credentials were given");
        };
        assert_eq!(
            chain.settings.trust_settings(),
            &TrustSettings::Bundle("/env.pem".into())
        );
    }

    #[test]
    fn errors_use_the_transport_wording() {
        let e = build(ClientSettings::new().region("  "), None, true).unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m == "no region (test)"),
            "{e}"
        );
        let e = build(ClientSettings::new().region("us-east-1"), None, false).unwrap_err();
        assert!(matches!(e, Error::Credentials { .. }), "{e}");
        assert!(e.to_string().contains("no credentials (test)"), "{e}");
        let s = ClientSettings::new()
            .region("us-east-1")
            .attempt_timeout(Duration::ZERO);
        let e = build(s, None, true).unwrap_err();
        assert!(e.to_string().contains("above zero"), "{e}");
    }

    #[test]
    fn environment_is_read_only_when_asked() {
        let s = ClientSettings::new();
        assert!(s.environment_to_read(|| unreachable!()).is_none());
        assert!(s
            .clone()
            .with_env()
            .environment_to_read(Environment::default)
            .is_some());
        assert!(s
            .clone()
            .profile("p")
            .environment_to_read(Environment::default)
            .is_some());
        let e = env(&[("AWS_REGION", "eu-west-1")]);
        let got = s
            .environment(e.clone())
            .environment_to_read(|| unreachable!());
        assert_eq!(got, Some(e));
    }
}
