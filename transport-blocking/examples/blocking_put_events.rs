//! Sends one `PutEvents` call with the blocking client.
//!
//! ```text
//! cargo run -p personalize-events-blocking --example blocking_put_events -- [ENDPOINT] [TRACKING_ID]
//! ```
//!
//! * `ENDPOINT`: where to send, e.g. `http://127.0.0.1:8080` for a local
//!   emulator; without it, `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS` or
//!   `AWS_ENDPOINT_URL`, else the region's https endpoint.
//! * `TRACKING_ID`: the event tracker (default `example-tracking-id`).
//!
//! The region comes from `AWS_REGION` or `AWS_DEFAULT_REGION` (default
//! `us-east-1`), the credentials from `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.

use std::process::ExitCode;
use std::time::SystemTime;

use personalize_events_blocking::{Client, Event, PutEventsInput};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().filter(|a| !a.is_empty());
    let tracking_id = args.next().unwrap_or_else(|| "example-tracking-id".into());
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
        .unwrap_or_else(|| "us-east-1".into());

    let mut builder = Client::builder()
        .with_env()
        .region(region)
        .user_agent_suffix("example/put_events");
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot build the client: {e}");
            return ExitCode::FAILURE;
        }
    };

    let input = PutEventsInput::new(tracking_id, "example-session")
        .user_id("example-user")
        .event(
            Event::new("click", SystemTime::now())
                .item_id("item-42")
                .properties(r#"{"source":"example"}"#),
        );
    match client.put_events(input) {
        Ok(out) => {
            println!(
                "sent to {}: request id {}",
                client.endpoint_url(),
                out.request_id.as_deref().unwrap_or("(none)")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("PutEvents failed: {e}");
            ExitCode::FAILURE
        }
    }
}
