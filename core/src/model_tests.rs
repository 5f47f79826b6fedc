//! Unit tests of `model.rs`.
use super::*;

#[test]
fn event_debug_redacts_everything() {
    let e = Event::new("secret-type", SystemTime::UNIX_EPOCH)
        .item_id("secret-item")
        .properties(r#"{"a":"secret"}"#);
    let s = format!("{e:?}");
    assert!(!s.contains("secret"), "{s}");
    let i = PutEventsInput::new("t", "s")
        .user_id("secret-user")
        .event(e);
    assert!(!format!("{i:?}").contains("secret"));
    let a = ActionInteraction::new("secret-action", "s", SystemTime::UNIX_EPOCH, "Viewed")
        .user_id("secret-user")
        .properties(r#"{"a":"secret"}"#)
        .impression(["secret-1"]);
    assert!(!format!("{a:?}").contains("secret"));
    let item = Item::new("item-1").properties(r#"{"a":"secret"}"#);
    let s = format!("{item:?}");
    assert!(s.contains("item-1") && !s.contains("secret"), "{s}");
}

#[test]
fn deserializes_api_json_with_both_timestamp_forms_and_properties_forms() {
    let e: Event = serde_json::from_str(
        r#"{"eventType":"click","sentAt":"2026-11-29T11:59:00Z","properties":{"a":"1"}}"#,
    )
    .unwrap();
    assert_eq!(e.properties.unwrap().as_str(), r#"{"a":"1"}"#);
    let e2: Event = serde_json::from_str(
        r#"{"eventType":"click","sentAt":1795953540,"properties":"{\"a\": \"1\"}"}"#,
    )
    .unwrap();
    assert_eq!(e.sent_at, e2.sent_at);
    assert_eq!(e2.properties.unwrap().as_str(), r#"{"a": "1"}"#);
    let e3: Event = serde_json::from_str(r#"{"eventType":"c","sentAt":1795953599.5}"#).unwrap();
    assert_eq!(
        e3.sent_at,
        crate::time::parse_rfc3339("2026-11-29T11:59:59.5Z").unwrap()
    );
    let bad = serde_json::from_str::<Event>(r#"{"eventType":"c","sentAt":"yesterday"}"#);
    assert!(bad.unwrap_err().to_string().contains("RFC 3339"));
    let bad = serde_json::from_str::<Event>(r#"{"eventType":"c","sentAt":1,"properties":[1]}"#);
    assert!(bad.unwrap_err().to_string().contains("JSON object"));
}

#[test]
fn timestamps_that_cannot_be_meant_are_refused_with_their_likely_unit() {
    let e = |t: &str| {
        serde_json::from_str::<Event>(&format!(r#"{{"eventType":"c","sentAt":{t}}}"#))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(e("1700000000123").unwrap_err().contains("milliseconds"));
    assert!(e("1700000000123456").unwrap_err().contains("microseconds"));
    assert!(e("1700000000123456789")
        .unwrap_err()
        .contains("nanoseconds"));
    assert!(e("1.7e12").unwrap_err().contains("milliseconds"));
    assert!(e("-5").unwrap_err().contains("negative"));
    assert!(e("-0.5").unwrap_err().contains("negative"));
    assert!(!e("1700000000123").unwrap_err().contains("1700000000123"));
    assert!(e("\"2426-11-29T11:59:00Z\"").unwrap_err().contains("2286"));
    assert!(e("\"1969-12-31T23:59:59Z\"").unwrap_err().contains("1970"));
    assert_eq!(e("\"2286-01-01T00:00:00Z\""), Ok(()));
    assert_eq!(e("0"), Ok(()));
    assert_eq!(e("9999999999"), Ok(()));
    assert_eq!(e("1700000000.5"), Ok(()));
}

#[test]
fn unknown_members_are_refused() {
    let e = serde_json::from_str::<Event>(r#"{"eventType":"c","sentAt":1,"eventID":"x"}"#);
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("unknown field `eventID`"));
    let e = serde_json::from_str::<Item>(r#"{"itemId":"i","propertes":"{}"}"#);
    assert!(e
        .unwrap_err()
        .to_string()
        .contains("unknown field `propertes`"));
}
