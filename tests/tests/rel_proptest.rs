//! A short property-test pass (proptest) over the fuzz targets of
//! `fuzz/` — the very functions `personalize-events-fuzz` runs for minutes —
//! plus structured properties of the same code paths: what validates
//! encodes and decodes back the same, signs and verifies, and fails to
//! verify once tampered with; decoding errors never echo a record's value.
//!
//! Case counts are kept small so that this runs in seconds in CI; the fuzz
//! binary is for long runs (see docs/reliability.md).
#![forbid(unsafe_code)]

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::*;
use personalize_events_fuzz as fz;
use personalize_events_local::verify::{verify_request_with, VerifyParams};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The seed every property runs from: fixed, so that a run repeats
/// exactly; `PROPTEST_RNG_SEED=<u64>` picks another. It is printed (shown
/// with `--nocapture`, and in the output of a failing test), and proptest's
/// failure message carries the minimal failing input.
const DEFAULT_SEED: u64 = 0x5eed_2026_1201;

fn seed() -> u64 {
    std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

fn config(cases: u32) -> Config {
    let seed = seed();
    eprintln!("proptest seed: {seed} (rerun with PROPTEST_RNG_SEED={seed})");
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

/// A mutated seed of a target's corpus, as the fuzz binary makes them.
fn mutated(seeds: fn() -> Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    any::<u64>().prop_map(move |seed| fz::Gen::new(seed, seeds(), 8192).next_input())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..1024)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn decode_target_on_random_bytes(data in bytes()) {
        fz::decode_response(&data);
    }

    #[test]
    fn decode_target_on_mutated_answers(data in mutated(fz::decode_seeds)) {
        fz::decode_response(&data);
    }

    #[test]
    fn request_target_on_random_bytes(data in bytes()) {
        fz::request(&data);
    }

    #[test]
    fn request_target_on_mutated_requests(data in mutated(fz::request_seeds)) {
        fz::request(&data);
    }

    #[test]
    fn json_lines_target_on_random_bytes(data in bytes()) {
        fz::json_lines(&data);
    }

    #[test]
    fn cli_json_lines_target_on_mutated_lines(data in mutated(fz::cli_json_lines_seeds)) {
        fz::cli_json_lines(&data);
    }

    #[test]
    fn cli_csv_target_on_mutated_rows(data in mutated(fz::cli_csv_seeds)) {
        fz::cli_csv(&data);
    }

    #[test]
    fn json_lines_target_on_mutated_lines(data in mutated(fz::json_lines_seeds)) {
        fz::json_lines(&data);
    }
}

fn wire() -> &'static Mutex<fz::Wire> {
    static WIRE: OnceLock<Mutex<fz::Wire>> = OnceLock::new();
    WIRE.get_or_init(|| Mutex::new(fz::Wire::start(Duration::from_secs(120)).expect("an emulator")))
}

fn wire_seeds() -> Vec<Vec<u8>> {
    wire().lock().unwrap_or_else(|p| p.into_inner()).seeds()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn the_emulator_answers_mutated_requests_and_keeps_serving(data in mutated(wire_seeds)) {
        wire().lock().unwrap_or_else(|p| p.into_inner()).run(&data);
    }
}

#[test]
fn the_emulator_is_alive_after_the_wire_pass() {
    let w = wire().lock().unwrap_or_else(|p| p.into_inner());
    w.assert_alive();
}

/// Text of 1 to `max` code points from a mix of ASCII, escapes, controls
/// and other planes.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            2 => prop::sample::select(vec!['"', '\\', '/', '\u{0}', '\u{1f}', '\u{7f}', '\u{2028}', 'é', '😀']),
            4 => prop::char::range('a', 'z'),
        ],
        1..=max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

prop_compose! {
    fn event()(
        kind in text(40),
        item in text(256),
        value in prop::option::of(-1e30f32..1e30),
        prop_text in text(60),
        ms in 0u64..4_000_000_000_000,
        shown in prop::collection::vec(text(20), 1..5),
    ) -> Event {
        let mut e = Event::new(kind, at(ms))
            .item_id(item)
            .properties(Properties::from_serialize(&serde_json::json!({ "k": prop_text })).unwrap())
            .impression(shown);
        if let Some(v) = value {
            e = e.event_value(v);
        }
        e
    }
}

prop_compose! {
    fn put_events()(
        tracking in text(256),
        session in text(256),
        user in prop::option::of(text(256)),
        events in prop::collection::vec(event(), 1..=10),
    ) -> PutEventsInput {
        let mut i = PutEventsInput::new(tracking, session).events(events);
        if let Some(u) = user {
            i = i.user_id(u);
        }
        i
    }
}

fn credentials() -> Credentials {
    fz::credentials()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn valid_input_round_trips_signs_and_detects_tampering(input in put_events(), flip in any::<u16>()) {
        let input = AnyInput::PutEvents(input);
        input.validate().unwrap();
        let body = input.encode();
        let again = AnyInput::from_json("PutEvents", &body).unwrap();
        prop_assert_eq!(&again, &input);
        prop_assert_eq!(again.encode(), body);

        let wall = at(1_795_953_540_000);
        let mut req = fz::signed_request("http://127.0.0.1:1", input, wall);
        let params = VerifyParams {
            service: SIGNING_NAME,
            region: Some("us-east-1"),
            now: wall,
            max_skew: Duration::from_secs(300),
        };
        let lookup = |id: &str| (id == credentials().access_key_id()).then(credentials);
        prop_assert!(verify_request_with(&req, lookup, &params).is_ok());
        let i = flip as usize % req.body().len();
        req.body_mut()[i] ^= 0x20;
        prop_assert!(verify_request_with(&req, lookup, &params).is_err());
    }

    #[test]
    fn decoding_errors_never_echo_the_value(value in text(40).prop_filter("long enough to tell", |s| s.chars().count() >= 6)) {
        // A string where a number must be, an array where a string must be.
        let quoted = serde_json::to_string(&value).unwrap();
        for body in [
            format!(r#"{{"trackingId":"t","sessionId":"s","eventList":[{{"eventType":"c","sentAt":1,"eventValue":{quoted}}}]}}"#),
            format!(r#"{{"trackingId":"t","sessionId":"s","userId":[{quoted}],"eventList":[]}}"#),
            format!(r#"{{"datasetArn":"a","items":[{{"itemId":{{"x":{quoted}}}}}]}}"#),
        ] {
            let e = AnyInput::from_json("PutEvents", body.as_bytes())
                .or_else(|_| AnyInput::from_json("PutItems", body.as_bytes()));
            if let Err(e) = e {
                let shown = format!("{e} {e:?}");
                prop_assert!(!shown.contains(&value), "{}", shown);
                let debugged = format!("{value:?}");
                prop_assert!(!shown.contains(&debugged[1..debugged.len() - 1]), "{}", shown);
            }
        }
    }

    #[test]
    fn error_codes_are_cut_from_any_raw_type(raw in ".{0,64}") {
        // In the body's `__type` and in the `x-amzn-errortype` header alike.
        let body = serde_json::json!({ "__type": raw }).to_string();
        let in_body = http::Response::builder().status(400).body(body.as_bytes()).unwrap();
        let mut responses = vec![in_body];
        if let Ok(v) = http::HeaderValue::from_str(&raw) {
            let mut r = http::Response::builder().status(400).body(&b"{}"[..]).unwrap();
            r.headers_mut().insert("x-amzn-errortype", v);
            responses.push(r);
        }
        for resp in responses {
            let e = decode_response(&resp).unwrap_err();
            if let Some(code) = e.code() {
                prop_assert!(raw.contains(code), "{:?} from {:?}", code, raw);
                prop_assert!(!code.is_empty());
                prop_assert!(!code.contains(':'));
                prop_assert!(!code.contains('#'));
            }
        }
    }
}
