//! The chain stepped through each source with canned IO results.

use super::container::check_full_uri;
use super::*;
use std::collections::HashMap;

/// The sources reached over HTTP: STS, containers, instance metadata.
#[path = "tests_http.rs"]
mod http_sources;

const HOME: &str = "/home/u";
const EXP: &str = "2030-01-01T00:00:00Z";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn env(vars: &[(&str, &str)]) -> Environment {
    Environment::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .with_home(Some(PathBuf::from(HOME)))
}

fn config_path() -> PathBuf {
    PathBuf::from(HOME).join(".aws/config")
}

fn creds_path() -> PathBuf {
    PathBuf::from(HOME).join(".aws/credentials")
}

type Handler = Box<dyn FnMut(&Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error>>;

/// Canned IO: files by path, HTTP by handler, processes in order.
#[derive(Default)]
struct Io {
    files: HashMap<PathBuf, Result<Vec<u8>, FileError>>,
    http: Option<Handler>,
    processes: Vec<Result<ProcessOutput, Error>>,
    /// `READ path`, `PUT uri`, `RUN command`, in order.
    log: Vec<String>,
    requests: Vec<Request<Vec<u8>>>,
}

impl Io {
    fn file(mut self, p: impl Into<PathBuf>, text: &str) -> Self {
        self.files.insert(p.into(), Ok(text.as_bytes().to_vec()));
        self
    }
    fn config(self, text: &str) -> Self {
        self.file(config_path(), text)
    }
    fn credentials(self, text: &str) -> Self {
        self.file(creds_path(), text)
    }
    fn http(
        mut self,
        h: impl FnMut(&Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> + 'static,
    ) -> Self {
        self.http = Some(Box::new(h));
        self
    }
    fn process(mut self, r: Result<ProcessOutput, Error>) -> Self {
        self.processes.push(r);
        self
    }

    fn run(&mut self, mut chain: CredentialsChain) -> Result<Credentials, Error> {
        for _ in 0..50 {
            let step = chain.poll(now());
            // Debug of any step never shows secrets.
            let dbg = format!("{step:?}");
            for secret in ["S3CRET", "TOKENVALUE", "JWTVALUE", "AUTHVALUE", "IMDSTOKEN"] {
                assert!(!dbg.contains(secret), "{dbg}");
            }
            match step {
                ChainStep::ReadFile(p) => {
                    self.log.push(format!("READ {}", p.display()));
                    let r = self
                        .files
                        .get(&p)
                        .cloned()
                        .unwrap_or_else(|| Err(FileError::not_found()));
                    chain.handle_file(&p, r);
                }
                ChainStep::Http { request, timeout } => {
                    self.log
                        .push(format!("{} {}", request.method(), request.uri()));
                    assert!(timeout <= Duration::from_secs(10));
                    assert!(request.headers().contains_key("host"));
                    let r = match self.http.as_mut() {
                        Some(h) => h(&request),
                        None => Err(Error::transport(
                            TransportErrorKind::Connect,
                            "connection refused",
                        )),
                    };
                    self.requests.push(request);
                    chain.handle_http(r);
                }
                ChainStep::RunProcess { command, .. } => {
                    self.log.push(format!("RUN {command}"));
                    let r = self.processes.remove(0);
                    chain.handle_process(r);
                }
                ChainStep::WriteFile { path, contents } => {
                    self.log.push(format!("WRITE {}", path.display()));
                    self.files.insert(path.clone(), Ok(contents));
                    chain.handle_write(&path, Ok(()));
                }
                ChainStep::Done(r) => {
                    if let Err(e) = &r {
                        let s = format!("{e} {e:?}");
                        for secret in ["S3CRET", "TOKENVALUE", "JWTVALUE", "AUTHVALUE", "IMDSTOKEN"]
                        {
                            assert!(!s.contains(secret), "{s}");
                        }
                    }
                    // Done repeats.
                    assert!(matches!(chain.poll(now()), ChainStep::Done(_)));
                    return r;
                }
            }
        }
        panic!("chain did not finish: {:?}", self.log);
    }
}

fn resp(status: u16, body: &str) -> Result<Response<Vec<u8>>, Error> {
    Ok(Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap())
}

fn sts_ok(akid: &str) -> String {
    format!(
        "<R><Result><Credentials><AccessKeyId>{akid}</AccessKeyId>\
         <SecretAccessKey>S3CRET-{akid}</SecretAccessKey><SessionToken>TOKENVALUE-{akid}</SessionToken>\
         <Expiration>{EXP}</Expiration></Credentials></Result></R>"
    )
}

fn json_creds(akid: &str) -> String {
    format!(
        r#"{{"Code":"Success","AccessKeyId":"{akid}","SecretAccessKey":"S3CRET","Token":"TOKENVALUE","Expiration":"{EXP}"}}"#
    )
}

fn form(req: &Request<Vec<u8>>) -> HashMap<String, String> {
    let body = String::from_utf8(req.body().clone()).unwrap();
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16)
                            .unwrap(),
                    );
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

fn no_imds() -> (&'static str, &'static str) {
    ("AWS_EC2_METADATA_DISABLED", "true")
}

fn err_parts(e: Error) -> (String, String) {
    match e {
        Error::Credentials {
            source_name,
            message,
        } => (source_name, message),
        other => panic!("not a credentials error: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

#[test]
fn env_credentials_need_no_io() {
    let mut io = Io::default();
    let c = io
        .run(CredentialsChain::new(
            &env(&[
                ("AWS_ACCESS_KEY_ID", "AKENV"),
                ("AWS_SECRET_ACCESS_KEY", "S3CRET"),
                ("AWS_SESSION_TOKEN", "TOKENVALUE"),
            ]),
            None,
        ))
        .unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("AKENV", Some("TOKENVALUE"))
    );
    assert_eq!(c.expires_at(), None);
    assert!(io.log.is_empty(), "{:?}", io.log);
}

#[test]
fn env_partial_credentials_fail() {
    let e = Io::default()
        .run(CredentialsChain::new(
            &env(&[("AWS_ACCESS_KEY_ID", "AK")]),
            None,
        ))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "environment");
    assert!(msg.contains("AWS_SECRET_ACCESS_KEY is not"), "{msg}");
}

#[test]
fn nothing_configured_lists_what_was_tried() {
    let mut io = Io::default();
    let e = io
        .run(CredentialsChain::new(&env(&[no_imds()]), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "default chain");
    assert!(
        msg.starts_with("no credentials found; tried: environment (AWS_ACCESS_KEY_ID not set); "),
        "{msg}"
    );
    for part in [
        "web identity (environment) (AWS_WEB_IDENTITY_TOKEN_FILE not set)",
        "profile `default` (not found in /home/u/.aws/config, /home/u/.aws/credentials)",
        "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)",
        "IMDSv2 (disabled by AWS_EC2_METADATA_DISABLED)",
    ] {
        assert!(msg.contains(part), "{msg}\n missing {part}");
    }
    assert_eq!(
        io.log,
        vec![
            format!("READ {}", config_path().display()),
            format!("READ {}", creds_path().display())
        ]
    );
}

// ---------------------------------------------------------------------------
// Shared files
// ---------------------------------------------------------------------------

#[test]
fn profile_static_keys_credentials_file_wins() {
    let mut io = Io::default()
        .config("[default]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = S3CRET\n")
        .credentials("[default]\naws_access_key_id = FROMCREDS\naws_secret_access_key = S3CRET\naws_session_token = TOKENVALUE\n");
    let c = io.run(CredentialsChain::new(&env(&[]), None)).unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("FROMCREDS", Some("TOKENVALUE"))
    );
}

#[test]
fn profile_override_skips_environment_and_aws_profile_does_not() {
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKENV"),
        ("AWS_SECRET_ACCESS_KEY", "S3CRET"),
        ("AWS_PROFILE", "dev"),
    ];
    let creds = "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = S3CRET\n";
    let c = Io::default()
        .credentials(creds)
        .run(CredentialsChain::new(&env(&vars), None))
        .unwrap();
    assert_eq!(c.access_key_id(), "AKENV");
    let c = Io::default()
        .credentials(creds)
        .run(CredentialsChain::new(&env(&vars), Some("dev")))
        .unwrap();
    assert_eq!(c.access_key_id(), "AKDEV");
}

#[test]
fn explicit_missing_profile_is_an_error_default_moves_on() {
    let e = Io::default()
        .config("[profile other]\nregion = x\n")
        .run(CredentialsChain::new(
            &env(&[("AWS_PROFILE", "nope"), no_imds()]),
            None,
        ))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "profile `nope`");
    assert!(msg.starts_with("not found in /home/u/.aws/config"), "{msg}");
    // The default profile without credentials moves on.
    let e = Io::default()
        .config("[default]\nregion = x\n")
        .run(CredentialsChain::new(&env(&[no_imds()]), None))
        .unwrap_err();
    assert!(err_parts(e)
        .1
        .contains("profile `default` (has no credentials)"));
}

#[test]
fn malformed_or_unreadable_files_fail() {
    let e = Io::default()
        .config("[default]\naws_secret_access_key S3CRET\n")
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "shared config files");
    assert_eq!(
        msg,
        "/home/u/.aws/config line 2: expected `key = value`: no `=` on this line"
    );
    let mut io = Io::default();
    io.files.insert(
        creds_path(),
        Err(FileError {
            kind: std::io::ErrorKind::PermissionDenied,
            message: "permission denied".into(),
        }),
    );
    let (_, msg) = err_parts(io.run(CredentialsChain::new(&env(&[]), None)).unwrap_err());
    assert_eq!(
        msg,
        "cannot read /home/u/.aws/credentials: permission denied"
    );
    let mut io = Io::default();
    io.files.insert(config_path(), Ok(vec![0xff, 0xfe]));
    let (_, msg) = err_parts(io.run(CredentialsChain::new(&env(&[]), None)).unwrap_err());
    assert_eq!(msg, "/home/u/.aws/config is not valid UTF-8");
}

#[test]
fn profile_partial_keys_fail() {
    let e = Io::default()
        .credentials("[default]\naws_access_key_id = AK\n")
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e).1.contains("not aws_secret_access_key"));
    let e = Io::default()
        .credentials("[default]\naws_secret_access_key = S3CRET\n")
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e).1.contains("without aws_access_key_id"));
}

#[test]
fn credential_process_success_and_failures() {
    let cfg = "[default]\ncredential_process = /bin/get-creds --profile x\n";
    let ok = ProcessOutput {
        status: Some(0),
        stdout: format!(r#"{{"Version":1,"AccessKeyId":"AKPROC","SecretAccessKey":"S3CRET","SessionToken":"TOKENVALUE","Expiration":"{EXP}"}}"#).into_bytes(),
        stderr: Vec::new(),
    };
    let mut io = Io::default().config(cfg).process(Ok(ok.clone()));
    let c = io.run(CredentialsChain::new(&env(&[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "AKPROC");
    assert_eq!(c.expires_at(), crate::rfc3339::parse(EXP));
    assert_eq!(io.log.last().unwrap(), "RUN /bin/get-creds --profile x");
    assert!(!format!("{ok:?}").contains("S3CRET"));

    let fail = |r: Result<ProcessOutput, Error>| {
        let e = Io::default()
            .config(cfg)
            .process(r)
            .run(CredentialsChain::new(&env(&[]), None))
            .unwrap_err();
        let (src, msg) = err_parts(e);
        assert_eq!(src, "profile `default`");
        msg
    };
    let msg = fail(Ok(ProcessOutput {
        status: Some(3),
        stdout: b"S3CRET".to_vec(),
        stderr: b"sso session expired\n".to_vec(),
    }));
    assert_eq!(
        msg,
        "credential_process failed with exit status 3: sso session expired"
    );
    let msg = fail(Ok(ProcessOutput {
        status: None,
        stdout: vec![],
        stderr: vec![],
    }));
    assert_eq!(msg, "credential_process failed with a signal");
    let msg = fail(Err(Error::transport(
        TransportErrorKind::Timeout,
        "timed out",
    )));
    assert_eq!(
        msg,
        "credential_process did not finish within 60 s and was stopped"
    );
    let msg = fail(Err(Error::transport(
        TransportErrorKind::Other,
        "No such file or directory",
    )));
    assert!(
        msg.starts_with("credential_process could not be run:"),
        "{msg}"
    );
    let msg = fail(Ok(ProcessOutput {
        status: Some(0),
        stdout: br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"S3CRET""#.to_vec(),
        stderr: vec![],
    }));
    assert!(
        msg.starts_with("credential_process output: answer is not valid JSON"),
        "{msg}"
    );
    let expired = br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"S3CRET","Expiration":"2020-01-01T00:00:00Z"}"#;
    let msg = fail(Ok(ProcessOutput {
        status: Some(0),
        stdout: expired.to_vec(),
        stderr: vec![],
    }));
    assert_eq!(msg, "the credentials expired at 2020-01-01T00:00:00Z");
}

#[test]
fn incomplete_sso_and_mfa_profiles_are_refused_clearly() {
    let e = Io::default()
        .config("[default]\nsso_session = corp\nsso_account_id = 1\n")
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e).1.contains("no [sso-session corp] section"));
    let e = Io::default()
        .config("[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nmfa_serial = arn:mfa\n[profile base]\naws_access_key_id=A\naws_secret_access_key=S3CRET\n")
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e).1.contains("mfa_serial"));
}

// ---------------------------------------------------------------------------
// Protocol
// ---------------------------------------------------------------------------

#[test]
fn misuse_is_a_config_error() {
    let mut chain = CredentialsChain::new(&env(&[]), None);
    assert!(matches!(chain.poll(now()), ChainStep::ReadFile(_)));
    let ChainStep::Done(Err(Error::Config(m))) = chain.poll(now()) else {
        panic!()
    };
    assert!(m.contains("polled before"), "{m}");

    let mut chain = CredentialsChain::new(&env(&[]), None);
    let _ = chain.poll(now());
    chain.handle_file(Path::new("/elsewhere"), Ok(Vec::new()));
    assert!(matches!(
        chain.poll(now()),
        ChainStep::Done(Err(Error::Config(_)))
    ));

    let mut chain = CredentialsChain::new(&env(&[]), None);
    let _ = chain.poll(now());
    chain.handle_http(resp(200, ""));
    assert!(matches!(
        chain.poll(now()),
        ChainStep::Done(Err(Error::Config(_)))
    ));
}

#[test]
fn debug_of_chain_and_steps_hides_secrets() {
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/c"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHVALUE"),
        ("AWS_SECRET_ACCESS_KEY", "S3CRET"),
    ];
    let mut chain = CredentialsChain::new(&env(&vars), None);
    let _ = chain.poll(now());
    chain.handle_file(&config_path(), Err(FileError::not_found()));
    let _ = chain.poll(now());
    chain.handle_file(&creds_path(), Err(FileError::not_found()));
    let step = chain.poll(now());
    let d = format!("{step:?} {chain:?}");
    assert!(d.contains("authorization"), "{d}");
    assert!(!d.contains("AUTHVALUE") && !d.contains("S3CRET"), "{d}");
    assert_eq!(chain.tried().len(), 3);
}
