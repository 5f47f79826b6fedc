//! The emulator verifies SigV4 like the real front end: each way of getting
//! the signature wrong is refused with 403 and its own AWS error type, and
//! good header-signed and presigned requests pass.

mod local_wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method};
use local_wire::*;
use personalize_events_core::{Credentials, Event, Item, PutEventsInput, PutItemsInput};
use personalize_events_local::LocalServer;

fn input() -> PutEventsInput {
    PutEventsInput::new("tracking", "session").event(
        Event::new("click", UNIX_EPOCH + Duration::from_secs(1_795_953_540)).item_id("item-1"),
    )
}

fn server() -> LocalServer {
    LocalServer::builder().start_blocking().expect("start")
}

#[test]
fn a_good_request_passes_with_request_id_and_date() {
    let s = server();
    let r = send(&signed(&s.endpoint_url(), input())).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty());
    r.assert_common_headers();
    assert_eq!(s.records().len(), 1);
    assert_eq!(
        s.records()[0].request_id,
        r.header("x-amzn-requestid").unwrap()
    );
}

#[test]
fn wrong_secret_is_invalid_signature() {
    let s = server();
    let bad = Credentials::new(AK, "not-the-secret", None);
    let req = signed_at(&s.endpoint_url(), input(), &bad, SystemTime::now());
    let msg = send(&req)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(msg.contains("does not match"), "{msg}");
    assert!(s.records().is_empty());
    assert_eq!(s.stats().rejected_with("InvalidSignatureException"), 1);
}

#[test]
fn unknown_access_key_is_unrecognized_client() {
    let s = server();
    let other = Credentials::new("AKIDOTHER", SECRET, None);
    let req = signed_at(&s.endpoint_url(), input(), &other, SystemTime::now());
    send(&req)
        .unwrap()
        .assert_error(403, "UnrecognizedClientException");
}

#[test]
fn tampered_body_is_invalid_signature() {
    let s = server();
    let mut req = signed(&s.endpoint_url(), input());
    let body = String::from_utf8(req.body().clone()).unwrap();
    *req.body_mut() = body.replace("item-1", "item-2").into_bytes();
    send(&req)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(s.records().is_empty());
}

#[test]
fn unsigned_host_is_incomplete_signature() {
    let s = server();
    let mut req = signed(&s.endpoint_url(), input());
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let (before, after) = auth.split_once("SignedHeaders=").unwrap();
    let (list, rest) = after.split_once(',').unwrap();
    assert!(list.contains("host"), "{list}");
    let without_host: Vec<&str> = list.split(';').filter(|h| *h != "host").collect();
    let auth = format!("{before}SignedHeaders={},{rest}", without_host.join(";"));
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let msg = send(&req)
        .unwrap()
        .assert_error(403, "IncompleteSignatureException");
    assert!(msg.contains("Host"), "{msg}");
}

#[test]
fn wrong_service_in_scope_is_invalid_signature() {
    let s = server();
    let body = String::from_utf8(signed(&s.endpoint_url(), input()).into_body()).unwrap();
    let req = sign_raw_with(
        &s.endpoint_url(),
        Method::POST,
        "/events",
        body,
        &creds(),
        "personalize-events",
        SystemTime::now(),
    );
    let msg = send(&req)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(msg.contains("'personalize'"), "{msg}");
}

#[test]
fn clock_off_by_more_than_five_minutes_is_refused_both_ways() {
    let s = server();
    let url = s.endpoint_url();
    let now = SystemTime::now();
    let six = Duration::from_secs(360);
    let msg = send(&signed_at(&url, input(), &creds(), now - six))
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(msg.contains("Signature expired"), "{msg}");
    let msg = send(&signed_at(&url, input(), &creds(), now + six))
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(msg.contains("not yet current"), "{msg}");
    // Four minutes off is within the default tolerance.
    let four = Duration::from_secs(240);
    assert_eq!(
        send(&signed_at(&url, input(), &creds(), now - four))
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        send(&signed_at(&url, input(), &creds(), now + four))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn skew_tolerance_is_configurable() {
    let s = LocalServer::builder()
        .max_skew(Duration::from_secs(60))
        .start_blocking()
        .unwrap();
    let two = Duration::from_secs(120);
    let req = signed_at(
        &s.endpoint_url(),
        input(),
        &creds(),
        SystemTime::now() - two,
    );
    send(&req)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
}

#[test]
fn no_signature_at_all_is_missing_authentication_token() {
    let s = server();
    let mut req = signed(&s.endpoint_url(), input());
    req.headers_mut().remove("authorization");
    send(&req)
        .unwrap()
        .assert_error(403, "MissingAuthenticationTokenException");
}

#[test]
fn malformed_authorization_is_incomplete_signature() {
    let s = server();
    let mut req = signed(&s.endpoint_url(), input());
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let cut = auth.split(", Signature=").next().unwrap().to_owned();
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&cut).unwrap());
    send(&req)
        .unwrap()
        .assert_error(403, "IncompleteSignatureException");
}

#[test]
fn several_credentials_and_session_tokens() {
    let s = LocalServer::builder()
        .credentials("AKIDONE", "secret-one")
        .credential(Credentials::new(
            "ASIATEMP",
            "secret-two",
            Some("the-token".into()),
        ))
        .start_blocking()
        .unwrap();
    let url = s.endpoint_url();
    let one = Credentials::new("AKIDONE", "secret-one", None);
    let two = Credentials::new("ASIATEMP", "secret-two", Some("the-token".into()));
    let now = SystemTime::now();
    assert_eq!(
        send(&signed_at(&url, input(), &one, now)).unwrap().status,
        200
    );
    assert_eq!(
        send(&signed_at(&url, input(), &two, now)).unwrap().status,
        200
    );
    // The default pair is no longer accepted once others are configured.
    send(&signed_at(&url, input(), &creds(), now))
        .unwrap()
        .assert_error(403, "UnrecognizedClientException");
    // A session key needs its token.
    let no_token = Credentials::new("ASIATEMP", "secret-two", None);
    send(&signed_at(&url, input(), &no_token, now))
        .unwrap()
        .assert_error(403, "UnrecognizedClientException");
}

#[test]
fn a_required_region_refuses_others() {
    let s = LocalServer::builder()
        .region("eu-west-1")
        .start_blocking()
        .unwrap();
    // The helpers sign for us-east-1.
    send(&signed(&s.endpoint_url(), input()))
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
}

#[test]
fn presigned_request_passes_and_tampered_presigned_body_fails() {
    let s = server();
    let core = client(&s.endpoint_url());
    let items = PutItemsInput::new(DATASET).item(Item::new("item-9"));
    let req = core
        .presign(&items, &creds(), SystemTime::now(), None, 7)
        .unwrap();
    assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
    assert!(!req.headers().contains_key("authorization"));
    let r = send(&req).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.assert_common_headers();
    assert_eq!(s.records().len(), 1);
    assert_eq!(s.records()[0].dataset_arn(), Some(DATASET));

    let mut tampered = core
        .presign(&items, &creds(), SystemTime::now(), None, 8)
        .unwrap();
    let body = String::from_utf8(tampered.body().clone()).unwrap();
    *tampered.body_mut() = body.replace("item-9", "item-0").into_bytes();
    send(&tampered)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");

    // An expired presigned URL is refused too.
    let old = core
        .presign(
            &PutItemsInput::new(DATASET).item(Item::new("x")),
            &creds(),
            SystemTime::now() - Duration::from_secs(120),
            Some(Duration::from_secs(60)),
            9,
        )
        .unwrap();
    let msg = send(&old)
        .unwrap()
        .assert_error(403, "InvalidSignatureException");
    assert!(msg.contains("expired"), "{msg}");
    assert_eq!(s.records().len(), 1);
}
