//! [`ClientBuilder`]: a client from code, from the environment and the
//! shared config files, or both.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use personalize_events_core::{Credentials, Error};
use personalize_events_credentials::{
    BuildMessages, ClientSettings, ConfigLoader, CredentialsSource, Environment, ProxySettings,
};

use crate::chain::DefaultCredentialsChain;
use crate::{Client, CredentialsProvider, Inner};

/// This transport's wording of the build errors naming its methods.
const MESSAGES: BuildMessages = BuildMessages {
    no_region: "no region: set one with ClientBuilder::region, or AWS_REGION with Client::from_env",
    no_credentials: "no credentials: set ClientBuilder::credentials or \
                     credentials_provider, or use Client::from_env",
};

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
    /// What both transports' builders share.
    settings: ClientSettings,
    credentials: Option<Arc<CredentialsProvider>>,
    max_response_body: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            settings: ClientSettings::new(),
            credentials: None,
            max_response_body: personalize_events_core::MAX_RESPONSE_BYTES,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "** provider **"),
            )
            .field("max_response_body", &self.max_response_body)
            .finish()
    }
}

impl ClientBuilder {
    /// Applies `f` to the shared settings.
    fn with(mut self, f: impl FnOnce(ClientSettings) -> ClientSettings) -> Self {
        self.settings = f(self.settings);
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
        self.credentials = Some(Arc::new(move |_deadline| provider()));
        self
    }

    /// The largest response body read (default 1 MiB); a longer one is cut.
    /// The service answers with small JSON documents.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
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
    /// value, a proxy URL that is malformed, a CA bundle that cannot be
    /// read or holds no certificate; `Error::Endpoint` when the endpoint cannot be resolved or the
    /// URL is malformed; `Error::Credentials` when no credentials were given
    /// without `with_env`, or the environment's are incomplete.
    pub fn build(self) -> Result<Client, Error> {
        let env = self.settings.environment_to_read(Environment::from_process);
        self.build_in(env)
    }

    pub(crate) fn build_in(self, env: Option<Environment>) -> Result<Client, Error> {
        // The shared config files, read whole at build time (which may run
        // outside a runtime); a missing one is treated as absent.
        let files = (env.as_ref())
            .map(|e| ConfigLoader::read_files(e, |p| std::fs::read(p)))
            .unwrap_or_default();
        let built =
            (self.settings).build(env, &files, self.credentials, SystemTime::now(), &MESSAGES)?;
        let credentials: Arc<CredentialsProvider> = match built.credentials {
            CredentialsSource::Given(c) => c,
            CredentialsSource::Chain(prepared) => {
                let chain = DefaultCredentialsChain::from_prepared(prepared);
                Arc::new(move |deadline| chain.provide_before(deadline))
            }
        };
        let core = built.core;
        let proxy =
            (built.proxy).unwrap_or_else(|| ProxySettings::from_env(&Environment::from_process()));
        let net = crate::network::Network::new(&proxy, core.config().endpoint.url(), &built.trust)?;
        let t = core.config().timeouts;
        let http = crate::transport::Http::new(
            built.https,
            core.user_agent(),
            t.connect,
            t.attempt,
            self.max_response_body,
            net,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                core,
                http,
                credentials,
            }),
        })
    }

    personalize_events_credentials::client_builder_setters!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let got = (c.inner.credentials)(None).unwrap();
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
