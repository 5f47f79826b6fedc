//! Both clients go through the proxy the environment names, as the AWS SDKs
//! do: `CONNECT` tunnels for https, and for plain http absolute-form
//! requests (async client) or a tunnel (blocking client, as ureq does);
//! `NO_PROXY` hosts are reached directly; a refusing proxy is named in the
//! error. The proxy, the TLS server and the emulator all run on 127.0.0.1,
//! and the variables are given as an environment snapshot (the process's
//! is never changed).

mod net_support;

use net_support::proxy::{Mode, TestProxy};
use net_support::tls::{Scratch, TestCa, TlsServer};
use net_support::{env, events};
use personalize_events_core::{Error, PutEventsOutput, RetryConfig};
use personalize_events_credentials::Environment;
use std::time::Duration;

fn retry() -> RetryConfig {
    RetryConfig::default()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// One call with each client built from `env`: blocking first, then async.
fn call_both(env: &Environment) -> [(&'static str, Result<PutEventsOutput, Error>); 2] {
    let blocking = personalize_events_blocking::Client::builder()
        .environment(env.clone())
        .retry_config(retry())
        .build()
        .and_then(|c| c.put_events(events()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hyper = rt.block_on(async {
        let c = personalize_events_hyper::Client::builder()
            .environment(env.clone())
            .retry_config(retry())
            .build()?;
        c.put_events(events()).await
    });
    [("blocking", blocking), ("async", hyper)]
}

#[test]
fn https_goes_through_a_connect_tunnel_of_https_proxy() {
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let dir = Scratch::new("proxy-https");
    let bundle = ca.write_pem(&dir.0, "ca.pem");
    let target = server.url().trim_start_matches("https://").to_string();
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        let proxy = TestProxy::start(Mode::Forward);
        let e = env(&[
            ("AWS_ENDPOINT_URL", server.url()),
            ("AWS_CA_BUNDLE", bundle.display().to_string()),
            (var, proxy.url()),
        ]);
        for (name, r) in call_both(&e) {
            r.unwrap_or_else(|e| panic!("{var} {name}: {e}"));
        }
        assert_eq!(proxy.connects(), 2, "{var}: one tunnel per client");
        assert_eq!(proxy.targets(), [target.clone(), target.clone()], "{var}");
    }
    assert_eq!(server.requests(), 6);
}

#[test]
fn plain_http_goes_through_http_proxy() {
    let local = personalize_events_local::LocalServer::builder()
        .start_blocking()
        .unwrap();
    for var in ["HTTP_PROXY", "http_proxy", "all_proxy"] {
        let proxy = TestProxy::start(Mode::Forward);
        let e = env(&[
            ("AWS_ENDPOINT_URL", local.endpoint_url()),
            (var, proxy.url()),
        ]);
        for (name, r) in call_both(&e) {
            r.unwrap_or_else(|e| panic!("{var} {name}: {e}"));
        }
        // The async client sends absolute-form requests; ureq tunnels.
        assert_eq!(proxy.absolute_requests(), 1, "{var}");
        assert_eq!(proxy.connects(), 1, "{var}");
    }
    assert_eq!(local.records().len(), 6);
}

#[test]
fn no_proxy_hosts_and_other_schemes_are_reached_directly() {
    let local = personalize_events_local::LocalServer::builder()
        .start_blocking()
        .unwrap();
    let proxy = TestProxy::start(Mode::Refuse);
    for no in ["127.0.0.1", "localhost, 127.0.0.1", "*"] {
        let e = env(&[
            ("AWS_ENDPOINT_URL", local.endpoint_url()),
            ("HTTP_PROXY", proxy.url()),
            ("NO_PROXY", no.to_string()),
        ]);
        for (name, r) in call_both(&e) {
            r.unwrap_or_else(|e| panic!("NO_PROXY={no} {name}: {e}"));
        }
    }
    // Only an https proxy set: plain http is direct.
    let e = env(&[
        ("AWS_ENDPOINT_URL", local.endpoint_url()),
        ("HTTPS_PROXY", proxy.url()),
    ]);
    for (name, r) in call_both(&e) {
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_eq!(proxy.requests(), 0);
    assert_eq!(local.records().len(), 8);
}

#[test]
fn a_refusing_proxy_is_named_in_the_error() {
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let dir = Scratch::new("proxy-refuse");
    let bundle = ca.write_pem(&dir.0, "ca.pem");
    let proxy = TestProxy::start(Mode::Refuse);
    let e = env(&[
        ("AWS_ENDPOINT_URL", server.url()),
        ("AWS_CA_BUNDLE", bundle.display().to_string()),
        ("HTTPS_PROXY", proxy.url()),
    ]);
    let shown = proxy.url().trim_start_matches("http://").to_string();
    for (name, r) in call_both(&e) {
        let e = r.expect_err(name);
        assert!(matches!(e, Error::Transport { .. }), "{name}: {e:?}");
        let m = e.to_string();
        eprintln!("{name}: {m}");
        assert!(m.contains(&shown) && m.contains("proxy"), "{name}: {m}");
    }
    assert!(proxy.connects() >= 2);

    // A proxy nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let e = env(&[
        ("AWS_ENDPOINT_URL", server.url()),
        ("AWS_CA_BUNDLE", bundle.display().to_string()),
        ("HTTPS_PROXY", format!("http://{gone}")),
    ]);
    for (name, r) in call_both(&e) {
        let m = r.expect_err(name).to_string();
        eprintln!("{name}: {m}");
        assert!(m.contains(&gone) && m.contains("proxy"), "{name}: {m}");
    }
    assert_eq!(server.handshakes(), 0);
}
