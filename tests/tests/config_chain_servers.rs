//! The credentials chain against fake credential servers on 127.0.0.1,
//! driven for real by a std-only driver: container credentials (with a
//! token file; an HTTP error stops, an unreachable one moves on), IMDSv2
//! (the token handshake, a refresh on 401, giving up quickly when
//! unreachable), web identity and assume-role through a fake STS (errors
//! never show the token), and a cache that refreshes once for concurrent
//! callers.
//!
//! No process environment variables are read or set: every test builds its
//! own `Environment` snapshot. Every server thread is bounded.

use std::thread;
use std::time::{Duration, Instant, SystemTime};

use personalize_events_credentials::{CacheLookup, CredentialsCache, CredentialsChain};

mod chain_support;
use chain_support::*;

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
