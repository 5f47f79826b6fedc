//! A local emulator of Amazon Personalize Events for offline tests and demos.
//!
//! [`LocalServer`] is an HTTP/1.1 server on loopback that answers like the
//! real service:
//!
//! * **SigV4** is verified on every request, header-signed or presigned, for
//!   the configured credentials (default `AKIDEXAMPLE` /
//!   `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`), the signing name
//!   `personalize` and a clock skew of at most 5 minutes. Refusals are 403
//!   with the AWS error type: `MissingAuthenticationTokenException`,
//!   `IncompleteSignatureException` (malformed, or `host` not signed),
//!   `UnrecognizedClientException` (unknown key or session token),
//!   `InvalidSignatureException` (wrong secret, tampered request, wrong
//!   scope, clock skew, expired presigned URL).
//! * **Bodies** are decoded and validated with the client's own rules
//!   ([`personalize_events_core::AnyInput`]), answered in the service's
//!   wording: broken constraints and missing required members are 400
//!   `InvalidInputException` with every violation counted and named by its
//!   service path (`1 validation error detected: Value at
//!   'eventList.1.member.itemId' failed to satisfy constraint: Member must
//!   have length less than or equal to 256`); malformed JSON or a member of the wrong type is 400
//!   `SerializationException`; any path or method other than the five
//!   `POST` operations is 404 `UnknownOperationException`. With
//!   [`tracking_ids`](LocalServerBuilder::tracking_ids) or
//!   [`dataset_arns`](LocalServerBuilder::dataset_arns), others are 404
//!   `ResourceNotFoundException`.
//! * **Accepted records** are kept in memory ([`LocalServer::records`]),
//!   optionally appended to a JSON-lines file, and repeated `eventId`s are
//!   counted as duplicates. Success is 200 with an empty body. Every answer
//!   carries `x-amzn-RequestId` and `Date`; errors carry `X-Amzn-ErrorType`
//!   and a body `{"__type": "...", "message": "..."}`.
//! * **Faults** for resilience tests: 500, 503, 429 `ThrottlingException`,
//!   connection reset, stall and truncated response ([`FaultKind`]), from a
//!   deterministic script ([`parse_fault_script`]) and then a seeded failure
//!   rate, each before or after the records are kept ([`Phase`]).
//! * **Bounded**: loopback by default (another loopback address or `[::1]`
//!   with [`host`](LocalServerBuilder::host); [`parse_host`] refuses other
//!   addresses unless told otherwise), optional limits on requests and
//!   time, stalls of at most a minute, bodies of at most 4 MiB, and every
//!   connection closed within seconds of a stop.
//!
//! From synchronous code (a plain `#[test]`, a CLI), use
//! [`start_blocking`](LocalServerBuilder::start_blocking): the server runs
//! its own tokio runtime on a thread. From async code, use
//! [`start`](LocalServerBuilder::start).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use personalize_events_local::{FaultKind, LocalServer, ScriptStep};
//!
//! let server = LocalServer::builder()
//!     .fault_script([ScriptStep::OK, ScriptStep::fault(FaultKind::Throttling)])
//!     .start_blocking()?;
//! assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
//!
//! // An unsigned request is refused the way AWS refuses it.
//! let mut conn = TcpStream::connect(server.local_addr())?;
//! conn.write_all(b"POST /events HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")?;
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 403"));
//! assert!(answer.contains("MissingAuthenticationTokenException"));
//! assert!(answer.to_ascii_lowercase().contains("x-amzn-requestid: "));
//!
//! // The script makes the second request a 429.
//! let mut conn = TcpStream::connect(server.local_addr())?;
//! conn.write_all(b"POST /events HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")?;
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 429"));
//! assert!(answer.ends_with(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#));
//!
//! let stats = server.shutdown();
//! assert_eq!(stats.requests, 2);
//! assert_eq!(stats.rejected_with("MissingAuthenticationTokenException"), 1);
//! assert_eq!(stats.faults_of(FaultKind::Throttling), 1);
//! assert_eq!(stats.accepted_records, 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Signed requests are easiest to make with the client crates, or with
//! `personalize_events_core::ClientCore` and any HTTP/1.1 writer: point the
//! endpoint at [`LocalServer::endpoint_url`], sign for any region with the
//! configured credentials.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod fault;
mod host;
mod server;
mod store;
mod time;
pub mod verify;

pub use fault::{parse_fault_kinds, parse_fault_script, FaultKind, Phase, ScriptStep};
pub use host::{check_loopback, parse_host};
pub use server::{
    LocalServer, LocalServerBuilder, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
    MAX_BODY_BYTES, MAX_STALL,
};
pub use store::{Stats, StoredRecord};
