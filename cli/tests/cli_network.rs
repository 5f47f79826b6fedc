//! The tool goes through the proxy of `HTTPS_PROXY` / `HTTP_PROXY` (and
//! not for `NO_PROXY` hosts), names a proxy that refuses, and trusts the
//! CAs of `--ca-bundle` or `AWS_CA_BUNDLE`; a certificate nobody trusts
//! stops the run after one handshake. Proxy, TLS server and emulator run
//! on 127.0.0.1.

mod common;
#[path = "../../tests/tests/net_support/proxy.rs"]
mod proxy;
#[path = "../../tests/tests/net_support/tls.rs"]
mod tls;

use common::*;
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};
use proxy::{Mode, TestProxy};
use tls::{TestCa, TlsServer};

/// The binary with keys and region, sending `n` events to `endpoint`.
fn put_events(dir: &TempDir, endpoint: &str, n: usize) -> std::process::Command {
    let input = dir.write("events.jsonl", &events(n, 1));
    let mut c = bin(dir);
    c.env("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .args([
            "put-events",
            "--tracking-id",
            "t",
            "--endpoint-url",
            endpoint,
        ])
        .arg(input);
    c
}

#[test]
fn through_https_proxy_to_a_private_ca_given_with_ca_bundle() {
    let dir = TempDir::new("net-https");
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let bundle = ca.write_pem(dir.path(), "ca.pem");
    let proxy = TestProxy::start(Mode::Forward);
    let out = run(put_events(&dir, &server.url(), 3)
        .env("HTTPS_PROXY", proxy.url())
        .arg("--ca-bundle")
        .arg(&bundle));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(proxy.connects() >= 1);
    assert_eq!(server.requests(), 1);

    // The same CA from AWS_CA_BUNDLE, directly.
    let out = run(put_events(&dir, &server.url(), 3).env("AWS_CA_BUNDLE", &bundle));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.requests(), 2);
}

#[test]
fn by_default_the_system_trust_store_decides() {
    // The system store, pointed at the test's CA with SSL_CERT_FILE (read
    // by rustls-native-certs, as by OpenSSL), trusts the server.
    let dir = TempDir::new("net-system");
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let file = ca.write_pem(dir.path(), "system-ca.pem");
    let out = run(put_events(&dir, &server.url(), 2).env("SSL_CERT_FILE", &file));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.requests(), 1);
}

#[test]
fn an_untrusted_certificate_stops_after_one_handshake() {
    let dir = TempDir::new("net-untrusted");
    let server = TlsServer::start(&TestCa::new());
    let out = run(put_events(&dir, &server.url(), 2).args(["--max-attempts", "3"]));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("invalid peer certificate"), "{out:?}");
    server.wait_for_handshake_after(0);
    assert_eq!(server.handshakes(), 1, "{out:?}");
    assert_eq!(server.completed(), 0);
}

#[test]
fn plain_http_through_http_proxy_unless_no_proxy() {
    let dir = TempDir::new("net-http");
    let local = LocalServer::builder().start_blocking().unwrap();
    let proxy = TestProxy::start(Mode::Forward);
    let out = run(put_events(&dir, &local.endpoint_url(), 4).env("http_proxy", proxy.url()));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(proxy.requests(), 1);
    assert_eq!(local.records().len(), 4);
    let out = run(put_events(&dir, &local.endpoint_url(), 4)
        .env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", "127.0.0.1"));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(proxy.requests(), 1);
    assert_eq!(local.records().len(), 8);
}

#[test]
fn a_refusing_proxy_is_named() {
    let dir = TempDir::new("net-refused");
    let local = LocalServer::builder().start_blocking().unwrap();
    let proxy = TestProxy::start(Mode::Refuse);
    let out = run(put_events(&dir, &local.endpoint_url(), 2).env("ALL_PROXY", proxy.url()));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains(&proxy.url()), "{out:?}");
    assert!(local.records().is_empty());
}
