//! Signing conformance: for every `spec/conformance/valid/*.json` vector,
//! our signer (aws-sigv4 underneath) must reproduce botocore's canonical
//! request (as aws-sigv4 traces it), string to sign, signature and
//! `Authorization` header, given the same body bytes, signed headers,
//! credentials, region and signing time; the emulator's verifier accepts
//! what we sign.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Request};
use personalize_events_core::sign::{self, SigningCache, SigningParams};
use personalize_events_core::Credentials;
use personalize_events_local::verify::{self, VerifyError};
use personalize_events_tests::sigv4_expect::{self, Scope};
use personalize_events_tests::time;
use serde_json::Value;

const VALID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/conformance/valid");

/// The README says one third of the vectors (10 files) are published.
const MIN_VECTORS: usize = 10;

const SERVICE: &str = "personalize";

fn vectors() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(VALID)
        .unwrap_or_else(|e| panic!("cannot list {VALID}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p.file_stem().unwrap().to_str().unwrap().to_owned(), v)
        })
        .collect()
}

fn credentials(v: &Value) -> Credentials {
    let c = &v["input"]["credentials"];
    Credentials::new(
        c["access_key_id"].as_str().unwrap(),
        c["secret_access_key"].as_str().unwrap(),
        c.get("session_token")
            .and_then(|t| t.as_str())
            .map(str::to_owned),
    )
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

/// POST `request.url` with exactly the botocore-signed headers except the
/// two the signer adds itself.
fn request_for(v: &Value, body: &str) -> Request<Vec<u8>> {
    let mut req = Request::post(str_of(v, &["request", "url"]))
        .body(body.as_bytes().to_vec())
        .unwrap();
    let values = v["signing"]["signed_header_values"].as_object().unwrap();
    for (name, value) in values {
        if name == "x-amz-date" || name == "x-amz-security-token" {
            continue;
        }
        req.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    req
}

struct Expected<'a> {
    what: &'static str,
    body: &'a str,
    canonical_request: &'a str,
    string_to_sign: &'a str,
    signature: &'a str,
    authorization: &'a str,
}

#[test]
fn conformance_signing_matches_botocore() {
    let vectors = vectors();
    assert!(
        vectors.len() >= MIN_VECTORS,
        "only {} valid vectors",
        vectors.len()
    );
    let cache = SigningCache::new();
    let mut checked = 0;
    for (id, v) in &vectors {
        let creds = credentials(v);
        let t = time::parse_rfc3339(str_of(v, &["input", "signing_time"])).unwrap();
        let region = str_of(v, &["signing", "signing_region"]);
        assert_eq!(str_of(v, &["signing", "signing_name"]), SERVICE);
        let params = SigningParams {
            credentials: &creds,
            region,
            service: SERVICE,
            time: t,
        };
        let compact = &v["variant_compact_utf8"];
        let signing = &v["signing"];
        let cases = [
            Expected {
                what: "variant_compact_utf8",
                body: str_of(compact, &["body"]),
                canonical_request: str_of(compact, &["canonical_request"]),
                string_to_sign: str_of(compact, &["string_to_sign"]),
                signature: str_of(compact, &["signature"]),
                authorization: str_of(compact, &["authorization"]),
            },
            Expected {
                what: "botocore request.body",
                body: str_of(v, &["request", "body"]),
                canonical_request: str_of(signing, &["canonical_request"]),
                string_to_sign: str_of(signing, &["string_to_sign"]),
                signature: str_of(signing, &["signature"]),
                authorization: str_of(signing, &["authorization"]),
            },
        ];
        for exp in cases {
            let req = request_for(v, exp.body);
            let mut signed = req.clone();
            let ((), traced) = sigv4_expect::capture(|| {
                sign::sign_request(&mut signed, &params, &cache).unwrap();
            });
            let auth = signed.headers()["authorization"].to_str().unwrap();
            sigv4_expect::check(
                &format!("{id} {}", exp.what),
                &sigv4_expect::Expected {
                    canonical_request: exp.canonical_request,
                    string_to_sign: exp.string_to_sign,
                    signature: exp.signature,
                },
                &Scope {
                    secret: creds.secret_access_key(),
                    time: t,
                    region,
                    service: SERVICE,
                },
                &traced,
                sigv4_expect::signature_of(auth),
            );
            assert!(
                auth.contains(&format!(
                    "Credential={}/{}, SignedHeaders={},",
                    creds.access_key_id(),
                    str_of(signing, &["credential_scope"]),
                    str_of(signing, &["signed_headers"])
                )),
                "{id}: {auth}"
            );
            assert_eq!(
                signed.headers()["authorization"],
                exp.authorization,
                "{id} {}: Authorization",
                exp.what
            );
            assert_eq!(
                signed.headers()["x-amz-date"],
                str_of(signing, &["amz_date"]),
                "{id}"
            );
            assert_eq!(
                signed
                    .headers()
                    .get("x-amz-security-token")
                    .map(|h| h.to_str().unwrap()),
                creds.session_token(),
                "{id}"
            );
            let lookup = |ak: &str| (ak == creds.access_key_id()).then(|| creds.clone());
            verify::verify_request(&signed, lookup, t, Duration::from_secs(300), SERVICE)
                .unwrap_or_else(|e| panic!("{id} {}: our signed request: {e}", exp.what));
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * vectors.len());
}

/// With every header botocore sends on the wire (User-Agent, Content-Length,
/// Accept-Encoding, amz-sdk-*) already present, we still sign exactly
/// botocore's header set and get botocore's Authorization; and botocore's
/// own request, exactly as sent, passes our verifier (and fails it when
/// tampered with).
#[test]
fn conformance_signing_wire_headers_and_verification() {
    let cache = SigningCache::new();
    for (id, v) in vectors() {
        let creds = credentials(&v);
        let t = time::parse_rfc3339(str_of(&v, &["input", "signing_time"])).unwrap();
        let region = str_of(&v, &["signing", "signing_region"]);
        let body = str_of(&v, &["request", "body"]).as_bytes().to_vec();
        let mut sent = Request::post(str_of(&v, &["request", "url"]))
            .body(body.clone())
            .unwrap();
        let mut unsigned_wire = Request::post(str_of(&v, &["request", "url"]))
            .body(body)
            .unwrap();
        for pair in v["request"]["headers"].as_array().unwrap() {
            let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            let value = HeaderValue::from_str(value).unwrap();
            sent.headers_mut().append(name.clone(), value.clone());
            if !matches!(
                name.as_str(),
                "authorization" | "x-amz-date" | "x-amz-security-token"
            ) {
                unsigned_wire.headers_mut().append(name, value);
            }
        }

        let params = SigningParams {
            credentials: &creds,
            region,
            service: SERVICE,
            time: t,
        };
        sign::sign_request(&mut unsigned_wire, &params, &cache).unwrap();
        assert_eq!(
            unsigned_wire.headers()["authorization"],
            str_of(&v, &["signing", "authorization"]),
            "{id}: signing with the wire headers present"
        );

        let lookup = |ak: &str| (ak == creds.access_key_id()).then(|| creds.clone());
        let skew = Duration::from_secs(300);
        let ok = verify::verify_request(&sent, lookup, t, skew, SERVICE)
            .unwrap_or_else(|e| panic!("{id}: botocore's request fails verification: {e}"));
        assert_eq!(ok.region, region);
        assert_eq!(
            ok.signed_headers.join(";"),
            str_of(&v, &["signing", "signed_headers"])
        );

        let mut tampered = sent.clone();
        let last = tampered.body().len() - 2;
        tampered.body_mut()[last] ^= 0x01;
        let e = verify::verify_request(&tampered, lookup, t, skew, SERVICE).unwrap_err();
        assert!(matches!(e, VerifyError::InvalidSignature(_)), "{id}: {e}");

        let mut tampered = sent.clone();
        tampered.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        let e = verify::verify_request(&tampered, lookup, t, skew, SERVICE).unwrap_err();
        assert!(matches!(e, VerifyError::InvalidSignature(_)), "{id}: {e}");

        let mut tampered = sent.clone();
        tampered
            .headers_mut()
            .insert("user-agent", HeaderValue::from_static("someone-else/1.0"));
        assert!(
            verify::verify_request(&tampered, lookup, t, skew, SERVICE).is_ok(),
            "{id}: the user agent is not signed"
        );

        let e = verify::verify_request_with(
            &sent,
            lookup,
            &verify::VerifyParams {
                service: SERVICE,
                region: Some(if region == "us-east-1" {
                    "eu-west-1"
                } else {
                    "us-east-1"
                }),
                now: t,
                max_skew: skew,
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "InvalidSignatureException", "{id}");
    }
}
