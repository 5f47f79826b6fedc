//! Records two events of one session with `PutEvents`.
//!
//! Configuration comes from the environment (`AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
//! `AWS_SESSION_TOKEN` and `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`), the
//! tracking id from `PERSONALIZE_TRACKING_ID`. To try it against a local
//! endpoint:
//!
//! ```text
//! AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret \
//! AWS_ENDPOINT_URL=http://127.0.0.1:8080 cargo run -p personalize-events-hyper --example put_events
//! ```

use std::time::SystemTime;

use personalize_events_hyper::{Client, Event, PutEventsInput};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracking_id =
        std::env::var("PERSONALIZE_TRACKING_ID").unwrap_or_else(|_| "tracking-id".into());
    let client = Client::from_env()?;
    let input = PutEventsInput::new(tracking_id, "session-1")
        .user_id("user-7")
        .event(Event::new("click", SystemTime::now()).item_id("item-42"))
        .event(
            Event::new("purchase", SystemTime::now())
                .item_id("item-42")
                .event_value(19.99)
                .properties(r#"{"currency":"EUR"}"#),
        );
    match client.put_events(input).await {
        Ok(out) => println!("recorded, request id {:?}", out.request_id),
        Err(e) => {
            eprintln!("PutEvents failed: {e}");
            std::process::exit(1);
        }
    }
    Ok(())
}
