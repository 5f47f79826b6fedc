//! A TLS server on 127.0.0.1 whose certificate comes from a CA made for
//! the test (rcgen), answering every request `200` with an empty body as
//! the service does; it counts handshakes tried and completed, and
//! requests. Threads and blocking rustls, so the CLI's tests can include
//! this file too.
#![allow(dead_code)] // each test file uses part of it

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_CONNECTIONS: usize = 200;
const MAX_LIFETIME: Duration = Duration::from_secs(60);
const MAX_REQUESTS_PER_CONNECTION: usize = 100;

/// A certificate authority made for one test, and a server certificate
/// for `127.0.0.1`, `localhost` and `sts.proxy.test` (a name only the test
/// proxy resolves) that it signed.
pub struct TestCa {
    /// The CA's certificate, PEM.
    pub ca_pem: String,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl TestCa {
    /// A new CA and server certificate.
    pub fn new() -> TestCa {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "personalize-events test CA");
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf = rcgen::CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "sts.proxy.test".to_string(),
        ])
        .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        TestCa {
            ca_pem: ca_cert.pem(),
            chain: vec![leaf_cert.der().clone()],
            key_der: leaf_key.serialize_der(),
        }
    }

    /// Writes the CA's PEM to `dir/name` and gives the path.
    pub fn write_pem(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.ca_pem).unwrap();
        p
    }
}

/// A fresh temporary directory for one test (removed when dropped).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("pe-net-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A whole HTTP response for a request's body.
pub type Answer = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// The service's answer to a put: `200` with an empty body.
const SERVICE_OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            x-amzn-requestid: tls-test\r\ncontent-length: 0\r\n\r\n";

/// The running server; stopped when dropped.
pub struct TlsServer {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TlsServer {
    /// Serves with `ca`'s server certificate, answering as the service.
    pub fn start(ca: &TestCa) -> TlsServer {
        TlsServer::start_answering(ca, Arc::new(|_: &[u8]| SERVICE_OK.to_vec()))
    }

    /// Serves with `ca`'s server certificate, answering each request with
    /// what `answer` makes of its body.
    pub fn start_answering(ca: &TestCa, answer: Answer) -> TlsServer {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ca.key_der.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(ca.chain.clone(), key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, c, r, s) = (
            handshakes.clone(),
            completed.clone(),
            requests.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut accepted = 0;
            while accepted < MAX_CONNECTIONS
                && !s.load(Ordering::SeqCst)
                && started.elapsed() < MAX_LIFETIME
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted += 1;
                        h.fetch_add(1, Ordering::SeqCst);
                        let (config, c, r) = (config.clone(), c.clone(), r.clone());
                        let answer = answer.clone();
                        std::thread::spawn(move || serve(stream, config, &c, &r, &answer));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TlsServer {
            port,
            handshakes,
            completed,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `https://HOST:PORT`.
    pub fn url_for(&self, host: &str) -> String {
        format!("https://{host}:{}", self.port)
    }

    /// `https://localhost:PORT`.
    pub fn localhost_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// Connections accepted (each a handshake tried).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Handshakes that succeeded.
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Requests answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Waits until `handshakes()` passes `before`; for the server thread to
    /// count a handshake a client already gave up on. At most 60 s: a hang
    /// guard, not a measure (the wait ends as soon as it is counted).
    pub fn wait_for_handshake_after(&self, before: usize) {
        let t = Instant::now();
        while self.handshakes() == before && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    completed: &AtomicUsize,
    requests: &AtomicUsize,
    answer: &Answer,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    completed.fetch_add(1, Ordering::SeqCst);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let Some(length) = read_request(&mut tls) else {
            return;
        };
        let mut body = vec![0u8; length];
        if tls.read_exact(&mut body).is_err() {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        if tls
            .write_all(&answer(&body))
            .and_then(|_| tls.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Reads a request head; gives its `content-length`.
fn read_request(r: &mut impl Read) -> Option<usize> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || r.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    Some(
        text.lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    )
}
