//! The settings of a transport's default credentials chain, and the parts of
//! its refresh protocol that need no IO.
//!
//! A transport's `DefaultCredentialsChain` holds a [`ChainSettings`] (the
//! environment snapshot, profile, region, step timeouts and how long a
//! caller waits for another one's refresh) beside a
//! [`CredentialsCache`]; it only performs the IO the [`CredentialsChain`]
//! asks for and waits in its own way (a thread sleep, a `Notify`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::{
    ChainStep, ChainTimeouts, CredentialsCache, CredentialsChain, Environment, ProxySettings,
    TrustSettings,
};
use personalize_events_core::Error;

/// The most steps one resolution of the chain may take (a guard, far above
/// any real chain).
pub const MAX_CHAIN_STEPS: usize = 256;

/// The settings of a default credentials chain: what to read and how long
/// each step and each wait may take. Cheap to clone (the environment is
/// shared).
///
/// `Debug` shows the environment's variable names only, never values.
#[derive(Clone)]
pub struct ChainSettings {
    env: Arc<Environment>,
    profile: Option<String>,
    region: Option<String>,
    timeouts: ChainTimeouts,
    wait: Duration,
    /// The proxies and the trust of the chain's own requests.
    network: Arc<(ProxySettings, TrustSettings)>,
}

impl fmt::Debug for ChainSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainSettings")
            .field("env", &self.env)
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("timeouts", &self.timeouts)
            .field("wait", &self.wait)
            .field("proxy", &self.network.0)
            .field("trust", &self.network.1)
            .finish()
    }
}

impl ChainSettings {
    /// The default wait for another caller's refresh (the default operation
    /// timeout, 30 s).
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

    /// Settings over an environment snapshot, with the default profile
    /// choice, region, step timeouts and wait, and the environment's
    /// network settings: its proxy variables, and `AWS_CA_BUNDLE` (else the
    /// system's trust store) for the chain's own https requests (STS, the
    /// SSO portal).
    pub fn new(env: Environment) -> Self {
        let trust = env
            .get("AWS_CA_BUNDLE")
            .filter(|p| !p.trim().is_empty())
            .map_or(TrustSettings::System, |p| {
                TrustSettings::Bundle(env.expand_home(p))
            });
        ChainSettings {
            network: Arc::new((ProxySettings::from_env(&env), trust)),
            env: Arc::new(env),
            profile: None,
            region: None,
            timeouts: ChainTimeouts::default(),
            wait: Self::DEFAULT_WAIT,
        }
    }

    /// The proxies and the trust of the chain's own requests, as the
    /// client's (a client builder passes its resolved ones: code, the
    /// environment, the profile's `ca_bundle`). Instance metadata and
    /// container endpoints are always reached directly
    /// ([`is_local_endpoint`](crate::is_local_endpoint)).
    pub fn network(mut self, proxy: ProxySettings, trust: TrustSettings) -> Self {
        self.network = Arc::new((proxy, trust));
        self
    }

    /// The proxies set with [`network`](Self::network).
    pub fn proxy_settings(&self) -> &ProxySettings {
        &self.network.0
    }

    /// Whom the chain's TLS trusts, set with [`network`](Self::network).
    pub fn trust_settings(&self) -> &TrustSettings {
        &self.network.1
    }

    /// Reads this profile instead of `AWS_PROFILE` / `default` (a blank name
    /// is ignored); like the CLI's `--profile`, the environment's keys and
    /// web identity variables are then skipped.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into()).filter(|p| !p.trim().is_empty());
        self
    }

    /// The region for STS calls (an empty one is ignored).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into()).filter(|r| !r.is_empty());
        self
    }

    /// Timeouts of the chain's steps.
    pub fn timeouts(mut self, timeouts: ChainTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// How long a caller waits while another one refreshes and no valid
    /// credentials are cached.
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// A transport's `DefaultCredentialsChain` as `Debug` shows it: these
    /// settings (variable names only) and `cache` (no secret).
    pub fn debug_chain(&self, cache: &CredentialsCache, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultCredentialsChain")
            .field("settings", self)
            .field("cache", cache)
            .finish_non_exhaustive()
    }

    /// The wait set with [`wait_timeout`](Self::wait_timeout).
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The environment snapshot the chain reads.
    pub fn environment(&self) -> &Environment {
        &self.env
    }

    /// A new run of the chain, from its first source.
    pub fn chain(&self) -> CredentialsChain {
        let chain = CredentialsChain::new(&self.env, self.profile.as_deref())
            .with_region(self.region.as_deref())
            .with_timeouts(self.timeouts);
        tracing::debug!(profile = chain.profile_name(), "resolving credentials");
        chain
    }

    /// Takes the chain's first step, which needs no IO: static credentials
    /// from the environment go into the cache now, and incomplete ones are
    /// an error now rather than at the first call. Any other first step
    /// leaves the cache empty, to be filled at the first call.
    ///
    /// # Errors
    ///
    /// `Error::Credentials` when the environment's credentials are
    /// incomplete (e.g. a key id without its secret).
    pub fn prepare(self, now: SystemTime) -> Result<PreparedChain, Error> {
        let cache = match self.chain().poll(now) {
            ChainStep::Done(Ok(c)) => CredentialsCache::with_credentials(c),
            ChainStep::Done(Err(e)) => return Err(e),
            _ => CredentialsCache::new(),
        };
        Ok(PreparedChain {
            settings: self,
            cache,
        })
    }
}

/// Chain settings with a cache filled by [`ChainSettings::prepare`]: what a
/// transport needs to make its `DefaultCredentialsChain`.
#[derive(Debug, Clone)]
pub struct PreparedChain {
    /// The settings.
    pub settings: ChainSettings,
    /// The cache, holding the environment's static credentials if any.
    pub cache: CredentialsCache,
}

/// The error of a caller that waited `wait` for another caller's refresh
/// and saw none finish.
pub fn refresh_wait_expired(source_name: &str, wait: Duration) -> Error {
    Error::Credentials {
        source_name: source_name.to_string(),
        message: format!(
            "another call has been refreshing the credentials for more than {} ms",
            wait.as_millis()
        ),
    }
}

/// The error of a chain run that did not end within [`MAX_CHAIN_STEPS`].
pub fn chain_steps_exhausted() -> Error {
    Error::Config(format!(
        "credentials chain: not done after {MAX_CHAIN_STEPS} steps"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn prepare_takes_env_credentials_without_io() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let env = Environment::from_vars([
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ]);
        let p = ChainSettings::new(env).prepare(now).unwrap();
        assert_eq!(p.cache.current().unwrap().access_key_id(), "AKIDENV");
        let env = Environment::from_vars([("AWS_ACCESS_KEY_ID", "AKIDENV")]);
        let e = ChainSettings::new(env).prepare(now).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let p = ChainSettings::new(Environment::default())
            .prepare(now)
            .unwrap();
        assert!(p.cache.current().is_none());
    }

    #[test]
    fn network_from_the_environment_unless_given() {
        let s = ChainSettings::new(Environment::from_vars([
            ("HOME", "/home/u"),
            ("AWS_CA_BUNDLE", "~/corp.pem"),
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ]));
        assert_eq!(
            s.trust_settings(),
            &TrustSettings::Bundle("/home/u/corp.pem".into())
        );
        assert_eq!(
            s.proxy_settings().for_scheme("https"),
            Some("http://proxy.corp:3128")
        );
        let s = s.network(ProxySettings::none(), TrustSettings::WebPki);
        assert!(s.proxy_settings().is_direct());
        assert_eq!(s.trust_settings(), &TrustSettings::WebPki);
    }

    #[test]
    fn setters_ignore_blank_values_and_debug_hides_values() {
        let s = ChainSettings::new(Environment::from_vars([(
            "AWS_SECRET_ACCESS_KEY",
            "hidden",
        )]))
        .profile("  ")
        .region("")
        .wait_timeout(Duration::from_millis(7));
        assert_eq!(s.profile, None);
        assert_eq!(s.region, None);
        assert_eq!(s.wait(), Duration::from_millis(7));
        assert_eq!(s.trust_settings(), &TrustSettings::System);
        let d = format!("{s:?}");
        assert!(
            !d.contains("hidden") && d.contains("AWS_SECRET_ACCESS_KEY"),
            "{d}"
        );
        let e = refresh_wait_expired("credentials cache", Duration::from_millis(100));
        assert!(e.to_string().contains("more than 100 ms"), "{e}");
    }
}
