//! The built-in corpus: one valid input of each operation, signed requests
//! as a client sends them, and the seeds of each target.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use personalize_events_core::{
    Action, ActionInteraction, AnyInput, ClientConfig, ClientCore, Credentials, Event, Item,
    MetricAttribution, Poll, PutActionInteractionsInput, PutActionsInput, PutEventsInput,
    PutItemsInput, PutUsersInput, User,
};

/// The fixed wall-clock time every seed is signed at.
pub(crate) fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_795_953_540_250)
}

/// One valid input of each operation, every member set.
pub fn sample_inputs() -> Vec<AnyInput> {
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS";
    vec![
        AnyInput::PutEvents(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id("user-1")
                .event(
                    Event::new("click", at())
                        .event_id("e-1")
                        .item_id("item-1")
                        .event_value(1.5)
                        .properties(r#"{"numberOfRatings":"12","é":"\u00e9"}"#)
                        .recommendation_id("rec-1")
                        .impression(["item-1", "item-2"])
                        .metric_attribution(MetricAttribution::new("partner")),
                )
                .event(Event::new("view", at())),
        ),
        AnyInput::PutItems(
            PutItemsInput::new(arn)
                .item(Item::new("item-1").properties(r#"{"genre":"drama|comedy"}"#)),
        ),
        AnyInput::PutUsers(
            PutUsersInput::new(arn).user(User::new("user-1").properties(r#"{"age":"42"}"#)),
        ),
        AnyInput::PutActions(
            PutActionsInput::new(arn).action(Action::new("action-1").properties(r#"{"v":1}"#)),
        ),
        AnyInput::PutActionInteractions(
            PutActionInteractionsInput::new("tracking-1").action_interaction(
                ActionInteraction::new("action-1", "session-1", at(), "Taken")
                    .user_id("user-1")
                    .event_id("e-2")
                    .recommendation_id("rec-1")
                    .impression(["action-1"])
                    .properties(r#"{"k":"v"}"#),
            ),
        ),
    ]
}

/// The credentials the targets sign with and the emulator accepts.
pub fn credentials() -> Credentials {
    Credentials::new(
        personalize_events_local::DEFAULT_ACCESS_KEY_ID,
        personalize_events_local::DEFAULT_SECRET_ACCESS_KEY,
        None,
    )
}

pub(crate) fn core_for(endpoint: &str) -> ClientCore {
    let params = personalize_events_core::EndpointParams {
        region: Some("us-east-1".into()),
        endpoint: Some(endpoint.into()),
        ..Default::default()
    };
    let endpoint = personalize_events_core::endpoint::resolve(&params).expect("an endpoint");
    ClientCore::new(ClientConfig::new("us-east-1", endpoint)).expect("a core")
}

/// The signed request the client would send for `input` at `wall`.
pub fn signed_request(endpoint: &str, input: AnyInput, wall: SystemTime) -> http::Request<Vec<u8>> {
    let core = core_for(endpoint);
    let now = Instant::now();
    fn first<I: personalize_events_core::Operation>(
        core: &ClientCore,
        i: I,
        now: Instant,
        wall: SystemTime,
    ) -> http::Request<Vec<u8>> {
        let mut call = core.call(&i, now, 1).expect("a valid sample");
        match call.poll(now, wall, &credentials(), 0.5) {
            Poll::Send(s) => s.request.map(Vec::from),
            _ => unreachable!("a new call sends first"),
        }
    }
    match input {
        AnyInput::PutEvents(i) => first(&core, i, now, wall),
        AnyInput::PutItems(i) => first(&core, i, now, wall),
        AnyInput::PutUsers(i) => first(&core, i, now, wall),
        AnyInput::PutActions(i) => first(&core, i, now, wall),
        AnyInput::PutActionInteractions(i) => first(&core, i, now, wall),
    }
}

/// A request as HTTP/1.1 bytes, with `content-length` and `connection: close`.
pub fn to_wire(req: &http::Request<Vec<u8>>) -> Vec<u8> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut out = format!("{} {target} HTTP/1.1\r\n", req.method()).into_bytes();
    for (k, v) in req.headers() {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            req.body().len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(req.body());
    out
}

/// Seeds for [`decode_response`](crate::decode_response): encoded answers
/// of the kinds the service gives (see
/// [`decode_response`](crate::decode_response) for the layout).
pub fn decode_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // (status, (header name index, value), body)
    type Answer = (u16, &'static [(u8, &'static [u8])], &'static [u8]);
    let answers: [Answer; 8] = [
        (200, &[(1, b"req-1")], b""),
        (
            400,
            &[(0, b"InvalidInputException"), (1, b"r")],
            br#"{"message":"bad"}"#,
        ),
        (
            404,
            &[],
            br#"{"__type":"com.amazon#ResourceNotFoundException","Message":"x"}"#,
        ),
        (
            429,
            &[(0, b"ThrottlingException")],
            br#"{"message":"Rate exceeded"}"#,
        ),
        (503, &[], b"<html>Service Unavailable</html>"),
        (
            403,
            &[
                (0, b"InvalidSignatureException"),
                (3, b"Sun, 29 Nov 2026 12:10:00 GMT"),
            ],
            br#"{"message":"Signature expired"}"#,
        ),
        (
            500,
            &[(4, b"application/json")],
            br#"{"code":"InternalFailure","errorMessage":"boom"}"#,
        ),
        (
            409,
            &[(0, b"ResourceInUseException:http://internal.amazon.com/")],
            br#"{"message":null}"#,
        ),
    ];
    for (status, headers, body) in answers {
        let mut d = vec![(status >> 8) as u8, status as u8, headers.len() as u8];
        for (name, value) in headers {
            d.push(*name);
            d.push(value.len() as u8);
            d.extend_from_slice(value);
        }
        d.extend_from_slice(body);
        out.push(d);
    }
    out
}

/// Seeds for [`request`](crate::request()): an operation byte and a body,
/// and a few signed requests with a tampering byte.
pub fn request_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, input) in sample_inputs().into_iter().enumerate() {
        let mut d = vec![0, i as u8];
        d.extend_from_slice(&input.encode());
        out.push(d);
        let mut d = vec![1, i as u8, 0, 0];
        d.extend_from_slice(b"tamper");
        out.push(d);
        let wire = to_wire(&signed_request("http://127.0.0.1:1", input, at()));
        let mut d = vec![2];
        d.extend_from_slice(&wire);
        out.push(d);
    }
    out
}

/// Seeds for [`json_lines`](crate::json_lines()): the samples as JSON
/// lines, and their records.
pub fn json_lines_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for input in sample_inputs() {
        let mut line = input.encode();
        line.push(b'\n');
        out.push(line);
    }
    let v: serde_json::Value = serde_json::from_slice(&sample_inputs()[0].encode()).expect("JSON");
    for e in v["eventList"].as_array().into_iter().flatten() {
        out.push(e.to_string().into_bytes());
    }
    out
}
