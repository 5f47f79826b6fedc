//! One table for the failures of both transports: each maps its HTTP and
//! TLS libraries' errors to a [`Failure`] (what happened, in the library's
//! own terms but no library's types), and the decision — which
//! [`TransportErrorKind`], hence retried or not and at which quota cost — is
//! made here, once (in this crate, which both transports share).
//!
//! The rules, following the AWS SDKs' standard retry mode (a broken or
//! refused connection and a timeout are transient; what another attempt
//! cannot change is not):
//!
//! | failure | kind | retried | quota cost |
//! |---|---|---|---|
//! | connect timeout, attempt or socket timeout | `Timeout` | yes | 10 |
//! | DNS failure, refused or unreachable connection | `Connect` | yes | 5 |
//! | IO error while connecting (any other kind) | `Connect` | yes | 5 |
//! | IO error after connecting (reset, EOF, `Other`, `InvalidData`, `Interrupted`, ...) | `Io` | yes | 5 |
//! | IO `PermissionDenied`, `Unsupported`, `InvalidInput` (a local refusal) | `Other` | no | - |
//! | TLS: garbage, an alert, a decrypt error, during the handshake | `Connect` | yes | 5 |
//! | TLS: the same after the handshake (or at an unknown point) | `Io` | yes | 5 |
//! | TLS: certificate rejected, no shared protocol, a local TLS failure (no clock, no random bytes, `General`), a bad revocation list | `Other` | no | - |
//! | a response that is not HTTP/1.1, or cut short | `Io` | yes | 5 |
//! | response headers over the client's limit | `Other` | no | - |
//! | a request that cannot be made (bad URL, http when https is required) | `Other` | no | - |
//!
//! A connect timeout is a timeout (10 tokens), as the blocking client always
//! counted it and as smithy-rs charges its timeout cost for connector
//! timeouts.

use std::io;

use personalize_events_core::{Error, TransportErrorKind};

/// When in an attempt a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// While connecting: TCP, or the TLS handshake.
    Connect,
    /// After the connection was made: sending the request or reading the
    /// response.
    Exchange,
    /// The library does not say.
    Unknown,
}

/// A TLS failure, in the terms the retry decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The peer's certificate was rejected or missing, its name type is not
    /// supported, or a certificate revocation list is invalid.
    CertificateRejected,
    /// The peers share no protocol version or cipher suite.
    PeerIncompatible,
    /// The TLS library failed locally: no current time, no random bytes,
    /// or a general error.
    Local,
    /// The exchange broke: garbage instead of TLS, an alert, a decrypt
    /// error, a peer that misbehaved.
    Broken,
}

/// What went wrong with an attempt, as a transport tells the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// Connecting ran past the connect timeout.
    ConnectTimeout,
    /// The attempt, or a read or write, ran past its timeout.
    Timeout,
    /// The host name did not resolve.
    Dns,
    /// An IO error of this kind.
    Io(Phase, io::ErrorKind),
    /// A TLS error.
    Tls(Phase, TlsFailure),
    /// The answer is not HTTP/1.1, or the connection closed before the
    /// response was complete.
    Malformed,
    /// The response's header block is larger than the client accepts.
    ResponseHeadersTooLarge,
    /// The request cannot be made: a bad URL, plain http when https is
    /// required, a client misconfiguration.
    Request,
}

impl Failure {
    /// The kind of transport error this failure is, which decides whether it
    /// is retried and at which quota cost.
    pub fn kind(self) -> TransportErrorKind {
        use TransportErrorKind as K;
        match self {
            Failure::ConnectTimeout | Failure::Timeout => K::Timeout,
            Failure::Dns => K::Connect,
            Failure::Io(phase, kind) => io_kind(phase, kind),
            Failure::Tls(phase, tls) => match tls {
                TlsFailure::CertificateRejected
                | TlsFailure::PeerIncompatible
                | TlsFailure::Local => K::Other,
                TlsFailure::Broken if phase == Phase::Connect => K::Connect,
                TlsFailure::Broken => K::Io,
            },
            Failure::Malformed => K::Io,
            Failure::ResponseHeadersTooLarge | Failure::Request => K::Other,
        }
    }

    /// The core's error for this failure, with the transport's description.
    pub fn error(self, message: impl Into<String>) -> Error {
        Error::transport(self.kind(), message)
    }
}

fn io_kind(phase: Phase, kind: io::ErrorKind) -> TransportErrorKind {
    use io::ErrorKind as E;
    use TransportErrorKind as K;
    match kind {
        E::TimedOut | E::WouldBlock => K::Timeout,
        E::ConnectionRefused
        | E::HostUnreachable
        | E::NetworkUnreachable
        | E::NetworkDown
        | E::AddrNotAvailable
        | E::AddrInUse => K::Connect,
        E::PermissionDenied | E::Unsupported | E::InvalidInput => K::Other,
        _ if phase == Phase::Connect => K::Connect,
        // Reset, aborted, broken pipe, unexpected EOF, not connected,
        // Other, InvalidData, Interrupted, ...
        _ => K::Io,
    }
}

/// The TLS failure a rustls error is (both transports use rustls 0.23).
pub fn rustls_failure(e: &rustls::Error) -> TlsFailure {
    use rustls::Error as R;
    match e {
        R::InvalidCertificate(_)
        | R::NoCertificatesPresented
        | R::UnsupportedNameType
        | R::InvalidCertRevocationList(_) => TlsFailure::CertificateRejected,
        R::PeerIncompatible(_) => TlsFailure::PeerIncompatible,
        R::FailedToGetCurrentTime | R::FailedToGetRandomBytes | R::General(_) => TlsFailure::Local,
        _ => TlsFailure::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind as E;
    use TransportErrorKind as K;

    #[test]
    fn unlisted_io_kinds_after_connecting_are_broken_connections() {
        for k in [E::Other, E::InvalidData, E::Interrupted, E::UnexpectedEof] {
            assert_eq!(Failure::Io(Phase::Exchange, k).kind(), K::Io, "{k:?}");
            assert_eq!(Failure::Io(Phase::Unknown, k).kind(), K::Io, "{k:?}");
            assert_eq!(Failure::Io(Phase::Connect, k).kind(), K::Connect, "{k:?}");
        }
        for k in [E::PermissionDenied, E::Unsupported, E::InvalidInput] {
            assert_eq!(Failure::Io(Phase::Exchange, k).kind(), K::Other, "{k:?}");
        }
        assert_eq!(Failure::Io(Phase::Exchange, E::TimedOut).kind(), K::Timeout);
    }

    #[test]
    fn tls_depends_on_what_and_when() {
        assert_eq!(
            Failure::Tls(Phase::Connect, TlsFailure::Broken).kind(),
            K::Connect
        );
        assert_eq!(
            Failure::Tls(Phase::Exchange, TlsFailure::Broken).kind(),
            K::Io
        );
        for t in [
            TlsFailure::CertificateRejected,
            TlsFailure::PeerIncompatible,
            TlsFailure::Local,
        ] {
            assert_eq!(Failure::Tls(Phase::Connect, t).kind(), K::Other, "{t:?}");
        }
    }

    #[test]
    fn connect_timeouts_cost_as_timeouts() {
        assert_eq!(Failure::ConnectTimeout.kind(), K::Timeout);
        assert_eq!(Failure::ResponseHeadersTooLarge.kind(), K::Other);
        assert_eq!(Failure::Malformed.kind(), K::Io);
    }
}
