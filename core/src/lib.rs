//! Sans-IO protocol core for the Amazon Personalize Events API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
mod call;
pub mod config;
mod credentials;
mod decode;
mod encode;
pub mod endpoint;
mod error;
mod model;
mod operation;
pub mod retry;
pub mod sign;
pub mod time;
mod validate;

pub use call::{
    Call, ClientConfig, ClientCore, Poll, SendRequest, Timeouts, SIGNING_NAME, USER_AGENT_VALUE,
};
pub use credentials::Credentials;
pub use decode::{decode_response, request_id, sanitize_error_code};
pub use encode::Encode;
pub use endpoint::{EndpointParams, ResolvedEndpoint};
pub use error::{Error, TransportErrorKind};
pub use model::*;
pub use operation::{uuid_from_seed, AnyInput, Operation, OPERATIONS};
pub use retry::{RetryConfig, RetryMode};
pub use validate::{Validate, RESERVED_PROPERTY_KEYS};
