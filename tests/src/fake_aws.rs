//! Fake AWS credential endpoints on 127.0.0.1 for the `creds_*` tests:
//! EC2 instance metadata (IMDSv2), ECS / EKS container credentials and STS
//! (`AssumeRoleWithWebIdentity`), answering as the real ones do, plus a
//! temporary home directory with `~/.aws` files and helpers to build
//! `Environment` snapshots.
//!
//! The endpoints are handlers on the one [`FakeService`] (std threads,
//! bounded in connections, lifetime and delays; dropping a server stops
//! it), through [`FakeServer`]'s simpler request and answer types.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use personalize_events_credentials::Environment;

use crate::fake_service::{reply, FakeService, ReplyExt, MAX_STALL};

const MAX_DELAY: Duration = MAX_STALL;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `PUT`, `POST`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// The body as text.
    pub body: String,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> HashMap<String, String> {
        form_decode(&self.body)
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    delay: Duration,
}

impl Answer {
    /// 200 with a JSON body.
    pub fn json(body: impl Into<String>) -> Self {
        Answer {
            status: 200,
            content_type: "application/json",
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// 200 with a text body.
    pub fn text(body: impl Into<String>) -> Self {
        Answer {
            status: 200,
            content_type: "text/plain",
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// 200 with an XML body.
    pub fn xml(body: impl Into<String>) -> Self {
        Answer {
            status: 200,
            content_type: "text/xml",
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// Another status, same body.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// An empty answer with this status.
    pub fn empty(status: u16) -> Self {
        Answer {
            status,
            content_type: "text/plain",
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    /// Answers only after `d` (at most 10 s).
    pub fn after(mut self, d: Duration) -> Self {
        self.delay = d.min(MAX_DELAY);
        self
    }
}

/// A fake HTTP server on 127.0.0.1 answering with a handler: a
/// [`FakeService`] (signatures not checked) that speaks [`Seen`] and
/// [`Answer`].
pub struct FakeServer {
    service: FakeService,
}

impl FakeServer {
    /// Starts serving on a free port.
    pub fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> FakeServer {
        FakeServer {
            service: FakeService::start(move |req| handler(&Seen::of(req)).response()),
        }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.service.url())
    }

    /// Every request seen so far, in order of arrival.
    pub fn requests(&self) -> Vec<Seen> {
        self.service
            .requests()
            .iter()
            .map(|r| Seen {
                method: r.method.clone(),
                path: r.path.clone(),
                headers: lowercased(&r.headers),
                body: String::from_utf8_lossy(&r.body).into_owned(),
            })
            .collect()
    }

    /// How many requests had this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

fn lowercased(headers: &http::HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

impl Seen {
    fn of(req: &http::Request<Vec<u8>>) -> Seen {
        Seen {
            method: req.method().to_string(),
            path: req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned(),
            headers: lowercased(req.headers()),
            body: String::from_utf8_lossy(req.body()).into_owned(),
        }
    }
}

impl Answer {
    fn response(&self) -> http::Response<Vec<u8>> {
        reply::respond(
            self.status,
            &[("content-type", self.content_type)],
            self.body.clone().into_bytes(),
        )
        .delay(self.delay)
    }
}

/// Decodes `application/x-www-form-urlencoded` text.
pub fn form_decode(body: &str) -> HashMap<String, String> {
    fn decode(v: &str) -> String {
        let b = v.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' => match v
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                },
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// An RFC 3339 time, as the credential endpoints write `Expiration`.
pub fn rfc3339(t: SystemTime) -> String {
    crate::time::rfc3339(t)
}

/// Temporary credentials as issued by a fake endpoint.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When they expire (whole seconds, as written on the wire).
    pub expires_at: SystemTime,
}

impl Issued {
    /// Credentials `AKID{n}` valid for `valid_for`.
    pub fn new(n: u32, valid_for: Duration) -> Self {
        let at = rfc3339(SystemTime::now() + valid_for);
        Issued {
            access_key_id: format!("ASIAFAKE{n:04}"),
            secret_access_key: format!("fake/secret+key/{n:04}/wJalrXUtnFEMI"),
            session_token: format!("FwoGZXIvYXdzEFAKESESSIONTOKEN{n:04}//+=="),
            expires_at: crate::time::parse_rfc3339(&at).expect("rfc3339 round trip"),
        }
    }

    /// The same credentials as the client's type, expiry included.
    pub fn credentials(&self) -> personalize_events_core::Credentials {
        personalize_events_core::Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.clone(),
            Some(self.session_token.clone()),
        )
        .with_expiry(self.expires_at)
    }

    /// The container endpoint's JSON.
    pub fn container_json(&self) -> String {
        format!(
            r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{}","RoleArn":"arn:aws:iam::123456789012:role/task"}}"#,
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            rfc3339(self.expires_at)
        )
    }

    /// The instance metadata service's JSON.
    pub fn imds_json(&self) -> String {
        format!(
            r#"{{"Code":"Success","LastUpdated":"{}","Type":"AWS-HMAC","AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{}"}}"#,
            rfc3339(SystemTime::now()),
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            rfc3339(self.expires_at)
        )
    }

    /// A `credential_process`'s JSON.
    pub fn process_json(&self) -> String {
        format!(
            r#"{{"Version":1,"AccessKeyId":"{}","SecretAccessKey":"{}","SessionToken":"{}","Expiration":"{}"}}"#,
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            rfc3339(self.expires_at)
        )
    }

    /// An STS answer to `action` (`AssumeRole`, `AssumeRoleWithWebIdentity`).
    pub fn sts_xml(&self, action: &str) -> String {
        format!(
            "<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>\
             <Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
             <SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\
             <AssumedRoleId>AROAFAKE:s</AssumedRoleId></AssumedRoleUser>\
             </{action}Result><ResponseMetadata><RequestId>fake-sts</RequestId></ResponseMetadata>\
             </{action}Response>",
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            rfc3339(self.expires_at)
        )
    }
}

/// An STS error document.
pub fn sts_error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
         <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>fake-sts</RequestId></ErrorResponse>"
    )
}

/// A fake IMDSv2: `PUT /latest/api/token` (with the TTL header) issues a
/// token; every `GET` without a valid token answers 401, as the real
/// service does when IMDSv1 is disabled. `GET
/// /latest/meta-data/iam/security-credentials/` names `role`, and the
/// role's path answers `creds(n)` for the n-th credentials request (from
/// 0). Tokens listed in `revoked` (by issue order, from 0) are refused with
/// 401 after their first use, as an expired token is.
pub fn imds(
    role: &'static str,
    revoked: &'static [u32],
    creds: impl Fn(u32) -> Issued + Send + Sync + 'static,
) -> FakeServer {
    let issued = Mutex::new(Vec::<(String, u32, u32)>::new());
    let tokens = AtomicU32::new(0);
    let fetches = AtomicU32::new(0);
    let role_path = format!("/latest/meta-data/iam/security-credentials/{role}");
    FakeServer::start(move |req| {
        if req.method == "PUT" && req.path == "/latest/api/token" {
            let Some(ttl) = req.header("x-aws-ec2-metadata-token-ttl-seconds") else {
                return Answer::empty(400);
            };
            if ttl.parse::<u32>().map_or(true, |t| t == 0 || t > 21600) {
                return Answer::empty(400);
            }
            let n = tokens.fetch_add(1, Ordering::SeqCst);
            let token = format!("AQAEAFAKEIMDSTOKEN{n:04}==");
            issued.lock().unwrap().push((token.clone(), n, 0));
            return Answer::text(token);
        }
        if req.method != "GET" {
            return Answer::empty(405);
        }
        let mut issued = issued.lock().unwrap();
        let valid = req
            .header("x-aws-ec2-metadata-token")
            .and_then(|t| issued.iter_mut().find(|(tok, _, _)| tok == t));
        let Some((_, n, uses)) = valid else {
            return Answer::empty(401);
        };
        if revoked.contains(n) && *uses > 0 {
            return Answer::empty(401);
        }
        *uses += 1;
        drop(issued);
        if req.path == "/latest/meta-data/iam/security-credentials/" {
            Answer::text(format!("{role}\n"))
        } else if req.path == role_path {
            Answer::json(creds(fetches.fetch_add(1, Ordering::SeqCst)).imds_json())
        } else {
            Answer::empty(404)
        }
    })
}

/// A fake container credentials endpoint at `path`, requiring
/// `Authorization: {token}` when a token is given; the n-th fetch (from 0)
/// answers `creds(n)` after `delay`.
pub fn container(
    path: &'static str,
    token: Option<&'static str>,
    delay: Duration,
    creds: impl Fn(u32) -> Issued + Send + Sync + 'static,
) -> FakeServer {
    let fetches = AtomicU32::new(0);
    FakeServer::start(move |req| {
        if req.method != "GET" || req.path != path {
            return Answer::json(r#"{"code":"NotFound","message":"no such path"}"#).status(404);
        }
        if let Some(t) = token {
            if req.header("authorization") != Some(t) {
                return Answer::json(
                    r#"{"code":"AccessDeniedException","message":"invalid authorization token"}"#,
                )
                .status(401);
            }
        }
        Answer::json(creds(fetches.fetch_add(1, Ordering::SeqCst)).container_json()).after(delay)
    })
}

/// A fake STS answering `AssumeRoleWithWebIdentity` for `role_arn` when the
/// web identity token is `token`; a wrong token gets
/// `InvalidIdentityToken` (whose message quotes the token, as a careless
/// server might: the client must not repeat it).
pub fn sts_web_identity(
    role_arn: &'static str,
    token: String,
    creds: impl Fn(u32) -> Issued + Send + Sync + 'static,
) -> FakeServer {
    let fetches = AtomicU32::new(0);
    FakeServer::start(move |req| {
        let form = req.form();
        if req.method != "POST"
            || form.get("Action").map(String::as_str) != Some("AssumeRoleWithWebIdentity")
        {
            return Answer::xml(sts_error_xml("InvalidAction", "unsupported action")).status(400);
        }
        if form.get("Version").map(String::as_str) != Some("2011-06-15") {
            return Answer::xml(sts_error_xml("InvalidParameterValue", "bad version")).status(400);
        }
        if form.get("RoleArn").map(String::as_str) != Some(role_arn) {
            return Answer::xml(sts_error_xml(
                "AccessDenied",
                "not authorized to assume role",
            ))
            .status(403);
        }
        let given = form.get("WebIdentityToken").cloned().unwrap_or_default();
        if given != token {
            return Answer::xml(sts_error_xml(
                "InvalidIdentityToken",
                &format!("Couldn't verify token {given}"),
            ))
            .status(400);
        }
        Answer::xml(
            creds(fetches.fetch_add(1, Ordering::SeqCst)).sts_xml("AssumeRoleWithWebIdentity"),
        )
    })
}

/// A unique temporary home directory with `.aws/`, removed on drop.
pub struct TempHome {
    dir: PathBuf,
}

impl TempHome {
    /// A new, empty one; `name` goes into the directory name.
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "pe-creds-{name}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(dir.join(".aws")).expect("create temp home");
        TempHome { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes `text` to `rel` (e.g. `.aws/config`) and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::write(&p, text).expect("write temp file");
        p
    }

    /// Writes an executable `sh` script to `rel` and returns the command
    /// line that runs it.
    pub fn script(&self, rel: &str, body: &str) -> String {
        let p = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        format!("sh {}", p.display())
    }

    /// The path of `rel`, as text.
    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// An environment snapshot: this home directory, instance metadata
    /// disabled unless `vars` sets an `AWS_EC2_METADATA*` variable, and
    /// `vars`.
    pub fn env(&self, vars: &[(&str, &str)]) -> Environment {
        let mut all: Vec<(String, String)> = vec![("HOME".into(), self.dir.display().to_string())];
        if !vars.iter().any(|(k, _)| k.starts_with("AWS_EC2_METADATA")) {
            all.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
        }
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Environment::from_vars(all)
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The secrets of `issued`, for asserting that a text holds none of them.
pub fn secrets_of(issued: &Issued) -> Vec<String> {
    vec![
        issued.secret_access_key.clone(),
        issued.session_token.clone(),
    ]
}

/// Panics when `text` contains any of `secrets`.
pub fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} shows a secret ({s}): {text}"
        );
    }
}
