//! The emulator refuses what the service refuses, with the client's own
//! rules, answered in the service's wording: 400 `InvalidInputException`
//! with every violation counted and named by its service path (the
//! `service_verdict` of every invalid conformance vector, exactly), 400
//! `SerializationException` for malformed JSON or wrong types, 404
//! `UnknownOperationException` for unknown routes, and 404
//! `ResourceNotFoundException` for unknown tracking ids and datasets when
//! the emulator is told which exist.

mod local_wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use local_wire::*;
use personalize_events_core::{
    ActionInteraction, Event, PutActionInteractionsInput, PutEventsInput,
};
use personalize_events_local::LocalServer;
use personalize_events_tests::conformance_vectors;
use serde_json::json;

fn server() -> LocalServer {
    LocalServer::builder().start_blocking().expect("start")
}

fn event(extra: serde_json::Value) -> serde_json::Value {
    let mut e = json!({"eventType": "click", "sentAt": 1_795_953_540});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn events_body(events: Vec<serde_json::Value>) -> Vec<u8> {
    json!({"trackingId": "tracking", "sessionId": "s", "eventList": events})
        .to_string()
        .into_bytes()
}

/// Sends `body` to `path` and checks a 400 `InvalidInputException` whose
/// message is one violation: `want` (`'path' failed to satisfy constraint:
/// ...`, after `Value` or `Value null`).
fn assert_invalid(s: &LocalServer, path: &str, body: Vec<u8>, want: &str) {
    let r = send(&sign_raw(&s.endpoint_url(), path, body)).unwrap();
    let msg = r.assert_error(400, "InvalidInputException");
    assert!(
        msg.starts_with("1 validation error detected: Value "),
        "{msg:?}"
    );
    assert!(
        msg.ends_with(want),
        "message {msg:?} should end with {want:?}"
    );
}

#[test]
fn every_invalid_conformance_vector_gets_the_service_verdict() {
    let s = server();
    let vectors = conformance_vectors("invalid");
    assert!(vectors.len() >= 6, "{} vectors", vectors.len());
    for (id, v) in &vectors {
        let verdict = &v["service_verdict"];
        // The request the verdict was given for: what botocore sent, or
        // would have sent without its own validation.
        let req = &v[verdict["evaluated_body"].as_str().unwrap()];
        let body = req["body"].as_str().unwrap().as_bytes().to_vec();
        let r = send(&sign_raw(
            &s.endpoint_url(),
            req["path"].as_str().unwrap(),
            body,
        ))
        .unwrap();
        let msg = r.assert_error(
            verdict["status"].as_u64().unwrap() as u16,
            verdict["error_type"].as_str().unwrap(),
        );
        assert_eq!(msg, verdict["message"].as_str().unwrap(), "{id}");
    }
    assert!(s.records().is_empty());
}

#[test]
fn several_violations_are_counted_and_joined() {
    let s = server();
    let body = json!({
        "trackingId": "",
        "userId": "u".repeat(257),
        "sessionId": "s",
        "eventList": [event(json!({})), event(json!({"itemId": "x".repeat(257), "eventType": ""}))],
    });
    let r = send(&sign_raw(&s.endpoint_url(), "/events", body.to_string())).unwrap();
    assert_eq!(
        r.assert_error(400, "InvalidInputException"),
        "4 validation errors detected: \
         Value at 'trackingId' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value at 'userId' failed to satisfy constraint: Member must have length less than or equal to 256; \
         Value at 'eventList.2.member.eventType' failed to satisfy constraint: Member must have length greater than or equal to 1; \
         Value at 'eventList.2.member.itemId' failed to satisfy constraint: Member must have length less than or equal to 256"
    );
    let body = json!({"eventList": [{"sentAt": 1}]});
    let r = send(&sign_raw(&s.endpoint_url(), "/events", body.to_string())).unwrap();
    assert_eq!(
        r.assert_error(400, "InvalidInputException"),
        "3 validation errors detected: \
         Value null at 'trackingId' failed to satisfy constraint: Member must not be null; \
         Value null at 'sessionId' failed to satisfy constraint: Member must not be null; \
         Value null at 'eventList.1.member.eventType' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn constraint_violations_are_invalid_input_naming_the_field() {
    let s = server();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "/events",
            events_body(vec![
                event(json!({})),
                event(json!({"itemId": "x".repeat(257)})),
            ]),
            "'eventList.2.member.itemId' failed to satisfy constraint: Member must have length less than or equal to 256",
        ),
        (
            "/events",
            events_body((0..11).map(|_| event(json!({}))).collect()),
            "'eventList' failed to satisfy constraint: Member must have length less than or equal to 10",
        ),
        (
            "/events",
            events_body(vec![]),
            "'eventList' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "/events",
            json!({"trackingId": "", "sessionId": "s", "eventList": [event(json!({}))]})
                .to_string()
                .into_bytes(),
            "'trackingId' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "/events",
            events_body(vec![event(json!({"properties": "{\"userId\": \"u\"}"}))]),
            "'eventList.1.member.properties' failed to satisfy constraint: Member must not contain the reserved key \"userId\" (compared case-insensitively)",
        ),
        (
            "/events",
            events_body(vec![event(json!({"recommendationId": "r".repeat(41)}))]),
            "'eventList.1.member.recommendationId' failed to satisfy constraint: Member must have length less than or equal to 40",
        ),
        (
            "/events",
            events_body(vec![event(
                json!({"metricAttribution": {"eventAttributionSource": "   "}}),
            )]),
            r"'eventList.1.member.metricAttribution.eventAttributionSource' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$",
        ),
        (
            "/events",
            events_body(vec![event(
                json!({"impression": (0..26).map(|i| i.to_string()).collect::<Vec<_>>()}),
            )]),
            "'eventList.1.member.impression' failed to satisfy constraint: Member must have length less than or equal to 25",
        ),
        (
            "/items",
            json!({"datasetArn": "arn:aws:s3:::bucket", "items": [{"itemId": "i"}]})
                .to_string()
                .into_bytes(),
            r"'datasetArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:([a-z\d-]+):personalize:.*:.*:.+",
        ),
        (
            "/users",
            json!({"datasetArn": DATASET, "users": [{"userId": "u", "properties": "[1]"}]})
                .to_string()
                .into_bytes(),
            "'users.1.member.properties' failed to satisfy constraint: Member must be a JSON object",
        ),
        (
            "/actions",
            json!({"datasetArn": DATASET, "actions": [{"actionId": "a".repeat(300)}]})
                .to_string()
                .into_bytes(),
            "'actions.1.member.actionId' failed to satisfy constraint: Member must have length less than or equal to 256",
        ),
        (
            "/action-interactions",
            json!({"trackingId": "t", "actionInteractions": [
                {"actionId": "a", "sessionId": "", "timestamp": 1, "eventType": "Taken"}]})
            .to_string()
            .into_bytes(),
            "'actionInteractions.1.member.sessionId' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
    ];
    let n = cases.len() as u64;
    for (path, body, field) in cases {
        assert_invalid(&s, path, body, field);
    }
    assert!(s.records().is_empty());
    assert_eq!(s.stats().rejected_with("InvalidInputException"), n);
}

#[test]
fn missing_required_members_are_invalid_input_naming_them() {
    let s = server();
    assert_invalid(
        &s,
        "/events",
        json!({"trackingId": "t", "eventList": [event(json!({}))]})
            .to_string()
            .into_bytes(),
        "'sessionId' failed to satisfy constraint: Member must not be null",
    );
    assert_invalid(
        &s,
        "/items",
        json!({"items": [{"itemId": "i"}]}).to_string().into_bytes(),
        "'datasetArn' failed to satisfy constraint: Member must not be null",
    );
    assert_invalid(
        &s,
        "/action-interactions",
        json!({"trackingId": "t", "actionInteractions": [
            {"actionId": "a", "sessionId": "s", "timestamp": null, "eventType": "Taken"}]})
        .to_string()
        .into_bytes(),
        "'actionInteractions.1.member.timestamp' failed to satisfy constraint: Member must not be null",
    );
    // An empty body is an empty structure: both members are missing.
    let r = send(&sign_raw(&s.endpoint_url(), "/users", Vec::new())).unwrap();
    assert_eq!(
        r.assert_error(400, "InvalidInputException"),
        "2 validation errors detected: \
         Value null at 'datasetArn' failed to satisfy constraint: Member must not be null; \
         Value null at 'users' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn malformed_json_and_wrong_types_are_serialization_errors() {
    let s = server();
    let url = s.endpoint_url();
    for body in [
        &b"{\"trackingId\": "[..],
        b"not json",
        b"[1, 2]",
        b"{\"trackingId\":\"t\",\"sessionId\":\"s\",\"eventList\":\"nope\"}",
        b"{\"trackingId\":\"t\",\"sessionId\":\"s\",\"eventList\":[{\"eventType\":\"x\",\"sentAt\":\"yesterday\"}]}",
    ] {
        let r = send(&sign_raw(&url, "/events", body.to_vec())).unwrap();
        r.assert_error(400, "SerializationException");
    }
    assert_eq!(s.stats().rejected_with("SerializationException"), 5);
}

#[test]
fn unknown_routes_are_unknown_operation() {
    let s = server();
    let url = s.endpoint_url();
    let body = events_body(vec![event(json!({}))]);
    for (method, path) in [
        (Method::POST, "/nothing-here"),
        (Method::POST, "/"),
        (Method::GET, "/events"),
        (Method::PUT, "/items"),
        (Method::POST, "/events/"),
    ] {
        let req = sign_raw_with(
            &url,
            method.clone(),
            path,
            body.clone(),
            &creds(),
            "personalize",
            SystemTime::now(),
        );
        let msg = send(&req)
            .unwrap()
            .assert_error(404, "UnknownOperationException");
        assert!(msg.contains(path), "{method} {path}: {msg}");
    }
    // The signature is checked first, as AWS front ends do.
    let mut req = sign_raw(&url, "/nothing-here", body);
    req.headers_mut().remove("authorization");
    send(&req)
        .unwrap()
        .assert_error(403, "MissingAuthenticationTokenException");
}

#[test]
fn unknown_tracking_ids_and_datasets_are_not_found_when_configured() {
    let s = LocalServer::builder()
        .tracking_ids(["known-tracker"])
        .dataset_arns([DATASET])
        .start_blocking()
        .unwrap();
    let url = s.endpoint_url();
    let sent = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
    let ok = PutEventsInput::new("known-tracker", "s").event(Event::new("click", sent));
    assert_eq!(send(&signed(&url, ok)).unwrap().status, 200);
    let unknown = PutEventsInput::new("other-tracker", "s").event(Event::new("click", sent));
    let msg = send(&signed(&url, unknown))
        .unwrap()
        .assert_error(404, "ResourceNotFoundException");
    assert!(msg.contains("other-tracker"), "{msg}");
    let ai = PutActionInteractionsInput::new("other-tracker")
        .action_interaction(ActionInteraction::new("a", "s", sent, "Taken"));
    send(&signed(&url, ai))
        .unwrap()
        .assert_error(404, "ResourceNotFoundException");
    let other_arn = "arn:aws:personalize:us-east-1:123456789012:dataset/other/ITEMS";
    let r = send(&sign_raw(
        &url,
        "/items",
        json!({"datasetArn": other_arn, "items": [{"itemId": "i"}]}).to_string(),
    ))
    .unwrap();
    let msg = r.assert_error(404, "ResourceNotFoundException");
    assert!(msg.contains(other_arn), "{msg}");
    let r = send(&sign_raw(
        &url,
        "/items",
        json!({"datasetArn": DATASET, "items": [{"itemId": "i"}]}).to_string(),
    ))
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s.records().len(), 2);
    assert_eq!(s.stats().rejected_with("ResourceNotFoundException"), 3);
}

#[test]
fn oversized_bodies_are_refused() {
    let s = server();
    let body = vec![b' '; personalize_events_local::MAX_BODY_BYTES + 1];
    let r = send(&sign_raw(&s.endpoint_url(), "/events", body)).unwrap();
    assert_eq!(r.status, 413);
    r.assert_common_headers();
}
