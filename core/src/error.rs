//! The one error type of this crate, for every operation.
//!
//! Local errors (bad input, missing credentials, an endpoint that cannot be
//! resolved) are told apart from remote ones (what the service answered) and
//! from transport failures, the way Python's `h11` tells local from remote.

use std::fmt;

/// What went wrong with a call to Amazon Personalize Events.
///
/// One enum serves all five operations. Match on the variants you care about
/// and keep a catch-all arm: new variants may be added.
///
/// Nothing secret is ever carried here: no credentials, no record payloads
/// beyond the field path and the violated constraint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks a constraint of the service model; nothing was sent.
    #[error("{path}: {problem}")]
    Validation {
        /// Where, e.g. `eventList[3].itemId`.
        path: String,
        /// What, e.g. `length 300 is above the maximum 256`.
        problem: String,
    },

    /// The service refused the input (HTTP 400 `InvalidInputException`).
    #[error(
        "InvalidInputException (HTTP 400): {}{}",
        message_or_none(message),
        request_id_suffix(request_id)
    )]
    InvalidInput {
        /// The service's message.
        message: Option<String>,
        /// The `x-amzn-RequestId` of the response.
        request_id: Option<String>,
    },

    /// The tracking id or dataset does not exist (HTTP 404 `ResourceNotFoundException`).
    #[error(
        "ResourceNotFoundException (HTTP 404): {}{}",
        message_or_none(message),
        request_id_suffix(request_id)
    )]
    ResourceNotFound {
        /// The service's message.
        message: Option<String>,
        /// The `x-amzn-RequestId` of the response.
        request_id: Option<String>,
    },

    /// The resource is being created or deleted (HTTP 409 `ResourceInUseException`).
    #[error(
        "ResourceInUseException (HTTP 409): {}{}",
        message_or_none(message),
        request_id_suffix(request_id)
    )]
    ResourceInUse {
        /// The service's message.
        message: Option<String>,
        /// The `x-amzn-RequestId` of the response.
        request_id: Option<String>,
    },

    /// Any other error response: throttling, server errors, authentication
    /// failures, or a bare status without a recognisable body.
    #[error("{} (HTTP {status}): {}{}", code.as_deref().unwrap_or("service error without an error code"), message_or_none(message), request_id_suffix(request_id))]
    Service {
        /// The HTTP status code.
        status: u16,
        /// The error code (`ThrottlingException`, ...), when the response named one.
        code: Option<String>,
        /// The service's message.
        message: Option<String>,
        /// The `x-amzn-RequestId` of the response.
        request_id: Option<String>,
    },

    /// The request could not be sent or the response not received.
    #[error("transport error ({kind}): {message}")]
    Transport {
        /// What kind of failure, which decides whether it is retried.
        kind: TransportErrorKind,
        /// A description from the transport.
        message: String,
    },

    /// The whole operation, retries included, ran past its deadline.
    #[error(
        "operation timed out after {elapsed_ms} ms ({attempts} attempt(s)); last problem: {last}"
    )]
    OperationTimeout {
        /// How long the operation ran.
        elapsed_ms: u64,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's problem, or `none` when no attempt finished.
        last: String,
    },

    /// The endpoint could not be resolved from the configuration.
    #[error("endpoint resolution: {0}")]
    Endpoint(String),

    /// No credentials could be found or a credentials source failed.
    #[error("credentials from {source_name}: {message}")]
    Credentials {
        /// The source, e.g. `environment`, `profile default`, `IMDSv2`.
        source_name: String,
        /// What went wrong; never contains a secret.
        message: String,
    },

    /// The client configuration is invalid (bad region, bad endpoint URL, ...).
    #[error("configuration: {0}")]
    Config(String),
}

fn message_or_none(m: &Option<String>) -> &str {
    m.as_deref().unwrap_or("(no message)")
}

struct RequestIdSuffix<'a>(&'a Option<String>);
impl fmt::Display for RequestIdSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (request id {id})"),
            None => Ok(()),
        }
    }
}
fn request_id_suffix(r: &Option<String>) -> RequestIdSuffix<'_> {
    RequestIdSuffix(r)
}

/// The kinds of transport failure a transport reports to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Could not connect (refused, DNS, TLS handshake). Retried.
    Connect,
    /// The connection broke (reset, closed early, truncated response). Retried.
    Io,
    /// The attempt ran past its timeout. Retried, at a higher quota cost.
    Timeout,
    /// Something that retrying cannot fix (bad request construction, TLS
    /// certificate rejected). Not retried.
    Other,
}

impl TransportErrorKind {
    /// Whether a failure of this kind is worth another attempt.
    pub fn is_retryable(self) -> bool {
        !matches!(self, TransportErrorKind::Other)
    }
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connect",
            TransportErrorKind::Io => "io",
            TransportErrorKind::Timeout => "timeout",
            TransportErrorKind::Other => "other",
        })
    }
}

impl Error {
    /// Shorthand for a validation error.
    pub(crate) fn validation(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Validation {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// A transport failure, as a transport reports it to the core.
    pub fn transport(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Error::Transport {
            kind,
            message: message.into(),
        }
    }

    /// The HTTP status of a service error, if the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::InvalidInput { .. } => Some(400),
            Error::ResourceNotFound { .. } => Some(404),
            Error::ResourceInUse { .. } => Some(409),
            Error::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's error code (`InvalidInputException`, `ThrottlingException`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { .. } => Some("InvalidInputException"),
            Error::ResourceNotFound { .. } => Some("ResourceNotFoundException"),
            Error::ResourceInUse { .. } => Some("ResourceInUseException"),
            Error::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// A short label for logs and metrics that carries no message, so no
    /// input, secret or service text: the service's error code when there
    /// is one (`InvalidInputException`), otherwise the kind
    /// (`transport:timeout`, `http_502`, `validation`, `credentials`, ...).
    ///
    /// ```
    /// use personalize_events_core::{Error, TransportErrorKind};
    /// let e = Error::transport(TransportErrorKind::Timeout, "read timed out");
    /// assert_eq!(e.label(), "transport:timeout");
    /// ```
    pub fn label(&self) -> String {
        if let Some(code) = self.code() {
            return code.to_owned();
        }
        match self {
            Error::Transport { kind, .. } => format!("transport:{kind}"),
            Error::Service { status, .. } => format!("http_{status}"),
            Error::OperationTimeout { .. } => "operation_timeout".into(),
            Error::Validation { .. } => "validation".into(),
            Error::Credentials { .. } => "credentials".into(),
            Error::Endpoint(_) | Error::Config(_) => "configuration".into(),
            _ => "other".into(),
        }
    }

    /// The service's message, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { message, .. }
            | Error::ResourceNotFound { message, .. }
            | Error::ResourceInUse { message, .. }
            | Error::Service { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The request id of the response this error came from.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { request_id, .. }
            | Error::ResourceNotFound { request_id, .. }
            | Error::ResourceInUse { request_id, .. }
            | Error::Service { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// True for errors raised before anything was sent (bad input,
    /// configuration, endpoint, credentials).
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Error::Validation { .. }
                | Error::Endpoint(_)
                | Error::Credentials { .. }
                | Error::Config(_)
        )
    }

    /// Whether the AWS standard retry mode retries this error.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { kind, .. } => kind.is_retryable(),
            Error::Service { status, code, .. } => {
                crate::retry::is_retryable_status_or_code(*status, code.as_deref())
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_no_message() {
        let e = Error::InvalidInput {
            message: Some("secret-ish".into()),
            request_id: None,
        };
        assert_eq!(e.label(), "InvalidInputException");
        let e = Error::transport(TransportErrorKind::Timeout, "read timed out");
        assert_eq!(e.label(), "transport:timeout");
        let e = Error::Service {
            status: 502,
            code: None,
            message: Some("x".into()),
            request_id: None,
        };
        assert_eq!(e.label(), "http_502");
        assert_eq!(Error::validation("a", "b").label(), "validation");
    }

    #[test]
    fn display_names_path_and_constraint() {
        let e = Error::validation("eventList[3].itemId", "length 300 is above the maximum 256");
        assert_eq!(
            e.to_string(),
            "eventList[3].itemId: length 300 is above the maximum 256"
        );
    }

    #[test]
    fn display_of_service_error_says_what_happened() {
        let e = Error::Service {
            status: 503,
            code: None,
            message: None,
            request_id: Some("r-1".into()),
        };
        let s = e.to_string();
        assert!(s.contains("503"), "{s}");
        assert!(s.contains("r-1"), "{s}");
        let e = Error::InvalidInput {
            message: Some("bad trackingId".into()),
            request_id: None,
        };
        assert_eq!(
            e.to_string(),
            "InvalidInputException (HTTP 400): bad trackingId"
        );
    }
}
