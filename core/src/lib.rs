//! Sans-IO protocol core for the Amazon Personalize Events API.
//!
//! This crate turns a typed input of one of the five operations (`PutEvents`,
//! `PutItems`, `PutUsers`, `PutActions`, `PutActionInteractions`) into a
//! validated, encoded, SigV4-signed `http::Request<Bytes>`, and a response
//! into a typed output or [`Error`]. It does no IO, reads no clock and has no
//! async: time, credentials and randomness enter as arguments, so it runs in
//! any runtime. The transports `personalize-events-hyper` (async) and
//! `personalize-events-blocking` (ureq) drive its [`Call`] state machine; a
//! custom runtime can too (see `examples/custom_runtime.rs`).
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
//! use personalize_events_core::*;
//!
//! let core = ClientCore::new(ClientConfig::for_region("us-east-1")?)?;
//! let input = PutEventsInput::new("tracking-id", "session-1")
//!     .event(Event::new("click", UNIX_EPOCH + Duration::from_secs(1_795_953_540)).item_id("item-42"));
//! let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
//!
//! let now = Instant::now();
//! let mut call = core.call(&input, now, 0x5eed)?; // validated and encoded here
//! let Poll::Send(send) = call.poll(now, SystemTime::now(), &credentials, 0.5) else { unreachable!() };
//! assert_eq!(send.request.uri(), "https://personalize-events.us-east-1.amazonaws.com/events");
//! assert!(send.request.headers()["authorization"].to_str()?.contains("/personalize/aws4_request"));
//!
//! // The transport sends it; here the service refuses the input.
//! let response = http::Response::builder()
//!     .status(400)
//!     .header("x-amzn-errortype", "InvalidInputException")
//!     .header("x-amzn-requestid", "req-1")
//!     .body(&br#"{"message":"Invalid tracking id"}"#[..])?;
//! call.handle_response(Instant::now(), SystemTime::now(), response);
//! let Poll::Done(Err(err)) = call.poll(Instant::now(), SystemTime::now(), &credentials, 0.5) else { unreachable!() };
//! assert_eq!(err.to_string(), "InvalidInputException (HTTP 400): Invalid tracking id (request id req-1)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Bad input never reaches the wire:
//!
//! ```
//! # use std::time::{Instant, UNIX_EPOCH};
//! # use personalize_events_core::*;
//! let core = ClientCore::new(ClientConfig::for_region("us-east-1")?)?;
//! let input = PutEventsInput::new("t", "s").event(Event::new("click", UNIX_EPOCH).item_id("x".repeat(300)));
//! let err = core.call(&input, Instant::now(), 0).unwrap_err();
//! assert_eq!(err.to_string(), "eventList[0].itemId: length 300 is above the maximum 256");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The service has no paginators and no waiters (boto3's `can_paginate`,
//! `get_paginator` and `get_waiter` have nothing to return for it), so this
//! crate offers none. The one extra of boto3's client it does offer is a
//! presigned request: [`ClientCore::presign`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
mod call;
mod client_core;
mod credentials;
mod decode;
mod encode;
pub mod endpoint;
mod error;
mod model;
mod operation;
mod retry;
pub mod sign;
mod time;
mod validate;

/// The body type of a [`SendRequest`] (shared, cheap to clone), re-exported
/// so a transport needs no `bytes` dependency of its own.
pub use bytes::Bytes;
pub use call::{Call, Poll, SendRequest};
pub use client_core::{ClientConfig, ClientCore, Timeouts, SIGNING_NAME, USER_AGENT_VALUE};
pub use credentials::{Credentials, REFRESH_MARGIN, SIGNING_MARGIN};
pub use decode::{decode_response, request_id, MAX_RESPONSE_BYTES};
pub use encode::Encode;
pub use endpoint::{EndpointParams, ResolvedEndpoint};
pub use error::{Error, TransportErrorKind};
pub use model::*;
pub use operation::{uuid_from_seed, AnyInput, AnyOutput, Operation, OPERATIONS};
pub use retry::{poisons_connection, RetryConfig, RetryMode};
pub use validate::{Validate, RESERVED_PROPERTY_KEYS};
