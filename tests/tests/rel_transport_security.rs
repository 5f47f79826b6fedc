//! The wire is what it claims to be, through both clients:
//!
//! * a client built for a region talks https (FIPS and dual-stack too);
//!   plain http only when an `http://` endpoint is given explicitly;
//! * a redirect is an answer, never a hop: a signed request is not replayed
//!   to another host;
//! * a self-signed certificate is refused after one handshake, with an
//!   error that is not retried.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use personalize_events_core::*;
use personalize_events_tests::raw_server::{response, RawReply, RawServer};
use rel_support::Settings;

fn credentials() -> Credentials {
    Credentials::new("AKIDRELTLS", "sk-REL-tls-wJalrXUtnFEMI", None)
}

#[test]
fn a_client_for_a_region_talks_https_and_http_only_when_asked() {
    for region in [
        "us-east-1",
        "eu-west-1",
        "cn-north-1",
        "us-gov-west-1",
        "ap-southeast-4",
    ] {
        let cfg = ClientConfig::for_region(region).unwrap();
        assert_eq!(cfg.endpoint.scheme(), "https", "{region}");
        let b = personalize_events_blocking::Client::builder()
            .region(region)
            .credentials(credentials())
            .build()
            .unwrap();
        assert!(
            b.endpoint_url().starts_with("https://"),
            "{}",
            b.endpoint_url()
        );
        let a = personalize_events_hyper::Client::builder()
            .region(region)
            .credentials(credentials())
            .build()
            .unwrap();
        assert_eq!(a.core().config().endpoint.scheme(), "https");
    }
    let b = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .use_fips(true)
        .use_dual_stack(true)
        .build()
        .unwrap();
    assert!(
        b.endpoint_url().starts_with("https://"),
        "{}",
        b.endpoint_url()
    );
    // Plain http only for an endpoint given as such.
    let b = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(b.endpoint_url(), "http://127.0.0.1:9");
    let a = personalize_events_hyper::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(a.core().config().endpoint.scheme(), "http");
}

#[test]
fn redirects_are_answers_not_hops() {
    // A signed request is never replayed to another host.
    let elsewhere = RawServer::start(|_| RawReply::close(response(200, &[], b"")));
    let location = format!("{}/events", elsewhere.url());
    let server = RawServer::start(move |_| {
        RawReply::close(response(307, &[("location", location.as_bytes())], b""))
    });
    for c in Settings::new(&server.url(), credentials())
        .attempts(1)
        .both()
    {
        let e = c.put_events(rel_support::events()).unwrap_err();
        assert_eq!(e.status(), Some(307), "{}: {e}", c.name());
    }
    assert_eq!(elsewhere.request_count(), 0);
}

/// A TLS server on loopback with a freshly made self-signed certificate;
/// counts the handshakes tried and how each ended.
struct SelfSignedServer {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SelfSignedServer {
    fn start() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("a self-signed certificate");
        let cert = ck.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let (h, c, s) = (handshakes.clone(), completed.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let deadline = tokio::time::sleep(Duration::from_secs(30));
                tokio::pin!(deadline);
                for _ in 0..100 {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = s.notified() => break,
                        _ = &mut deadline => break,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    h.fetch_add(1, Ordering::SeqCst);
                    let hs =
                        tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await;
                    if matches!(hs, Ok(Ok(_))) {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        });
        SelfSignedServer {
            port,
            handshakes,
            completed,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_self_signed_certificate_is_refused_and_not_retried() {
    let server = SelfSignedServer::start();
    let url = format!("https://127.0.0.1:{}", server.port);
    for c in Settings::new(&url, credentials()).attempts(3).both() {
        let before = server.handshakes.load(Ordering::SeqCst);
        let e = c.put_events(rel_support::events()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Other,
                    ..
                }
            ),
            "{}: {e:?}",
            c.name()
        );
        assert!(!e.is_retryable());
        assert!(
            e.to_string().to_ascii_lowercase().contains("certificate"),
            "{}: {e}",
            c.name()
        );
        // Give the server a moment to count the handshake (60 s: a hang
        // guard only, the wait ends as soon as it is counted).
        let t = Instant::now();
        while server.handshakes.load(Ordering::SeqCst) == before
            && t.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            server.handshakes.load(Ordering::SeqCst) - before,
            1,
            "{}: one handshake, no retry",
            c.name()
        );
    }
    assert_eq!(server.completed.load(Ordering::SeqCst), 0);
}
