//! The setters both clients' `ClientBuilder`s share, written once.
//!
//! Each transport's builder holds a [`ClientSettings`](crate::ClientSettings)
//! beside its own knobs (its credentials provider type, its pool or body
//! limit) and expands [`client_builder_setters!`](crate::client_builder_setters)
//! inside its `impl ClientBuilder`, so that both crates offer the same
//! configuration surface with the same documentation; each `Client`
//! gets its two constructors from
//! [`client_constructors!`](crate::client_constructors).

/// Expands, inside `impl ClientBuilder { .. }` of a transport, the setters
/// every client builder shares, each forwarding to
/// [`ClientSettings`](crate::ClientSettings). The builder must have
/// `fn with(self, f: impl FnOnce(ClientSettings) -> ClientSettings) -> Self`
/// and implement `Default`.
#[doc(hidden)]
#[macro_export]
macro_rules! client_builder_setters {
    () => {
        /// A builder that takes from the environment and the shared config
        /// files, at [`build`](Self::build), what is not set in code: the
        /// same as `ClientBuilder::default().with_env()`.
        pub fn from_env() -> Self {
            Self::default().with_env()
        }

        /// Takes from the environment and the shared config files, at
        /// [`build`](Self::build), what was not set in code (values set in
        /// code always win), as the AWS CLI and SDKs do:
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
        /// * the CA bundle from `AWS_CA_BUNDLE`, then `ca_bundle`; the
        ///   application id from `AWS_SDK_UA_APP_ID`, then `sdk_ua_app_id`;
        /// * credentials, unless given in code, from the default chain
        ///   (`DefaultCredentialsChain`): environment keys, web identity, the
        ///   profile (keys, `credential_process`, assumed roles, IAM Identity
        ///   Center), container credentials, EC2 instance metadata. They are
        ///   resolved at the first call (static keys of the environment at
        ///   once), cached, and refreshed before they expire.
        ///
        /// Empty variables count as unset.
        pub fn with_env(self) -> Self {
            self.with($crate::ClientSettings::with_env)
        }

        /// Uses this environment snapshot instead of the process's (implies
        /// [`with_env`](Self::with_env)); for tests and programs that build
        /// their own, e.g.
        /// `Environment::from_vars([("AWS_REGION", "eu-west-1"), ("HOME", "/home/me")])`.
        pub fn environment(self, env: $crate::Environment) -> Self {
            self.with(|s| s.environment(env))
        }

        /// Reads this profile of the shared config files, like the CLI's
        /// `--profile` (implies [`with_env`](Self::with_env)): it wins over
        /// `AWS_PROFILE`, and the environment's credentials variables are
        /// then not used.
        pub fn profile(self, name: impl Into<String>) -> Self {
            self.with(|s| s.profile(name))
        }

        /// The region requests are signed for (and whose endpoint is used
        /// unless [`endpoint_url`](Self::endpoint_url) is set), e.g.
        /// `us-east-1`.
        pub fn region(self, region: impl Into<String>) -> Self {
            self.with(|s| s.region(region))
        }

        /// Sends to this URL instead of the region's endpoint, e.g. a local
        /// emulator at `http://127.0.0.1:8080`. Plain `http://` is accepted
        /// only here (and from `AWS_ENDPOINT_URL*`): a resolved endpoint is
        /// always https.
        pub fn endpoint_url(self, url: impl Into<String>) -> Self {
            self.with(|s| s.endpoint_url(url))
        }

        /// Uses the region's FIPS endpoint.
        pub fn use_fips(self, on: bool) -> Self {
            self.with(|s| s.use_fips(on))
        }

        /// Uses the region's dual-stack (IPv4 and IPv6) endpoint.
        pub fn use_dual_stack(self, on: bool) -> Self {
            self.with(|s| s.use_dual_stack(on))
        }

        /// Retry settings (attempts, backoff, mode). Clones of the client
        /// share one retry quota. Given here, they win over `max_attempts`
        /// and `retry_mode` from the environment or profile.
        pub fn retry_config(self, retry: $crate::__core::RetryConfig) -> Self {
            self.with(|s| s.retry_config(retry))
        }

        /// All timeouts at once: connect, per attempt (response body
        /// included) and per call.
        pub fn timeouts(self, timeouts: $crate::__core::Timeouts) -> Self {
            self.with(|s| s.timeouts(timeouts))
        }

        /// Connecting, TCP and TLS (default 3 s).
        pub fn connect_timeout(self, d: ::std::time::Duration) -> Self {
            self.with(|s| s.connect_timeout(d))
        }

        /// One attempt, from connecting to the last byte of the response
        /// (default 10 s).
        pub fn attempt_timeout(self, d: ::std::time::Duration) -> Self {
            self.with(|s| s.attempt_timeout(d))
        }

        /// The whole call, retries and backoff included (default 30 s).
        pub fn operation_timeout(self, d: ::std::time::Duration) -> Self {
            self.with(|s| s.operation_timeout(d))
        }

        /// Whether to give events and action interactions without an
        /// `eventId` one before the first attempt, so retries never count
        /// them twice (default true).
        pub fn fill_event_ids(self, on: bool) -> Self {
            self.with(|s| s.fill_event_ids(on))
        }

        /// Text appended to the `User-Agent` header, e.g. `my-tool/1.2`.
        pub fn user_agent_suffix(self, suffix: impl Into<String>) -> Self {
            self.with(|s| s.user_agent_suffix(suffix))
        }

        /// The application id sent in the `User-Agent` as `app/<id>`, so
        /// that a company's logs tell its programs apart. Wins over
        /// `AWS_SDK_UA_APP_ID` and the profile's `sdk_ua_app_id`, which are
        /// used otherwise (when the environment is read).
        pub fn app_id(self, id: impl Into<String>) -> Self {
            self.with(|s| s.app_id(id))
        }

        /// Timeouts of the credentials chain's steps: instance metadata
        /// (1 s), container endpoint (5 s), STS (10 s), `credential_process`
        /// (60 s).
        pub fn credentials_timeouts(self, timeouts: $crate::ChainTimeouts) -> Self {
            self.with(|s| s.credentials_timeouts(timeouts))
        }

        /// The proxies to go through, instead of the environment's
        /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (read
        /// even without [`with_env`](Self::with_env), as curl and the AWS
        /// SDKs do); `ProxySettings::none()` connects directly. They apply
        /// to the credentials chain's STS and SSO requests too.
        pub fn proxy(self, proxy: $crate::ProxySettings) -> Self {
            self.with(|s| s.proxy(proxy))
        }

        /// Whom TLS trusts, instead of `AWS_CA_BUNDLE`, the profile's
        /// `ca_bundle` or, by default, the operating system's trust store
        /// (the bundled Mozilla roots when it is empty); for the credentials
        /// chain's requests too.
        pub fn trust(self, trust: $crate::TrustSettings) -> Self {
            self.with(|s| s.trust(trust))
        }

        /// Trusts only the CAs of this PEM file, like `AWS_CA_BUNDLE` or the
        /// profile's `ca_bundle` (which it wins over).
        pub fn ca_bundle(self, path: impl Into<::std::path::PathBuf>) -> Self {
            self.with(|s| s.ca_bundle(path))
        }
    };
}

/// Expands, inside `impl Client { .. }` of a transport, the two
/// constructors every client shares: `builder()` and `from_env()`. The
/// transport's `ClientBuilder` must have `from_env()` (from
/// [`client_builder_setters!`](crate::client_builder_setters)) and
/// `build() -> Result<Client, Error>`.
#[doc(hidden)]
#[macro_export]
macro_rules! client_constructors {
    () => {
        /// A builder; see [`ClientBuilder`].
        pub fn builder() -> ClientBuilder {
            ClientBuilder::default()
        }

        /// A client configured from the environment and the shared config
        /// files, as the AWS CLI is: region, endpoint, FIPS / dual-stack,
        /// retries, and credentials from the default chain (see
        /// [`ClientBuilder::with_env`] for what is read, and to adjust it
        /// further).
        ///
        /// # Errors
        ///
        /// As [`ClientBuilder::build`]: no region, incomplete environment
        /// credentials, a malformed config file or endpoint. Credentials from
        /// other sources are resolved at the first call, whose error names
        /// the source and the reason.
        pub fn from_env() -> Result<Client, Error> {
            ClientBuilder::from_env().build()
        }
    };
}
