//! Secrets stay secret.
//!
//! * No secret key, session token, web identity token, `Authorization`
//!   header value or sensitive record member appears in any `Debug` or
//!   `Display` output (clients, builders, inputs, records, errors,
//!   credentials, the core's `SendRequest`, `Poll` and `Call`, the
//!   credentials chain, the emulator's verdict) or in any error message.
//! * The shapes the model marks sensitive (`Event` as a whole, user ids,
//!   action ids, item ids of events, impressions, every `properties`) are
//!   shown as `*** Sensitive Data Redacted ***`, as the official SDKs do.
//!
//! (Traces and logs are `rel_secrets_traces.rs`; that the wire is what it
//! claims to be is `rel_transport_security.rs`.)
#![forbid(unsafe_code)]

mod secrets_support;

use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::batch::Record;
use personalize_events_core::*;
use personalize_events_credentials::{ChainStep, CredentialsChain, Environment, FileError};
use secrets_support::*;

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
