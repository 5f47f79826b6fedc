//! Tests of the sources the chain reaches over HTTP: assumed roles and web
//! identity (STS), container endpoints, IMDSv2.

use super::*;

// ---------------------------------------------------------------------------
// Assume role
// ---------------------------------------------------------------------------

#[test]
fn assume_role_chain_signs_with_previous_credentials() {
    let cfg = "[profile admin]\nrole_arn = arn:aws:iam::1:role/admin\nsource_profile = middle\nexternal_id = ext-1\n\
               duration_seconds = 1800\nrole_session_name = me\nregion = eu-central-1\n\
               [profile middle]\nrole_arn = arn:aws:iam::1:role/middle\nsource_profile = base\n\
               [profile base]\naws_access_key_id = AKBASE\naws_secret_access_key = S3CRET\n\
               role_arn = arn:aws:iam::1:role/ignored-for-source-with-keys\n";
    let mut n = 0;
    let mut io = Io::default().config(cfg).http(move |_req| {
        n += 1;
        resp(200, &sts_ok(&format!("ASIA{n}")))
    });
    let c = io
        .run(CredentialsChain::new(
            &env(&[("AWS_PROFILE", "admin")]),
            None,
        ))
        .unwrap();
    assert_eq!(c.access_key_id(), "ASIA2");
    assert_eq!(c.session_token(), Some("TOKENVALUE-ASIA2"));
    assert_eq!(io.requests.len(), 2);
    let first = &io.requests[0];
    assert_eq!(first.uri(), "https://sts.eu-central-1.amazonaws.com/");
    assert_eq!(first.method(), Method::POST);
    let auth = first.headers()["authorization"].to_str().unwrap();
    assert!(
        auth.contains("Credential=AKBASE/20270115/eu-central-1/sts/aws4_request"),
        "{auth}"
    );
    let f = form(first);
    assert_eq!(f["Action"], "AssumeRole");
    assert_eq!(f["Version"], "2011-06-15");
    assert_eq!(f["RoleArn"], "arn:aws:iam::1:role/middle");
    assert!(f["RoleSessionName"].starts_with("personalize-events-rs-"));
    let second = &io.requests[1];
    let auth = second.headers()["authorization"].to_str().unwrap();
    assert!(auth.contains("Credential=ASIA1/"), "{auth}");
    assert_eq!(second.headers()["x-amz-security-token"], "TOKENVALUE-ASIA1");
    let f = form(second);
    assert_eq!(f["RoleArn"], "arn:aws:iam::1:role/admin");
    assert_eq!(f["RoleSessionName"], "me");
    assert_eq!(f["ExternalId"], "ext-1");
    assert_eq!(f["DurationSeconds"], "1800");
}

#[test]
fn assume_role_errors() {
    let run = |cfg: &str| {
        err_parts(
            Io::default()
                .config(cfg)
                .http(|_| resp(403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed to assume S3CRET-ASIA</Message></Error></ErrorResponse>"))
                .run(CredentialsChain::new(&env(&[]), None))
                .unwrap_err(),
        )
    };
    let (src, msg) = run("[default]\nrole_arn = arn:r\nsource_profile = a\n[profile a]\nrole_arn = arn:a\nsource_profile = default\n");
    assert_eq!(src, "profile `default`");
    assert_eq!(msg, "source_profile loop: default -> a -> default");
    let (_, msg) = run("[default]\nrole_arn = arn:r\nsource_profile = nope\n");
    assert_eq!(msg, "source_profile `nope` does not exist");
    let (_, msg) =
        run("[default]\nrole_arn = arn:r\nsource_profile = a\ncredential_source = Environment\n");
    assert!(
        msg.contains("both source_profile and credential_source"),
        "{msg}"
    );
    let (_, msg) = run("[default]\nrole_arn = arn:r\n");
    assert!(
        msg.contains("without source_profile or credential_source"),
        "{msg}"
    );
    let (_, msg) =
        run("[default]\nrole_arn = arn:r\nsource_profile = a\n[profile a]\nregion = x\n");
    assert_eq!(msg, "source_profile `a` has no credentials");
    let (_, msg) = run("[default]\nrole_arn = arn:r\ncredential_source = Magic\n");
    assert!(msg.contains("`Magic` is not one of"), "{msg}");
    let (_, msg) = run("[default]\nrole_arn = arn:r\nsource_profile = a\nduration_seconds = 5\n[profile a]\naws_access_key_id=A\naws_secret_access_key=S\n");
    assert!(msg.contains("duration_seconds must be"), "{msg}");
    // STS refuses: the error names the role and STS's code; message kept.
    let (_, msg) = run("[default]\nrole_arn = arn:r\nsource_profile = default\naws_access_key_id = A\naws_secret_access_key = S3CRET-ASIA\n");
    assert!(msg.starts_with("AssumeRole arn:r (profile `default`): STS answered HTTP 403: AccessDenied: not allowed to assume ** redacted **"), "{msg}");
}

#[test]
fn credential_source_environment_and_imds() {
    let vars = [
        ("AWS_ACCESS_KEY_ID", "AKENV"),
        ("AWS_SECRET_ACCESS_KEY", "S3CRET"),
    ];
    let mut io = Io::default()
        .config("[profile r]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Environment\n")
        .http(|_| resp(200, &sts_ok("ASIAR")));
    let c = io
        .run(CredentialsChain::new(&env(&vars), Some("r")))
        .unwrap();
    assert_eq!(c.access_key_id(), "ASIAR");
    assert!(io.requests[0].headers()["authorization"]
        .to_str()
        .unwrap()
        .contains("Credential=AKENV/"));
    // No region anywhere: the global endpoint, signed for us-east-1.
    assert_eq!(io.requests[0].uri(), "https://sts.amazonaws.com/");

    let mut io = Io::default()
        .config("[profile r]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2InstanceMetadata\n")
        .http(|req| match (req.method().as_str(), req.uri().path()) {
            ("PUT", "/latest/api/token") => resp(200, "IMDSTOKEN"),
            ("GET", "/latest/meta-data/iam/security-credentials/") => resp(200, "ec2role\n"),
            ("GET", "/latest/meta-data/iam/security-credentials/ec2role") => resp(200, &json_creds("ASIAEC2")),
            ("POST", "/") => resp(200, &sts_ok("ASIAROLE")),
            _ => resp(404, ""),
        });
    let c = io
        .run(CredentialsChain::new(
            &env(&[("AWS_REGION", "us-west-2")]),
            Some("r"),
        ))
        .unwrap();
    assert_eq!(c.access_key_id(), "ASIAROLE");
    assert_eq!(io.requests.len(), 4);
    // An unreachable IMDS as an explicit credential_source is an error.
    let e = Io::default()
        .config("[profile r]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Ec2InstanceMetadata\n")
        .run(CredentialsChain::new(&env(&[]), Some("r")))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "profile `r`");
    assert!(
        msg.starts_with("not reachable at http://169.254.169.254"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------
// Web identity
// ---------------------------------------------------------------------------

#[test]
fn web_identity_from_environment() {
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"),
        ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ("AWS_REGION", "eu-west-1"),
    ];
    let mut io = Io::default()
        .file("/var/run/token", "JWTVALUE\n")
        .http(|_| resp(200, &sts_ok("ASIAWEB")));
    let c = io.run(CredentialsChain::new(&env(&vars), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAWEB");
    assert_eq!(c.expires_at(), crate::rfc3339::parse(EXP));
    let req = &io.requests[0];
    assert_eq!(req.uri(), "https://sts.eu-west-1.amazonaws.com/");
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded; charset=utf-8"
    );
    assert!(!req.headers().contains_key("authorization"));
    let f = form(req);
    assert_eq!(f["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(f["RoleArn"], "arn:aws:iam::1:role/irsa");
    assert_eq!(f["RoleSessionName"], "pod-1");
    assert_eq!(f["WebIdentityToken"], "JWTVALUE");
    assert_eq!(io.log[2], "READ /var/run/token");
}

#[test]
fn web_identity_failures() {
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ("AWS_ROLE_ARN", "arn:r"),
    ];
    let (src, msg) = err_parts(
        Io::default()
            .run(CredentialsChain::new(&env(&vars), None))
            .unwrap_err(),
    );
    assert_eq!(src, "web identity (environment)");
    assert_eq!(msg, "web identity token file /var/run/token does not exist");
    let (_, msg) = err_parts(
        Io::default()
            .file("/var/run/token", " \n")
            .run(CredentialsChain::new(&env(&vars), None))
            .unwrap_err(),
    );
    assert_eq!(msg, "web identity token file /var/run/token is empty");
    let (_, msg) = err_parts(
        Io::default()
            .run(CredentialsChain::new(
                &env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")]),
                None,
            ))
            .unwrap_err(),
    );
    assert_eq!(
        msg,
        "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"
    );
    // An expired token: STS says so; the token it echoes is redacted.
    let (_, msg) = err_parts(
        Io::default()
            .file("/var/run/token", "JWTVALUE")
            .http(|_| resp(400, "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredTokenException</Code><Message>Token JWTVALUE expired</Message></Error></ErrorResponse>"))
            .run(CredentialsChain::new(&env(&vars), None))
            .unwrap_err(),
    );
    assert_eq!(
        msg,
        "AssumeRoleWithWebIdentity for arn:r: STS answered HTTP 400: ExpiredTokenException: Token ** redacted ** expired"
    );
    // STS unreachable: an error (the source is configured).
    let (_, msg) = err_parts(
        Io::default()
            .file("/var/run/token", "JWTVALUE")
            .run(CredentialsChain::new(&env(&vars), None))
            .unwrap_err(),
    );
    assert!(
        msg.contains("request failed: transport error (connect)"),
        "{msg}"
    );
}

#[test]
fn web_identity_from_profile_and_sts_endpoints() {
    let cfg = "[default]\nrole_arn = arn:aws:iam::1:role/p\nweb_identity_token_file = ~/tok\nregion = cn-north-1\n";
    let mut io = Io::default()
        .config(cfg)
        .file("/home/u/tok", "JWTVALUE")
        .http(|_| resp(200, &sts_ok("ASIAP")));
    assert_eq!(
        io.run(CredentialsChain::new(&env(&[]), None))
            .unwrap()
            .access_key_id(),
        "ASIAP"
    );
    assert_eq!(
        io.requests[0].uri(),
        "https://sts.cn-north-1.amazonaws.com.cn/"
    );

    let uri_for = |vars: &[(&str, &str)], cfg: &str, region: Option<&str>| {
        let mut io = Io::default()
            .config(cfg)
            .file("/home/u/tok", "JWTVALUE")
            .http(|_| resp(200, &sts_ok("A")));
        io.run(CredentialsChain::new(&env(vars), None).with_region(region))
            .unwrap();
        io.requests[0].uri().to_string()
    };
    let cfg = "[default]\nrole_arn = arn:r\nweb_identity_token_file = /home/u/tok\n";
    assert_eq!(uri_for(&[], cfg, None), "https://sts.amazonaws.com/");
    assert_eq!(
        uri_for(&[], cfg, Some("ap-south-2")),
        "https://sts.ap-south-2.amazonaws.com/"
    );
    assert_eq!(
        uri_for(
            &[
                ("AWS_STS_REGIONAL_ENDPOINTS", "legacy"),
                ("AWS_REGION", "us-west-2")
            ],
            cfg,
            None
        ),
        "https://sts.amazonaws.com/"
    );
    assert_eq!(
        uri_for(
            &[
                ("AWS_STS_REGIONAL_ENDPOINTS", "legacy"),
                ("AWS_REGION", "ap-south-2")
            ],
            cfg,
            None
        ),
        "https://sts.ap-south-2.amazonaws.com/"
    );
    assert_eq!(
        uri_for(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1/")], cfg, None),
        "http://127.0.0.1:1/"
    );
    assert_eq!(
        uri_for(
            &[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2/sts")
            ],
            cfg,
            None
        ),
        "http://127.0.0.1:2/sts"
    );
    let svc = format!(
        "{cfg}services = local\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:3\n"
    );
    assert_eq!(uri_for(&[], &svc, None), "http://127.0.0.1:3/");
    assert_eq!(
        uri_for(
            &[
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
                ("AWS_ENDPOINT_URL", "http://x")
            ],
            &svc,
            None
        ),
        "https://sts.amazonaws.com/"
    );

    let e = Io::default()
        .config(cfg)
        .run(CredentialsChain::new(
            &env(&[("AWS_STS_REGIONAL_ENDPOINTS", "sometimes")]),
            None,
        ))
        .unwrap_err();
    assert!(err_parts(e)
        .1
        .contains("`sometimes` is not regional or legacy"));
}

// ---------------------------------------------------------------------------
// Container
// ---------------------------------------------------------------------------

#[test]
fn container_relative_uri_with_token() {
    let vars = [
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/abc",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHVALUE"),
    ];
    let mut io = Io::default().http(|_| resp(200, &json_creds("ASIAECS")));
    let c = io.run(CredentialsChain::new(&env(&vars), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAECS");
    assert_eq!(c.session_token(), Some("TOKENVALUE"));
    let req = &io.requests[0];
    assert_eq!(req.uri(), "http://169.254.170.2/v2/credentials/abc");
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.headers()["authorization"], "AUTHVALUE");
}

#[test]
fn container_full_uri_token_file_and_host_rules() {
    let vars = [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://169.254.170.23/v1/credentials",
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "/var/run/eks-token",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"),
    ];
    let mut io = Io::default()
        .file("/var/run/eks-token", "AUTHVALUE\n")
        .http(|_| resp(200, &json_creds("ASIAPOD")));
    assert_eq!(
        io.run(CredentialsChain::new(&env(&vars), None))
            .unwrap()
            .access_key_id(),
        "ASIAPOD"
    );
    assert_eq!(io.requests[0].headers()["authorization"], "AUTHVALUE");

    let check = |uri: &str| check_full_uri(uri);
    for ok in [
        "http://127.0.0.1:8080/creds",
        "http://127.1.2.3/x",
        "http://localhost/x",
        "http://[::1]:9/x",
        "http://169.254.170.2/x",
        "http://[fd00:ec2::23]/x",
        "https://anything.example.com/x",
    ] {
        assert_eq!(check(ok), Ok(()), "{ok}");
    }
    for bad in [
        "http://10.0.0.1/x",
        "http://example.com/x",
        "ftp://127.0.0.1/",
        "not a uri",
        "http://[fd00:ec2::24]/",
    ] {
        assert!(check(bad).is_err(), "{bad}");
    }
    let e = Io::default()
        .run(CredentialsChain::new(
            &env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/x")]),
            None,
        ))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "container credentials");
    assert!(msg.contains("`10.0.0.1` is not allowed over http"), "{msg}");
    // A missing token file is an error.
    let e = Io::default()
        .run(CredentialsChain::new(&env(&vars), None))
        .unwrap_err();
    assert_eq!(
        err_parts(e).1,
        "container authorization token file /var/run/eks-token does not exist"
    );
}

#[test]
fn container_unreachable_moves_on_http_error_stops() {
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds"),
        no_imds(),
    ];
    let e = Io::default()
        .run(CredentialsChain::new(&env(&vars), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "default chain");
    assert!(
        msg.contains("container credentials (http://169.254.170.2/creds not reachable: transport error (connect): connection refused)"),
        "{msg}"
    );
    let e = Io::default()
        .http(|_| resp(403, r#"{"code":"AccessDenied","message":"bad token"}"#))
        .run(CredentialsChain::new(&env(&vars), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "container credentials");
    assert_eq!(
        msg,
        "http://169.254.170.2/creds answered HTTP 403 (AccessDenied: bad token)"
    );
    let e = Io::default()
        .http(|_| resp(200, "{}"))
        .run(CredentialsChain::new(&env(&vars), None))
        .unwrap_err();
    assert_eq!(
        err_parts(e).1,
        "http://169.254.170.2/creds: `AccessKeyId` is missing"
    );
}

// ---------------------------------------------------------------------------
// IMDSv2
// ---------------------------------------------------------------------------

fn imds(
    mut script: Vec<Result<Response<Vec<u8>>, Error>>,
) -> impl FnMut(&Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
    script.reverse();
    move |_| script.pop().expect("more IMDS requests than scripted")
}

#[test]
fn imds_v2_handshake() {
    let mut io = Io::default().http(imds(vec![
        resp(200, "IMDSTOKEN"),
        resp(200, "my-role\n"),
        resp(200, &json_creds("ASIAIMDS")),
    ]));
    let c = io.run(CredentialsChain::new(&env(&[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAIMDS");
    assert_eq!(
        io.log[2..],
        [
            "PUT http://169.254.169.254/latest/api/token",
            "GET http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "GET http://169.254.169.254/latest/meta-data/iam/security-credentials/my-role",
        ]
    );
    assert_eq!(
        io.requests[0].headers()["x-aws-ec2-metadata-token-ttl-seconds"],
        "21600"
    );
    assert_eq!(
        io.requests[1].headers()["x-aws-ec2-metadata-token"],
        "IMDSTOKEN"
    );
    assert_eq!(
        io.requests[2].headers()["x-aws-ec2-metadata-token"],
        "IMDSTOKEN"
    );
}

#[test]
fn imds_401_fetches_a_new_token_once() {
    let mut io = Io::default().http(imds(vec![
        resp(200, "IMDSTOKEN-1"),
        resp(200, "r"),
        resp(401, ""),
        resp(200, "IMDSTOKEN-2"),
        resp(200, &json_creds("ASIAIMDS")),
    ]));
    let c = io.run(CredentialsChain::new(&env(&[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "ASIAIMDS");
    assert_eq!(io.log[5], "PUT http://169.254.169.254/latest/api/token");
    assert_eq!(
        io.requests[4].headers()["x-aws-ec2-metadata-token"],
        "IMDSTOKEN-2"
    );
    assert_eq!(
        io.requests[4].uri().path(),
        "/latest/meta-data/iam/security-credentials/r"
    );

    let e = Io::default()
        .http(imds(vec![
            resp(200, "IMDSTOKEN-1"),
            resp(401, ""),
            resp(200, "IMDSTOKEN-2"),
            resp(401, ""),
        ]))
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "IMDSv2");
    assert!(msg.contains("token is missing or expired"), "{msg}");
}

#[test]
fn imds_unreachable_or_roleless_means_no_credentials() {
    let e = Io::default()
        .http(|_| {
            Err(Error::transport(
                TransportErrorKind::Timeout,
                "timed out after 1s",
            ))
        })
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "default chain");
    assert!(msg.ends_with("IMDSv2 (not reachable at http://169.254.169.254: transport error (timeout): timed out after 1s)"), "{msg}");
    let e = Io::default()
        .http(imds(vec![resp(200, "IMDSTOKEN"), resp(404, "")]))
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e)
        .1
        .ends_with("IMDSv2 (no IAM role is attached to this instance (HTTP 404))"));
    let e = Io::default()
        .http(imds(vec![resp(403, "")]))
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    assert!(err_parts(e).1.contains("answered HTTP 403"));
    // Reached, but the credentials document is bad: an error of IMDSv2.
    let e = Io::default()
        .http(imds(vec![
            resp(200, "IMDSTOKEN"),
            resp(200, "r"),
            resp(200, r#"{"Code":"Failure"}"#),
        ]))
        .run(CredentialsChain::new(&env(&[]), None))
        .unwrap_err();
    let (src, msg) = err_parts(e);
    assert_eq!(src, "IMDSv2");
    assert_eq!(
        msg,
        "credentials of role `r`: `Code` is `Failure`, not `Success`"
    );
}

#[test]
fn imds_endpoint_configuration() {
    let uri = |vars: &[(&str, &str)], cfg: &str| {
        let mut io = Io::default().config(cfg);
        let _ = io.run(CredentialsChain::new(&env(vars), None));
        io.log.get(2).cloned()
    };
    assert_eq!(
        uri(
            &[(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://127.0.0.1:1234/"
            )],
            ""
        )
        .as_deref(),
        Some("PUT http://127.0.0.1:1234/latest/api/token")
    );
    assert_eq!(
        uri(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")], "").as_deref(),
        Some("PUT http://[fd00:ec2::254]/latest/api/token")
    );
    assert_eq!(
        uri(
            &[],
            "[default]\nec2_metadata_service_endpoint = http://127.0.0.1:9\n"
        )
        .as_deref(),
        Some("PUT http://127.0.0.1:9/latest/api/token")
    );
    assert_eq!(uri(&[("AWS_EC2_METADATA_DISABLED", "TRUE")], ""), None);
    let e = Io::default()
        .run(CredentialsChain::new(
            &env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254")]),
            None,
        ))
        .unwrap_err();
    assert!(err_parts(e).1.contains("is not an http(s) URL"));
}
