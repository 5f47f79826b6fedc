//! Blocking client for the Amazon Personalize Events API, on [ureq] 3, for
//! command-line tools, scripts and other synchronous programs.
//!
//! Validation, encoding, SigV4 signing, decoding, retries and clock-skew
//! correction all live in `personalize-events-core`; this crate drives the
//! core's `Call` state machine with a ureq agent (rustls with the ring
//! provider; the system's trust store or a CA bundle) and a thread sleep.
//!
//! ```
//! # use std::io::{BufRead, BufReader, Read, Write};
//! # // A loopback server stands in for the service and answers one request.
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! # let endpoint = format!("http://{}", listener.local_addr().unwrap());
//! # let server = std::thread::spawn(move || {
//! #     let (stream, _) = listener.accept().unwrap();
//! #     let mut reader = BufReader::new(stream);
//! #     let mut length = 0;
//! #     loop {
//! #         let mut line = String::new();
//! #         reader.read_line(&mut line).unwrap();
//! #         if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
//! #             length = v.trim().parse().unwrap();
//! #         }
//! #         if line == "\r\n" { break; }
//! #     }
//! #     reader.read_exact(&mut vec![0; length]).unwrap();
//! #     reader.get_mut().write_all(
//! #         b"HTTP/1.1 200 OK\r\nx-amzn-RequestId: example-1\r\ncontent-length: 0\r\n\r\n",
//! #     ).unwrap();
//! # });
//! use std::time::SystemTime;
//! use personalize_events_blocking::{Client, Credentials, Event, PutEventsInput};
//!
//! let client = Client::builder()
//!     .region("us-east-1")
//!     .credentials(Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None))
//!     .endpoint_url(&endpoint) // leave out to use the region's https endpoint
//!     .build()?;
//!
//! let input = PutEventsInput::new("tracking-id", "session-1")
//!     .user_id("user-7")
//!     .event(Event::new("click", SystemTime::now()).item_id("item-42"));
//! let output = client.put_events(input)?;
//! assert_eq!(output.request_id.as_deref(), Some("example-1"));
//! # server.join().unwrap();
//! # Ok::<(), personalize_events_blocking::Error>(())
//! ```
//!
//! [`Client::from_env`] takes the region, endpoint, retry settings and
//! credentials from the usual `AWS_*` variables and the shared config files
//! (`~/.aws/config`, `~/.aws/credentials`) instead, as the AWS CLI does:
//! profiles, `credential_process`, assumed roles, IAM Identity Center (SSO),
//! web identity, container credentials and EC2 instance metadata all work without code (see
//! [`ClientBuilder::with_env`] and [`DefaultCredentialsChain`]).
//! [`Client::put_all`] sends any number of records in calls of at most 10
//! and reports the records of each failed call.
//!
//! # Timeouts
//!
//! Each call is bounded three ways: connecting (TCP and TLS), each attempt
//! (from connecting to the last byte of the response) and the whole call,
//! retries and backoff included. A server that accepts a connection and
//! never answers costs at most one attempt timeout per attempt, and never
//! more than the operation timeout in all.
//!
//! # Proxies and TLS trust
//!
//! Like the AWS SDKs, the client goes through the proxy named for its
//! endpoint's scheme by `HTTPS_PROXY` or `HTTP_PROXY`, else `ALL_PROXY`
//! (upper case first, then lower), with a `CONNECT` tunnel, except for the
//! hosts listed in `NO_PROXY`; the variables are read even without
//! [`ClientBuilder::with_env`], and [`ClientBuilder::proxy`] replaces them.
//! A refusing proxy is named in the error.
//!
//! TLS trusts the CAs of [`ClientBuilder::ca_bundle`], `AWS_CA_BUNDLE` or
//! the profile's `ca_bundle` (a PEM file that replaces the default roots,
//! as in the AWS CLI), else the operating system's trust store, else (when
//! that is empty) the bundled Mozilla roots. A certificate none of them
//! trusts is refused and not retried.
//!
//! # Tracing
//!
//! Every call runs in a `personalize_events.call` span (fields `operation`,
//! `records`, `attempts`, `error`) and every attempt in a
//! `personalize_events.attempt` span (`attempt`, `status`, `request_id`,
//! `error`), both at `DEBUG`, the same as the async client's. Error fields
//! hold an error code or kind (`Error::label`), never a message; no field
//! holds credentials, a header or a record.
//!
//! Logging beyond ours: ureq's protocol crate logs each request head it
//! writes at `TRACE` through the `log` crate (target `ureq_proto`), as hex
//! rows that include the `Authorization` and `x-amz-security-token`
//! headers. A program that forwards `log` records at `TRACE` should keep
//! `ureq_proto` at `DEBUG` or lower.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod builder;
mod chain;
mod network;
mod resolver;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use personalize_events_core::Poll;

pub use builder::ClientBuilder;
pub use chain::DefaultCredentialsChain;
pub use personalize_events_core::batch::{BatchReport, FailedRecord};
pub use personalize_events_core::batch::{Record, MAX_RECORDS_PER_CALL};
pub use personalize_events_core::MAX_RESPONSE_BYTES;
pub use personalize_events_core::{
    Action, ActionInteraction, AnyInput, AnyOutput, ClientCore, Credentials, Error, Event, Item,
    MetricAttribution, Operation, Properties, PutActionInteractionsInput,
    PutActionInteractionsOutput, PutActionsInput, PutActionsOutput, PutEventsInput,
    PutEventsOutput, PutItemsInput, PutItemsOutput, PutUsersInput, PutUsersOutput, RetryConfig,
    RetryMode, Timeouts, TransportErrorKind, User,
};
pub use personalize_events_credentials::{
    ChainTimeouts, Environment, ProxySettings, TrustSettings,
};

/// Where a client gets its credentials: asked once per call, with the
/// call's deadline (which the default chain keeps; a provider given in code
/// cannot be interrupted and ignores it).
pub(crate) type CredentialsProvider =
    dyn Fn(Option<Instant>) -> Result<Credentials, Error> + Send + Sync;

/// A blocking Amazon Personalize Events client.
///
/// Cheap to clone, and `Send + Sync`: clones share one connection pool, one
/// retry quota, the learnt clock skew and the signing key cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    core: ClientCore,
    http: transport::Http,
    credentials: Arc<CredentialsProvider>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.core.debug_client(f)
    }
}

impl Client {
    personalize_events_credentials::client_constructors!();

    /// The protocol core: configuration, retry quota, clock skew.
    pub fn core(&self) -> &ClientCore {
        &self.inner.core
    }

    /// The endpoint requests go to.
    pub fn endpoint_url(&self) -> &str {
        self.inner.core.config().endpoint.url()
    }

    /// Asks the client's credentials provider once, as a call would before
    /// its first attempt, and returns what it gives.
    ///
    /// Useful to report missing or broken credentials before any work is
    /// done: with [`ClientBuilder::with_env`] and no credentials given in
    /// code, this runs the [`DefaultCredentialsChain`] (files, HTTP,
    /// `credential_process`) and caches its answer, so the calls that
    /// follow sign with it until it nears expiry.
    ///
    /// # Errors
    ///
    /// The provider's error: `Error::Credentials` naming the source and the
    /// reason when no credentials are found or a configured source fails.
    pub fn resolve_credentials(&self) -> Result<Credentials, Error> {
        (self.inner.credentials)(None)
    }

    /// Records item interaction events (`PutEvents`, up to 10 events of one
    /// session).
    ///
    /// # Errors
    ///
    /// `Error::Validation` before sending for bad input; the service's
    /// typed errors (`InvalidInput`, `ResourceNotFound`, `ResourceInUse`),
    /// other service errors, transport errors and `OperationTimeout` once
    /// retries are over.
    pub fn put_events(&self, input: PutEventsInput) -> Result<PutEventsOutput, Error> {
        self.send(input)
    }

    /// Adds or updates items of an Items dataset (`PutItems`, up to 10).
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn put_items(&self, input: PutItemsInput) -> Result<PutItemsOutput, Error> {
        self.send(input)
    }

    /// Adds or updates users of a Users dataset (`PutUsers`, up to 10).
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn put_users(&self, input: PutUsersInput) -> Result<PutUsersOutput, Error> {
        self.send(input)
    }

    /// Adds or updates actions of an Actions dataset (`PutActions`, up to 10).
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn put_actions(&self, input: PutActionsInput) -> Result<PutActionsOutput, Error> {
        self.send(input)
    }

    /// Records action interactions (`PutActionInteractions`, up to 10).
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn put_action_interactions(
        &self,
        input: PutActionInteractionsInput,
    ) -> Result<PutActionInteractionsOutput, Error> {
        self.send(input)
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
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use personalize_events_blocking::{Client, Credentials, Event, PutEventsInput};
    /// let client = Client::builder()
    ///     .region("us-east-1")
    ///     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None))
    ///     .build()?;
    /// let input = PutEventsInput::new("tracking-id", "session-1")
    ///     .event(Event::new("click", SystemTime::now()).item_id("item-42"));
    /// let request = client.presign(&input, Duration::from_secs(300))?;
    /// assert!(request.uri().query().unwrap_or("").contains("X-Amz-Expires=300"));
    /// # Ok::<(), personalize_events_blocking::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The input's validation error, the credentials' error, and
    /// `Error::Config` for an expiry out of range.
    pub fn presign<I: Operation>(
        &self,
        input: &I,
        expires_in: std::time::Duration,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.core.config().timeouts.operation;
        let credentials = (inner.credentials)(Some(deadline))?;
        inner.core.presign(
            input,
            &credentials,
            SystemTime::now(),
            Some(expires_in),
            fastrand::u128(..),
        )
    }

    /// Any of the five inputs, chosen at run time.
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn send_any(&self, input: AnyInput) -> Result<AnyOutput, Error> {
        match input {
            AnyInput::PutEvents(i) => self.send(i).map(AnyOutput::PutEvents),
            AnyInput::PutItems(i) => self.send(i).map(AnyOutput::PutItems),
            AnyInput::PutUsers(i) => self.send(i).map(AnyOutput::PutUsers),
            AnyInput::PutActions(i) => self.send(i).map(AnyOutput::PutActions),
            AnyInput::PutActionInteractions(i) => {
                self.send(i).map(AnyOutput::PutActionInteractions)
            }
        }
    }

    /// Sends one operation: validates and encodes the input, then signs and
    /// sends attempts until one succeeds, an error is not retryable, the
    /// attempts or the retry quota run out, or the operation timeout passes.
    ///
    /// # Errors
    ///
    /// As [`put_events`](Self::put_events).
    pub fn send<I: Operation>(&self, input: I) -> Result<I::Output, Error> {
        let span = personalize_events_credentials::call_span!(I, input);
        let _entered = span.enter();
        let (result, attempts) = self.drive(input);
        personalize_events_credentials::record_call(&span, attempts, result.as_ref().err());
        if result.is_err() {
            tracing::debug!(attempts, "call failed");
        }
        result
    }

    /// The send loop: the core decides, this only does what it says.
    fn drive<I: Operation>(&self, input: I) -> (Result<I::Output, Error>, u32) {
        let inner = &*self.inner;
        let mut call = match inner.core.call(&input, Instant::now(), fastrand::u128(..)) {
            Ok(call) => call,
            Err(e) => return (Err(e), 0),
        };
        // Resolving credentials is part of the operation: the chain cuts
        // its steps at the call's deadline, and a failure at the deadline is
        // the operation's timeout.
        let mut credentials = match (inner.credentials)(Some(call.deadline())) {
            Ok(c) => c,
            Err(e) => {
                let now = Instant::now();
                let e = (now < call.deadline()).then_some(e);
                return (Err(call.credentials_failed(now, e)), 0);
            }
        };
        loop {
            // Credentials about to expire are asked for again before an
            // attempt signs with them (core's rule, as in the async client).
            if credentials.needs_refresh(SystemTime::now()) {
                match (inner.credentials)(Some(call.deadline())) {
                    Ok(c) => credentials = c,
                    Err(e) => tracing::warn!(error = %e, "refreshing credentials failed"),
                }
            }
            match call.poll(
                Instant::now(),
                SystemTime::now(),
                &credentials,
                fastrand::f64(),
            ) {
                Poll::Send(send) => match inner.http.send(send) {
                    Ok(response) => {
                        let (parts, body) = response.into_parts();
                        let response = http::Response::from_parts(parts, body.as_slice());
                        call.handle_response(Instant::now(), SystemTime::now(), response);
                    }
                    Err(e) => call.handle_transport_error(Instant::now(), e),
                },
                Poll::Wait(d) => std::thread::sleep(d),
                Poll::Done(result) => return (result, call.attempts()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync_clone::<Client>();
    }

    #[test]
    fn bad_input_fails_before_credentials_are_asked() {
        let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = asked.clone();
        let client = Client::builder()
            .region("us-east-1")
            .credentials_provider(move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Err(Error::Credentials {
                    source_name: "test".into(),
                    message: "none".into(),
                })
            })
            .build()
            .unwrap();
        let e = client
            .put_events(PutEventsInput::new("t", "s"))
            .unwrap_err();
        assert!(matches!(e, Error::Validation { .. }), "{e}");
        assert!(!asked.load(std::sync::atomic::Ordering::SeqCst));
        let input = PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        let e = client.put_events(input).unwrap_err();
        assert!(matches!(e, Error::Credentials { .. }), "{e}");
        assert!(asked.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn resolve_credentials_asks_the_provider() {
        let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = asked.clone();
        let client = Client::builder()
            .region("us-east-1")
            .credentials_provider(move || {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(Credentials::new("AKIDEXAMPLE", "secret", None))
            })
            .build()
            .unwrap();
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
        let c = client.resolve_credentials().unwrap();
        assert_eq!(c.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

        // The default chain, over an environment snapshot.
        let client = Client::builder()
            .environment(Environment::from_vars([
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ]))
            .build()
            .unwrap();
        assert_eq!(
            client.resolve_credentials().unwrap().access_key_id(),
            "AKIDENV"
        );

        // A failing provider's error, as is.
        let client = Client::builder()
            .region("us-east-1")
            .credentials_provider(|| {
                Err(Error::Credentials {
                    source_name: "test".into(),
                    message: "none here".into(),
                })
            })
            .build()
            .unwrap();
        let e = client.resolve_credentials().unwrap_err();
        assert!(matches!(e, Error::Credentials { .. }), "{e}");
        assert!(e.to_string().contains("none here"), "{e}");
    }
}
