//! Every public valid conformance vector: our body is the same JSON document
//! botocore sent and, for a compact raw-UTF-8 encoder, byte-identical to
//! `variant_compact_utf8.body` (number spelling aside); the whole pipeline
//! (validate, encode, sign) reproduces the recorded signature.

use std::time::{Duration, Instant};

use personalize_events_core::{
    AnyInput, ClientConfig, ClientCore, Credentials, EndpointParams, Poll, PutEventsInput,
};
use personalize_events_tests::time::parse_rfc3339;
use personalize_events_tests::{canonical_numbers, conformance_vectors};

fn input_of(v: &serde_json::Value) -> AnyInput {
    let op = v["input"]["operation"].as_str().unwrap();
    let params = serde_json::to_vec(&v["input"]["params"]).unwrap();
    AnyInput::from_json(op, &params).unwrap_or_else(|e| panic!("{}: {e}", v["id"]))
}

#[test]
fn bodies_match_botocore_documents() {
    let vectors = conformance_vectors("valid");
    assert!(vectors.len() >= 10, "expected the public valid vectors");
    for (id, v) in &vectors {
        let input = input_of(v);
        input.validate().unwrap_or_else(|e| panic!("{id}: {e}"));
        let body = String::from_utf8(input.encode()).unwrap();
        let want = v["variant_compact_utf8"]["body"].as_str().unwrap();
        if body != want {
            assert_eq!(
                canonical_numbers(&body),
                canonical_numbers(want),
                "{id}: body differs beyond number spelling\n ours: {body}\nwant: {want}"
            );
        }
        // The same JSON document as botocore's own (ASCII-escaped) body.
        let ours: serde_json::Value = serde_json::from_str(&body).unwrap();
        let theirs: serde_json::Value =
            serde_json::from_str(v["request"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(ours, theirs, "{id}");
        // Timestamps and floats spelled as botocore spells them.
        for (path, text) in v["wire_values"].as_object().unwrap() {
            let leaf = path.rsplit('.').next().unwrap();
            let needle = format!("\"{leaf}\":{}", text.as_str().unwrap());
            assert!(body.contains(&needle), "{id}: {needle} not in {body}");
        }
    }
}

#[test]
fn full_pipeline_reproduces_recorded_signature() {
    for (id, v) in conformance_vectors("valid") {
        let inp = &v["input"];
        let region = inp["region"].as_str().unwrap();
        let endpoint = personalize_events_core::endpoint::resolve(&EndpointParams {
            region: Some(region.into()),
            use_fips: inp["use_fips_endpoint"].as_bool().unwrap_or(false),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            endpoint.url(),
            v["request"]["url"]
                .as_str()
                .unwrap()
                .trim_end_matches(v["request"]["path"].as_str().unwrap()),
            "{id}"
        );
        let mut cfg = ClientConfig::new(region, endpoint);
        cfg.fill_event_ids = false;
        let core = ClientCore::new(cfg).unwrap();
        let c = &inp["credentials"];
        let creds = Credentials::new(
            c["access_key_id"].as_str().unwrap(),
            c["secret_access_key"].as_str().unwrap(),
            c["session_token"].as_str().map(str::to_owned),
        );
        let wall = parse_rfc3339(inp["signing_time"].as_str().unwrap()).unwrap();
        let now = Instant::now();
        let req = match input_of(&v) {
            AnyInput::PutEvents(i) => first_request(&core, i, now, wall, &creds),
            AnyInput::PutItems(i) => first_request(&core, i, now, wall, &creds),
            AnyInput::PutUsers(i) => first_request(&core, i, now, wall, &creds),
            AnyInput::PutActions(i) => first_request(&core, i, now, wall, &creds),
            AnyInput::PutActionInteractions(i) => first_request(&core, i, now, wall, &creds),
        };
        let want = &v["variant_compact_utf8"];
        assert_eq!(
            req.uri().to_string(),
            v["request"]["url"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(req.method(), "POST");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(
            req.headers()["authorization"].to_str().unwrap(),
            want["authorization"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            req.body().as_slice(),
            want["body"].as_str().unwrap().as_bytes()
        );
    }
}

fn first_request<I: personalize_events_core::Operation>(
    core: &ClientCore,
    input: I,
    now: Instant,
    wall: std::time::SystemTime,
    creds: &Credentials,
) -> http::Request<Vec<u8>> {
    let mut call = core.call(&input, now, 0).unwrap();
    match call.poll(now, wall, creds, 0.0) {
        Poll::Send(s) => s.request.map(Vec::from),
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn properties_as_object_or_string_never_double_encoded() {
    let base = r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"click","sentAt":"2026-11-29T11:59:00Z","properties":PROPS}]}"#;
    let as_obj = base.replace("PROPS", r#"{"numberOfRatings":"12"}"#);
    let as_str = base.replace("PROPS", r#""{\"numberOfRatings\":\"12\"}""#);
    let a: PutEventsInput = serde_json::from_str(&as_obj).unwrap();
    let b: PutEventsInput = serde_json::from_str(&as_str).unwrap();
    assert_eq!(a, b);
    let body = String::from_utf8(personalize_events_core::Encode::encode(&a)).unwrap();
    assert!(
        body.contains(r#""properties":"{\"numberOfRatings\":\"12\"}""#),
        "{body}"
    );
    // A string that holds a string that holds an object is caught, not sent.
    let double = base.replace("PROPS", r#""\"{\\\"a\\\":1}\"""#);
    let c: PutEventsInput = serde_json::from_str(&double).unwrap();
    let e = personalize_events_core::Validate::validate(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "eventList[0].properties: is not a JSON object"
    );
    let _ = Duration::ZERO;
}
