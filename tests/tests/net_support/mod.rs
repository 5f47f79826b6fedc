//! What the `net_*` tests share: a counting proxy and a TLS server with a
//! CA of its own, both on 127.0.0.1. The CLI's tests include the two files.
#![allow(dead_code)] // each test file uses part of it

pub mod proxy;
pub mod tls;

use personalize_events_core::{Event, PutEventsInput};
use std::time::{Duration, UNIX_EPOCH};

/// The keys every client of these tests signs with.
pub const ACCESS_KEY_ID: &str = personalize_events_local::DEFAULT_ACCESS_KEY_ID;
/// The secret that goes with [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = personalize_events_local::DEFAULT_SECRET_ACCESS_KEY;

/// A small valid `PutEvents` input.
pub fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(
        Event::new("click", UNIX_EPOCH + Duration::from_secs(1_700_000_000)).item_id("item-1"),
    )
}

/// An environment snapshot with region and keys, no home directory (no
/// shared files read), and `extra` on top.
pub fn env(extra: &[(&str, String)]) -> personalize_events_credentials::Environment {
    let mut vars: Vec<(String, String)> = vec![
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    personalize_events_credentials::Environment::from_vars(vars)
}
