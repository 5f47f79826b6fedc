//! Mapping hyper, hyper-util and rustls failures to the shared failure
//! table ([`personalize_events_credentials::failure`]), which decides the kind,
//! whether the core retries and at which cost — the same table the
//! blocking client uses.

use std::error::Error as StdError;
use std::io;

use personalize_events_core::{Error, TransportErrorKind};
use personalize_events_credentials::failure::{rustls_failure, Failure, Phase};

/// The next error in a chain, looking inside `io::Error`s (whose `source`
/// skips the error they wrap).
fn next_in_chain<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = e.downcast_ref::<io::Error>() {
        if let Some(inner) = io.get_ref() {
            return Some(inner as &(dyn StdError + 'static));
        }
    }
    e.source()
}

fn chain<'a>(
    first: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(first), |e: &&'a (dyn StdError + 'static)| {
        next_in_chain(*e)
    })
    .take(16)
}

/// What a chain of errors from hyper, hyper-util or rustls tells of the
/// failure, for the core's table ([`Failure`]): a TLS error anywhere
/// decides; then hyper's own flags; then the innermost `io::Error`.
fn failure_of_chain(first: &(dyn StdError + 'static), phase: Phase) -> Failure {
    if let Some(r) = chain(first).find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return Failure::Tls(phase, rustls_failure(r));
    }
    let innermost_io = chain(first)
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .last()
        .map(|io| Failure::Io(phase, io.kind()));
    if let Some(h) = chain(first).find_map(|e| e.downcast_ref::<hyper::Error>()) {
        if h.is_timeout() {
            return Failure::Timeout;
        }
        // `is_parse_too_large` needs hyper's server feature; its message
        // is hyper's fixed description of `Parse::TooLarge`.
        if h.is_parse() && h.to_string().contains("message head is too large") {
            return Failure::ResponseHeadersTooLarge;
        }
        if h.is_parse() {
            return Failure::Malformed;
        }
        if h.is_incomplete_message()
            || h.is_closed()
            || h.is_canceled()
            || h.is_body_write_aborted()
        {
            return innermost_io.unwrap_or(Failure::Malformed);
        }
        if h.is_user() {
            return Failure::Request;
        }
    }
    innermost_io.unwrap_or(match phase {
        Phase::Connect => Failure::Io(Phase::Connect, io::ErrorKind::Other),
        _ => Failure::Request,
    })
}

/// `a: b: c` for an error chain, without repeating a message an
/// `io::Error` shares with the error it wraps.
fn describe(first: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for e in chain(first) {
        let s = e.to_string();
        if s.is_empty() || s == last || last.ends_with(&s) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s);
        last = s;
    }
    out
}

/// The failure of `hyper_util`'s client: while connecting (TCP, TLS
/// handshake) when it says so, else while exchanging.
pub fn client_failure(e: &hyper_util::client::legacy::Error) -> Failure {
    let phase = if e.is_connect() {
        Phase::Connect
    } else {
        Phase::Exchange
    };
    failure_of_chain(e, phase)
}

/// The kind of a failure of `hyper_util`'s client (decided by the core's
/// table).
pub fn client_error_kind(e: &hyper_util::client::legacy::Error) -> TransportErrorKind {
    client_failure(e).kind()
}

/// The core's error for a failure of `hyper_util`'s client.
pub fn from_client_error(e: &hyper_util::client::legacy::Error) -> Error {
    client_failure(e).error(describe(e))
}

/// The kind of a failure while reading a response body.
pub fn body_error_kind(e: &(dyn StdError + 'static)) -> TransportErrorKind {
    failure_of_chain(e, Phase::Exchange).kind()
}

/// The core's error for a failure while reading a response body.
pub fn from_body_error(e: &(dyn StdError + 'static)) -> Error {
    failure_of_chain(e, Phase::Exchange)
        .error(format!("reading the response body: {}", describe(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(body_error_kind(&reset), TransportErrorKind::Io);
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(body_error_kind(&timed_out), TransportErrorKind::Timeout);
        // Unlisted kinds after connecting are broken connections, as in
        // the blocking client.
        let other = io::Error::other("strange");
        assert_eq!(body_error_kind(&other), TransportErrorKind::Io);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(body_error_kind(&denied), TransportErrorKind::Other);
        // Wrapped: the inner error decides.
        let wrapped = io::Error::other(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(body_error_kind(&wrapped), TransportErrorKind::Io);
    }

    #[test]
    fn rejected_certificate_is_not_retried() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let e = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, tls));
        assert_eq!(body_error_kind(&e), TransportErrorKind::Other);
        assert!(
            describe(&e).contains("invalid peer certificate"),
            "{}",
            describe(&e)
        );
    }

    #[test]
    fn description_skips_repeats() {
        let e = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, "boom"));
        assert_eq!(describe(&e), "boom");
    }
}
