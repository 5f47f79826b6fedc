//! Sans-IO protocol core for the Amazon Personalize Events API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod credentials;
mod error;
pub mod endpoint;
pub mod sign;
pub mod time;

pub use credentials::Credentials;
pub use error::{Error, TransportErrorKind};

pub(crate) mod retry {
    pub(crate) fn is_retryable_status_or_code(status: u16, code: Option<&str>) -> bool {
        let _ = code;
        matches!(status, 429 | 500 | 502 | 503 | 504)
    }
}
