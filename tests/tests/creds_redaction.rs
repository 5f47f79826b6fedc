//! No secret access key, session token, web identity token or container
//! authorization token ever shows in an error (Display or Debug), in the
//! Debug output of the builders, clients and credential providers, or in
//! any tracing span or event (captured with a subscriber recording every
//! field at every level), while the chain resolves credentials from web
//! identity, container and `credential_process` sources and fails on
//! endpoints that echo the secrets back.
#![cfg(unix)]

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use personalize_events_credentials::Environment;
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{
    assert_no_secret, container, sts_web_identity, Answer, FakeServer, Issued, TempHome,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event as TraceEvent, Metadata, Subscriber};

const WEB_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.WEB-IDENTITY-SECRET.c2ln";
const CONTAINER_TOKEN: &str = "container-auth-SECRET-token-1234";
const ENV_SECRET: &str = "env/SECRET/access/key/abcdef";
const ENV_SESSION: &str = "env-SESSION-token-secret-zyx";
const ROLE: &str = "arn:aws:iam::123456789012:role/redaction";

/// Every field of every span and event, as text.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next: Arc<AtomicU64>,
}

struct Collect<'a>(&'a Capture, String);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.1.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Drop for Collect<'_> {
    fn drop(&mut self) {
        self.0
            .lines
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.1));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        attrs.record(&mut Collect(
            self,
            format!("span {}", attrs.metadata().name()),
        ));
        Id::from_u64(self.next.fetch_add(1, Ordering::SeqCst) + 1)
    }
    fn record(&self, _: &Id, values: &SpanRecord<'_>) {
        values.record(&mut Collect(self, "record".into()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &TraceEvent<'_>) {
        event.record(&mut Collect(
            self,
            format!(
                "event {} {}",
                event.metadata().level(),
                event.metadata().target()
            ),
        ));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

fn issued(n: u32) -> Issued {
    Issued::new(600 + n, Duration::from_secs(3600))
}

fn all_secrets() -> Vec<String> {
    let mut v = vec![
        WEB_TOKEN.to_string(),
        CONTAINER_TOKEN.to_string(),
        ENV_SECRET.to_string(),
        ENV_SESSION.to_string(),
    ];
    for n in 0..4 {
        let i = issued(n);
        v.push(i.secret_access_key);
        v.push(i.session_token);
    }
    v
}

/// A container endpoint that rejects the token and quotes it back.
fn echoing_container() -> FakeServer {
    FakeServer::start(|req| {
        let token = req.header("authorization").unwrap_or_default();
        Answer::json(format!(
            r#"{{"code":"AccessDenied","message":"token {token} is not valid"}}"#
        ))
        .status(403)
    })
}

/// The scenarios, each as (name, environment): three that resolve and
/// three that fail with an endpoint or process that echoes secrets.
struct Scenarios {
    home: TempHome,
    _servers: Vec<FakeServer>,
    good: Vec<(&'static str, Environment)>,
    bad: Vec<(&'static str, Environment)>,
}

fn scenarios(name: &str, endpoint: &str) -> Scenarios {
    let home = TempHome::new(name);
    let sts = sts_web_identity(ROLE, WEB_TOKEN.into(), |_| issued(0));
    let ecs = container("/creds", Some(CONTAINER_TOKEN), Duration::ZERO, |_| {
        issued(1)
    });
    let echo = echoing_container();
    let web_file = home.write("web-token", WEB_TOKEN).display().to_string();
    let wrong_web_file = home
        .write("wrong-web-token", &format!("{WEB_TOKEN}-wrong"))
        .display()
        .to_string();
    let good_process = home.script(
        "good.sh",
        &format!("cat <<'JSON'\n{}\nJSON", issued(2).process_json()),
    );
    // Valid JSON with the secret in it, but an unsupported version.
    let bad_process = home.script(
        "bad.sh",
        &format!(
            "cat <<'JSON'\n{}\nJSON\necho 'warning: {}' >&2",
            issued(3)
                .process_json()
                .replace("\"Version\":1", "\"Version\":2"),
            issued(3).session_token
        ),
    );
    home.write(
        ".aws/config",
        &format!(
            "[profile good]\ncredential_process = {good_process}\n\
             [profile bad]\ncredential_process = {bad_process}\n"
        ),
    );
    let base = |extra: &[(&str, &str)]| {
        let mut v: Vec<(&str, &str)> = vec![
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", endpoint),
        ];
        v.extend_from_slice(extra);
        home.env(&v)
    };
    let sts_url = sts.url("/");
    let good = vec![
        (
            "web identity",
            base(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", &web_file),
                ("AWS_ROLE_ARN", ROLE),
                ("AWS_ENDPOINT_URL_STS", &sts_url),
            ]),
        ),
        (
            "container",
            base(&[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &ecs.url("/creds")),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN),
            ]),
        ),
        ("process", base(&[("AWS_PROFILE", "good")])),
    ];
    let bad = vec![
        (
            "web identity refused, token echoed",
            base(&[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", &wrong_web_file),
                ("AWS_ROLE_ARN", ROLE),
                ("AWS_ENDPOINT_URL_STS", &sts_url),
            ]),
        ),
        (
            "container refused, token echoed",
            base(&[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &echo.url("/creds")),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN),
            ]),
        ),
        (
            "process output unsupported",
            base(&[("AWS_PROFILE", "bad")]),
        ),
    ];
    Scenarios {
        home,
        _servers: vec![sts, ecs, echo],
        good,
        bad,
    }
}

fn server_builder() -> personalize_events_local::LocalServerBuilder {
    let mut b = LocalServer::builder();
    for n in 0..3 {
        b = b.credential(issued(n).credentials());
    }
    b
}

/// Static keys in the environment, for the builders' and clients' Debug.
fn static_env(home: &TempHome) -> Environment {
    home.env(&[
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDSTATICENV"),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ("AWS_SESSION_TOKEN", ENV_SESSION),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN),
    ])
}

#[test]
fn blocking_client_never_shows_a_secret() {
    use personalize_events_blocking::{Client, DefaultCredentialsChain, Event, PutEventsInput};
    let server = server_builder().start_blocking().unwrap();
    let s = scenarios("redact-blocking", &server.endpoint_url());
    let secrets = all_secrets();
    let capture = Capture::default();
    let mut shown = Vec::new();
    tracing::subscriber::with_default(capture.clone(), || {
        let input = || PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        for (name, env) in &s.good {
            let builder = Client::builder().environment(env.clone());
            shown.push((format!("{name}: builder"), format!("{builder:?}")));
            let client = builder.build().unwrap();
            client
                .put_events(input())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            shown.push((format!("{name}: client"), format!("{client:?}")));
            let chain = DefaultCredentialsChain::new(env.clone());
            let c = chain.provide().unwrap();
            shown.push((format!("{name}: chain"), format!("{chain:?}")));
            shown.push((format!("{name}: credentials"), format!("{c:?}")));
        }
        for (name, env) in &s.bad {
            let client = Client::builder().environment(env.clone()).build().unwrap();
            let e = client.put_events(input()).unwrap_err();
            assert!(
                matches!(e, personalize_events_blocking::Error::Credentials { .. }),
                "{name}: {e:?}"
            );
            shown.push((format!("{name}: error"), format!("{e} / {e:?}")));
        }
        let builder = Client::builder().environment(static_env(&s.home));
        shown.push(("static: builder".into(), format!("{builder:?}")));
        let client = builder.build().unwrap();
        shown.push(("static: client".into(), format!("{client:?}")));
    });
    for (what, text) in &shown {
        assert_no_secret(what, text, &secrets);
    }
    let traced = capture.text();
    assert!(traced.contains("resolving credentials"), "{traced}");
    assert!(traced.contains("credentials resolved"), "{traced}");
    assert_no_secret("tracing", &traced, &secrets);
}

#[test]
fn async_client_never_shows_a_secret() {
    use personalize_events_hyper::{
        ClientBuilder, DefaultCredentialsChain, Event, ProvideCredentials, PutEventsInput,
    };
    let server = server_builder().start_blocking().unwrap();
    let s = scenarios("redact-async", &server.endpoint_url());
    let secrets = all_secrets();
    let capture = Capture::default();
    let mut shown = Vec::new();
    tracing::subscriber::with_default(capture.clone(), || {
        // One thread: every task the client spawns reports to `capture`.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let input =
                || PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
            for (name, env) in &s.good {
                let builder = ClientBuilder::new().environment(env.clone());
                shown.push((format!("{name}: builder"), format!("{builder:?}")));
                let client = builder.build().unwrap();
                client
                    .put_events(input())
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                shown.push((format!("{name}: client"), format!("{client:?}")));
                let chain = DefaultCredentialsChain::new(env.clone());
                let c = chain.provide().await.unwrap();
                shown.push((format!("{name}: chain"), format!("{chain:?}")));
                shown.push((format!("{name}: credentials"), format!("{c:?}")));
            }
            for (name, env) in &s.bad {
                let client = ClientBuilder::new()
                    .environment(env.clone())
                    .build()
                    .unwrap();
                let e = client.put_events(input()).await.unwrap_err();
                assert!(
                    matches!(e, personalize_events_hyper::Error::Credentials { .. }),
                    "{name}: {e:?}"
                );
                shown.push((format!("{name}: error"), format!("{e} / {e:?}")));
            }
            let builder = ClientBuilder::new().environment(static_env(&s.home));
            shown.push(("static: builder".into(), format!("{builder:?}")));
            let client = builder.build().unwrap();
            shown.push(("static: client".into(), format!("{client:?}")));
        });
    });
    for (what, text) in &shown {
        assert_no_secret(what, text, &secrets);
    }
    let traced = capture.text();
    assert!(traced.contains("resolving credentials"), "{traced}");
    assert!(traced.contains("credentials resolved"), "{traced}");
    assert_no_secret("tracing", &traced, &secrets);
}
