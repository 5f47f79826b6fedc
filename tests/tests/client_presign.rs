//! Both clients presign a request the way they would send it (credentials
//! resolved by the client's provider, here the default chain over keys in
//! the environment), without sending anything: the emulator on 127.0.0.1
//! then accepts it sent as it is, by anyone, and refuses it once its body
//! is changed. An expiry out of range is refused before any credentials
//! are used.

mod local_wire;

use std::time::Duration;

use local_wire::{send, DATASET};
use personalize_events_core::{Error, Item, PutItemsInput};
use personalize_events_credentials::Environment;
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};

fn env(endpoint: &str) -> Environment {
    Environment::from_vars([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ])
}

/// A client's presigned request, or why not.
type Presigned = Result<http::Request<Vec<u8>>, Error>;

/// Presigns `input` for `expires` with each client built from `env`.
fn presign_both(
    env: &Environment,
    input: &PutItemsInput,
    expires: Duration,
) -> [(&'static str, Presigned); 2] {
    let blocking = personalize_events_blocking::Client::builder()
        .environment(env.clone())
        .build()
        .and_then(|c| c.presign(input, expires));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hyper = rt.block_on(async {
        personalize_events_hyper::Client::builder()
            .environment(env.clone())
            .build()?
            .presign(input, expires)
            .await
    });
    [("blocking", blocking), ("async", hyper)]
}

#[test]
fn a_presigned_request_is_accepted_as_it_is_and_refused_when_changed() {
    let server = LocalServer::builder().start_blocking().expect("start");
    let input = PutItemsInput::new(DATASET).item(Item::new("item-9"));
    for (name, r) in presign_both(
        &env(&server.endpoint_url()),
        &input,
        Duration::from_secs(300),
    ) {
        let req = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        let query = req.uri().query().unwrap_or("").to_string();
        assert!(query.contains("X-Amz-Signature="), "{name}: {query}");
        assert!(query.contains("X-Amz-Expires=300"), "{name}: {query}");
        assert!(query.contains(DEFAULT_ACCESS_KEY_ID), "{name}: {query}");
        assert!(!req.headers().contains_key("authorization"), "{name}");
        assert_eq!(
            server.records().len(),
            0,
            "{name}: presigning sends nothing"
        );

        let mut changed = req.clone();
        let body = String::from_utf8(changed.body().clone()).unwrap();
        *changed.body_mut() = body.replace("item-9", "item-0").into_bytes();
        send(&changed)
            .unwrap()
            .assert_error(403, "InvalidSignatureException");

        let r = send(&req).unwrap();
        assert_eq!(
            r.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let records = server.take_records();
        assert_eq!(records.len(), 1, "{name}");
        assert_eq!(records[0].dataset_arn(), Some(DATASET), "{name}");
    }
}

#[test]
fn an_expiry_out_of_range_is_refused() {
    let input = PutItemsInput::new(DATASET).item(Item::new("item-9"));
    let env = env("http://127.0.0.1:9");
    for expires in [Duration::ZERO, Duration::from_secs(7 * 24 * 3600 + 1)] {
        for (name, r) in presign_both(&env, &input, expires) {
            let e = r.expect_err(name);
            assert!(matches!(e, Error::Config(_)), "{name} {expires:?}: {e:?}");
        }
    }
}
