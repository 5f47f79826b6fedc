//! Realistic inputs shared by the benchmarks (see `benches/`).
#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::*;

/// A fixed signing clock, so every run signs the same bytes.
pub fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_953_600)
}

/// The credentials of the AWS documentation examples.
pub fn credentials() -> Credentials {
    Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
}

/// A client core for us-east-1 (event ids left as given).
pub fn client_core() -> ClientCore {
    let mut cfg = ClientConfig::for_region("us-east-1").expect("region resolves");
    cfg.fill_event_ids = false;
    ClientCore::new(cfg).expect("valid config")
}

/// A realistic event: ids, a value, a small properties object, five
/// impressions and a recommendation id.
pub fn event(i: usize) -> Event {
    Event::new("purchase", wall() - Duration::from_millis(1500 + i as u64 * 37))
        .event_id(format!("5f7a3c1e-9b2d-4e8f-a6c4-{i:012}"))
        .item_id(format!("item-{:06}", 1000 + i))
        .event_value(19.99)
        .properties(format!(
            r#"{{"numberOfRatings":"{}","discount":"yes","channel":"mobile-app"}}"#,
            i % 50
        ))
        .recommendation_id(format!("RID-{:016x}", 0xabcdef00u64 + i as u64))
        .impression((0..5).map(|k| format!("item-{:06}", 1000 + i + k)))
}

/// PutEvents with `n` realistic events.
pub fn put_events(n: usize) -> PutEventsInput {
    PutEventsInput::new("5f7a3c1e-9b2d-4e8f-a6c4-0d1b2e3f4a5b", "session-4f1c2d")
        .user_id("user-000042")
        .events((0..n).map(event))
}

/// PutItems with `n` items of about 1 KB of properties each.
pub fn put_items(n: usize) -> PutItemsInput {
    let filler = "x".repeat(900);
    PutItemsInput::new("arn:aws:personalize:us-east-1:123456789012:dataset/demo/ITEMS").items(
        (0..n).map(|i| {
            Item::new(format!("item-{i:06}")).properties(format!(
                r#"{{"genre":"Action|Adventure","price":"{}.99","description":"{filler}"}}"#,
                i % 100
            ))
        }),
    )
}
