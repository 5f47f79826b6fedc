//! The async client: a pooled hyper 1 client driven by the core's `Call`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use personalize_events_core::{
    AnyInput, AnyOutput, ClientCore, Credentials, Error, Operation, Poll,
    PutActionInteractionsInput, PutActionInteractionsOutput, PutActionsInput, PutActionsOutput,
    PutEventsInput, PutEventsOutput, PutItemsInput, PutItemsOutput, PutUsersInput, PutUsersOutput,
    SendRequest,
};
use personalize_events_credentials::failure::Failure;
use personalize_events_credentials::{
    BuildMessages, ClientSettings, ConfigLoader, CredentialsSource, Environment, ProxySettings,
    TrustSettings,
};
use tracing::Instrument;

use crate::batcher::{Batcher, BatcherConfig};
use crate::chain::DefaultCredentialsChain;
use crate::credentials::ProvideCredentials;
use crate::error_map;
use crate::proxy::ProxyConnector;

/// How long an idle pooled connection is kept, by default.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// This transport's wording of the build errors naming its methods.
const MESSAGES: BuildMessages = BuildMessages {
    no_region: "no region: set one with ClientBuilder::region or AWS_REGION",
    no_credentials: "none given: set them with ClientBuilder::credentials or \
                     credentials_provider, or use ClientBuilder::from_env",
};

/// The default connector: rustls (ring; the system's roots, or a CA
/// bundle) over hyper-util's `HttpConnector`, through the environment's
/// proxy when one is set ([`ProxyConnector`]).
pub type DefaultConnector = HttpsConnector<ProxyConnector>;

type HttpClient<C> = hyper_util::client::legacy::Client<C, Full<Bytes>>;

/// Reads a body to its end, keeping at most `limit` bytes. A longer body is
/// cut (the decoder only needs its start; the connection is then dropped,
/// not reused): a 200 stays a success and an error keeps its status and
/// code, as in the blocking client.
pub(crate) async fn read_limited(
    mut body: hyper::body::Incoming,
    limit: usize,
) -> Result<Bytes, Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| error_map::from_body_error(&e))?;
        if let Ok(data) = frame.into_data() {
            let room = limit - out.len();
            if data.len() > room {
                out.extend_from_slice(&data[..room]);
                tracing::debug!(limit, "response body cut at the size limit");
                return Ok(Bytes::from(out));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// The core's clock, read from Tokio so that a paused test clock applies.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// An async client for Amazon Personalize Events.
///
/// Cheap to clone: clones share one connection pool, one retry quota, the
/// learnt clock skew and the signing-key cache. Every method validates its
/// input first (nothing is sent when it is bad), fills in missing event ids
/// (unless turned off), then sends, retrying transient failures as the AWS
/// standard retry mode does.
///
/// Dropping a call's future cancels the call: its connection is closed
/// rather than returned to the pool.
///
/// `C` is the connector; see [`ClientBuilder::build_with_connector`] to
/// bring your own (a proxy, custom TLS, plain HTTP).
pub struct Client<C = DefaultConnector> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    http: HttpClient<C>,
    /// `Proxy-Authorization` for plain-http requests through a proxy.
    proxy_auth: Option<http::HeaderValue>,
    core: ClientCore,
    credentials: Arc<dyn ProvideCredentials>,
}

impl<C> Clone for Client<C> {
    fn clone(&self) -> Self {
        Client {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.core.debug_client(f)
    }
}

impl Client {
    personalize_events_credentials::client_constructors!();
}

impl<C> Client<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn assemble(
        core: ClientCore,
        credentials: Arc<dyn ProvideCredentials>,
        connector: C,
        pool_idle_timeout: Duration,
        proxy_auth: Option<http::HeaderValue>,
    ) -> Self {
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(pool_idle_timeout)
            .build(connector);
        Client {
            inner: Arc::new(Inner {
                http,
                proxy_auth,
                core,
                credentials,
            }),
        }
    }

    /// The protocol core: configuration, retry quota, clock skew.
    pub fn core(&self) -> &ClientCore {
        &self.inner.core
    }

    /// Records events of one session (`PutEvents`).
    pub async fn put_events(&self, input: PutEventsInput) -> Result<PutEventsOutput, Error> {
        self.send(input).await
    }

    /// Adds or updates items of an Items dataset (`PutItems`).
    pub async fn put_items(&self, input: PutItemsInput) -> Result<PutItemsOutput, Error> {
        self.send(input).await
    }

    /// Adds or updates users of a Users dataset (`PutUsers`).
    pub async fn put_users(&self, input: PutUsersInput) -> Result<PutUsersOutput, Error> {
        self.send(input).await
    }

    /// Adds or updates actions of an Actions dataset (`PutActions`).
    pub async fn put_actions(&self, input: PutActionsInput) -> Result<PutActionsOutput, Error> {
        self.send(input).await
    }

    /// Records action interactions (`PutActionInteractions`).
    pub async fn put_action_interactions(
        &self,
        input: PutActionInteractionsInput,
    ) -> Result<PutActionInteractionsOutput, Error> {
        self.send(input).await
    }

    /// Sends any of the five inputs, chosen at run time.
    pub async fn send_any(&self, input: AnyInput) -> Result<AnyOutput, Error> {
        match input {
            AnyInput::PutEvents(i) => self.send(i).await.map(AnyOutput::PutEvents),
            AnyInput::PutItems(i) => self.send(i).await.map(AnyOutput::PutItems),
            AnyInput::PutUsers(i) => self.send(i).await.map(AnyOutput::PutUsers),
            AnyInput::PutActions(i) => self.send(i).await.map(AnyOutput::PutActions),
            AnyInput::PutActionInteractions(i) => {
                self.send(i).await.map(AnyOutput::PutActionInteractions)
            }
        }
    }

    /// A presigned request for `input`, valid for `expires_in` (1 s to 7
    /// days), that anyone holding it can send as it is (like boto3's
    /// `generate_presigned_url`): the signature is in the query, the body
    /// is the encoded input. Credentials are resolved as for a call (the
    /// provider, within the operation timeout); nothing is sent.
    ///
    /// With session credentials the query holds the session token, and
    /// aws-sigv4 traces that query at `TRACE`: keep target `aws_sigv4` at
    /// `DEBUG` or lower in your subscriber's filter.
    ///
    /// ```no_run
    /// # async fn f(client: personalize_events_hyper::Client) -> Result<(), personalize_events_hyper::Error> {
    /// use std::time::{Duration, SystemTime};
    /// use personalize_events_hyper::{Event, PutEventsInput};
    /// let input = PutEventsInput::new("tracking-id", "session-1")
    ///     .event(Event::new("click", SystemTime::now()).item_id("item-42"));
    /// let request = client.presign(&input, Duration::from_secs(300)).await?;
    /// assert!(request.uri().query().unwrap_or("").contains("X-Amz-Signature="));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The input's validation error, the credentials' error (a transport
    /// error of kind `Timeout` when resolving them outlasts the operation
    /// timeout), and `Error::Config` for an expiry out of range.
    pub async fn presign<I: Operation>(
        &self,
        input: &I,
        expires_in: Duration,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let core = &self.inner.core;
        let limit = core.config().timeouts.operation;
        let credentials = tokio::time::timeout(limit, self.inner.credentials.provide())
            .await
            .map_err(|_| presign_credentials_timeout(limit))??;
        core.presign(
            input,
            &credentials,
            SystemTime::now(),
            Some(expires_in),
            fastrand::u128(..),
        )
    }

    /// Sends one operation: what every `put_*` method does.
    pub async fn send<I: Operation>(&self, input: I) -> Result<I::Output, Error> {
        let span = personalize_events_credentials::call_span!(I, input);
        let (result, attempts) = self.drive(input).instrument(span.clone()).await;
        personalize_events_credentials::record_call(&span, attempts, result.as_ref().err());
        result
    }

    /// The send loop: the core decides, this only does what it says. Gives
    /// the result and the attempts made.
    async fn drive<I: Operation>(&self, input: I) -> (Result<I::Output, Error>, u32) {
        let inner = &*self.inner;
        let mut call = match inner.core.call(&input, now(), fastrand::u128(..)) {
            Ok(call) => call,
            Err(e) => return (Err(e), 0),
        };
        // Resolving credentials is part of the operation: its deadline
        // bounds it (a dropped provider future kills a credential_process
        // and hands a chain refresh over to a waiting call).
        let deadline = tokio::time::Instant::from_std(call.deadline());
        let mut credentials =
            match tokio::time::timeout_at(deadline, inner.credentials.provide()).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return (Err(call.credentials_failed(now(), Some(e))), 0),
                Err(_) => return (Err(call.credentials_failed(now(), None)), 0),
            };
        let result = loop {
            if credentials.needs_refresh(SystemTime::now()) {
                match tokio::time::timeout_at(deadline, inner.credentials.provide()).await {
                    Ok(Ok(c)) => credentials = c,
                    Ok(Err(e)) => tracing::warn!(error = %e, "refreshing credentials failed"),
                    // The next poll ends the call at its deadline.
                    Err(_) => tracing::warn!("refreshing credentials ran into the deadline"),
                }
            }
            match call.poll(now(), SystemTime::now(), &credentials, fastrand::f64()) {
                Poll::Send(send) => match self.attempt(send).await {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        let response = http::Response::from_parts(parts, &body[..]);
                        call.handle_response(now(), SystemTime::now(), response);
                    }
                    Err(e) => call.handle_transport_error(now(), e),
                },
                Poll::Wait(d) => tokio::time::sleep(d).await,
                Poll::Done(r) => break r,
            }
        };
        (result, call.attempts())
    }

    /// One attempt: send, then read the whole body, within the attempt's timeout.
    async fn attempt(&self, send: SendRequest) -> Result<http::Response<Bytes>, Error> {
        let span = personalize_events_credentials::attempt_span!(send);
        let timeout = send.timeout;
        let mut request = send.request.map(Full::new);
        if let Some(auth) = &self.inner.proxy_auth {
            (request.headers_mut()).insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let connection = hyper_util::client::legacy::connect::capture_connection(&mut request);
        let http = &self.inner.http;
        let exchange = async move {
            let response = http
                .request(request)
                .await
                .map_err(|e| error_map::from_client_error(&e))?;
            // After a transient server error the retry takes a new
            // connection: this one goes back to the pool poisoned (the core
            // decides which statuses). A timed-out or broken exchange is
            // dropped with its connection.
            if personalize_events_core::poisons_connection(response.status().as_u16()) {
                if let Some(c) = connection.connection_metadata().as_ref() {
                    c.poison();
                }
            }
            let (parts, body) = response.into_parts();
            let body = read_limited(body, personalize_events_core::MAX_RESPONSE_BYTES).await?;
            Ok(http::Response::from_parts(parts, body))
        };
        let result = match tokio::time::timeout(timeout, exchange.instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout.error(format!(
                "no complete response within {} ms",
                timeout.as_millis()
            ))),
        };
        personalize_events_credentials::record_attempt(&span, &result);
        match &result {
            Ok(r) => {
                tracing::debug!(parent: &span, status = r.status().as_u16(), "response");
            }
            Err(e) => tracing::debug!(parent: &span, error = %e, "transport failure"),
        }
        result
    }

    /// 128 random bits (fastrand's thread-local generator).
    pub(crate) fn entropy(&self) -> u128 {
        fastrand::u128(..)
    }

    /// A batcher sending records handed to it in calls of up to 10; see
    /// [`Batcher`]. Its background task runs on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn batcher(&self, config: BatcherConfig) -> Batcher {
        crate::batcher::spawn(self.clone(), config)
    }
}

/// Builds a [`Client`].
///
/// A region and credentials are required; everything else has defaults:
/// the region's `https` endpoint, the standard retry mode with 3 attempts,
/// timeouts of 3 s to connect, 10 s per attempt and 30 s per call.
///
/// [`ClientBuilder::from_env`] (or [`profile`](Self::profile) /
/// [`environment`](Self::environment)) takes what code does not set from
/// the environment and the shared config files, as the AWS CLI does;
/// values set in code always win.
#[derive(Clone)]
pub struct ClientBuilder {
    /// What both transports' builders share.
    settings: ClientSettings,
    credentials: Option<Arc<dyn ProvideCredentials>>,
    pool_idle_timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .field("credentials", &self.credentials)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        ClientBuilder {
            settings: ClientSettings::new(),
            credentials: None,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
        }
    }

    /// Applies `f` to the shared settings.
    fn with(mut self, f: impl FnOnce(ClientSettings) -> ClientSettings) -> Self {
        self.settings = f(self.settings);
        self
    }

    /// Static credentials (the credentials chain is then never used).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(Arc::new(credentials));
        self
    }

    /// A credentials provider, asked once per call (the credentials chain
    /// is then never used).
    pub fn credentials_provider(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.credentials = Some(Arc::new(provider));
        self
    }

    /// How long idle pooled connections are kept (default 30 s).
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = d;
        self
    }

    /// Resolves the settings (reading the config files when the
    /// environment is read): the core, the credentials, the pool's idle
    /// timeout, the proxies and the trust.
    fn parts(self) -> Result<Parts, Error> {
        let env = self.settings.environment_to_read(Environment::from_process);
        // The shared config files, read whole at build time (which may run
        // outside a runtime); a missing one is treated as absent.
        let files = (env.as_ref())
            .map(|e| ConfigLoader::read_files(e, |p| std::fs::read(p)))
            .unwrap_or_default();
        let built =
            (self.settings).build(env, &files, self.credentials, SystemTime::now(), &MESSAGES)?;
        let credentials: Arc<dyn ProvideCredentials> = match built.credentials {
            CredentialsSource::Given(c) => c,
            CredentialsSource::Chain(p) => Arc::new(DefaultCredentialsChain::from_prepared(p)),
        };
        let proxy =
            (built.proxy).unwrap_or_else(|| ProxySettings::from_env(&Environment::from_process()));
        Ok(Parts {
            core: built.core,
            credentials,
            idle: self.pool_idle_timeout,
            proxy,
            trust: built.trust,
        })
    }

    /// A client with the default connector: rustls with the ring provider,
    /// trusting the operating system's store (or a CA bundle, see
    /// [`ca_bundle`](Self::ca_bundle)), HTTP/1.1, `https` only unless the
    /// endpoint is an explicit `http://` URL, the connect timeout applied,
    /// through the environment's proxy when one applies to the endpoint
    /// (`CONNECT` for https, absolute-form requests for http).
    ///
    /// # Errors
    ///
    /// Those of the settings, and `Error::Config` when a CA bundle cannot
    /// be read or holds no certificate.
    pub fn build(self) -> Result<Client, Error> {
        let Parts {
            core,
            credentials,
            idle,
            proxy,
            trust,
        } = self.parts()?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(core.config().timeouts.connect));
        let tls = HttpsConnectorBuilder::new().with_tls_config(crate::tls::client_config(&trust)?);
        let tls = if core.config().endpoint.scheme() == "http" {
            tls.https_or_http()
        } else {
            tls.https_only()
        };
        let proxied = ProxyConnector::new(http, &proxy);
        let endpoint: http::Uri = (core.config().endpoint.url().parse())
            .map_err(|e| Error::Endpoint(format!("endpoint URL: {e}")))?;
        let proxy_auth = proxied.http_proxy_auth(&endpoint);
        let connector = tls.enable_http1().wrap_connector(proxied);
        Ok(Client::assemble(
            core,
            credentials,
            connector,
            idle,
            proxy_auth,
        ))
    }

    /// A client with your own connector (a proxy, custom TLS, plain HTTP to
    /// a local endpoint). The connect timeout is then the connector's
    /// business; the per-attempt timeout bounds connecting too.
    pub fn build_with_connector<C>(self, connector: C) -> Result<Client<C>, Error>
    where
        C: Connect + Clone + Send + Sync + 'static,
    {
        let p = self.parts()?;
        Ok(Client::assemble(
            p.core,
            p.credentials,
            connector,
            p.idle,
            None,
        ))
    }

    personalize_events_credentials::client_builder_setters!();
}

/// The error of credentials still not resolved when presigning's
/// `limit` (the operation timeout) passed.
fn presign_credentials_timeout(limit: Duration) -> Error {
    Error::transport(
        personalize_events_core::TransportErrorKind::Timeout,
        format!(
            "credentials not resolved within the operation timeout ({} ms)",
            limit.as_millis()
        ),
    )
}

/// What [`ClientBuilder::parts`] resolves.
#[derive(Debug)]
struct Parts {
    core: ClientCore,
    credentials: Arc<dyn ProvideCredentials>,
    idle: Duration,
    proxy: ProxySettings,
    trust: TrustSettings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use personalize_events_credentials::Environment;

    /// A builder over a snapshot without home directory (no files read).
    fn from_vars(pairs: &[(&str, &str)]) -> ClientBuilder {
        ClientBuilder::new().environment(Environment::from_vars(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    #[test]
    fn env_region_endpoint_and_credentials() {
        let b = from_vars(&[
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", "http://127.0.0.1:8"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        let core = b.parts().unwrap().core;
        assert_eq!(core.config().region, "eu-west-1");
        assert_eq!(core.config().endpoint.authority(), "127.0.0.1:8");
        assert_eq!(core.config().endpoint.scheme(), "http");

        let b = from_vars(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let core = b.parts().unwrap().core;
        assert_eq!(core.config().region, "us-west-2");
        assert_eq!(
            core.config().endpoint.url(),
            "https://personalize-events.us-west-2.amazonaws.com"
        );
    }

    #[test]
    fn missing_region_or_credentials_is_an_error() {
        let e = from_vars(&[("AWS_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "AKID")])
            .parts()
            .unwrap_err();
        assert!(matches!(e, Error::Credentials { .. }), "{e}");
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = ClientBuilder::new()
            .region("us-east-1")
            .parts()
            .unwrap_err();
        assert!(matches!(e, Error::Credentials { .. }), "{e}");
        let e = ClientBuilder::new()
            .credentials(Credentials::new("a", "b", None))
            .parts()
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        let e = ClientBuilder::new()
            .region("us-east-1")
            .credentials(Credentials::new("a", "b", None))
            .endpoint_url("ftp://example.com")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::Endpoint(_)), "{e}");
    }

    #[test]
    fn builds_outside_a_runtime_and_debug_hides_secrets() {
        let c = Client::builder()
            .region("us-east-1")
            .credentials(Credentials::new("AKID", "very-secret", Some("tok".into())))
            .build()
            .unwrap();
        let s = format!("{c:?}");
        assert!(
            s.contains("personalize-events.us-east-1.amazonaws.com"),
            "{s}"
        );
        assert!(!s.contains("very-secret"));
        let s = format!(
            "{:?}",
            ClientBuilder::new().credentials(Credentials::new("AKID", "very-secret", None))
        );
        assert!(!s.contains("very-secret"), "{s}");
    }

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync::<Client>();
        assert_send_sync::<Client<HttpConnector>>();
    }
}
