//! What a transport's `DefaultCredentialsChain` shares with the other
//! transport's, written once: the log lines of a chain run and of a
//! refresh, the process's environment snapshot, and the chain's public setters
//! ([`chain_setters!`](crate::chain_setters)).
//!
//! Logging is through `tracing` (never IO of this crate's own: the
//! subscriber is the program's).

use std::sync::{Arc, OnceLock};

use personalize_events_core::{Credentials, Error, TransportErrorKind};

use crate::{
    is_local_endpoint, ChainSettings, ChainStep, Environment, ProxySettings, RefreshOutcome,
    TrustSettings,
};

impl Environment {
    /// A snapshot of this process's environment, read now (variables that
    /// are not UTF-8 are left out).
    pub fn from_process() -> Self {
        Environment::from_os_vars(std::env::vars_os())
    }
}

impl ChainStep {
    /// Logs the step at trace level: what it reads, sends or runs, never a
    /// secret (no file contents, headers, bodies or command line).
    /// [`CredentialsChain::poll`](crate::CredentialsChain::poll) logs each
    /// step it gives.
    pub(crate) fn trace(&self) {
        match self {
            ChainStep::ReadFile(path) => {
                tracing::trace!(path = %path.display(), "credentials chain reads a file")
            }
            ChainStep::Http { request, .. } => tracing::trace!(
                method = %request.method(),
                uri = %request.uri(),
                "credentials chain sends a request"
            ),
            ChainStep::RunProcess { .. } => {
                tracing::trace!("credentials chain runs credential_process")
            }
            ChainStep::WriteFile { path, .. } => {
                tracing::trace!(path = %path.display(), "credentials chain writes a file")
            }
            ChainStep::Done(_) => {}
        }
    }
}

impl RefreshOutcome {
    /// Logs how a refresh ended: a warning when the old credentials were
    /// kept after a failure.
    pub fn log(&self) {
        match self {
            RefreshOutcome::KeptOld(e) => tracing::warn!(error = %e, "{self}"),
            RefreshOutcome::Replaced => tracing::debug!("{self}"),
            RefreshOutcome::Stored | RefreshOutcome::Failed => {}
        }
    }
}

/// Logs the end of a chain run, and passes its result on.
pub fn log_resolved(result: Result<Credentials, Error>) -> Result<Credentials, Error> {
    match &result {
        Ok(c) => tracing::debug!(expires = c.expires_at().is_some(), "credentials resolved"),
        Err(e) => tracing::debug!(error = %e, "no credentials"),
    }
    result
}

/// The two HTTP clients of a transport's chain, made at its first request
/// (a chain that never sends one, keys in the environment, never loads the
/// trust store): one for loopback and link-local endpoints (instance
/// metadata, containers), reached directly, and one for the others (STS,
/// the SSO portal), through the proxy for https if any; both trusting the
/// chain's CAs. Clones share them.
pub struct ChainClients<T> {
    made: Arc<OnceLock<Result<(T, T), String>>>,
    proxy: ProxySettings,
    trust: TrustSettings,
}

impl<T> Clone for ChainClients<T> {
    fn clone(&self) -> Self {
        ChainClients {
            made: Arc::clone(&self.made),
            proxy: self.proxy.clone(),
            trust: self.trust.clone(),
        }
    }
}

impl<T> ChainClients<T> {
    /// Clients for the proxies and trust of `settings`.
    pub fn new(settings: &ChainSettings) -> Self {
        ChainClients {
            made: Arc::new(OnceLock::new()),
            proxy: settings.proxy_settings().clone(),
            trust: settings.trust_settings().clone(),
        }
    }

    /// The client for `uri`, both made on first use with `make(proxy,
    /// trust)` (the direct one with `ProxySettings::none()`).
    ///
    /// # Errors
    ///
    /// `make`'s error (e.g. an unreadable CA bundle), as a transport error,
    /// at this and every later request.
    pub fn for_uri(
        &self,
        uri: &http::Uri,
        make: impl Fn(&ProxySettings, &TrustSettings) -> Result<T, Error>,
    ) -> Result<&T, Error> {
        let made = self.made.get_or_init(|| {
            let direct = make(&ProxySettings::none(), &self.trust).map_err(|e| e.to_string())?;
            let proxied = make(&self.proxy, &self.trust).map_err(|e| e.to_string())?;
            Ok((direct, proxied))
        });
        match made {
            Ok((direct, _)) if is_local_endpoint(uri) => Ok(direct),
            Ok((_, proxied)) => Ok(proxied),
            Err(e) => Err(Error::transport(TransportErrorKind::Other, e.clone())),
        }
    }
}

/// Expands, inside `impl DefaultCredentialsChain { .. }` of a transport,
/// the constructors and setters both transports' chains share. The chain
/// must have `fn from_prepared(PreparedChain) -> Self`,
/// `fn with(self, f: impl FnOnce(ChainSettings) -> ChainSettings) -> Self`
/// and `fn cache(&self) -> &CredentialsCache`.
#[doc(hidden)]
#[macro_export]
macro_rules! chain_setters {
    () => {
        /// A chain over this process's environment, read now.
        pub fn from_env() -> Self {
            Self::new($crate::Environment::from_process())
        }

        /// A chain over an environment snapshot (tests, or a program that
        /// builds its own). Its own requests (STS, the SSO portal) go through
        /// the snapshot's proxy variables and trust its `AWS_CA_BUNDLE`, else
        /// the system's store.
        pub fn new(env: $crate::Environment) -> Self {
            Self::from_prepared($crate::PreparedChain {
                settings: $crate::ChainSettings::new(env),
                cache: $crate::CredentialsCache::new(),
            })
        }

        /// Reads this profile instead of `AWS_PROFILE` / `default`; like the
        /// CLI's `--profile`, the environment's keys and web identity
        /// variables are then skipped.
        pub fn profile(self, name: impl Into<String>) -> Self {
            self.with(|s| s.profile(name))
        }

        /// The region for STS calls (else `AWS_REGION`, `AWS_DEFAULT_REGION`,
        /// the profile's `region`, or the global endpoint).
        pub fn region(self, region: impl Into<String>) -> Self {
            self.with(|s| s.region(region))
        }

        /// Timeouts of the chain's steps (instance metadata, container
        /// endpoint, STS, `credential_process`).
        pub fn timeouts(self, timeouts: $crate::ChainTimeouts) -> Self {
            self.with(|s| s.timeouts(timeouts))
        }

        /// Forgets the cached credentials, so that the next call resolves
        /// them again.
        pub fn invalidate(&self) {
            self.cache().invalidate();
        }

        /// How many times the chain has stored new credentials.
        pub fn refreshes(&self) -> u64 {
            self.cache().generation()
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_environment() {
        // Whatever the process has, the snapshot has the same variables.
        let env = Environment::from_process();
        if let Ok(path) = std::env::var("PATH") {
            assert_eq!(env.get("PATH"), Some(path.trim()).filter(|p| !p.is_empty()));
        }
    }
}
