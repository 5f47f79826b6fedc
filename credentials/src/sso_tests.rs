//! The SSO source stepped through the chain with canned IO.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response};

use crate::sso_cache_file;
use crate::{ChainStep, CredentialsChain, Environment, FileError};
use personalize_events_core::{Credentials, Error};

const HOME: &str = "/home/u";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn env() -> Environment {
    Environment::from_vars([("HOME", HOME)])
}

const SESSION_CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n\
    sso_role_name = ReadOnly\nregion = eu-west-1\n\n[sso-session corp]\n\
    sso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n";

fn cache(expires: SystemTime, refresh: bool) -> String {
    let mut v = serde_json::json!({
        "startUrl": "https://corp.awsapps.com/start",
        "region": "eu-central-1",
        "accessToken": "OLDTOKEN",
        "expiresAt": crate::rfc3339::format(expires),
    });
    if refresh {
        v["refreshToken"] = "REFRESHTOKEN".into();
        v["clientId"] = "client-1".into();
        v["clientSecret"] = "CLIENTSECRET".into();
        v["registrationExpiresAt"] =
            crate::rfc3339::format(expires + Duration::from_secs(86_400)).into();
    }
    v.to_string()
}

type Handler = Box<dyn FnMut(&Request<Vec<u8>>) -> Response<Vec<u8>>>;

struct Io {
    files: HashMap<PathBuf, Vec<u8>>,
    http: Handler,
    log: Vec<String>,
}

impl Io {
    fn new(config: &str, cache_text: Option<String>, http: Handler) -> Io {
        let mut files = HashMap::new();
        files.insert(
            PathBuf::from(HOME).join(".aws/config"),
            config.as_bytes().to_vec(),
        );
        if let Some(c) = cache_text {
            files.insert(sso_cache_file(&env(), "corp"), c.into_bytes());
        }
        Io {
            files,
            http,
            log: Vec::new(),
        }
    }

    fn run(&mut self) -> Result<Credentials, Error> {
        let mut chain = CredentialsChain::new(&env(), Some("dev"));
        for _ in 0..30 {
            let step = chain.poll(now());
            let dbg = format!("{step:?}");
            for secret in [
                "OLDTOKEN",
                "NEWTOKEN",
                "REFRESHTOKEN",
                "CLIENTSECRET",
                "ROLESECRET",
            ] {
                assert!(!dbg.contains(secret), "{dbg}");
            }
            match step {
                ChainStep::ReadFile(p) => {
                    self.log.push(format!("READ {}", p.display()));
                    let r = self.files.get(&p).cloned().ok_or_else(FileError::not_found);
                    chain.handle_file(&p, r);
                }
                ChainStep::WriteFile { path, contents } => {
                    self.log.push(format!("WRITE {}", path.display()));
                    self.files.insert(path.clone(), contents);
                    chain.handle_write(&path, Ok(()));
                }
                ChainStep::Http { request, .. } => {
                    self.log
                        .push(format!("{} {}", request.method(), request.uri()));
                    let r = (self.http)(&request);
                    chain.handle_http(Ok(r));
                }
                ChainStep::RunProcess { .. } => panic!("no process here"),
                ChainStep::Done(r) => {
                    if let Err(e) = &r {
                        let s = format!("{e} {e:?}");
                        for secret in ["OLDTOKEN", "NEWTOKEN", "REFRESHTOKEN", "CLIENTSECRET"] {
                            assert!(!s.contains(secret), "{s}");
                        }
                    }
                    return r;
                }
            }
        }
        panic!("the chain did not finish");
    }
}

fn json(status: u16, v: serde_json::Value) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .body(v.to_string().into_bytes())
        .unwrap()
}

fn portal_ok(req: &Request<Vec<u8>>, want_token: &str) -> Response<Vec<u8>> {
    assert_eq!(req.headers()["x-amz-sso_bearer_token"], want_token);
    json(
        200,
        serde_json::json!({"roleCredentials": {"accessKeyId": "ASIASSO", "secretAccessKey": "ROLESECRET",
            "sessionToken": "ROLETOKEN", "expiration": 1_800_003_600_000u64}}),
    )
}

#[test]
fn a_valid_cached_token_gets_role_credentials_from_the_portal() {
    let mut io = Io::new(
        SESSION_CONFIG,
        Some(cache(now() + Duration::from_secs(3600), false)),
        Box::new(|r| portal_ok(r, "OLDTOKEN")),
    );
    let c = io.run().unwrap();
    assert_eq!(c.access_key_id(), "ASIASSO");
    assert_eq!(c.session_token(), Some("ROLETOKEN"));
    assert_eq!(
        c.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(1_800_003_600))
    );
    assert_eq!(
        io.log.last().unwrap(),
        "GET https://portal.sso.eu-central-1.amazonaws.com/federation/credentials?role_name=ReadOnly&account_id=111122223333"
    );
}

#[test]
fn an_expiring_token_is_refreshed_and_written_back() {
    let mut io = Io::new(
        SESSION_CONFIG,
        Some(cache(now() + Duration::from_secs(60), true)),
        Box::new(|r| {
            if r.uri().path() == "/token" {
                let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
                assert_eq!(body["grantType"], "refresh_token");
                assert_eq!(body["refreshToken"], "REFRESHTOKEN");
                assert_eq!(body["clientId"], "client-1");
                assert_eq!(body["clientSecret"], "CLIENTSECRET");
                json(
                    200,
                    serde_json::json!({"accessToken": "NEWTOKEN", "expiresIn": 28800,
                    "refreshToken": "REFRESHTOKEN2", "tokenType": "Bearer"}),
                )
            } else {
                portal_ok(r, "NEWTOKEN")
            }
        }),
    );
    io.run().unwrap();
    let file = sso_cache_file(&env(), "corp");
    assert_eq!(
        io.log[3],
        "POST https://oidc.eu-central-1.amazonaws.com/token"
    );
    assert_eq!(io.log[4], format!("WRITE {}", file.display()));
    let written: serde_json::Value = serde_json::from_slice(&io.files[&file]).unwrap();
    assert_eq!(written["accessToken"], "NEWTOKEN");
    assert_eq!(written["refreshToken"], "REFRESHTOKEN2");
    assert_eq!(
        written["expiresAt"],
        crate::rfc3339::format(now() + Duration::from_secs(28800))
    );
    // Other members are kept.
    assert_eq!(written["startUrl"], "https://corp.awsapps.com/start");
}

#[test]
fn an_expired_token_without_refresh_says_to_log_in_naming_the_profile() {
    for cache_text in [Some(cache(now() - Duration::from_secs(1), false)), None] {
        let mut io = Io::new(
            SESSION_CONFIG,
            cache_text,
            Box::new(|_| panic!("no request")),
        );
        let Error::Credentials { message, .. } = io.run().unwrap_err() else {
            panic!()
        };
        assert!(message.contains("aws sso login --profile dev"), "{message}");
    }
    // A refused refresh of an expired token, too.
    let mut io = Io::new(
        SESSION_CONFIG,
        Some(cache(now() - Duration::from_secs(1), true)),
        Box::new(|_| json(400, serde_json::json!({"error": "invalid_grant"}))),
    );
    let Error::Credentials { message, .. } = io.run().unwrap_err() else {
        panic!()
    };
    assert!(
        message.contains("HTTP 400") && message.contains("aws sso login --profile dev"),
        "{message}"
    );
    // A refused token at the portal.
    let mut io = Io::new(
        SESSION_CONFIG,
        Some(cache(now() + Duration::from_secs(3600), false)),
        Box::new(|_| {
            json(
                401,
                serde_json::json!({"message": "Session token not found or invalid"}),
            )
        }),
    );
    let Error::Credentials { message, .. } = io.run().unwrap_err() else {
        panic!()
    };
    assert!(
        message.contains("HTTP 401") && message.contains("aws sso login --profile dev"),
        "{message}"
    );
}

#[test]
fn legacy_profiles_use_the_start_url_and_endpoints_can_be_configured() {
    let config =
        "[profile dev]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-2\n\
        sso_account_id = 111122223333\nsso_role_name = ReadOnly\n";
    let mut files = HashMap::new();
    files.insert(
        PathBuf::from(HOME).join(".aws/config"),
        config.as_bytes().to_vec(),
    );
    files.insert(
        sso_cache_file(&env(), "https://corp.awsapps.com/start"),
        cache(now() + Duration::from_secs(3600), false).into_bytes(),
    );
    let mut io = Io {
        files,
        http: Box::new(|r| portal_ok(r, "OLDTOKEN")),
        log: Vec::new(),
    };
    io.run().unwrap();
    assert!(io
        .log
        .last()
        .unwrap()
        .starts_with("GET https://portal.sso.us-east-2.amazonaws.com/"));

    let config = format!("{SESSION_CONFIG}services = local\n[services local]\nsso =\n  endpoint_url = http://127.0.0.1:9\n");
    let config = config.replacen(
        "region = eu-west-1\n",
        "region = eu-west-1\nservices = local\n",
        1,
    );
    let mut io = Io::new(
        &config,
        Some(cache(now() + Duration::from_secs(3600), false)),
        Box::new(|r| portal_ok(r, "OLDTOKEN")),
    );
    io.run().unwrap();
    assert!(
        io.log
            .last()
            .unwrap()
            .starts_with("GET http://127.0.0.1:9/federation/credentials?"),
        "{:?}",
        io.log
    );
}
