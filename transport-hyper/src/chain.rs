//! The default credentials chain driven with Tokio, and the single-flight
//! cache in front of it.
//!
//! The chain itself (which sources, in which order, what they answer) is
//! the core's sans-IO [`CredentialsChain`]; this module only performs the
//! IO it asks for: files with `tokio::fs`, HTTP with a hyper client (one
//! attempt, body collected, `tokio::time::timeout`), a
//! `credential_process` with the shared `run_process` on the blocking pool
//! (killed on timeout or when the future is dropped).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use personalize_events_core::{Credentials, Error, TransportErrorKind};
use personalize_events_credentials::{
    chain_steps_exhausted, log_resolved, refresh_wait_expired, run_process, CacheLookup,
    ChainClients, ChainSettings, ChainStep, CredentialsCache, FileError, PreparedChain,
    ProcessOutput, ProxySettings, TrustSettings, MAX_CHAIN_STEPS,
};
use tokio::sync::Notify;

use crate::credentials::{ProvideCredentials, ProvideCredentialsFuture};
use crate::error_map;
use crate::proxy::ProxyConnector;

/// The default wait for another caller's refresh (the default operation
/// timeout).
#[cfg(any(test, feature = "aws-config-adapter"))]
pub(crate) const DEFAULT_WAIT: Duration = ChainSettings::DEFAULT_WAIT;

/// Cached credentials refreshed by one caller at a time: the others use the
/// old credentials while they are valid, or wait on a [`Notify`] (at most
/// `wait`).
pub(crate) struct SingleFlight {
    cache: CredentialsCache,
    notify: Arc<Notify>,
    wait: Duration,
}

impl fmt::Debug for SingleFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("cache", &self.cache)
            .field("wait", &self.wait)
            .finish()
    }
}

impl SingleFlight {
    pub(crate) fn new(cache: CredentialsCache, wait: Duration) -> Self {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        // A refresh that ends (done, failed, cancelled or panicked) wakes the
        // waiters, one of which takes over when it did not finish.
        cache.on_refresh_end(move || n.notify_waiters());
        SingleFlight {
            cache,
            notify,
            wait,
        }
    }

    pub(crate) fn cache(&self) -> &CredentialsCache {
        &self.cache
    }

    /// Cached credentials, or the result of `refresh` run by this caller
    /// when it is its turn.
    pub(crate) async fn get<F, Fut>(&self, source: &str, refresh: F) -> Result<Credentials, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Credentials, Error>>,
    {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut refresh = Some(refresh);
        loop {
            // Registered before looking, so that a refresh ending between the
            // look and the wait still wakes this caller.
            let notified = self.notify.notified();
            match self.cache.get(SystemTime::now()) {
                CacheLookup::Ready(c) => return Ok(c),
                CacheLookup::Refresh(ticket) => {
                    let Some(refresh) = refresh.take() else {
                        return Err(Error::Config(format!(
                            "{source}: asked to refresh twice in one call"
                        )));
                    };
                    // Dropping this future drops the ticket, which wakes a
                    // waiter to take over.
                    let result = refresh().await;
                    let (out, outcome) = ticket.finish(result, SystemTime::now());
                    outcome.log();
                    return out;
                }
                CacheLookup::Wait => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return Err(refresh_wait_expired(source, self.wait));
                    }
                }
            }
        }
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
/// task only, even when many calls need them at the same moment: the others
/// keep using the old credentials while they are valid, or wait (at most
/// [`wait_timeout`](Self::wait_timeout)). Dropping the refreshing call's
/// future hands the refresh to a waiting one. Clones share the cache.
///
/// [`ClientBuilder::from_env`](crate::ClientBuilder::from_env) uses it when
/// no credentials are given in code; it can also be given explicitly:
///
/// ```no_run
/// use personalize_events_hyper::{Client, DefaultCredentialsChain};
///
/// let client = Client::builder()
///     .region("eu-west-1")
///     .credentials_provider(DefaultCredentialsChain::from_env().profile("analytics"))
///     .build()?;
/// # Ok::<(), personalize_events_hyper::Error>(())
/// ```
#[derive(Clone)]
pub struct DefaultCredentialsChain {
    /// What to read, step timeouts, the wait, proxies and trust.
    settings: ChainSettings,
    flight: Arc<SingleFlight>,
    http: ChainHttp,
}

impl fmt::Debug for DefaultCredentialsChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.debug_chain(self.flight.cache(), f)
    }
}

impl DefaultCredentialsChain {
    /// A chain with these settings and this cache (from the client builder).
    pub(crate) fn from_prepared(p: PreparedChain) -> Self {
        DefaultCredentialsChain {
            flight: Arc::new(SingleFlight::new(p.cache, p.settings.wait())),
            http: ChainHttp::new(&p.settings),
            settings: p.settings,
        }
    }

    /// Applies `f` to the settings.
    fn cache(&self) -> &CredentialsCache {
        self.flight.cache()
    }

    personalize_events_credentials::chain_setters!();

    fn with(mut self, f: impl FnOnce(ChainSettings) -> ChainSettings) -> Self {
        self.settings = f(self.settings);
        self
    }

    /// How long a call waits while another one refreshes and no valid
    /// credentials are cached (default 30 s); then it fails. Set it before
    /// cloning: clones made earlier keep their wait (they share the cache).
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.flight = Arc::new(SingleFlight {
            cache: self.flight.cache.clone(),
            notify: self.flight.notify.clone(),
            wait,
        });
        self.with(|s| s.wait_timeout(wait))
    }

    /// Runs the chain once, to the end.
    async fn resolve(&self) -> Result<Credentials, Error> {
        let mut chain = self.settings.chain();
        for _ in 0..MAX_CHAIN_STEPS {
            match chain.poll(SystemTime::now()) {
                ChainStep::ReadFile(path) => {
                    let r = tokio::fs::read(&path).await.map_err(FileError::from);
                    chain.handle_file(&path, r);
                }
                ChainStep::Http { request, timeout } => {
                    chain.handle_http(self.http.send(request, timeout).await);
                }
                ChainStep::RunProcess { command, timeout } => {
                    chain.handle_process(run_process_async(command, timeout).await);
                }
                ChainStep::WriteFile { path, contents } => {
                    let r = tokio::fs::write(&path, contents)
                        .await
                        .map_err(FileError::from);
                    chain.handle_write(&path, r);
                }
                ChainStep::Done(result) => return log_resolved(result),
            }
        }
        Err(chain_steps_exhausted())
    }
}

impl ProvideCredentials for DefaultCredentialsChain {
    fn provide(&self) -> ProvideCredentialsFuture<'_> {
        Box::pin(self.flight.get("credentials cache", || self.resolve()))
    }
}

/// The HTTP side of the chain: hyper clients keeping no idle connection,
/// with the client's trust and proxies (the chain's settings; see
/// [`ChainClients`]).
#[derive(Clone)]
struct ChainHttp {
    clients: ChainClients<HyperClient>,
}

type HyperClient = hyper_util::client::legacy::Client<HttpsConnector<ProxyConnector>, Full<Bytes>>;

/// A hyper client for the chain, through `proxy`, trusting `trust`.
fn chain_client(proxy: &ProxySettings, trust: &TrustSettings) -> Result<HyperClient, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(crate::tls::client_config(trust)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(ProxyConnector::new(http, proxy));
    Ok(
        hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_max_idle_per_host(0)
            .build(connector),
    )
}

impl ChainHttp {
    fn new(settings: &ChainSettings) -> Self {
        ChainHttp {
            clients: ChainClients::new(settings),
        }
    }

    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let client = self.clients.for_uri(request.uri(), chain_client)?;
        let request = request.map(|b| Full::new(Bytes::from(b)));
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| error_map::from_client_error(&e))?;
            let (parts, body) = response.into_parts();
            // Cut like every answer the client reads; a cut answer fails to
            // parse and the error names the source.
            let body =
                crate::client::read_limited(body, personalize_events_credentials::MAX_ANSWER_BYTES)
                    .await?;
            Ok(http::Response::from_parts(parts, body.to_vec()))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(Error::transport(
                TransportErrorKind::Timeout,
                format!("no complete response within {} ms", timeout.as_millis()),
            )),
        }
    }
}

/// Runs `command` with the shared [`run_process`] on Tokio's blocking pool
/// (no `tokio::process`, so the program's runtime needs no signal driver);
/// killed when its `timeout` passes or (within 20 ms) when this future is
/// dropped.
async fn run_process_async(command: String, timeout: Duration) -> Result<ProcessOutput, Error> {
    /// Tells the blocking run to kill the process when the future is dropped.
    struct CancelOnDrop(Arc<AtomicBool>);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    // Held to the end of this future, dropped with it.
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let cancelled = Arc::clone(&cancel.0);
    tokio::task::spawn_blocking(move || run_process(&command, timeout, &cancelled))
        .await
        .map_err(|e| {
            Error::transport(
                TransportErrorKind::Other,
                format!("credential_process runner failed: {e}"),
            )
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn temp(n: u32, secs: u64) -> Credentials {
        Credentials::new(format!("AK{n}"), "SECRET", Some("TOKEN".into()))
            .with_expiry(SystemTime::now() + Duration::from_secs(secs))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_refresh_once() {
        let flight = Arc::new(SingleFlight::new(CredentialsCache::new(), DEFAULT_WAIT));
        let refreshes = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let flight = flight.clone();
            let refreshes = refreshes.clone();
            tasks.push(tokio::spawn(async move {
                flight
                    .get("test", || async {
                        refreshes.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(temp(1, 3600))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap().access_key_id(), "AK1");
        }
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn cancelled_refresh_hands_over_to_a_waiter() {
        let flight = Arc::new(SingleFlight::new(CredentialsCache::new(), DEFAULT_WAIT));
        let f = flight.clone();
        let stuck = tokio::spawn(async move {
            f.get("test", std::future::pending::<Result<Credentials, Error>>)
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let f = flight.clone();
        let waiter =
            tokio::spawn(async move { f.get("test", || async { Ok(temp(2, 3600)) }).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        stuck.abort();
        let c = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter took over")
            .unwrap()
            .unwrap();
        assert_eq!(c.access_key_id(), "AK2");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_is_bounded() {
        let flight = Arc::new(SingleFlight::new(
            CredentialsCache::new(),
            Duration::from_millis(100),
        ));
        let f = flight.clone();
        let _stuck = tokio::spawn(async move {
            f.get("test", std::future::pending::<Result<Credentials, Error>>)
                .await
        });
        tokio::task::yield_now().await;
        let e = flight
            .get("credentials cache", || async { Ok(temp(3, 3600)) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("more than 100 ms"), "{e}");
    }
}
