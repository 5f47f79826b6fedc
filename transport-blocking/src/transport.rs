//! One attempt over ureq: per-attempt timeouts, the bounded body read, and
//! the mapping of ureq's errors to the core's transport error kinds.

use std::io::{self, Read};
use std::time::Duration;

#[cfg(test)]
use personalize_events_core::TransportErrorKind;
use personalize_events_core::{Error, SendRequest};
use personalize_events_credentials::failure::{rustls_failure, Failure, Phase};

/// The HTTP side of a client: one ureq agent (one connection pool).
#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
    max_body: usize,
    /// The proxy the endpoint is reached through, named in connect errors.
    via_proxy: Option<String>,
}

/// Connections kept open per host. Enough for the batch helper's threads.
const IDLE_PER_HOST: usize = 16;

/// Each connection's buffers (ureq's default is 128 KiB each, allocated
/// and zeroed on every new connection, twice over TLS): one TLS record's
/// worth. A request head is well under this (a line longer than it could
/// not be sent, and the longest, a session token, is a few KiB); a longer
/// body goes out in several writes, and a response body of any length up
/// to the body limit is read through the input buffer in pieces.
const BUFFER_SIZE: usize = 16 * 1024;

/// The largest response head accepted. ureq reports a longer head only
/// once it has more of it than this limit: the head must be refused before
/// it fills the input buffer, or ureq would take the full buffer for a
/// stalled connection (a retried `Io` error, not a refused head).
const MAX_RESPONSE_HEAD: usize = BUFFER_SIZE - 1;

impl Http {
    /// An agent for one endpoint. `https_only` refuses any plain-http URL
    /// (set whenever the endpoint is https, as a second line of defence).
    pub(crate) fn new(
        https_only: bool,
        user_agent: &str,
        connect_timeout: Duration,
        attempt_timeout: Duration,
        max_body: usize,
        net: crate::network::Network,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .proxy(net.proxy)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(net.roots)
                    .build(),
            )
            // Error responses carry the body the decoder needs.
            .http_status_as_error(false)
            .https_only(https_only)
            // A signed POST is never replayed elsewhere: a 3xx is an answer.
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Only a fallback: every request carries the core's User-Agent,
            // which ureq keeps.
            .user_agent(user_agent)
            .accept("")
            // Overridden per attempt with what the core allows.
            .timeout_global(Some(attempt_timeout))
            .timeout_connect(Some(connect_timeout))
            .input_buffer_size(BUFFER_SIZE)
            .output_buffer_size(BUFFER_SIZE)
            .max_response_header_size(MAX_RESPONSE_HEAD)
            .max_idle_connections(IDLE_PER_HOST * 2)
            .max_idle_connections_per_host(IDLE_PER_HOST)
            .build();
        Http {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                crate::resolver::CachingResolver::default(),
            ),
            max_body,
            via_proxy: net.via,
        }
    }

    /// Sends one attempt and reads its whole response (at most `max_body`
    /// bytes of body), inside a tracing span for the attempt.
    pub(crate) fn send(&self, send: SendRequest) -> Result<http::Response<Vec<u8>>, Error> {
        let span = personalize_events_credentials::attempt_span!(send);
        let _entered = span.enter();
        let result = self.exchange(send);
        personalize_events_credentials::record_attempt(&span, &result);
        result
    }

    fn exchange(&self, send: SendRequest) -> Result<http::Response<Vec<u8>>, Error> {
        let SendRequest {
            request,
            timeout,
            connect_timeout,
            ..
        } = send;
        // ureq sends the shared body from a borrow: no copy.
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, &body[..]);
        let request = self
            .agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .timeout_connect(Some(connect_timeout))
            .build();
        let response = (self.agent.run(request)).map_err(|e| {
            crate::network::Network::name_proxy(self.via_proxy.as_deref(), map_error(e))
        })?;
        let (parts, body) = response.into_parts();
        let reader = body.into_reader();
        // After a transient server error the retry takes a new connection
        // (the core decides which statuses): ureq returns a connection to
        // its pool only when a read finds the body's end, so the declared
        // length is read and the reader dropped before that, closing it.
        // (A chunked answer, which ends only with that read, is the
        // exception: ureq gives no other way to refuse its connection.)
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match declared {
            Some(len) if personalize_events_core::poisons_connection(parts.status.as_u16()) => {
                read_limited(reader.take(len), self.max_body)?
            }
            _ => read_limited(reader, self.max_body)?,
        };
        Ok(http::Response::from_parts(parts, body))
    }
}

/// Reads a body to its end, keeping at most `limit` bytes. A longer body is
/// cut (the decoder only needs its start, and the connection is then not
/// reused): a 200 stays a success, and an error keeps its status.
pub(crate) fn read_limited(reader: impl Read, limit: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut body)
        .map_err(|e| map_body_error(ureq::Error::from(e)))?;
    if body.len() > limit {
        tracing::debug!(limit, "response body cut at the size limit");
        body.truncate(limit);
    }
    Ok(body)
}

/// A ureq error as the core's transport error.
pub(crate) fn map_error(e: ureq::Error) -> Error {
    failure(&e, Phase::Connect).error(e.to_string())
}

/// A ureq error while reading a response body as the core's error.
fn map_body_error(e: ureq::Error) -> Error {
    failure(&e, Phase::Exchange).error(e.to_string())
}

/// The kind of transport failure a ureq error is (decided by the shared
/// table, [`personalize_events_credentials::failure`], which the async client
/// uses too).
#[cfg(test)]
pub(crate) fn classify(e: &ureq::Error) -> TransportErrorKind {
    failure(e, Phase::Connect).kind()
}

/// What a ureq error tells of the failure. `tls_phase` is when a TLS error
/// happened: ureq completes the handshake while connecting, so one from
/// sending the request is taken as a handshake failure, one from reading
/// the body as a later one. IO errors carry no phase: ureq does not say.
fn failure(e: &ureq::Error, tls_phase: Phase) -> Failure {
    match e {
        ureq::Error::Timeout(ureq::Timeout::Connect) => Failure::ConnectTimeout,
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::HostNotFound => Failure::Dns,
        ureq::Error::ConnectionFailed | ureq::Error::ConnectProxyFailed(_) => {
            Failure::Io(Phase::Connect, io::ErrorKind::Other)
        }
        ureq::Error::Io(io) => failure_io(io, tls_phase),
        ureq::Error::Rustls(r) => Failure::Tls(tls_phase, rustls_failure(r)),
        // The server sent something that is not HTTP/1.1 (or cut it short);
        // the requests this client builds are always well formed.
        ureq::Error::Protocol(_) => Failure::Malformed,
        ureq::Error::LargeResponseHeader(..) => Failure::ResponseHeadersTooLarge,
        // A bad URL, an http URL when https is required, a TLS
        // configuration error, ...
        _ => Failure::Request,
    }
}

fn failure_io(e: &io::Error, tls_phase: Phase) -> Failure {
    if let Some(inner) = e.get_ref() {
        // rustls reports its failures as InvalidData wrapping its error.
        if let Some(r) = inner.downcast_ref::<rustls::Error>() {
            return Failure::Tls(tls_phase, rustls_failure(r));
        }
        if let Some(u) = inner.downcast_ref::<ureq::Error>() {
            return failure(u, tls_phase);
        }
    }
    // getaddrinfo failures have no ErrorKind of their own.
    if e.to_string().contains("failed to lookup address") {
        return Failure::Dns;
    }
    Failure::Io(Phase::Unknown, e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use TransportErrorKind as K;

    fn io(kind: io::ErrorKind) -> ureq::Error {
        ureq::Error::Io(io::Error::new(kind, "x"))
    }

    #[test]
    fn timeouts_are_timeouts() {
        for t in [
            ureq::Timeout::Connect,
            ureq::Timeout::Global,
            ureq::Timeout::Resolve,
            ureq::Timeout::RecvResponse,
            ureq::Timeout::RecvBody,
            ureq::Timeout::PerCall,
        ] {
            assert_eq!(classify(&ureq::Error::Timeout(t)), K::Timeout, "{t:?}");
        }
        assert_eq!(classify(&io(io::ErrorKind::TimedOut)), K::Timeout);
        assert_eq!(classify(&io(io::ErrorKind::WouldBlock)), K::Timeout);
        // A timeout wrapped in an io::Error, as ureq's readers return it.
        let wrapped = ureq::Error::Timeout(ureq::Timeout::RecvBody).into_io();
        assert_eq!(classify(&ureq::Error::Io(wrapped)), K::Timeout);
        let wrapped = ureq::Error::Timeout(ureq::Timeout::RecvBody).into_io();
        assert_eq!(classify(&ureq::Error::from(wrapped)), K::Timeout);
    }

    #[test]
    fn connect_failures_are_connect() {
        assert_eq!(classify(&ureq::Error::HostNotFound), K::Connect);
        assert_eq!(classify(&ureq::Error::ConnectionFailed), K::Connect);
        for k in [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::HostUnreachable,
            io::ErrorKind::NetworkUnreachable,
            io::ErrorKind::AddrNotAvailable,
        ] {
            assert_eq!(classify(&io(k)), K::Connect, "{k:?}");
        }
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(classify(&ureq::Error::Io(dns)), K::Connect);
    }

    #[test]
    fn broken_connections_are_io() {
        for k in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::NotConnected,
        ] {
            assert_eq!(classify(&io(k)), K::Io, "{k:?}");
        }
    }

    #[test]
    fn tls_handshake_failures_are_connect_but_rejected_certificates_are_not_retried() {
        let bad_cert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(classify(&ureq::Error::Io(bad_cert)), K::Other);
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(classify(&ureq::Error::Rustls(expired)), K::Other);
        let garbage = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(classify(&ureq::Error::Io(garbage)), K::Connect);
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(classify(&ureq::Error::Rustls(alert)), K::Connect);
    }

    #[test]
    fn what_retrying_cannot_fix_is_other() {
        assert_eq!(classify(&ureq::Error::BadUri("no host".into())), K::Other);
        assert_eq!(
            classify(&ureq::Error::RequireHttpsOnly("http://x".into())),
            K::Other
        );
        assert_eq!(
            classify(&ureq::Error::LargeResponseHeader(70_000, 65_536)),
            K::Other
        );
        assert_eq!(classify(&ureq::Error::Tls("bad dns name")), K::Other);
        assert_eq!(classify(&io(io::ErrorKind::PermissionDenied)), K::Other);
    }

    #[test]
    fn body_is_read_whole_or_cut_at_the_limit() {
        assert_eq!(read_limited(&b"hello"[..], 5).unwrap(), b"hello");
        assert_eq!(read_limited(&b"hello world"[..], 5).unwrap(), b"hello");
        assert_eq!(read_limited(&b""[..], 5).unwrap(), b"");
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer gone"))
            }
        }
        let e = read_limited(Broken, 5).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Io,
                    ..
                }
            ),
            "{e}"
        );
    }

    fn send_to(url: &str, timeout: Duration) -> Result<http::Response<Vec<u8>>, Error> {
        send_to_with(url, timeout, 1024)
    }

    fn send_to_with(
        url: &str,
        timeout: Duration,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let http = Http::new(
            url.starts_with("https"),
            "test",
            timeout,
            timeout,
            max_body,
            Default::default(),
        );
        let core =
            personalize_events_core::ClientCore::new(personalize_events_core::ClientConfig::new(
                "us-east-1",
                personalize_events_core::endpoint::resolve(
                    &personalize_events_core::EndpointParams {
                        region: Some("us-east-1".into()),
                        endpoint: Some(url.into()),
                        ..Default::default()
                    },
                )
                .unwrap(),
            ))
            .unwrap();
        let input = personalize_events_core::PutItemsInput::new(
            "arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS",
        )
        .item(personalize_events_core::Item::new("i"));
        let now = std::time::Instant::now();
        let mut call = core.call(&input, now, 1).unwrap();
        let creds = personalize_events_core::Credentials::new("AKIDEXAMPLE", "s", None);
        match call.poll(now, std::time::SystemTime::now(), &creds, 0.5) {
            personalize_events_core::Poll::Send(s) => http.send(s),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refused_connection_is_connect() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = send_to(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: K::Connect,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn https_to_a_plain_http_server_is_a_connect_failure() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        });
        let e = send_to(&format!("https://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap_err();
        server.join().unwrap();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: K::Connect,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn plain_http_is_refused_when_https_only() {
        let http = Http::new(
            true,
            "test",
            Duration::from_secs(1),
            Duration::from_secs(1),
            10,
            Default::default(),
        );
        let req = http::Request::post("http://127.0.0.1:9/x")
            .body(Vec::new())
            .unwrap();
        let e = http.agent.run(req).map_err(map_error).unwrap_err();
        assert!(matches!(e, Error::Transport { kind: K::Other, .. }), "{e}");
    }

    /// A server on 127.0.0.1 that reads one request (head and
    /// `content-length` body), answers `reply` and closes; joined, it gives
    /// the request's head and body lengths.
    fn answer_once(reply: Vec<u8>) -> (String, std::thread::JoinHandle<(usize, usize)>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            // Bounded: at most 1 MiB of request, each read within 5 s.
            let head_end = loop {
                if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0 && got.len() < 1 << 20, "request head cut short");
                got.extend_from_slice(&buf[..n]);
            };
            let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
            let length: usize = (head.lines())
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while got.len() < head_end + length {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "request body cut short");
                got.extend_from_slice(&buf[..n]);
            }
            let _ = s.write_all(&reply);
            (head_end, got.len() - head_end)
        });
        (url, server)
    }

    fn ok_with(header: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 200 OK\r\n{header}content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn a_body_up_to_the_limit_is_read_whole_through_the_small_buffer() {
        let max = personalize_events_core::MAX_RESPONSE_BYTES;
        let body: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
        let (url, server) = answer_once(ok_with("", &body));
        let got = send_to_with(&url, Duration::from_secs(5), max).unwrap();
        server.join().unwrap();
        assert_eq!(got.status(), 200);
        assert!(got.body() == &body, "{} bytes read", got.body().len());
    }

    #[test]
    fn a_response_head_near_the_buffer_size_is_read_and_a_longer_one_refused() {
        let near = format!("x-big: {}\r\n", "b".repeat(MAX_RESPONSE_HEAD - 200));
        let (url, server) = answer_once(ok_with(&near, b"{}"));
        let got = send_to(&url, Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        assert_eq!(got.headers()["x-big"].len(), MAX_RESPONSE_HEAD - 200);

        // A longer head, even one that fills the input buffer exactly, is
        // refused as too large (not retried), not taken for a stall.
        for size in [MAX_RESPONSE_HEAD, BUFFER_SIZE, 4 * BUFFER_SIZE] {
            let over = format!("x-big: {}\r\n", "b".repeat(size));
            let (url, server) = answer_once(ok_with(&over, b"{}"));
            let e = send_to(&url, Duration::from_secs(5)).unwrap_err();
            server.join().unwrap();
            assert!(
                matches!(e, Error::Transport { kind: K::Other, .. }),
                "{size}: {e}"
            );
        }
    }

    #[test]
    fn a_long_header_line_and_a_body_larger_than_the_buffer_are_sent_whole() {
        let http = Http::new(
            false,
            "test",
            Duration::from_secs(5),
            Duration::from_secs(5),
            1024,
            Default::default(),
        );
        let (url, server) = answer_once(ok_with("", b""));
        let token = "t".repeat(BUFFER_SIZE / 2);
        let body = vec![b'x'; 5 * BUFFER_SIZE + 17];
        let req = http::Request::post(format!("{url}/events"))
            .header("x-amz-security-token", &token)
            .body(body.clone())
            .unwrap();
        let response = http.agent.run(req).map_err(map_error).unwrap();
        assert_eq!(response.status(), 200);
        let (head, sent) = server.join().unwrap();
        assert!(head > token.len(), "{head}");
        assert_eq!(sent, body.len());
    }
}
