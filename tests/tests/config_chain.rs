//! The credentials chain and config loader driven for real: temp files,
//! a `credential_process` that is a small `sh` script, and container / IMDSv2
//! / STS fake servers on 127.0.0.1, with a tiny std-only driver.
//!
//! No process environment variables are read or set: every test builds its
//! own `Environment` snapshot. Every server thread and process is bounded.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::{Credentials, Error, TransportErrorKind};
use personalize_events_credentials::{
    CacheLookup, ChainStep, ChainTimeouts, ConfigLoader, ConfigOverrides, CredentialsCache,
    CredentialsChain, Environment, FileError, ProcessOutput,
};

const EXP: &str = "2099-01-01T00:00:00Z";

// ---------------------------------------------------------------------------
// The driver a transport would write, std only.
// ---------------------------------------------------------------------------

fn drive(chain: CredentialsChain) -> Result<Credentials, Error> {
    drive_budgeted(chain).0
}

/// [`drive`], also returning the most the chain allowed itself to wait: the
/// sum of the timeouts it gave its requests and processes (it has no other
/// waits). The chain's own bound, not a measured duration.
fn drive_budgeted(mut chain: CredentialsChain) -> (Result<Credentials, Error>, Duration) {
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

fn transport_err(e: &std::io::Error) -> Error {
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
fn send(req: http::Request<Vec<u8>>, timeout: Duration) -> Result<http::Response<Vec<u8>>, Error> {
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
fn run_process(command: &str, timeout: Duration) -> Result<ProcessOutput, Error> {
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
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
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
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn path(&self, rel: &str) -> String {
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
fn env(home: &TempDir, vars: &[(&str, String)]) -> Environment {
    let mut all: Vec<(String, String)> = vec![("HOME".into(), home.0.display().to_string())];
    if !vars.iter().any(|(k, _)| k.starts_with("AWS_EC2_METADATA")) {
        all.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    }
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Environment::from_vars(all)
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Serves `max` connections (or stops after 10 s), answering each with
    /// `handler(request, index)` = (status, body).
    fn start(
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn finish(mut self) -> Vec<Seen> {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.seen()
    }
}

fn read_request(s: &mut TcpStream) -> Option<Seen> {
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
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn form(body: &str) -> HashMap<String, String> {
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

fn sts_xml(action: &str, akid: &str) -> String {
    format!(
        "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>\
         <Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>s3cr3t-{akid}</SecretAccessKey>\
         <SessionToken>t0ken-{akid}</SessionToken><Expiration>{EXP}</Expiration></Credentials>\
         </{action}Result></{action}Response>"
    )
}

fn creds_json(akid: &str) -> String {
    format!(
        r#"{{"Code":"Success","AccessKeyId":"{akid}","SecretAccessKey":"s3cr3t","Token":"t0ken","Expiration":"{EXP}"}}"#
    )
}

fn cred_message(e: Error) -> (String, String) {
    match e {
        Error::Credentials {
            source_name,
            message,
        } => (source_name, message),
        other => panic!("not a credentials error: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn shared_files_static_keys_and_profile_selection() {
    let home = TempDir::new("files");
    home.write(
        ".aws/config",
        "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\n",
    );
    home.write(
        ".aws/credentials",
        "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s3cr3t\n\
         [dev]\naws_access_key_id = AKDEV\naws_secret_access_key = s3cr3t\naws_session_token = t0ken\n",
    );
    let c = drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "AKDEFAULT");
    let c = drive(CredentialsChain::new(
        &env(&home, &[("AWS_PROFILE", "dev".into())]),
        None,
    ))
    .unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("AKDEV", Some("t0ken"))
    );
    // Files elsewhere, named by variables.
    let other = TempDir::new("files-elsewhere");
    let creds = other.write(
        "my-creds",
        "[default]\naws_access_key_id = AKOTHER\naws_secret_access_key = s\n",
    );
    let c = drive(CredentialsChain::new(
        &env(
            &home,
            &[("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string())],
        ),
        None,
    ))
    .unwrap();
    assert_eq!(c.access_key_id(), "AKOTHER");
}

#[test]
fn malformed_profile_file_names_file_and_line() {
    let home = TempDir::new("malformed");
    home.write(
        ".aws/credentials",
        "[default]\naws_secret_access_key s3cr3t\n",
    );
    let (src, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap_err());
    assert_eq!(src, "shared config files");
    assert!(msg.starts_with(&home.path(".aws/credentials")), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
}

#[cfg(unix)]
#[test]
fn credential_process_real_script() {
    let home = TempDir::new("process");
    let script = home.write(
        "creds.sh",
        &format!(
            "#!/bin/sh\necho 'starting' >&2\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \
             \"SecretAccessKey\": \"s3cr3t\", \"SessionToken\": \"t0ken\", \"Expiration\": \"{EXP}\"}}'\n"
        ),
    );
    home.write(
        ".aws/config",
        &format!("[default]\ncredential_process = sh {}\n", script.display()),
    );
    let c = drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "AKPROC");
    assert_eq!(c.session_token(), Some("t0ken"));
    assert_eq!(
        c.expires_at(),
        personalize_events_core::time::parse_rfc3339(EXP)
    );
}

#[cfg(unix)]
#[test]
fn credential_process_failing_and_hanging() {
    let home = TempDir::new("process-fail");
    home.write(
        ".aws/config",
        "[profile fails]\ncredential_process = echo 'token expired, run login' >&2; exit 2\n\
         [profile hangs]\ncredential_process = sleep 30\n\
         [profile garbage]\ncredential_process = echo not-json\n",
    );
    let e = drive(CredentialsChain::new(&env(&home, &[]), Some("fails"))).unwrap_err();
    let (src, msg) = cred_message(e);
    assert_eq!(src, "profile `fails`");
    assert_eq!(
        msg,
        "credential_process failed with exit status 2: token expired, run login"
    );

    let chain = CredentialsChain::new(&env(&home, &[]), Some("hangs"))
        .with_timeouts(ChainTimeouts::default().with_process(Duration::from_millis(300)));
    let (_, msg) = cred_message(drive(chain).unwrap_err());
    assert!(
        msg.starts_with("credential_process did not finish within 0.3 s"),
        "{msg}"
    );

    let (_, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &[]), Some("garbage"))).unwrap_err());
    assert!(
        msg.starts_with("credential_process output: answer is not valid JSON"),
        "{msg}"
    );
}

#[test]
fn container_credentials_with_token_file() {
    let home = TempDir::new("ecs");
    let token = home.write("eks-token", "pod-auth-t0ken\n");
    let server = Server::start(1, |req, _| {
        if req.headers.get("authorization").map(String::as_str) == Some("pod-auth-t0ken") {
            (200, creds_json("ASIAPOD"))
        } else {
            (
                401,
                r#"{"code":"Unauthorized","message":"bad token"}"#.into(),
            )
        }
    });
    let vars = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            server.url("/v1/credentials"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token.display().to_string(),
        ),
    ];
    let c = drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAPOD");
    let seen = server.finish();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/v1/credentials")
    );
}

#[test]
fn container_http_error_stops_unreachable_moves_on() {
    let home = TempDir::new("ecs-fail");
    let server = Server::start(1, |_, _| {
        (
            500,
            r#"{"code":"InternalError","message":"agent down"}"#.into(),
        )
    });
    let vars = [("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds"))];
    let (src, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap_err());
    assert_eq!(src, "container credentials");
    assert!(
        msg.ends_with("answered HTTP 500 (InternalError: agent down)"),
        "{msg}"
    );
    server.finish();

    let vars = [(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://127.0.0.1:{}/creds", closed_port()),
    )];
    let (src, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap_err());
    assert_eq!(src, "default chain");
    assert!(msg.starts_with("no credentials found; tried: "), "{msg}");
    assert!(
        msg.contains("container credentials (http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("not reachable"), "{msg}");
}

#[test]
fn imds_v2_handshake_with_token_refresh_on_401() {
    let home = TempDir::new("imds");
    let server = Server::start(5, |req, i| {
        match (req.method.as_str(), req.path.as_str(), i) {
            ("PUT", "/latest/api/token", _) => {
                assert_eq!(req.headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
                (200, format!("imds-t0ken-{i}"))
            }
            ("GET", "/latest/meta-data/iam/security-credentials/", _) => (200, "web-role\n".into()),
            // The first credentials request finds the token expired.
            ("GET", "/latest/meta-data/iam/security-credentials/web-role", 2) => {
                (401, String::new())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/web-role", _) => {
                assert_eq!(req.headers["x-aws-ec2-metadata-token"], "imds-t0ken-3");
                (200, creds_json("ASIAEC2"))
            }
            _ => (404, String::new()),
        }
    });
    let vars = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url("/"))];
    let c = drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAEC2");
    let seen = server.finish();
    let trace: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        trace,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/web-role",
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/web-role",
        ]
    );
    assert_eq!(seen[1].headers["x-aws-ec2-metadata-token"], "imds-t0ken-0");
}

#[test]
fn imds_unreachable_gives_up_quickly() {
    let home = TempDir::new("imds-off");
    let vars = [(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://127.0.0.1:{}", closed_port()),
    )];
    let (r, budget) = drive_budgeted(CredentialsChain::new(&env(&home, &vars), None));
    // Quickly whatever the machine's load: the timeouts the chain grants
    // its metadata requests add up to under 3 s.
    assert!(budget < Duration::from_secs(3), "{budget:?}");
    let (src, msg) = cred_message(r.unwrap_err());
    assert_eq!(src, "default chain");
    assert!(
        msg.contains("environment (AWS_ACCESS_KEY_ID not set)"),
        "{msg}"
    );
    assert!(
        msg.contains("IMDSv2 (not reachable at http://127.0.0.1:"),
        "{msg}"
    );
}

#[test]
fn web_identity_through_fake_sts() {
    let home = TempDir::new("irsa");
    let token = home.write("token", "eyJ-w3b-1dentity-t0ken");
    let server = Server::start(1, |req, _| {
        let f = form(&req.body);
        assert_eq!(req.method, "POST");
        assert_eq!(
            req.headers["content-type"],
            "application/x-www-form-urlencoded; charset=utf-8"
        );
        assert_eq!(f["Action"], "AssumeRoleWithWebIdentity");
        assert_eq!(f["Version"], "2011-06-15");
        assert_eq!(f["RoleArn"], "arn:aws:iam::123456789012:role/irsa");
        assert_eq!(f["RoleSessionName"], "pod-a");
        assert_eq!(f["WebIdentityToken"], "eyJ-w3b-1dentity-t0ken");
        (200, sts_xml("AssumeRoleWithWebIdentity", "ASIAIRSA"))
    });
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa".into()),
        ("AWS_ROLE_SESSION_NAME", "pod-a".into()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ENDPOINT_URL_STS", server.url("")),
    ];
    let c = drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAIRSA");
    assert_eq!(c.session_token(), Some("t0ken-ASIAIRSA"));
    assert_eq!(server.finish()[0].path, "/");
}

#[test]
fn web_identity_errors_never_show_the_token() {
    let home = TempDir::new("irsa-fail");
    let token = home.write("token", "eyJ-w3b-1dentity-t0ken");
    let server = Server::start(1, |_, _| {
        (
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code>\
             <Message>Token eyJ-w3b-1dentity-t0ken has expired</Message></Error></ErrorResponse>"
                .into(),
        )
    });
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r".into()),
        ("AWS_ENDPOINT_URL", server.url("")),
    ];
    let e = drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("eyJ-w3b"), "{shown}");
    let (src, msg) = cred_message(e);
    assert_eq!(src, "web identity (environment)");
    assert!(
        msg.contains("ExpiredTokenException: Token ** redacted ** has expired"),
        "{msg}"
    );
    server.finish();

    // A token file that does not exist.
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", home.path("missing-token")),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r".into()),
    ];
    let (_, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &vars), None)).unwrap_err());
    assert_eq!(
        msg,
        format!(
            "web identity token file {} does not exist",
            home.path("missing-token")
        )
    );
}

#[test]
fn assume_role_through_fake_sts() {
    let home = TempDir::new("assume");
    let server = Server::start(1, |req, _| {
        let auth = &req.headers["authorization"];
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKBASE/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-north-1/sts/aws4_request"), "{auth}");
        let f = form(&req.body);
        assert_eq!(f["Action"], "AssumeRole");
        assert_eq!(f["RoleArn"], "arn:aws:iam::1:role/deploy");
        assert_eq!(f["ExternalId"], "xid");
        (200, sts_xml("AssumeRole", "ASIADEPLOY"))
    });
    home.write(
        ".aws/config",
        &format!(
            "[profile deploy]\nrole_arn = arn:aws:iam::1:role/deploy\nsource_profile = base\n\
             external_id = xid\nregion = eu-north-1\nservices = local\n\
             [services local]\nsts =\n  endpoint_url = {}\n",
            server.url("")
        ),
    );
    home.write(
        ".aws/credentials",
        "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = s3cr3t\n",
    );
    let c = drive(CredentialsChain::new(&env(&home, &[]), Some("deploy"))).unwrap();
    assert_eq!(c.access_key_id(), "ASIADEPLOY");
    server.finish();
}

#[test]
fn cache_refreshes_once_for_concurrent_callers() {
    let home = TempDir::new("cache");
    let server = Server::start(1, |_, _| {
        thread::sleep(Duration::from_millis(100));
        (200, creds_json("ASIACACHED"))
    });
    let environment = env(
        &home,
        &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds"))],
    );
    let cache = CredentialsCache::new();
    thread::scope(|s| {
        for _ in 0..6 {
            let cache = cache.clone();
            let environment = environment.clone();
            s.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    assert!(Instant::now() < deadline, "cache never became ready");
                    match cache.get(SystemTime::now()) {
                        CacheLookup::Ready(c) => {
                            assert_eq!(c.access_key_id(), "ASIACACHED");
                            return;
                        }
                        CacheLookup::Refresh(ticket) => {
                            let r = drive(CredentialsChain::new(&environment, None));
                            ticket.complete(r, SystemTime::now()).unwrap();
                        }
                        CacheLookup::Wait => thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
    });
    assert_eq!(cache.generation(), 1);
    assert_eq!(server.finish().len(), 1);
}

#[test]
fn config_loader_reads_real_files() {
    let home = TempDir::new("loader");
    home.write(
        ".aws/config",
        "[profile app]\nregion = ap-southeast-2\nmax_attempts = 6\nretry_mode = adaptive\n\
         services = local\n[services local]\npersonalize_events =\n  endpoint_url = http://127.0.0.1:4566\n",
    );
    let environment = env(&home, &[("AWS_PROFILE", "app".into())]);
    let files: HashMap<PathBuf, Result<Vec<u8>, FileError>> =
        ConfigLoader::files_needed(&environment)
            .into_iter()
            .map(|p: PathBuf| {
                let r = std::fs::read(&p).map_err(FileError::from);
                (p, r)
            })
            .collect();
    assert_eq!(files.len(), 2);
    assert!(files[Path::new(&home.path(".aws/credentials"))]
        .as_ref()
        .is_err_and(FileError::is_not_found));
    let resolved =
        ConfigLoader::resolve(&environment, &files, &ConfigOverrides::default()).unwrap();
    assert_eq!(resolved.region.as_deref(), Some("ap-southeast-2"));
    let config = resolved.into_client_config().unwrap();
    assert_eq!(config.endpoint.url(), "http://127.0.0.1:4566");
    assert_eq!(config.retry.max_attempts, 6);
    assert_eq!(
        config.retry.mode,
        personalize_events_core::RetryMode::Adaptive
    );
    // Code wins.
    let config = ConfigLoader::resolve(
        &environment,
        &files,
        &ConfigOverrides::default()
            .with_region("us-east-1")
            .with_endpoint_url("http://127.0.0.1:9"),
    )
    .unwrap()
    .into_client_config()
    .unwrap();
    assert_eq!(
        (config.region.as_str(), config.endpoint.url()),
        ("us-east-1", "http://127.0.0.1:9")
    );
}
