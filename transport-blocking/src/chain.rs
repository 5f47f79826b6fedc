//! The default credentials chain driven with blocking IO, and its cache.
//!
//! The chain itself (which sources, in which order, what they answer) is
//! the core's sans-IO [`CredentialsChain`]; this module only performs the
//! IO it asks for: files with `std::fs`, HTTP with a ureq agent (one
//! attempt, the step's timeout), a `credential_process` with
//! `std::process` (`run_process`, shared with the async client; killed
//! when its time is up).

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::{Credentials, Error, USER_AGENT_VALUE};
use personalize_events_credentials::{
    chain_steps_exhausted, log_resolved, refresh_wait_expired, run_process, CacheLookup,
    ChainClients, ChainSettings, ChainStep, CredentialsCache, FileError, PreparedChain,
    ProxySettings, TrustSettings, MAX_CHAIN_STEPS,
};

/// A blocking call is never cancelled while it runs a `credential_process`.
static NEVER: AtomicBool = AtomicBool::new(false);

/// The refreshes that have ended, counted for the callers waiting for
/// one: the cache's waker counts and wakes them, so they wait on the
/// condition variable instead of polling.
#[derive(Default)]
struct Ended {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Ended {
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until a refresh ends after `seen` was read, or `deadline`.
    fn wait_past(&self, seen: u64, deadline: Instant) {
        let wait = deadline.saturating_duration_since(Instant::now());
        let g = self.lock();
        drop(self.changed.wait_timeout_while(g, wait, |c| *c == seen));
    }
}

/// The default credentials chain of the AWS CLI and SDKs, with the
/// credentials it finds cached and refreshed ahead of expiry.
///
/// Sources, in order: the environment (`AWS_ACCESS_KEY_ID`, ...), web
/// identity (`AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`), the
/// profile of the shared files (static keys, `credential_process`,
/// `role_arn` with `source_profile` / `credential_source` /
/// `web_identity_token_file`), ECS / EKS container credentials and EC2
/// instance metadata (IMDSv2). See
/// [`personalize_events_credentials::CredentialsChain`].
///
/// Temporary credentials are refreshed 5 minutes before they expire, by one
/// caller only, even when many threads need them at the same moment: the
/// others keep using the old credentials while they are valid, or wait (at
/// most [`wait_timeout`](Self::wait_timeout)). Clones share the cache.
///
/// [`ClientBuilder::with_env`](crate::ClientBuilder::with_env) uses it
/// when no credentials are given in code; it can also be given explicitly:
///
/// ```no_run
/// use personalize_events_blocking::{Client, DefaultCredentialsChain};
///
/// let chain = DefaultCredentialsChain::from_env().profile("analytics");
/// let client = Client::builder()
///     .region("eu-west-1")
///     .credentials_provider(move || chain.provide())
///     .build()?;
/// # Ok::<(), personalize_events_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct DefaultCredentialsChain {
    /// What to read, step timeouts, the wait, proxies and trust.
    settings: ChainSettings,
    cache: CredentialsCache,
    ended: Arc<Ended>,
    io: ChainIo,
}

impl fmt::Debug for DefaultCredentialsChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.debug_chain(&self.cache, f)
    }
}

impl DefaultCredentialsChain {
    /// A chain with these settings and this cache (from the client builder).
    pub(crate) fn from_prepared(p: PreparedChain) -> Self {
        let ended = Arc::new(Ended::default());
        let e = ended.clone();
        p.cache.on_refresh_end(move || {
            *e.lock() += 1;
            e.changed.notify_all();
        });
        DefaultCredentialsChain {
            io: ChainIo::new(&p.settings),
            settings: p.settings,
            cache: p.cache,
            ended,
        }
    }

    /// Applies `f` to the settings.
    fn cache(&self) -> &CredentialsCache {
        &self.cache
    }

    personalize_events_credentials::chain_setters!();

    fn with(mut self, f: impl FnOnce(ChainSettings) -> ChainSettings) -> Self {
        self.settings = f(self.settings);
        self
    }

    /// How long a caller waits while another one refreshes and no valid
    /// credentials are cached (default 30 s); then it fails.
    pub fn wait_timeout(self, wait: Duration) -> Self {
        self.with(|s| s.wait_timeout(wait))
    }

    /// Credentials to sign with: the cached ones, or fresh ones when none
    /// are cached or they expire within 5 minutes.
    ///
    /// # Errors
    ///
    /// `Error::Credentials` naming the source and the reason when the chain
    /// finds no credentials or a configured source fails (and no valid
    /// credentials are cached), or when another caller's refresh takes
    /// longer than the wait timeout; `Error::Config` for a chain misuse.
    pub fn provide(&self) -> Result<Credentials, Error> {
        self.provide_before(None)
    }

    /// [`provide`](Self::provide) within a call's `deadline`: every step's
    /// timeout and the wait for another caller's refresh end by then.
    pub(crate) fn provide_before(
        &self,
        call_deadline: Option<Instant>,
    ) -> Result<Credentials, Error> {
        let wait = self.settings.wait();
        let waited = Instant::now() + wait;
        let deadline = call_deadline.map_or(waited, |d| d.min(waited));
        loop {
            // Read before looking, so that a refresh ending between the look
            // and the wait still ends the wait.
            let seen = *self.ended.lock();
            match self.cache.get(SystemTime::now()) {
                CacheLookup::Ready(c) => return Ok(c),
                CacheLookup::Refresh(ticket) => {
                    let result = self.resolve(call_deadline);
                    let (out, outcome) = ticket.finish(result, SystemTime::now());
                    outcome.log();
                    return out;
                }
                CacheLookup::Wait if Instant::now() >= deadline => {
                    return Err(refresh_wait_expired("credentials cache", wait));
                }
                CacheLookup::Wait => self.ended.wait_past(seen, deadline),
            }
        }
    }

    /// Runs the chain once, to the end or to `deadline`.
    fn resolve(&self, deadline: Option<Instant>) -> Result<Credentials, Error> {
        // A step's own timeout, cut at the deadline (a zero timeout is no
        // timeout to ureq: at least a millisecond).
        let within = |timeout: Duration| match deadline {
            Some(d) => timeout
                .min(d.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
            None => timeout,
        };
        let mut chain = self.settings.chain();
        for _ in 0..MAX_CHAIN_STEPS {
            match chain.poll(SystemTime::now()) {
                ChainStep::ReadFile(path) => {
                    chain.handle_file(&path, std::fs::read(&path).map_err(FileError::from));
                }
                ChainStep::Http { request, timeout } => {
                    chain.handle_http(self.io.send(request, within(timeout)));
                }
                ChainStep::RunProcess { command, timeout } => {
                    chain.handle_process(run_process(&command, within(timeout), &NEVER));
                }
                ChainStep::WriteFile { path, contents } => {
                    chain.handle_write(
                        &path,
                        std::fs::write(&path, contents).map_err(FileError::from),
                    );
                }
                ChainStep::Done(result) => return log_resolved(result),
            }
        }
        Err(chain_steps_exhausted())
    }
}

/// The HTTP side of the chain: ureq agents that report any status as a
/// response, with the client's trust and proxies (the chain's settings; see
/// [`ChainClients`]).
#[derive(Clone)]
struct ChainIo {
    agents: ChainClients<ureq::Agent>,
}

/// A ureq agent for the chain, through `proxy`, trusting `trust`.
fn chain_agent(proxy: &ProxySettings, trust: &TrustSettings) -> Result<ureq::Agent, Error> {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(crate::network::root_certs(trust)?)
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(USER_AGENT_VALUE)
        .max_idle_connections(4)
        .max_idle_connections_per_host(1)
        .proxy(crate::network::ureq_proxy(proxy, "https")?)
        .tls_config(tls)
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

impl ChainIo {
    fn new(settings: &ChainSettings) -> Self {
        ChainIo {
            agents: ChainClients::new(settings),
        }
    }

    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let agent = self.agents.for_uri(request.uri(), chain_agent)?;
        let request = agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .build();
        let response = agent.run(request).map_err(crate::transport::map_error)?;
        let (parts, body) = response.into_parts();
        let bytes = crate::transport::read_limited(
            body.into_reader(),
            personalize_events_credentials::MAX_ANSWER_BYTES,
        )?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}
