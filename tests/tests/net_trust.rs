//! Whom TLS trusts: by default the system's store, or only the CAs of
//! `AWS_CA_BUNDLE`, the profile's `ca_bundle` or the builder's
//! `ca_bundle`, in both clients. A certificate nobody trusts is refused
//! with an error that says so, after one handshake (no retry). The TLS
//! server runs on 127.0.0.1 with a CA made for the test.

mod net_support;

use net_support::tls::{Scratch, TestCa, TlsServer};
use net_support::{env, events};
use personalize_events_core::{Error, PutEventsOutput, RetryConfig, TransportErrorKind};
use personalize_events_credentials::Environment;
use std::path::PathBuf;
use std::time::Duration;

fn retry() -> RetryConfig {
    RetryConfig::default()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// One call with each client built from `env` (and `bundle` in code).
fn call_both(
    env: &Environment,
    bundle: Option<PathBuf>,
) -> [(&'static str, Result<PutEventsOutput, Error>); 2] {
    let mut b = personalize_events_blocking::Client::builder()
        .environment(env.clone())
        .retry_config(retry());
    if let Some(p) = &bundle {
        b = b.ca_bundle(p);
    }
    let blocking = b.build().and_then(|c| c.put_events(events()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hyper = rt.block_on(async {
        let mut b = personalize_events_hyper::Client::builder()
            .environment(env.clone())
            .retry_config(retry());
        if let Some(p) = &bundle {
            b = b.ca_bundle(p);
        }
        b.build()?.put_events(events()).await
    });
    [("blocking", blocking), ("async", hyper)]
}

#[test]
fn a_private_ca_is_trusted_from_env_profile_or_code() {
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let dir = Scratch::new("trust-ok");
    let bundle = ca.write_pem(&dir.0, "corp-ca.pem");
    let config = dir.0.join("config");
    std::fs::write(&config, "[default]\nca_bundle = ~/corp-ca.pem\n").unwrap();
    let home = dir.0.display().to_string();
    let cases = [
        (
            "AWS_CA_BUNDLE",
            env(&[
                ("AWS_ENDPOINT_URL", server.url()),
                ("AWS_CA_BUNDLE", bundle.display().to_string()),
            ]),
            None,
        ),
        (
            "profile ca_bundle",
            env(&[
                ("AWS_ENDPOINT_URL", server.localhost_url()),
                ("HOME", home.clone()),
                ("AWS_CONFIG_FILE", config.display().to_string()),
            ]),
            None,
        ),
        (
            "code",
            env(&[("AWS_ENDPOINT_URL", server.url())]),
            Some(bundle.clone()),
        ),
    ];
    for (what, e, code) in cases {
        for (name, r) in call_both(&e, code.clone()) {
            let out = r.unwrap_or_else(|e| panic!("{what} {name}: {e}"));
            assert_eq!(out.request_id.as_deref(), Some("tls-test"), "{what} {name}");
        }
    }
    assert_eq!(server.requests(), 6);
}

#[test]
fn an_untrusted_certificate_is_refused_once_with_an_error_that_says_so() {
    let ca = TestCa::new();
    let server = TlsServer::start(&ca);
    let dir = Scratch::new("trust-refused");
    let other = TestCa::new().write_pem(&dir.0, "other-ca.pem");
    // The system store (the default), and a bundle of another CA.
    let cases = [
        ("system store", env(&[("AWS_ENDPOINT_URL", server.url())])),
        (
            "another CA",
            env(&[
                ("AWS_ENDPOINT_URL", server.url()),
                ("AWS_CA_BUNDLE", other.display().to_string()),
            ]),
        ),
    ];
    for (what, e) in cases {
        let before = server.handshakes();
        let results = call_both(&e, None);
        server.wait_for_handshake_after(before + 1);
        for (name, r) in results {
            let e = r.expect_err(name);
            assert!(
                matches!(
                    e,
                    Error::Transport {
                        kind: TransportErrorKind::Other,
                        ..
                    }
                ),
                "{what} {name}: {e:?}"
            );
            assert!(!e.is_retryable(), "{what} {name}");
            let m = e.to_string();
            eprintln!("{what} {name}: {m}");
            assert!(m.contains("invalid peer certificate"), "{what} {name}: {m}");
        }
        assert_eq!(
            server.handshakes() - before,
            2,
            "{what}: one handshake per client"
        );
    }
    assert_eq!(server.completed(), 0);
    assert_eq!(server.requests(), 0);
}

#[test]
fn a_ca_bundle_that_cannot_be_used_fails_at_build_naming_it() {
    let dir = Scratch::new("trust-bad");
    let junk = dir.0.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = dir.0.join("missing.pem");
    for path in [junk, missing] {
        let e = env(&[
            ("AWS_ENDPOINT_URL", "https://127.0.0.1:1".into()),
            ("AWS_CA_BUNDLE", path.display().to_string()),
        ]);
        let b = personalize_events_blocking::Client::builder()
            .environment(e.clone())
            .build()
            .unwrap_err();
        let h = personalize_events_hyper::Client::builder()
            .environment(e)
            .build()
            .unwrap_err();
        for err in [b, h] {
            assert!(matches!(err, Error::Config(_)), "{err:?}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
        }
    }
}
