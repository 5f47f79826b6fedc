//! Async client for Amazon Personalize Events on hyper 1.
//!
//! [`Client`] sends the five operations (`PutEvents`, `PutItems`,
//! `PutUsers`, `PutActions`, `PutActionInteractions`) over a pooled hyper
//! client with rustls (ring provider; the system's trust store or a CA
//! bundle), through the environment's proxy if any. Validation, encoding,
//! SigV4 signing, decoding and retries are the sans-IO core's
//! ([`personalize_events_core`]); this crate only moves bytes and keeps time
//! with Tokio.
//!
//! For services recording many events, [`Batcher`] takes single records
//! from any number of tasks and sends them in calls of up to 10, with
//! bounded concurrency and memory and an optional rate limit.
//!
//! ```
//! use std::time::SystemTime;
//! use personalize_events_hyper::{Client, Credentials, Event, PutEventsInput};
//! # use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny loopback endpoint answering 200, standing in for the service.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let endpoint = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (mut socket, _) = listener.accept().await?;
//!     # let mut buf = Vec::new();
//!     # let mut chunk = [0u8; 4096];
//!     # loop {
//!     #     let n = socket.read(&mut chunk).await?;
//!     #     buf.extend_from_slice(&chunk[..n]);
//!     #     let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
//!     #     if let Some(end) = text.find("\r\n\r\n") {
//!     #         let len: usize = text[..end]
//!     #             .lines()
//!     #             .find_map(|l| l.strip_prefix("content-length:"))
//!     #             .and_then(|v| v.trim().parse().ok())
//!     #             .unwrap_or(0);
//!     #         if buf.len() >= end + 4 + len || n == 0 { break; }
//!     #     } else if n == 0 { break; }
//!     # }
//!     // ... read the request, then:
//!     socket
//!         .write_all(b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: req-1\r\ncontent-length: 0\r\n\r\n")
//!         .await?;
//!     Ok::<_, std::io::Error>(())
//! });
//!
//! let client = Client::builder()
//!     .region("us-east-1")
//!     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None))
//!     .endpoint_url(endpoint)
//!     .build()?;
//! let input = PutEventsInput::new("tracking-id", "session-1")
//!     .user_id("user-7")
//!     .event(Event::new("click", SystemTime::now()).item_id("item-42"));
//! let output = client.put_events(input).await?;
//! assert_eq!(output.request_id.as_deref(), Some("req-1"));
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration and credentials without code
//!
//! [`Client::from_env`] and [`ClientBuilder::from_env`] find the region,
//! endpoint, FIPS / dual-stack and retry settings in the `AWS_*` variables
//! and the shared config files (`~/.aws/config`, `~/.aws/credentials`), and
//! the credentials through the default chain of the AWS CLI and SDKs
//! ([`DefaultCredentialsChain`]: environment, web identity, profiles with
//! `credential_process`, assumed roles or IAM Identity Center (SSO), ECS/EKS
//! containers, EC2 instance metadata), cached and refreshed before they expire. With the
//! `aws-config-adapter` feature, `AwsSdkCredentials` plugs in any provider
//! of the AWS SDK for Rust (e.g. `aws-config`'s chain, SSO included).
//!
//! # Proxies and TLS trust
//!
//! [`ClientBuilder::build`]'s connector goes through the proxy named for
//! the endpoint's scheme by `HTTPS_PROXY` or `HTTP_PROXY`, else
//! `ALL_PROXY` (upper case first), except for the hosts of `NO_PROXY`,
//! with hyper-util's proxy matcher: a `CONNECT` tunnel (hyper-util's
//! `Tunnel`) for https, absolute-form requests for http. The variables are
//! read even without [`ClientBuilder::from_env`];
//! [`ClientBuilder::proxy`] replaces them. A refusing proxy is named in
//! the error ([`ProxyError`]).
//!
//! TLS trusts the CAs of [`ClientBuilder::ca_bundle`], `AWS_CA_BUNDLE` or
//! the profile's `ca_bundle` (a PEM file that replaces the default roots,
//! as in the AWS CLI), else the operating system's trust store
//! (`rustls-native-certs`), else (when that is empty) the bundled Mozilla
//! roots. A certificate none of them trusts is refused and not retried.
//!
//! Calls are traced with [`tracing`], as in the blocking client: a
//! `personalize_events.call` span per call (operation, records, attempts,
//! error) and a `personalize_events.attempt` span per attempt (attempt
//! number, HTTP status, request id, error), both at `DEBUG`. Error fields
//! hold an error code or kind, never a message; no credentials and no
//! record payloads are ever recorded.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "aws-config-adapter")]
mod aws_adapter;
mod batcher;
mod chain;
mod client;
mod credentials;
pub mod error_map;
mod proxy;
mod tls;

#[cfg(feature = "aws-config-adapter")]
pub use aws_adapter::AwsSdkCredentials;
pub use batcher::{Batcher, BatcherClosed, BatcherConfig, RateLimits};
pub use chain::DefaultCredentialsChain;
pub use client::{Client, ClientBuilder, DefaultConnector};
pub use credentials::{ProvideCredentials, ProvideCredentialsFuture};
pub use personalize_events_core::batch::{BatchReport, FailedRecord};
pub use personalize_events_core::MAX_RESPONSE_BYTES;
pub use personalize_events_credentials::{
    ChainTimeouts, Environment, ProxySettings, TrustSettings,
};
pub use proxy::{ProxyConnector, ProxyError, ProxyStream};

pub use personalize_events_core as core;
pub use personalize_events_core::batch::Record;
pub use personalize_events_core::{
    Action, ActionInteraction, AnyInput, AnyOutput, Credentials, Error, Event, Item,
    MetricAttribution, Properties, PutActionInteractionsInput, PutActionInteractionsOutput,
    PutActionsInput, PutActionsOutput, PutEventsInput, PutEventsOutput, PutItemsInput,
    PutItemsOutput, PutUsersInput, PutUsersOutput, RetryConfig, RetryMode, Timeouts,
    TransportErrorKind, User,
};
