//! Mapping hyper and hyper-util failures to the core's transport error kinds,
//! which decide whether the core retries.

use std::error::Error as StdError;
use std::io;

use personalize_events_core::{Error, TransportErrorKind};

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

/// A TLS failure that another attempt cannot fix: the server's certificate
/// was rejected or the peers share no protocol.
fn is_fatal_tls(e: &(dyn StdError + 'static)) -> bool {
    matches!(
        e.downcast_ref::<rustls::Error>(),
        Some(
            rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::PeerIncompatible(_)
                | rustls::Error::UnsupportedNameType
        )
    )
}

/// The kind of the first error of a chain that tells one.
fn kind_of_chain(first: &(dyn StdError + 'static)) -> TransportErrorKind {
    for e in chain(first) {
        if is_fatal_tls(e) {
            return TransportErrorKind::Other;
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return TransportErrorKind::Timeout;
            }
            if h.is_incomplete_message()
                || h.is_closed()
                || h.is_canceled()
                || h.is_body_write_aborted()
            {
                return TransportErrorKind::Io;
            }
            // A malformed answer (garbage, a broken proxy) may not repeat:
            // worth another attempt, as in the blocking client; retries are
            // safe because events carry their ids.
            if h.is_parse() {
                return TransportErrorKind::Io;
            }
            if h.is_user() {
                return TransportErrorKind::Other;
            }
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut => return TransportErrorKind::Timeout,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::NotConnected => return TransportErrorKind::Io,
                _ => {}
            }
        }
    }
    TransportErrorKind::Other
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

/// The kind of a failure of `hyper_util`'s client: `Connect` when
/// connecting failed (except a rejected certificate, `Other`), `Io` when the
/// connection was closed, reset or cut short, `Timeout` when hyper timed
/// out, `Other` for anything else.
pub fn client_error_kind(e: &hyper_util::client::legacy::Error) -> TransportErrorKind {
    if chain(e).any(is_fatal_tls) {
        return TransportErrorKind::Other;
    }
    if e.is_connect() {
        return TransportErrorKind::Connect;
    }
    match e.source() {
        Some(src) => kind_of_chain(src),
        None => TransportErrorKind::Other,
    }
}

/// The core's error for a failure of `hyper_util`'s client.
pub fn from_client_error(e: &hyper_util::client::legacy::Error) -> Error {
    Error::transport(client_error_kind(e), describe(e))
}

/// The kind of a failure while reading a response body.
pub fn body_error_kind(e: &(dyn StdError + 'static)) -> TransportErrorKind {
    kind_of_chain(e)
}

/// The core's error for a failure while reading a response body.
pub fn from_body_error(e: &(dyn StdError + 'static)) -> Error {
    Error::transport(
        body_error_kind(e),
        format!("reading the response body: {}", describe(e)),
    )
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
        let other = io::Error::other("strange");
        assert_eq!(body_error_kind(&other), TransportErrorKind::Other);
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
