//! The credentials chain's own requests go out as the client's: STS (and
//! the SSO portal, over the same HTTP) through the proxy for https and
//! trusting the client's CAs (`AWS_CA_BUNDLE`, the profile's `ca_bundle`),
//! while container and instance metadata endpoints (loopback, link-local)
//! are reached directly. In both clients, and in a chain made on its own.
//! Everything runs on 127.0.0.1: a TLS server with a CA made for the test
//! answers both STS and the service, behind a counting proxy.

mod net_support;

use std::sync::Arc;
use std::time::Duration;

use net_support::proxy::{Mode, TestProxy};
use net_support::tls::{TestCa, TlsServer};
use personalize_events_core::{Credentials, Error, PutEventsOutput};
use personalize_events_credentials::Environment;
use personalize_events_tests::fake_aws::{container, Issued, TempHome};

const ROLE: &str = "arn:aws:iam::123456789012:role/chain-network";

/// STS's answer to `AssumeRoleWithWebIdentity`, else the service's `200`.
fn sts_or_service(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    if !text.contains("Action=AssumeRoleWithWebIdentity") {
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 x-amzn-requestid: tls-test\r\ncontent-length: 0\r\n\r\n"
            .to_vec();
    }
    let xml = Issued::new(7, Duration::from_secs(3600)).sts_xml("AssumeRoleWithWebIdentity");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{xml}",
        xml.len()
    )
    .into_bytes()
}

/// A web identity environment whose STS (`sts.proxy.test`, a name only
/// the proxy resolves) and service (`127.0.0.1`) are `server`, behind
/// `proxy`, plus `extra`.
fn web_identity_env(
    home: &TempHome,
    server: &TlsServer,
    proxy: &TestProxy,
    extra: &[(&str, &str)],
) -> Environment {
    let token = home.write("web-identity-token", "eyJ.FAKE.token");
    let mut vars = vec![
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.display().to_string()),
        ("AWS_ROLE_ARN", ROLE.to_string()),
        ("AWS_ROLE_SESSION_NAME", "chain-network".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL_STS", server.url_for("sts.proxy.test")),
        ("AWS_ENDPOINT_URL", server.url()),
        ("HTTPS_PROXY", proxy.url()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    home.env(&borrowed)
}

/// One call with each client built from `env`.
fn call_both(env: &Environment) -> [(&'static str, Result<PutEventsOutput, Error>); 2] {
    let blocking = personalize_events_blocking::Client::builder()
        .environment(env.clone())
        .build()
        .and_then(|c| c.put_events(net_support::events()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hyper = rt.block_on(async {
        personalize_events_hyper::Client::builder()
            .environment(env.clone())
            .build()?
            .put_events(net_support::events())
            .await
    });
    [("blocking", blocking), ("async", hyper)]
}

fn count(targets: &[String], host: &str) -> usize {
    targets.iter().filter(|t| t.starts_with(host)).count()
}

#[test]
fn sts_goes_through_the_proxy_trusting_the_clients_ca() {
    let ca = TestCa::new();
    let server = TlsServer::start_answering(&ca, Arc::new(sts_or_service));
    let home = TempHome::new("chain-network");
    let bundle = ca.write_pem(home.dir(), "corp-ca.pem");
    home.write(".aws/config", "[default]\nca_bundle = ~/corp-ca.pem\n");
    let bundle = bundle.display().to_string();
    let cases: [(&str, &[(&str, &str)]); 2] = [
        ("AWS_CA_BUNDLE", &[("AWS_CA_BUNDLE", &bundle)]),
        ("profile ca_bundle", &[]),
    ];
    for (what, extra) in cases {
        let proxy = TestProxy::start(Mode::Forward);
        let env = web_identity_env(&home, &server, &proxy, extra);
        for (name, r) in call_both(&env) {
            let out = r.unwrap_or_else(|e| panic!("{what} {name}: {e}"));
            assert_eq!(out.request_id.as_deref(), Some("tls-test"), "{what} {name}");
        }
        let targets = proxy.targets();
        assert_eq!(
            count(&targets, "sts.proxy.test:"),
            2,
            "{what}: STS: {targets:?}"
        );
        assert_eq!(
            count(&targets, "127.0.0.1:"),
            2,
            "{what}: calls: {targets:?}"
        );
    }
}

#[test]
fn a_chain_on_its_own_uses_the_environments_proxy_and_ca_bundle() {
    let ca = TestCa::new();
    let server = TlsServer::start_answering(&ca, Arc::new(sts_or_service));
    let proxy = TestProxy::start(Mode::Forward);
    let home = TempHome::new("chain-alone");
    let bundle = ca
        .write_pem(home.dir(), "corp-ca.pem")
        .display()
        .to_string();
    let env = web_identity_env(&home, &server, &proxy, &[("AWS_CA_BUNDLE", &bundle)]);
    let want = Issued::new(7, Duration::from_secs(3600)).credentials();
    let same = |c: Credentials| c.access_key_id() == want.access_key_id();

    let blocking = personalize_events_blocking::DefaultCredentialsChain::new(env.clone());
    assert!(same(blocking.provide().expect("blocking chain")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let chain = personalize_events_hyper::DefaultCredentialsChain::new(env);
    let c = rt
        .block_on(personalize_events_hyper::ProvideCredentials::provide(
            &chain,
        ))
        .expect("async chain");
    assert!(same(c));
    assert_eq!(
        count(&proxy.targets(), "sts.proxy.test:"),
        2,
        "{:?}",
        proxy.targets()
    );
}

#[test]
fn an_untrusted_sts_certificate_is_a_credentials_error_that_says_so() {
    let ca = TestCa::new();
    let server = TlsServer::start_answering(&ca, Arc::new(sts_or_service));
    let proxy = TestProxy::start(Mode::Forward);
    let home = TempHome::new("chain-untrusted");
    // No bundle: the system store, which does not hold the test's CA.
    let env = web_identity_env(&home, &server, &proxy, &[]);
    for (name, r) in call_both(&env) {
        let e = r.expect_err(name);
        assert!(matches!(e, Error::Credentials { .. }), "{name}: {e:?}");
        let m = e.to_string();
        assert!(m.contains("invalid peer certificate"), "{name}: {m}");
    }
    assert_eq!(server.requests(), 0);
}

#[test]
fn container_endpoints_are_reached_directly_never_through_the_proxy() {
    let fake = container("/v2/credentials/t", None, Duration::ZERO, |n| {
        Issued::new(40 + n, Duration::from_secs(3600))
    });
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let proxy = TestProxy::start(Mode::Refuse);
    let home = TempHome::new("chain-direct");
    let bundle = ca
        .write_pem(home.dir(), "corp-ca.pem")
        .display()
        .to_string();
    let env = home.env(&[
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &fake.url("/v2/credentials/t"),
        ),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", &server.url()),
        ("AWS_CA_BUNDLE", &bundle),
        ("HTTP_PROXY", &proxy.url()),
    ]);
    for (name, r) in call_both(&env) {
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(fake.count("GET", "/v2/credentials/t"), 2);
    assert_eq!(proxy.requests(), 0, "{:?}", proxy.targets());
}
