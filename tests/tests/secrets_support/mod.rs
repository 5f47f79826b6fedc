//! What `rel_secrets.rs` and `rel_secrets_traces.rs` share: the secrets
//! (keys, tokens, values of sensitive members), the check that a text shows
//! none of them, and inputs of every operation that carry them.
#![allow(dead_code)] // each test file uses part of it

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::*;

pub const REDACTED: &str = "*** Sensitive Data Redacted ***";

pub const ACCESS_KEY: &str = "AKIDRELSECRETS";
pub const SECRET_KEY: &str = "sk-REL/5ecret+Key-wJalrXUtnFEMI";
pub const SESSION_TOKEN: &str = "tok-REL-5ession-T0ken-FwoGZXIvYXdzE";
pub const WEB_IDENTITY_TOKEN: &str = "eyJ-REL-w3b-1dentity-T0ken";

/// Values of members the model marks sensitive.
pub const SENSITIVE: &[&str] = &[
    "pl-EVENTTYPE-7f3a",
    "pl-ITEMID-7f3a",
    "pl-PROPVAL-7f3a",
    "pl-USERID-7f3a",
    "pl-ACTIONID-7f3a",
    "pl-IMPRESSION-7f3a",
    "pl-RECOMMENDATION-7f3a",
];

pub fn credentials() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, Some(SESSION_TOKEN.to_string()))
}

/// Everything that must never be shown.
pub fn secrets() -> Vec<&'static str> {
    let mut s = vec![SECRET_KEY, SESSION_TOKEN, WEB_IDENTITY_TOKEN];
    s.extend_from_slice(SENSITIVE);
    s
}

/// Where `text` shows a secret: verbatim, or as the bytes a `Vec<u8>`'s
/// `Debug` prints (`[115, 107, 45, ...]`), or a signed request's
/// `Authorization` value.
pub fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for s in secrets() {
        let bytes = format!("{:?}", s.as_bytes());
        let bytes = &bytes[1..bytes.len() - 1];
        if text.contains(s) || text.contains(bytes) {
            found.push(s.to_string());
        }
    }
    for tell in ["Signature=", "AWS4-HMAC-SHA256 Credential"] {
        if text.contains(tell) {
            found.push(tell.to_string());
        }
    }
    found
}

pub fn assert_clean(what: &str, text: &str) {
    let found = leaks(text);
    assert!(found.is_empty(), "{what} shows {found:?}:\n{text}");
}

pub fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_540)
}

pub fn event() -> Event {
    Event::new(SENSITIVE[0], at())
        .event_id("event-1")
        .item_id(SENSITIVE[1])
        .properties(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]))
        .recommendation_id("rec-1")
        .impression([SENSITIVE[5]])
        .metric_attribution(MetricAttribution::new("partner"))
}

pub fn interaction() -> ActionInteraction {
    ActionInteraction::new(SENSITIVE[4], "session-1", at(), "Viewed")
        .user_id(SENSITIVE[3])
        .event_id("event-2")
        .impression([SENSITIVE[5]])
        .properties(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]))
}

pub const ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS";

pub fn all_inputs() -> Vec<AnyInput> {
    let props = || Properties::from(format!(r#"{{"k":"{}"}}"#, SENSITIVE[2]));
    vec![
        AnyInput::PutEvents(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id(SENSITIVE[3])
                .event(event()),
        ),
        AnyInput::PutItems(PutItemsInput::new(ARN).item(Item::new("item-1").properties(props()))),
        AnyInput::PutUsers(PutUsersInput::new(ARN).user(User::new("user-1").properties(props()))),
        AnyInput::PutActions(
            PutActionsInput::new(ARN).action(Action::new("action-1").properties(props())),
        ),
        AnyInput::PutActionInteractions(
            PutActionInteractionsInput::new("tracking-1").action_interaction(interaction()),
        ),
    ]
}
