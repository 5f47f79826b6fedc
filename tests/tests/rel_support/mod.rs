//! What the `rel_*` tests share: one interface over both clients, so that
//! every reliability check runs through the blocking client (ureq) and the
//! async client (hyper) alike.
#![allow(dead_code)] // each test file uses part of it

use std::sync::Arc;
use std::time::Duration;

use personalize_events_core::{
    AnyInput, AnyOutput, ClientCore, Credentials, Error, PutEventsInput, PutEventsOutput,
    RetryConfig, Timeouts,
};

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

/// Either client, with the same blocking interface.
pub enum AnyClient {
    /// The blocking client on ureq.
    Blocking(personalize_events_blocking::Client),
    /// The async client on hyper, with the runtime its calls run on.
    Async(
        personalize_events_hyper::Client,
        Arc<tokio::runtime::Runtime>,
    ),
}

/// How to build a client for a test.
#[derive(Clone)]
pub struct Settings {
    /// `None` for the region's own (https) endpoint.
    pub endpoint: Option<String>,
    pub credentials: Credentials,
    pub retry: RetryConfig,
    pub timeouts: Timeouts,
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
        }
    }

    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn attempts(mut self, n: u32) -> Self {
        self.retry = self.retry.with_max_attempts(n);
        self
    }

    pub fn blocking(&self) -> AnyClient {
        let mut b = personalize_events_blocking::Client::builder()
            .region("us-east-1")
            .credentials(self.credentials.clone())
            .retry_config(self.retry.clone())
            .timeouts(self.timeouts);
        if let Some(url) = &self.endpoint {
            b = b.endpoint_url(url.clone());
        }
        AnyClient::Blocking(b.build().expect("a blocking client"))
    }

    pub fn hyper(&self, rt: Arc<tokio::runtime::Runtime>) -> AnyClient {
        let mut b = personalize_events_hyper::Client::builder()
            .region("us-east-1")
            .credentials(self.credentials.clone())
            .retry_config(self.retry.clone())
            .timeouts(self.timeouts);
        if let Some(url) = &self.endpoint {
            b = b.endpoint_url(url.clone());
        }
        AnyClient::Async(b.build().expect("an async client"), rt)
    }

    /// Both clients, blocking first.
    pub fn both(&self) -> [AnyClient; 2] {
        [self.blocking(), self.hyper(runtime())]
    }
}

impl AnyClient {
    pub fn name(&self) -> &'static str {
        match self {
            AnyClient::Blocking(_) => "blocking",
            AnyClient::Async(..) => "async",
        }
    }

    pub fn core(&self) -> &ClientCore {
        match self {
            AnyClient::Blocking(c) => c.core(),
            AnyClient::Async(c, _) => c.core(),
        }
    }

    pub fn put_events(&self, input: PutEventsInput) -> Result<PutEventsOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.put_events(input),
            AnyClient::Async(c, rt) => rt.block_on(c.put_events(input)),
        }
    }

    pub fn send_any(&self, input: AnyInput) -> Result<AnyOutput, Error> {
        match self {
            AnyClient::Blocking(c) => c.send_any(input),
            AnyClient::Async(c, rt) => rt.block_on(c.send_any(input)),
        }
    }
}

/// A small valid `PutEvents` input.
pub fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(
        personalize_events_core::Event::new("click", std::time::SystemTime::now())
            .item_id("item-1"),
    )
}
