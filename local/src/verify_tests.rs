//! Unit tests of the verifier: what core signs verifies, and every way a
//! request can be wrong is answered with AWS's code and message.

use super::*;
use http::HeaderValue;
use personalize_events_core::sign::{
    presign_request, sign_request, SigningCache, SigningParams, DEFAULT_PRESIGN_EXPIRES,
};
use std::time::UNIX_EPOCH;

const AK: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn at(rfc3339: &str) -> SystemTime {
    let t =
        ::time::OffsetDateTime::parse(rfc3339, &::time::format_description::well_known::Rfc3339);
    t.unwrap().into()
}

fn creds() -> Credentials {
    Credentials::new(AK, SECRET, None)
}

fn params<'a>(c: &'a Credentials, t: SystemTime) -> SigningParams<'a> {
    SigningParams {
        credentials: c,
        region: "us-east-1",
        service: "service",
        time: t,
    }
}

#[test]
fn sign_then_verify_and_clock_skew() {
    let c = Credentials::new(AK, SECRET, Some("the-token".into()));
    let t = at("2026-11-29T12:00:00Z");
    let cache = SigningCache::new();
    let mut req = Request::post("https://personalize-events.us-east-1.amazonaws.com/events")
        .header("content-type", "application/json")
        .header("user-agent", "test")
        .body(b"{\"a\":1}".to_vec())
        .unwrap();
    let mut p = params(&c, t);
    p.service = "personalize";
    sign_request(&mut req, &p, &cache).unwrap();
    assert!(req.headers()["authorization"]
        .to_str()
        .unwrap()
        .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"));
    let lookup = |ak: &str| (ak == AK).then(|| c.clone());
    let five = Duration::from_secs(300);
    let ok = verify_request(
        &req,
        lookup,
        t + Duration::from_secs(299),
        five,
        "personalize",
    )
    .unwrap();
    assert_eq!(ok.region, "us-east-1");
    assert_eq!(ok.session_token.as_deref(), Some("the-token"));
    let err = verify_request(
        &req,
        lookup,
        t + Duration::from_secs(301),
        five,
        "personalize",
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidSignatureException");
    assert_eq!(
        err.message(),
        "Signature expired: 20261129T120000Z is now earlier than 20261129T120001Z (20261129T120501Z - 5 min.)"
    );
    let err = verify_request(
        &req,
        lookup,
        t - Duration::from_secs(301),
        five,
        "personalize",
    )
    .unwrap_err();
    assert!(
        err.message().starts_with("Signature not yet current"),
        "{err}"
    );
    let err = verify_request(&req, lookup, t, five, "s3").unwrap_err();
    assert_eq!(err.code(), "InvalidSignatureException");
    let err = verify_request(&req, |_| None, t, five, "personalize").unwrap_err();
    assert_eq!(err.code(), "UnrecognizedClientException");
    let other_token = Credentials::new(AK, SECRET, Some("other".into()));
    let err =
        verify_request(&req, |_| Some(other_token.clone()), t, five, "personalize").unwrap_err();
    assert_eq!(err.code(), "UnrecognizedClientException");
    let err = verify_request_with(
        &req,
        lookup,
        &VerifyParams {
            service: "personalize",
            region: Some("eu-west-1"),
            now: t,
            max_skew: five,
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidSignatureException");
    // The user agent is not signed: a proxy may change it.
    req.headers_mut()
        .insert("user-agent", HeaderValue::from_static("proxy"));
    assert!(verify_request(&req, lookup, t, five, "personalize").is_ok());
    req.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    let err = verify_request(&req, lookup, t, five, "personalize").unwrap_err();
    assert_eq!(err.code(), "InvalidSignatureException");
    assert!(err.to_string().contains("does not match"));
}

#[test]
fn sign_presigned_round_trip_and_expiry() {
    let c = creds();
    let t = at("2026-11-29T12:00:00Z");
    let cache = SigningCache::new();
    let req = Request::post("https://example.amazonaws.com/events?z=1&a=b%20c")
        .body(b"body".to_vec())
        .unwrap();
    let req = presign_request(req, &params(&c, t), DEFAULT_PRESIGN_EXPIRES, &cache).unwrap();
    let q = req.uri().query().unwrap().to_owned();
    assert!(q.starts_with("z=1&a=b%20c&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261129%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20261129T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="), "{q}");
    assert_eq!(req.headers()["host"], "example.amazonaws.com");
    let lookup = |_: &str| Some(c.clone());
    let skew = Duration::from_secs(300);
    let v = verify_request(&req, lookup, t + Duration::from_secs(3600), skew, "service").unwrap();
    assert!(v.presigned);
    assert_eq!(v.expires_at, Some(t + Duration::from_secs(3600)));
    let err =
        verify_request(&req, lookup, t + Duration::from_secs(3601), skew, "service").unwrap_err();
    assert!(err.message().starts_with("Signature expired"), "{err}");
    // Presigning again replaces the old parameters.
    let again = presign_request(req, &params(&c, t), Duration::from_secs(60), &cache).unwrap();
    let q2 = again.uri().query().unwrap();
    assert_eq!(q2.matches("X-Amz-Signature=").count(), 1, "{q2}");
    assert!(q2.contains("X-Amz-Expires=60&"));
    assert!(verify_request(&again, lookup, t, skew, "service").is_ok());
}

#[test]
fn sign_verify_survives_garbage() {
    let lookup = |_: &str| Some(creds());
    let now = UNIX_EPOCH + Duration::from_secs(1_795_953_600);
    let skew = Duration::from_secs(900);
    let garbage: &[&[u8]] = &[
        b"",
        b"AWS4-HMAC-SHA256",
        b"AWS4-HMAC-SHA256 ",
        b"AWS4-HMAC-SHA256 Credential",
        b"AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        b"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz",
        b"AWS4-HMAC-SHA256 Credential=a/20261129/r/service/aws4_request, SignedHeaders=host, Signature=00",
        b"AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature===",
        b"AWS4-HMAC-SHA256 Credential=a/\xc3\xa9/r/s/aws4_request, Signature=1",
        b"Basic dXNlcjpwYXNz",
        b"AWS4-HMAC-SHA256 ,,,,,=,=,",
    ];
    for g in garbage {
        let Ok(v) = HeaderValue::from_bytes(g) else {
            continue;
        };
        let req = Request::get("https://example.amazonaws.com/")
            .header("authorization", v)
            .header("x-amz-date", "20261129T120000Z")
            .body(Vec::new())
            .unwrap();
        let err = verify_request(&req, lookup, now, skew, "service").unwrap_err();
        assert!(!err.message().is_empty());
    }
    for q in [
        "X-Amz-Signature",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%FF%FE&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20261129%2Fr%2Fservice%2Faws4_request&X-Amz-Date=20261129T120000Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
        "X-Amz-Signature=1&X-Amz-Signature=2",
    ] {
        let req = Request::get(format!("https://example.amazonaws.com/?{q}"))
            .body(Vec::new())
            .unwrap();
        assert!(verify_request(&req, lookup, now, skew, "service").is_err(), "{q}");
    }
    let bare = Request::get("https://example.amazonaws.com/")
        .body(Vec::new())
        .unwrap();
    let err = verify_request(&bare, lookup, now, skew, "service").unwrap_err();
    assert_eq!(err.code(), "MissingAuthenticationTokenException");
    assert_eq!(err.status(), 403);
}
