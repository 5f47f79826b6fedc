//! Unit tests of `validate.rs`.
use super::*;
use std::time::UNIX_EPOCH;

fn ev() -> Event {
    Event::new("click", UNIX_EPOCH)
}

#[test]
fn path_and_problem_in_message() {
    let mut events: Vec<Event> = (0..4).map(|_| ev()).collect();
    events[3] = ev().item_id("x".repeat(300));
    let i = PutEventsInput::new("t", "s").events(events);
    assert_eq!(
        i.validate().unwrap_err().to_string(),
        "eventList[3].itemId: length 300 is above the maximum 256"
    );
}

#[test]
fn lengths_are_code_points() {
    // 256 three-byte characters: 768 bytes but within the limit.
    let i = PutEventsInput::new("t", "s").event(ev().item_id("☕".repeat(256)));
    assert!(i.validate().is_ok());
    let i = PutEventsInput::new("t", "s").event(ev().item_id("☕".repeat(257)));
    assert!(i.validate().is_err());
}

#[test]
fn length_bounds_on_both_sides_of_the_fast_path() {
    let msg = |i: PutEventsInput| i.validate().map_err(|e| e.to_string());
    assert_eq!(
        msg(PutEventsInput::new("", "s").event(ev())),
        Err("trackingId: length 0 is below the minimum 1".into())
    );
    let at_max = PutEventsInput::new("t", "s").event(ev().recommendation_id("r".repeat(40)));
    assert_eq!(msg(at_max), Ok(()));
    assert_eq!(
        msg(PutEventsInput::new("t", "s").event(ev().recommendation_id("r".repeat(41)))),
        Err("eventList[0].recommendationId: length 41 is above the maximum 40".into())
    );
    // The ARN has no minimum length: an empty one fails its pattern instead.
    let e = PutItemsInput::new("").item(Item::new("i")).validate();
    assert!(e
        .unwrap_err()
        .to_string()
        .starts_with("datasetArn: does not match the pattern"));
}

#[test]
fn properties_rules() {
    let ok = PutEventsInput::new("t", "s").event(ev().properties(r#"{"a":"1"}"#));
    assert!(ok.validate().is_ok());
    for (props, want) in [
        (r#"["a"]"#, "is not a JSON object"),
        (r#""{\"a\":1}""#, "is not a JSON object"),
        (r#"{"a":1"#, "is not valid JSON"),
        (r#"{"a":1} x"#, "is not valid JSON"),
        (r#"{"USERID":"u"}"#, "reserved key \"userId\""),
        (
            r#"{"x":{"timestamp":1},"Impression":"a"}"#,
            "reserved key \"impression\"",
        ),
        ("", "below the minimum 1"),
    ] {
        let i = PutEventsInput::new("t", "s").event(ev().properties(props));
        let e = i.validate().unwrap_err().to_string();
        assert!(e.starts_with("eventList[0].properties: "), "{e}");
        assert!(e.contains(want), "{props}: {e}");
    }
    // Items may use any key.
    let i = PutItemsInput::new("arn:aws:personalize:us-east-1:1:dataset/x")
        .item(Item::new("i").properties(r#"{"userId":"u"}"#));
    assert!(i.validate().is_ok());
}

#[test]
fn arn_pattern_has_search_semantics() {
    assert!(matches_arn_pattern(
        "arn:aws:personalize:us-east-1:123:dataset/x"
    ));
    assert!(matches_arn_pattern("arn:aws-cn:personalize:::x"));
    assert!(!matches_arn_pattern("arn:aws:personalize:::"));
    assert!(!matches_arn_pattern("arn:AWS:personalize:a:b:c"));
    assert!(!matches_arn_pattern("arn:aws:s3:a:b:c"));
    assert!(!matches_arn_pattern("arn::personalize:a:b:c"));
    assert!(!matches_arn_pattern("arn:aws:personalize:a\n:b:c"));
    assert!(matches_arn_pattern("x arn:aws:personalize:a:b:c"));
}

#[test]
fn attribution_source_pattern() {
    assert!(matches_attribution_source_pattern("partner feed"));
    assert!(!matches_attribution_source_pattern("   "));
    assert!(!matches_attribution_source_pattern(""));
    assert!(!matches_attribution_source_pattern("tab\there"));
    assert!(!matches_attribution_source_pattern("café"));
}

#[test]
fn non_finite_event_value() {
    let i = PutEventsInput::new("t", "s").event(ev().event_value(f32::NAN));
    assert_eq!(
        i.validate().unwrap_err().to_string(),
        "eventList[0].eventValue: NaN is not a finite number"
    );
}
