//! Secrets stay secret, and the wire is what it claims to be.
//!
//! * No secret key, session token, web identity token, `Authorization`
//!   header value or sensitive record member appears in any `Debug` or
//!   `Display` output (clients, builders, inputs, records, errors,
//!   credentials, the core's `SendRequest`, `Poll` and `Call`, the
//!   credentials chain), in any error message, or in any `tracing` event or
//!   `log` record at any level (captured at TRACE while both clients make
//!   calls that succeed, retry and fail).
//! * The shapes the model marks sensitive (`Event` as a whole, user ids,
//!   action ids, item ids of events, impressions, every `properties`) are
//!   shown as `*** Sensitive Data Redacted ***`, as the official SDKs do.
//! * TLS: a client built for a region talks https; plain http only when an
//!   `http://` endpoint is given explicitly; a self-signed certificate is
//!   refused with an error that is not retried; redirects are not followed.
//! * Every crate of the workspace forbids `unsafe` code.
#![forbid(unsafe_code)]

mod rel_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::batch::Record;
use personalize_events_core::*;
use personalize_events_credentials::{ChainStep, CredentialsChain, Environment, FileError};
use personalize_events_local::LocalServer;
use personalize_events_tests::raw_server::{response, RawReply, RawServer};
use rel_support::Settings;

const REDACTED: &str = "*** Sensitive Data Redacted ***";

const ACCESS_KEY: &str = "AKIDRELSECRETS";
const SECRET_KEY: &str = "sk-REL/5ecret+Key-wJalrXUtnFEMI";
const SESSION_TOKEN: &str = "tok-REL-5ession-T0ken-FwoGZXIvYXdzE";
const WEB_IDENTITY_TOKEN: &str = "eyJ-REL-w3b-1dentity-T0ken";

/// Values of members the model marks sensitive.
const SENSITIVE: &[&str] = &[
    "pl-EVENTTYPE-7f3a",
    "pl-ITEMID-7f3a",
    "pl-PROPVAL-7f3a",
    "pl-USERID-7f3a",
    "pl-ACTIONID-7f3a",
    "pl-IMPRESSION-7f3a",
    "pl-RECOMMENDATION-7f3a",
];

fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, Some(SESSION_TOKEN.to_string()))
}

/// Everything that must never be shown.
fn secrets() -> Vec<&'static str> {
    let mut s = vec![SECRET_KEY, SESSION_TOKEN, WEB_IDENTITY_TOKEN];
    s.extend_from_slice(SENSITIVE);
    s
}

/// Where `text` shows a secret: verbatim, or as the bytes a `Vec<u8>`'s
/// `Debug` prints (`[115, 107, 45, ...]`), or a signed request's
/// `Authorization` value.
fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for s in secrets() {
        let bytes = format!("{:?}", s.as_bytes());
        let bytes = &bytes[1..bytes.len() - 1];
        if text.contains(s) || text.contains(bytes) {
            found.push(s.to_string());
        }
    }
    for tell in ["Signature=", "AWS4-HMAC-SHA256 Credential"] {
        if text.contains(tell) {
            found.push(tell.to_string());
        }
    }
    found
}

fn assert_clean(what: &str, text: &str) {
    let found = leaks(text);
    assert!(found.is_empty(), "{what} shows {found:?}:\n{text}");
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_540)
}

fn event() -> Event {
    Event::new(SENSITIVE[0], at())
        .event_id("event-1")
        .item_id(SENSITIVE[1])
        .properties(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]))
        .recommendation_id("rec-1")
        .impression([SENSITIVE[5]])
        .metric_attribution(MetricAttribution::new("partner"))
}

fn interaction() -> ActionInteraction {
    ActionInteraction::new(SENSITIVE[4], "session-1", at(), "Viewed")
        .user_id(SENSITIVE[3])
        .event_id("event-2")
        .impression([SENSITIVE[5]])
        .properties(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]))
}

const ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS";

fn all_inputs() -> Vec<AnyInput> {
    let props = || Properties::from(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]));
    vec![
        AnyInput::PutEvents(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id(SENSITIVE[3])
                .event(event()),
        ),
        AnyInput::PutItems(PutItemsInput::new(ARN).item(Item::new("item-1").properties(props()))),
        AnyInput::PutUsers(PutUsersInput::new(ARN).user(User::new("user-1").properties(props()))),
        AnyInput::PutActions(
            PutActionsInput::new(ARN).action(Action::new("action-1").properties(props())),
        ),
        AnyInput::PutActionInteractions(
            PutActionInteractionsInput::new("tracking-1").action_interaction(interaction()),
        ),
    ]
}

#[test]
fn sensitive_shapes_redact_like_the_official_sdk() {
    assert_eq!(format!("{:?}", event()), REDACTED);
    assert_eq!(format!("{:#?}", event()), REDACTED);
    let s = format!("{:?}", interaction());
    assert!(s.contains(REDACTED), "{s}");
    for input in all_inputs() {
        let s = format!("{input:?} {input:#?}");
        assert_clean(input.operation_name(), &s);
        assert!(s.contains(REDACTED), "{s}");
        for r in input.clone().into_records() {
            let s = format!("{r:?} {r:#?}");
            assert_clean("a record", &s);
            assert!(s.contains(REDACTED), "{s}");
        }
    }
    let p = Properties::from(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]));
    assert_eq!(format!("{p:?}"), REDACTED);
    let user = Record::event("t", "s", Some(SENSITIVE[3].into()), Event::new("c", at()));
    assert_clean("an event record's user", &format!("{user:?}"));
}

#[test]
fn credentials_requests_calls_and_errors_show_no_secret() {
    let c = credentials();
    assert_clean("Credentials", &format!("{c:?} {c:#?}"));
    assert!(
        format!("{c:?}").contains(ACCESS_KEY),
        "the key id is not secret"
    );

    let core = ClientCore::new(ClientConfig::for_region("us-east-1").unwrap()).unwrap();
    assert_clean("ClientCore", &format!("{core:?}"));
    let input = PutEventsInput::new("tracking-1", "session-1")
        .user_id(SENSITIVE[3])
        .event(event());
    let now = Instant::now();
    let mut call = core.call(&input, now, 7).unwrap();
    assert_clean("Call", &format!("{call:?} {call:#?}"));
    let poll = call.poll(now, SystemTime::now(), &c, 0.5);
    let shown = format!("{poll:?} {poll:#?}");
    assert_clean("Poll::Send", &shown);
    assert!(shown.contains("x-amz-date"), "headers are shown: {shown}");
    let Poll::Send(send) = poll else {
        panic!("{shown}")
    };
    // The request itself carries them, of course.
    assert!(send.request.headers().contains_key("authorization"));
    assert_eq!(
        send.request.headers()["x-amz-security-token"],
        SESSION_TOKEN
    );
    assert_clean("SendRequest", &format!("{send:?}"));
    call.handle_response(
        now,
        SystemTime::now(),
        http::Response::builder()
            .status(503)
            .body(&b""[..])
            .unwrap(),
    );
    assert_clean("Call retrying", &format!("{call:?}"));

    // Server side: what verification returns does not show the token.
    let verified = personalize_events_local::verify::verify_request(
        &send.request,
        |_| Some(credentials()),
        SystemTime::now(),
        Duration::from_secs(300),
        SIGNING_NAME,
    )
    .unwrap();
    assert_eq!(verified.session_token.as_deref(), Some(SESSION_TOKEN));
    assert_clean("VerifiedRequest", &format!("{verified:?}"));

    // Presigned requests carry the token in the query: their URI is a
    // credential, handled by the caller, and not a Debug of ours.
    let presigned = core
        .presign(
            &PutItemsInput::new(ARN).item(Item::new("i")),
            &c,
            SystemTime::now(),
            None,
            1,
        )
        .unwrap();
    assert!(presigned.uri().to_string().contains("X-Amz-Signature="));

    // Validation errors name the path and the constraint, never the value.
    let bad = [
        PutEventsInput::new("t", "s").event(event().item_id(format!(
            "{}{}",
            SENSITIVE[1],
            "x".repeat(300)
        ))),
        PutEventsInput::new("t", "s")
            .event(event().properties(format!("{{\"k\":\"{}\"", SENSITIVE[2]))),
        PutEventsInput::new("t", "s").event(event().properties(format!("[\"{}\"]", SENSITIVE[2]))),
        PutEventsInput::new("t", "s")
            .user_id(format!("{}{}", SENSITIVE[3], "u".repeat(300)))
            .event(event()),
    ];
    for input in bad {
        let e = core.call(&input, now, 1).unwrap_err();
        assert!(matches!(e, Error::Validation { .. }), "{e:?}");
        assert_clean("a validation error", &format!("{e} {e:?}"));
    }
}

#[test]
fn decoding_errors_do_not_echo_record_values() {
    // Records read from JSON (the emulator, the CLI's JSON lines) with a
    // member of the wrong type: the error names the member's type, not the
    // value that was there.
    let cases = [
        (
            "PutEvents",
            format!(
                r#"{{"trackingId":"t","sessionId":"s","eventList":[{{"eventType":"c","sentAt":1,"eventValue":"{}"}}]}}"#,
                SENSITIVE[2]
            ),
        ),
        (
            "PutEvents",
            format!(
                r#"{{"trackingId":"t","sessionId":"s","userId":["{}"],"eventList":[]}}"#,
                SENSITIVE[3]
            ),
        ),
        (
            "PutItems",
            format!(
                r#"{{"datasetArn":"a","items":[{{"itemId":"i","properties":["{}"]}}]}}"#,
                SENSITIVE[2]
            ),
        ),
        (
            "PutActionInteractions",
            format!(
                r#"{{"trackingId":"t","actionInteractions":"{}"}}"#,
                SENSITIVE[4]
            ),
        ),
    ];
    for (op, body) in cases {
        let e = AnyInput::from_json(op, body.as_bytes()).unwrap_err();
        assert_clean("a decoding error", &format!("{e} {e:?}"));
        assert!(matches!(e, Error::Validation { .. }), "{e}");
    }
    // Numbers and characters are values too.
    for (body, value) in [
        (
            r#"{"datasetArn":"a","users":[{"userId":98765.4321}]}"#,
            "98765.4321",
        ),
        (
            r#"{"datasetArn":"a","users":[{"userId":9876543210}]}"#,
            "9876543210",
        ),
        (
            r#"{"datasetArn":"a","users":[{"userId":-9876543210}]}"#,
            "9876543210",
        ),
    ] {
        let e = AnyInput::from_json("PutUsers", body.as_bytes()).unwrap_err();
        assert!(!format!("{e} {e:?}").contains(value), "{e}");
        assert!(e.to_string().contains("expected a string"), "{e}");
    }
}

#[test]
fn the_credentials_chain_shows_no_web_identity_token() {
    let dir = std::env::temp_dir().join(format!("rel-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, WEB_IDENTITY_TOKEN).unwrap();
    let env = Environment::from_vars([
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/r".to_string(),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9".to_string()),
    ])
    .with_home(Some(dir.clone()));
    assert_clean("Environment", &format!("{env:?}"));
    let mut chain = CredentialsChain::new(&env, None);
    let mut saw_sts = false;
    let result = 'drive: {
        for _ in 0..50 {
            let step = chain.poll(SystemTime::now());
            assert_clean("a chain step", &format!("{step:?} {step:#?}"));
            assert_clean("the chain", &format!("{chain:?}"));
            match step {
                ChainStep::ReadFile(p) => {
                    let r = std::fs::read(&p).map_err(FileError::from);
                    chain.handle_file(&p, r);
                }
                ChainStep::Http { request, .. } => {
                    // The token is in the body the transport sends...
                    let body = String::from_utf8_lossy(request.body()).into_owned();
                    assert!(body.contains(WEB_IDENTITY_TOKEN));
                    saw_sts = true;
                    // ... and a service that echoes it back is not repeated.
                    let echo = format!(
                        "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>\
                         <Message>Token {WEB_IDENTITY_TOKEN} is not valid</Message></Error></ErrorResponse>"
                    );
                    chain.handle_http(Ok(http::Response::builder()
                        .status(400)
                        .body(echo.into_bytes())
                        .unwrap()));
                }
                ChainStep::RunProcess { .. } => panic!("no process is configured"),
                ChainStep::WriteFile { .. } => panic!("no file is written here"),
                ChainStep::Done(r) => break 'drive r,
            }
        }
        panic!("the chain did not finish");
    };
    assert!(saw_sts);
    let e = result.unwrap_err();
    assert_clean("the chain's error", &format!("{e} {e:?}"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Everything `tracing` and `log` say, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl log::Log for Captured {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!("LOG {} {}: {}\n", r.level(), r.target(), r.args());
        self.0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

fn capture() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let c = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(c.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        log::set_boxed_logger(Box::new(c.clone())).expect("one logger");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

#[test]
fn nothing_secret_in_any_trace_or_log_while_both_clients_succeed_retry_and_fail() {
    let captured = capture();
    // Successes, retries of every fault kind, and failures.
    let script = "503,ok,reset,ok,429,ok,truncate,ok,500,500,500,stall,ok,ok";
    let steps =
        personalize_events_local::parse_fault_script(&format!("{script},{script}")).unwrap();
    let server = LocalServer::builder()
        .credential(credentials())
        .fault_script(steps)
        .stall(Duration::from_millis(600))
        .max_duration(Duration::from_secs(60))
        .start_blocking()
        .unwrap();
    let settings = Settings::new(&server.endpoint_url(), credentials()).timeouts(
        Timeouts::default()
            .with_attempt(Duration::from_millis(300))
            .with_operation(Duration::from_secs(10)),
    );
    let mut errors = Vec::new();
    for c in settings.both() {
        let before = captured.0.lock().unwrap().len();
        for input in all_inputs() {
            if let Err(e) = c.send_any(input) {
                errors.push(e);
            }
        }
        // Refused by the service (unknown key), refused locally (bad input).
        let other = Settings::new(
            &server.endpoint_url(),
            Credentials::new("AKIDUNKNOWN", SECRET_KEY, Some(SESSION_TOKEN.into())),
        );
        let stranger = match c {
            rel_support::AnyClient::Blocking(_) => other.blocking(),
            rel_support::AnyClient::Async(_, ref rt) => other.hyper(rt.clone()),
        };
        errors.push(stranger.send_any(all_inputs().remove(0)).unwrap_err());
        let bad = PutEventsInput::new("t", "s").event(event().item_id(""));
        errors.push(c.put_events(bad).unwrap_err());
        assert!(
            captured.0.lock().unwrap().len() > before,
            "{}: nothing was traced",
            c.name()
        );
        assert_clean(
            "a client",
            &format!(
                "{:?}",
                match &c {
                    rel_support::AnyClient::Blocking(b) => format!("{b:?}"),
                    rel_support::AnyClient::Async(a, _) => format!("{a:?}"),
                }
            ),
        );
    }
    assert!(errors.len() >= 4, "{errors:?}");
    for e in &errors {
        assert_clean("an error", &format!("{e} {e:?}"));
    }
    let stats = server.stats();
    assert!(stats.faults_total() >= 10, "{stats}");
    assert!(
        stats.rejected_with("UnrecognizedClientException") >= 2,
        "{stats}"
    );
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("personalize_events.call"),
        "spans are captured"
    );
    assert!(text.contains("attempt"), "attempts are captured");
    assert_clean("the captured traces and logs", &text);
    // Builders are shown without their secrets too.
    let b = personalize_events_blocking::Client::builder().credentials(credentials());
    assert_clean("blocking builder", &format!("{b:?}"));
    let b = personalize_events_hyper::Client::builder().credentials(credentials());
    assert_clean("async builder", &format!("{b:?}"));
    // The emulator's own handle and statistics.
    assert_clean("emulator", &format!("{server:?} {stats} {stats:?}"));
    let _ = std::io::stderr().flush();
}

#[test]
fn a_client_for_a_region_talks_https_and_http_only_when_asked() {
    for region in [
        "us-east-1",
        "eu-west-1",
        "cn-north-1",
        "us-gov-west-1",
        "ap-southeast-4",
    ] {
        let cfg = ClientConfig::for_region(region).unwrap();
        assert_eq!(cfg.endpoint.scheme(), "https", "{region}");
        let b = personalize_events_blocking::Client::builder()
            .region(region)
            .credentials(credentials())
            .build()
            .unwrap();
        assert!(
            b.endpoint_url().starts_with("https://"),
            "{}",
            b.endpoint_url()
        );
        let a = personalize_events_hyper::Client::builder()
            .region(region)
            .credentials(credentials())
            .build()
            .unwrap();
        assert_eq!(a.core().config().endpoint.scheme(), "https");
    }
    let b = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .use_fips(true)
        .use_dual_stack(true)
        .build()
        .unwrap();
    assert!(
        b.endpoint_url().starts_with("https://"),
        "{}",
        b.endpoint_url()
    );
    // Plain http only for an endpoint given as such.
    let b = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(b.endpoint_url(), "http://127.0.0.1:9");
    let a = personalize_events_hyper::Client::builder()
        .region("us-east-1")
        .credentials(credentials())
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(a.core().config().endpoint.scheme(), "http");
}

#[test]
fn redirects_are_answers_not_hops() {
    // A signed request is never replayed to another host.
    let elsewhere = RawServer::start(|_| RawReply::close(response(200, &[], b"")));
    let location = format!("{}/events", elsewhere.url());
    let server = RawServer::start(move |_| {
        RawReply::close(response(307, &[("location", location.as_bytes())], b""))
    });
    for c in Settings::new(&server.url(), credentials())
        .attempts(1)
        .both()
    {
        let e = c.put_events(rel_support::events()).unwrap_err();
        assert_eq!(e.status(), Some(307), "{}: {e}", c.name());
    }
    assert_eq!(elsewhere.request_count(), 0);
}

/// A TLS server on loopback with a freshly made self-signed certificate;
/// counts the handshakes tried and how each ended.
struct SelfSignedServer {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    completed: Arc<AtomicUsize>,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SelfSignedServer {
    fn start() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("a self-signed certificate");
        let cert = ck.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let completed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(tokio::sync::Notify::new());
        let (h, c, s) = (handshakes.clone(), completed.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let deadline = tokio::time::sleep(Duration::from_secs(30));
                tokio::pin!(deadline);
                for _ in 0..100 {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        _ = s.notified() => break,
                        _ = &mut deadline => break,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    h.fetch_add(1, Ordering::SeqCst);
                    let hs =
                        tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await;
                    if matches!(hs, Ok(Ok(_))) {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        });
        SelfSignedServer {
            port,
            handshakes,
            completed,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_self_signed_certificate_is_refused_and_not_retried() {
    let server = SelfSignedServer::start();
    let url = format!("https://127.0.0.1:{}", server.port);
    for c in Settings::new(&url, credentials()).attempts(3).both() {
        let before = server.handshakes.load(Ordering::SeqCst);
        let e = c.put_events(rel_support::events()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Other,
                    ..
                }
            ),
            "{}: {e:?}",
            c.name()
        );
        assert!(!e.is_retryable());
        assert!(
            e.to_string().to_ascii_lowercase().contains("certificate"),
            "{}: {e}",
            c.name()
        );
        // Give the server a moment to count the handshake (60 s: a hang
        // guard only, the wait ends as soon as it is counted).
        let t = Instant::now();
        while server.handshakes.load(Ordering::SeqCst) == before
            && t.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            server.handshakes.load(Ordering::SeqCst) - before,
            1,
            "{}: one handshake, no retry",
            c.name()
        );
    }
    assert_eq!(server.completed.load(Ordering::SeqCst), 0);
}

/// The crate roots of the workspace: every `lib.rs`, `main.rs` and
/// `src/bin/*.rs` of every member (and of the fuzz crate).
fn crate_roots(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<String> = manifest
        .split("members")
        .nth(1)
        .and_then(|s| s.split('[').nth(1))
        .and_then(|s| s.split(']').next())
        .map(|s| {
            s.split(',')
                .map(|m| m.trim().trim_matches('"').to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    assert!(members.len() >= 5, "{members:?}");
    let mut roots = Vec::new();
    for m in members.iter().map(String::as_str).chain(["fuzz"]) {
        let src = root.join(m).join("src");
        for f in ["lib.rs", "main.rs"] {
            if src.join(f).exists() {
                roots.push(src.join(f));
            }
        }
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            roots.extend(bins.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    roots
}

#[test]
fn every_crate_forbids_unsafe_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let roots = crate_roots(&root);
    assert!(roots.len() >= 7, "{roots:?}");
    let missing: Vec<_> = roots
        .iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains("#![forbid(unsafe_code)]")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "without #![forbid(unsafe_code)]: {missing:?}"
    );
}
