//! One interface over every way of sending a call, so that a behaviour
//! both clients must share is written once and run against each: the
//! blocking client (ureq), the async client (hyper, its calls run on a
//! runtime of their own from plain `#[test]`s), and core's [`Call`] driven
//! directly against a [`FakeService`]'s handler, in-process and on a
//! virtual clock (for retry decisions, with no transport in between).
//!
//! [`client_tests!`](crate::client_tests) turns a scenario
//! `fn(Kind)` into one `#[test]` per kind.
//!
//! [`Call`]: personalize_events_core::Call

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::{
    AnyInput, AnyOutput, ClientConfig, ClientCore, Credentials, Error, Operation, Poll,
    PutActionInteractionsInput, PutActionInteractionsOutput, PutActionsInput, PutActionsOutput,
    PutEventsInput, PutEventsOutput, PutItemsInput, PutItemsOutput, PutUsersInput, PutUsersOutput,
    RetryConfig, Timeouts, TransportErrorKind,
};

use personalize_events_credentials::Environment;

use crate::fake_service::{action_of, Action, Answerer, FakeService};

/// Which way a call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The blocking client on ureq.
    Blocking,
    /// The async client on hyper.
    Async,
    /// Core's `Call` state machine, driven in-process (no sockets, a
    /// virtual clock).
    Call,
}

/// Runs a scenario `fn(Kind)` once per kind, each as its own `#[test]`:
/// `client_tests!([blocking, async, call]: a, b)` makes `a::blocking`,
/// `a::async_client`, `a::call`, and the same for `b` (name only the kinds
/// the scenarios hold for).
#[macro_export]
macro_rules! client_tests {
    (@kind blocking $f:ident) => {
        #[test]
        fn blocking() {
            super::$f($crate::clients::Kind::Blocking)
        }
    };
    (@kind async $f:ident) => {
        #[test]
        fn async_client() {
            super::$f($crate::clients::Kind::Async)
        }
    };
    (@kind call $f:ident) => {
        #[test]
        fn call() {
            super::$f($crate::clients::Kind::Call)
        }
    };
    (@fn [$($kind:tt),+] $f:ident) => {
        mod $f {
            $( $crate::client_tests!(@kind $kind $f); )+
        }
    };
    ($kinds:tt : $($f:ident),+ $(,)?) => {
        $( $crate::client_tests!(@fn $kinds $f); )+
    };
}

/// A runtime for the async client, used from plain `#[test]`s.
pub fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime"),
    )
}

/// Any of the three, with the same blocking interface. Clones share what
/// the client's clones share (pool, retry quota).
#[derive(Clone)]
pub enum AnyClient {
    /// The blocking client on ureq.
    Blocking(personalize_events_blocking::Client),
    /// The async client on hyper, with the runtime its calls run on.
    Async(
        personalize_events_hyper::Client,
        Arc<tokio::runtime::Runtime>,
    ),
    /// Core's `Call` driven against a fake service's handler.
    Call(Box<CallDriver>),
}

/// How to build a client for a test.
#[derive(Clone)]
pub struct Settings {
    /// `None` for the region's own (https) endpoint.
    pub endpoint: Option<String>,
    /// The credentials it signs with.
    pub credentials: Credentials,
    /// Retries.
    pub retry: RetryConfig,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Fill in missing event ids.
    pub fill_event_ids: bool,
    /// When set, credentials come from this environment's chain (profiles,
    /// `credential_process`, ...) instead of `credentials`.
    pub environment: Option<Environment>,
}

impl Settings {
    /// Fast retries (1 ms backoff), 3 attempts, 2 s per attempt, 10 s per call.
    pub fn new(endpoint: &str, credentials: Credentials) -> Self {
        Settings {
            endpoint: Some(endpoint.to_owned()),
            credentials,
            retry: RetryConfig::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(20)),
            timeouts: Timeouts::default()
                .with_connect(Duration::from_secs(2))
                .with_attempt(Duration::from_secs(2))
                .with_operation(Duration::from_secs(10)),
            fill_event_ids: true,
            environment: None,
        }
    }

    /// Settings for `server` with its credentials.
    pub fn for_server(server: &FakeService) -> Self {
        Settings::new(&server.url(), crate::fake_service::credentials())
    }

    /// Other retry settings.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Other timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Other credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// At most `n` attempts.
    pub fn attempts(mut self, n: u32) -> Self {
        self.retry = self.retry.with_max_attempts(n);
        self
    }

    /// This timeout per attempt.
    pub fn attempt_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_attempt(d);
        self
    }

    /// This timeout per call, retries included.
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.timeouts = self.timeouts.with_operation(d);
        self
    }

    /// Credentials from `env`'s chain instead of static ones.
    pub fn environment(mut self, env: Environment) -> Self {
        self.environment = Some(env);
        self
    }

    /// Whether missing event ids are filled in.
    pub fn fill_event_ids(mut self, on: bool) -> Self {
        self.fill_event_ids = on;
        self
    }

    /// The blocking client.
    pub fn blocking(&self) -> AnyClient {
        AnyClient::Blocking(self.blocking_builder().build().expect("a blocking client"))
    }

    /// The blocking client's builder, for what only it has.
    pub fn blocking_builder(&self) -> personalize_events_blocking::ClientBuilder {
        let mut b = personalize_events_blocking::Client::builder().region("us-east-1");
        b = match &self.environment {
            Some(env) => b.environment(env.clone()),
            None => b.credentials(self.credentials.clone()),
        };
        let mut b = b
            .retry_config(self.retry.clone())
            .timeouts(self.timeouts)
            .fill_event_ids(self.fill_event_ids);
        if let Some(url) = &self.endpoint {
            b = b.endpoint_url(url.clone());
        }
        b
    }

    /// The async client, its calls run on `rt`.
    pub fn hyper(&self, rt: Arc<tokio::runtime::Runtime>) -> AnyClient {
        AnyClient::Async(self.hyper_client(), rt)
    }

    /// The async client itself.
    pub fn hyper_client(&self) -> personalize_events_hyper::Client {
        let mut b = personalize_events_hyper::Client::builder().region("us-east-1");
        b = match &self.environment {
            Some(env) => b.environment(env.clone()),
            None => b.credentials(self.credentials.clone()),
        };
        let mut b = b
            .retry_config(self.retry.clone())
            .timeouts(self.timeouts)
            .fill_event_ids(self.fill_event_ids);
        if let Some(url) = &self.endpoint {
            b = b.endpoint_url(url.clone());
        }
        b.build().expect("an async client")
    }

    /// Core's `Call`, answered by `server`'s handler in-process.
    pub fn call(&self, server: &FakeService) -> AnyClient {
        let mut config = ClientConfig::for_region("us-east-1").expect("us-east-1 resolves");
        config.retry = self.retry.clone();
        config.timeouts = self.timeouts;
        config.fill_event_ids = self.fill_event_ids;
        AnyClient::Call(Box::new(CallDriver {
            core: ClientCore::new(config).expect("a client core"),
            credentials: self.credentials.clone(),
            server: server.answerer(),
        }))
    }

    /// The client of `kind`; `server` answers the `Call` kind.
    pub fn build(&self, kind: Kind, server: &FakeService) -> AnyClient {
        match kind {
            Kind::Blocking => self.blocking(),
            Kind::Async => self.hyper(runtime()),
            Kind::Call => self.call(server),
        }
    }

    /// Both clients, blocking first.
    pub fn both(&self) -> [AnyClient; 2] {
        [self.blocking(), self.hyper(runtime())]
    }
}

/// Core's `Call` driven to its end against a fake service, on a virtual
/// clock that starts now and moves only by the waits the call asks for and
/// the time answers take.
#[derive(Clone)]
pub struct CallDriver {
    core: ClientCore,
    credentials: Credentials,
    server: Answerer,
}

impl CallDriver {
    fn send<I: Operation>(&self, input: &I) -> Result<I::Output, Error> {
        static SEQ: AtomicU64 = AtomicU64::new(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let entropy = nanos ^ (u128::from(SEQ.fetch_add(1, Ordering::SeqCst)) << 64);
        let start = Instant::now();
        let wall0 = SystemTime::now();
        let mut now = start;
        let mut call = self.core.call(input, now, entropy)?;
        // Bounded: every attempt or wait moves the clock, and the deadline ends the call.
        for _ in 0..10_000 {
            let wall = wall0 + (now - start);
            match call.poll(now, wall, &self.credentials, 1.0) {
                Poll::Done(r) => return r,
                Poll::Wait(d) => now += d.max(Duration::from_micros(1)),
                Poll::Send(s) => {
                    let resp = self.server.answer(s.request.map(Vec::from));
                    let timed_out = |now: &mut Instant| {
                        *now += s.timeout;
                        Error::transport(TransportErrorKind::Timeout, "attempt timed out")
                    };
                    match action_of(&resp) {
                        Action::Delay(d) if d >= s.timeout => {
                            let e = timed_out(&mut now);
                            call.handle_transport_error(now, e);
                        }
                        Action::Delay(d) => {
                            now += d;
                            let (parts, body) = resp.into_parts();
                            let wall = wall0 + (now - start);
                            call.handle_response(
                                now,
                                wall,
                                http::Response::from_parts(parts, body.as_slice()),
                            );
                        }
                        Action::Reset => call.handle_transport_error(
                            now,
                            Error::transport(
                                TransportErrorKind::Io,
                                "connection closed before an answer",
                            ),
                        ),
                        Action::Stall(d) if d >= s.timeout => {
                            let e = timed_out(&mut now);
                            call.handle_transport_error(now, e);
                        }
                        Action::Stall(d) => {
                            now += d;
                            call.handle_transport_error(
                                now,
                                Error::transport(
                                    TransportErrorKind::Io,
                                    "connection closed before an answer",
                                ),
                            );
                        }
                    }
                }
            }
        }
        panic!("the call did not end within 10000 steps");
    }
}

impl AnyClient {
    /// `blocking`, `async` or `call`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyClient::Blocking(_) => "blocking",
            AnyClient::Async(..) => "async",
            AnyClient::Call(_) => "call",
        }
    }

    /// Which kind it is.
    pub fn kind(&self) -> Kind {
        match self {
            AnyClient::Blocking(_) => Kind::Blocking,
            AnyClient::Async(..) => Kind::Async,
            AnyClient::Call(_) => Kind::Call,
        }
    }

    /// The shared core (retry quota, configuration).
    pub fn core(&self) -> &ClientCore {
        match self {
            AnyClient::Blocking(c) => c.core(),
            AnyClient::Async(c, _) => c.core(),
            AnyClient::Call(d) => &d.core,
        }
    }

    /// `PutEvents`.
    pub fn put_events(&self, input: PutEventsInput) -> Result<PutEventsOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_events(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_events(input)),
            AnyClient::Call(d) => d.send(&input),
        }
    }

    /// `PutItems`.
    pub fn put_items(&self, input: PutItemsInput) -> Result<PutItemsOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_items(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_items(input)),
            AnyClient::Call(d) => d.send(&input),
        }
    }

    /// `PutUsers`.
    pub fn put_users(&self, input: PutUsersInput) -> Result<PutUsersOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_users(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_users(input)),
            AnyClient::Call(d) => d.send(&input),
        }
    }

    /// `PutActions`.
    pub fn put_actions(&self, input: PutActionsInput) -> Result<PutActionsOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_actions(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_actions(input)),
            AnyClient::Call(d) => d.send(&input),
        }
    }

    /// `PutActionInteractions`.
    pub fn put_action_interactions(
        &self,
        input: PutActionInteractionsInput,
    ) -> Result<PutActionInteractionsOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_action_interactions(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_action_interactions(input)),
            AnyClient::Call(d) => d.send(&input),
        }
    }

    /// Any operation, by name (not for the `Call` kind).
    pub fn send_any(&self, input: AnyInput) -> Result<AnyOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.send_any(input),
            AnyClient::Async(c, rt) => rt.block_on(c.send_any(input)),
            AnyClient::Call(_) => panic!("send_any goes through a transport"),
        }
    }
}

/// A small valid `PutEvents` input.
pub fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1")
        .event(personalize_events_core::Event::new("click", SystemTime::now()).item_id("item-1"))
}
