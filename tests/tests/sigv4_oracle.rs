//! Oracle test: core's signer (a thin layer over `aws-sigv4`: which headers
//! are signed, the host, the URI and body handed over) against `aws-sigv4`
//! used directly, with botocore's unsigned headers excluded, on
//! pseudo-random requests: paths with dot segments, doubled slashes, UTF-8
//! and pre-encoded bytes, queries with repeated and empty parameters,
//! repeated headers with untrimmed values, unsigned headers, bodies, with
//! and without a session token. Both must give identical `Authorization`
//! headers (and identical presigned signatures), and the emulator's
//! verifier must accept both.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign as oracle_sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use http::{HeaderName, HeaderValue, Request};
use personalize_events_core::sign::{self, SigningCache, SigningParams, UNSIGNED_HEADERS};
use personalize_events_core::Credentials;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const PATH_PIECES: &[&str] = &[
    "events", "items", "a", "B-9", "x_y.z~", ".", "..", "", "%20", "%2F", "ሴ", "é", "$", "@", ":",
    "!", "a%25b", "(x)", "*", ",", ";", "=",
];
const QUERY_PIECES: &[&str] = &[
    "",
    "a",
    "Param",
    "param",
    "X",
    "1",
    "~",
    "-._",
    "%20",
    "+",
    "%2B",
    "ሴ",
    "%E1%88%B4",
    "/",
    "?",
    ":",
    "@",
    "%25",
    "a%20b",
    "$",
    "'",
    "*",
    ",",
    "%zz",
];
const HEADER_VALUES: &[&str] = &[
    "application/json",
    "  padded  ",
    "a   b    c",
    "x",
    "",
    "UPPER lower",
    "1,2, 3",
    "quoted \"a   b\"",
    "tab\there",
];
const HEADER_NAMES: &[&str] = &[
    "content-type",
    "x-amz-target",
    "X-Custom-Header",
    "my-header1",
    "x-amz-meta-thing",
    "accept",
    // unsigned by both signers (excluded_headers is set to our list):
    "user-agent",
    "content-length",
    "accept-encoding",
    "amz-sdk-request",
    "amz-sdk-invocation-id",
    "x-amzn-trace-id",
    "connection",
    "expect",
];
const HOSTS: &[&str] = &[
    "personalize-events.us-east-1.amazonaws.com",
    "example.amazonaws.com",
    "localhost:8443",
    "127.0.0.1:443",
];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"];
const SERVICES: &[&str] = &["personalize", "service", "execute-api"];

fn random_request(rng: &mut Rng) -> Request<Vec<u8>> {
    let method = *rng.pick(&["GET", "POST", "PUT", "DELETE"]);
    let host = *rng.pick(HOSTS);
    let mut path = String::new();
    for _ in 0..rng.below(5) {
        path.push('/');
        for _ in 0..1 + rng.below(2) {
            path.push_str(rng.pick_str(PATH_PIECES));
        }
    }
    if path.is_empty() || rng.chance(20) {
        path.push('/');
    }
    let mut uri = format!("https://{host}{path}");
    if rng.chance(60) {
        let n = 1 + rng.below(4);
        let mut q = Vec::new();
        for _ in 0..n {
            let k = format!("{}{}", rng.pick(QUERY_PIECES), rng.pick(QUERY_PIECES));
            if k.is_empty() {
                continue;
            }
            let pair = if rng.chance(15) {
                k
            } else {
                format!("{k}={}{}", rng.pick(QUERY_PIECES), rng.pick(QUERY_PIECES))
            };
            q.push(pair);
        }
        if !q.is_empty() {
            uri.push('?');
            uri.push_str(&q.join("&"));
        }
    }
    let body: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
    let mut req = Request::builder()
        .method(method)
        .uri(uri.as_str())
        .body(body)
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    // aws-sigv4 derives `host` from the URI (dropping a default port) when
    // the header is missing; exercise both.
    if rng.chance(70) {
        req.headers_mut()
            .insert("host", HeaderValue::from_str(host).unwrap());
    }
    for _ in 0..rng.below(6) {
        let name = HeaderName::from_bytes(rng.pick(HEADER_NAMES).as_bytes()).unwrap();
        let value = HeaderValue::from_str(rng.pick_str(HEADER_VALUES)).unwrap();
        req.headers_mut().append(name, value);
    }
    req
}

fn oracle_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(UNSIGNED_HEADERS.iter().map(|h| Cow::Borrowed(*h)).collect());
    settings
}

/// Signs with aws-sigv4 and returns the request with its instructions applied.
fn oracle(
    req: &Request<Vec<u8>>,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Request<Vec<u8>> {
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        creds.session_token().map(str::to_owned),
        None,
        "oracle",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        uri.as_str(),
        req.headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap())),
        SignableBody::Bytes(req.body()),
    )
    .unwrap();
    let (instructions, _) = oracle_sign(signable, &params).unwrap().into_parts();
    let mut out = req.clone();
    instructions.apply_to_request_http1x(&mut out);
    out
}

fn query_param(req: &Request<Vec<u8>>, name: &str) -> String {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} in {}", req.uri()))
}

const CASES: usize = 50;

#[test]
fn sigv4_oracle_authorization_headers_match_aws_sigv4() {
    let mut rng = Rng(0x0005_EED0_F516_7000_u64);
    let cache = SigningCache::new();
    let mut with_token = 0;
    let mut with_query = 0;
    for i in 0..CASES {
        let req = random_request(&mut rng);
        let token = rng
            .chance(50)
            .then(|| format!("token/{i}+FQoGZXIvYXdzEXAMPLE=="));
        with_token += usize::from(token.is_some());
        with_query += usize::from(req.uri().query().is_some());
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token,
        );
        let region = *rng.pick(REGIONS);
        let service = *rng.pick(SERVICES);
        let time = UNIX_EPOCH + Duration::from_secs(1_400_000_000 + rng.next() % 500_000_000);

        let mut ours = req.clone();
        let params = SigningParams {
            credentials: &creds,
            region,
            service,
            time,
        };
        sign::sign_request(&mut ours, &params, &cache)
            .unwrap_or_else(|e| panic!("case {i} {}: {e}", req.uri()));
        let theirs = oracle(&req, &creds, region, service, time, oracle_settings());
        let diag = || {
            format!(
                "case {i}: {} {}\nheaders {:?}",
                req.method(),
                req.uri(),
                req.headers(),
            )
        };
        assert_eq!(
            ours.headers()["authorization"],
            theirs.headers()["authorization"],
            "{}",
            diag()
        );
        assert_eq!(ours.headers()["x-amz-date"], theirs.headers()["x-amz-date"]);
        assert_eq!(
            ours.headers().get("x-amz-security-token"),
            theirs.headers().get("x-amz-security-token")
        );

        // The oracle's request passes our verifier.
        let lookup = |_: &str| Some(creds.clone());
        let mut theirs_with_host = theirs.clone();
        if !theirs_with_host.headers().contains_key("host") {
            let host = ours.headers()["host"].clone();
            theirs_with_host.headers_mut().insert("host", host);
        }
        personalize_events_local::verify::verify_request(
            &theirs_with_host,
            lookup,
            time,
            Duration::from_secs(900),
            service,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", diag()));
    }
    // The generator covers both sides of each switch.
    assert!((10..=40).contains(&with_token), "{with_token}");
    assert!(with_query >= 10, "{with_query}");
}

#[test]
fn sigv4_oracle_presigned_signatures_match_aws_sigv4() {
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let cache = SigningCache::new();
    for i in 0..CASES / 2 {
        let req = random_request(&mut rng);
        let token = rng.chance(50).then(|| format!("tok{i}/x+y="));
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token,
        );
        let region = *rng.pick(REGIONS);
        let service = *rng.pick(SERVICES);
        let time = UNIX_EPOCH + Duration::from_secs(1_400_000_000 + rng.next() % 500_000_000);
        let expires = Duration::from_secs(1 + rng.next() % 604_800);
        let params = SigningParams {
            credentials: &creds,
            region,
            service,
            time,
        };
        let ours = sign::presign_request(req.clone(), &params, expires, &cache)
            .unwrap_or_else(|e| panic!("case {i} {}: {e}", req.uri()));
        let mut settings = oracle_settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let theirs = oracle(&req, &creds, region, service, time, settings);
        assert_eq!(
            query_param(&ours, "X-Amz-Signature"),
            query_param(&theirs, "X-Amz-Signature"),
            "case {i}: {} {}\nours   {}\ntheirs {}",
            req.method(),
            req.uri(),
            ours.uri(),
            theirs.uri()
        );
        let lookup = |_: &str| Some(creds.clone());
        personalize_events_local::verify::verify_request(
            &ours,
            lookup,
            time,
            Duration::from_secs(900),
            service,
        )
        .unwrap_or_else(|e| panic!("case {i}: {e}"));
    }
}
