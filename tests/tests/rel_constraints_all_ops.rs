//! Bad input never reaches the wire, whichever client sends it.
//!
//! Every constraint of the service model (walked from `service-2.json`:
//! required members, string lengths, list sizes, patterns, reserved property
//! keys), for every operation, through both clients against the fake
//! service: the input at the edge is sent (and arrives intact, signed), the
//! input one past the edge is refused before any IO (the server sees zero
//! requests) with the field path and the constraint in the error.
//!
//! And what is valid arrives exactly: ids, types and properties full of
//! non-ASCII text, control characters, quotes and backslashes, sent through
//! both clients to the emulator, come out of its store equal to what went
//! in, byte for byte.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use personalize_events_core::batch::Record;
use personalize_events_core::*;
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};
use personalize_events_tests::fake_service::{self, reply, FakeService};
use personalize_events_tests::model_walk::{constraint_cases, maximal_inputs, Kind};
use rel_support::Settings;

fn decode(op: &str, doc: &serde_json::Value) -> Result<AnyInput, Error> {
    AnyInput::from_json(op, &serde_json::to_vec(doc).unwrap())
}

#[test]
fn every_constraint_at_its_edge_and_past_it_through_both_clients() {
    let server = FakeService::signed(|_| reply::ok());
    let clients = Settings::new(&server.url(), fake_service::credentials())
        .attempts(1)
        .both();
    let count = || server.requests().len();

    // The maximal input of each operation goes through as it is.
    for (op, doc) in maximal_inputs() {
        let input = decode(&op, &doc).unwrap();
        for c in &clients {
            c.send_any(input.clone())
                .unwrap_or_else(|e| panic!("{} {op}: {e}", c.name()));
        }
    }

    let cases = constraint_cases();
    let mut counted = BTreeMap::<&str, usize>::new();
    for case in &cases {
        let what = format!("{} {} {:?}", case.op, case.path, case.kind);
        if let Some(edge) = &case.edge {
            let input = decode(&case.op, edge).unwrap_or_else(|e| panic!("{what}: edge: {e}"));
            for c in &clients {
                let before = count();
                c.send_any(input.clone())
                    .unwrap_or_else(|e| panic!("{} {what}: edge refused: {e}", c.name()));
                let reqs = server.requests();
                assert_eq!(reqs.len(), before + 1, "{} {what}", c.name());
                let got = reqs.last().unwrap();
                assert!(got.signature_ok(), "{} {what}", c.name());
                assert_eq!(
                    AnyInput::from_json(&case.op, &got.body).unwrap(),
                    input,
                    "{} {what}: the edge value arrived changed",
                    c.name()
                );
            }
        }
        match decode(&case.op, &case.past) {
            // A missing required member cannot even be built: the typed
            // constructors take every required member, and decoding refuses.
            Err(e) => {
                assert_eq!(case.kind, Kind::Required, "{what}: {e}");
                assert!(e.to_string().contains(&case.want), "{what}: {e}");
                assert!(e.is_local());
            }
            Ok(input) => {
                for c in &clients {
                    let before = count();
                    let e = c
                        .send_any(input.clone())
                        .err()
                        .unwrap_or_else(|| panic!("{} {what}: violation sent", c.name()));
                    assert!(
                        matches!(&e, Error::Validation { path, .. } if path == &case.path),
                        "{} {what}: {e:?}",
                        c.name()
                    );
                    assert!(
                        e.to_string().contains(&case.want),
                        "{} {what}:\n got: {e}\nwant: {}",
                        c.name(),
                        case.want
                    );
                    assert_eq!(count(), before, "{} {what}: sent anyway", c.name());
                }
            }
        }
        *counted.entry(case.kind.label()).or_default() += 1;
    }
    eprintln!("constraints checked through both clients: {counted:?}");
    let total: usize = counted.values().sum();
    assert!(total >= 90, "only {total} constraints walked: {counted:?}");
    assert_eq!(counted.get("pattern"), Some(&4));
    assert_eq!(counted.get("reserved key"), Some(&12));
    assert!(counted.get("required").copied().unwrap_or(0) > 10);
}

/// Text that JSON, HTTP and SigV4 layers could each get wrong: non-ASCII in
/// several planes, C0 controls (NUL included), DEL, C1, line and paragraph
/// separators, a BOM, quotes, backslashes, slashes, HTML.
const NASTY: &str =
    "é\u{0}\u{1}\t\n\r\u{1f}\"\\/\u{7f}\u{80}\u{9f}\u{2028}\u{2029}\u{feff}😀 <b>'&amp;'</b> %20+";
/// Printable ASCII only (the attribution source's pattern), with the
/// characters that need escaping.
const NASTY_ASCII: &str = r#" "quoted" \back\slash\ 'single' <>&%20+ ~"#;

fn properties() -> Properties {
    Properties::from_serialize(&serde_json::json!({
        "text": NASTY,
        "quo\"te\\key": "back\\slash \"and\" quotes",
        "ü😀": ["\u{0}", 1.5e300, -0.0, null, true],
    }))
    .unwrap()
}

/// Properties text with escapes serde would not write (kept verbatim).
fn raw_properties() -> Properties {
    Properties::from_json_text(r#"{ "a" : "\u00e9\ud83d\ude00\/\b\f" , "b":[ 1E2 ] }"#)
}

fn inputs(n: usize) -> Vec<AnyInput> {
    let at = UNIX_EPOCH + Duration::from_millis(1_795_953_540_125);
    let id = |what: &str| format!("{what}-{n}-{NASTY}");
    let arn = format!("arn:aws:personalize:us-east-1:1:dataset/{n}/é\"\\\u{0}😀");
    vec![
        AnyInput::PutEvents(
            PutEventsInput::new(id("tracking"), id("session"))
                .user_id(id("user"))
                .event(
                    Event::new(id("type"), at)
                        .event_id(id("event-a"))
                        .item_id(id("item"))
                        .event_value(-1.25e-3)
                        .properties(properties())
                        .recommendation_id(format!("r{n}\"\\\u{0}é"))
                        .impression([id("shown"), NASTY.to_string()])
                        .metric_attribution(MetricAttribution::new(NASTY_ASCII)),
                )
                .event(
                    Event::new(NASTY, at)
                        .event_id(id("event-b"))
                        .properties(raw_properties()),
                ),
        ),
        AnyInput::PutItems(
            PutItemsInput::new(arn.clone())
                .item(Item::new(id("item")).properties(properties()))
                .item(Item::new(NASTY).properties(raw_properties())),
        ),
        AnyInput::PutUsers(
            PutUsersInput::new(arn.clone()).user(User::new(id("user")).properties(properties())),
        ),
        AnyInput::PutActions(
            PutActionsInput::new(arn.clone())
                .action(Action::new(id("action")).properties(raw_properties())),
        ),
        AnyInput::PutActionInteractions(
            PutActionInteractionsInput::new(id("tracking")).action_interaction(
                ActionInteraction::new(id("action"), id("session"), at, "Viewed")
                    .user_id(id("user"))
                    .event_id(id("event-c"))
                    .recommendation_id(format!("r{n}\"\\é"))
                    .impression([id("a1"), NASTY.to_string()])
                    .properties(properties()),
            ),
        ),
    ]
}

#[test]
fn nasty_text_in_ids_and_properties_round_trips_exactly_through_both_clients() {
    let server = LocalServer::builder()
        .max_duration(Duration::from_secs(60))
        .start_blocking()
        .unwrap();
    let credentials = Credentials::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None);
    let clients = Settings::new(&server.endpoint_url(), credentials).both();
    let mut sent: Vec<Record> = Vec::new();
    for (n, c) in clients.iter().enumerate() {
        for input in inputs(n) {
            input.validate().expect("the nasty inputs are valid");
            c.send_any(input.clone())
                .unwrap_or_else(|e| panic!("{} {}: {e}", c.name(), input.operation_name()));
            sent.extend(input.into_records());
        }
    }
    let stored = server.records();
    assert_eq!(stored.len(), sent.len());
    for (s, want) in stored.iter().zip(&sent) {
        assert_eq!(&s.record, want, "{} came back changed", s.operation);
        assert!(!s.duplicate);
    }
    // Properties arrive as the very text that was given, escapes and all.
    let texts: Vec<&str> = stored
        .iter()
        .filter_map(|s| s.json.get("properties").and_then(|p| p.as_str()))
        .collect();
    assert!(texts.contains(&raw_properties().as_str()));
    assert!(texts.contains(&properties().as_str()));
    assert!(stored
        .iter()
        .any(|s| s.json.get("eventType").and_then(|v| v.as_str()) == Some(NASTY)));
    assert_eq!(server.stats().rejected_total(), 0, "{}", server.stats());
}
