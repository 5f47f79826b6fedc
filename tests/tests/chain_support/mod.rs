//! What the `config_chain_*` tests share: a std-only driver of the
//! credentials chain (HTTP/1.1 to 127.0.0.1, `sh -c` with a timeout), temp
//! homes, `Environment` snapshots and a bounded fake HTTP server.
#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::{Credentials, Error, TransportErrorKind};
use personalize_events_credentials::{
    ChainStep, CredentialsChain, Environment, FileError, ProcessOutput,
};

pub const EXP: &str = "2099-01-01T00:00:00Z";

// ---------------------------------------------------------------------------
// The driver a transport would write, std only.
// ---------------------------------------------------------------------------

pub fn drive(chain: CredentialsChain) -> Result<Credentials, Error> {
    drive_budgeted(chain).0
}

/// [`drive`], also returning the most the chain allowed itself to wait: the
/// sum of the timeouts it gave its requests and processes (it has no other
/// waits). The chain's own bound, not a measured duration.
pub fn drive_budgeted(mut chain: CredentialsChain) -> (Result<Credentials, Error>, Duration) {
    let mut budget = Duration::ZERO;
    for _ in 0..100 {
        match chain.poll(SystemTime::now()) {
            ChainStep::ReadFile(path) => {
                let r = std::fs::read(&path).map_err(FileError::from);
                chain.handle_file(&path, r);
            }
            ChainStep::Http { request, timeout } => {
                budget += timeout;
                chain.handle_http(send(request, timeout))
            }
            ChainStep::RunProcess { command, timeout } => {
                budget += timeout;
                chain.handle_process(run_process(&command, timeout))
            }
            ChainStep::WriteFile { path, contents } => {
                let r = std::fs::write(&path, contents).map_err(FileError::from);
                chain.handle_write(&path, r);
            }
            ChainStep::Done(r) => return (r, budget),
        }
    }
    panic!("the chain did not finish in 100 steps");
}

pub fn transport_err(e: &std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            TransportErrorKind::Timeout
        }
        std::io::ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
        _ => TransportErrorKind::Io,
    };
    Error::transport(kind, e.to_string())
}

/// HTTP/1.1 over a fresh connection, to 127.0.0.1 only.
pub fn send(
    req: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, Error> {
    let uri = req.uri().clone();
    assert_eq!(
        uri.scheme_str(),
        Some("http"),
        "tests only speak plain http"
    );
    assert_eq!(
        uri.host(),
        Some("127.0.0.1"),
        "tests never leave 127.0.0.1: {uri}"
    );
    let addr = format!("127.0.0.1:{}", uri.port_u16().unwrap_or(80));
    let addr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| transport_err(&e))?;
    s.set_read_timeout(Some(timeout)).unwrap();
    s.set_write_timeout(Some(timeout)).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\n",
        req.method(),
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    for (k, v) in req.headers() {
        head.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap()));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        req.body().len()
    ));
    s.write_all(head.as_bytes())
        .map_err(|e| transport_err(&e))?;
    s.write_all(req.body()).map_err(|e| transport_err(&e))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| transport_err(&e))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| Error::transport(TransportErrorKind::Io, "truncated response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| Error::transport(TransportErrorKind::Io, "bad status line"))?;
    let mut b = http::Response::builder().status(status);
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            b = b.header(k.trim(), v.trim());
        }
    }
    Ok(b.body(raw[split + 4..].to_vec()).unwrap())
}

/// `sh -c command`, output captured, killed after `timeout`.
pub fn run_process(command: &str, timeout: Duration) -> Result<ProcessOutput, Error> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::transport(TransportErrorKind::Other, e.to_string()))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::transport(
                TransportErrorKind::Timeout,
                "credential_process timed out",
            ));
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok(ProcessOutput {
        status: status.code(),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    })
}

// ---------------------------------------------------------------------------
// Fixtures: temp dirs, env snapshots, fake servers.
// ---------------------------------------------------------------------------

/// A unique temp directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "pe-config-{name}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        TempDir(dir)
    }
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }
    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An environment with `home` as home directory, IMDS disabled unless the
/// test points it at a fake server, and `vars`.
pub fn env(home: &TempDir, vars: &[(&str, String)]) -> Environment {
    let mut all: Vec<(String, String)> = vec![("HOME".into(), home.0.display().to_string())];
    if !vars.iter().any(|(k, _)| k.starts_with("AWS_EC2_METADATA")) {
        all.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    }
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Environment::from_vars(all)
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

pub struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `max` connections (or stops after 10 s), answering each with
    /// `handler(request, index)` = (status, body).
    pub fn start(
        max: usize,
        handler: impl Fn(&Seen, usize) -> (u16, String) + Send + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut n = 0;
            while n < max && Instant::now() < deadline {
                let (mut s, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let Some(req) = read_request(&mut s) else {
                    continue;
                };
                let (status, body) = handler(&req, n);
                log.lock().unwrap().push(req);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes());
                let _ = s.shutdown(Shutdown::Both);
                n += 1;
            }
        });
        Server {
            port,
            seen,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn finish(mut self) -> Vec<Seen> {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen()
    }
}

pub fn read_request(s: &mut TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8(out).unwrap())
        })
        .collect()
}

pub fn sts_xml(action: &str, akid: &str) -> String {
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>\
         <Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>s3cr3t-{akid}</SecretAccessKey>\
         <SessionToken>t0ken-{akid}</SessionToken><Expiration>{EXP}</Expiration></Credentials>\
         </{action}Result></{action}Response>"
    )
}

pub fn creds_json(akid: &str) -> String {
    format!(
        r#"{{"Code":"Success","AccessKeyId":"{akid}","SecretAccessKey":"s3cr3t","Token":"t0ken","Expiration":"{EXP}"}}"#
    )
}

pub fn cred_message(e: Error) -> (String, String) {
    match e {
        Error::Credentials {
            source_name,
            message,
        } => (source_name, message),
        other => panic!("not a credentials error: {other:?}"),
    }
}
