//! Hands 5000 single events from 20 tasks to a [`Batcher`], which sends them
//! in calls of up to 10 with at most 32 calls in flight, then reports.
//!
//! Configuration comes from the environment as in the `put_events` example.
//! To try it against a local endpoint:
//!
//! ```text
//! AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret \
//! AWS_ENDPOINT_URL=http://127.0.0.1:8080 cargo run -p personalize-events-hyper --example batcher
//! ```
//!
//! [`Batcher`]: personalize_events_hyper::Batcher

use std::time::{Duration, Instant, SystemTime};

use personalize_events_hyper::{BatcherConfig, Client, Event, RateLimits, Record};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracking_id =
        std::env::var("PERSONALIZE_TRACKING_ID").unwrap_or_else(|_| "tracking-id".into());
    let client = Client::from_env()?;
    let batcher = client.batcher(
        BatcherConfig::default()
            .linger(Duration::from_millis(5))
            .max_in_flight(32)
            // Stay within the service's default quotas.
            .rate_limit(RateLimits::default()),
    );
    let started = Instant::now();
    let mut producers = Vec::new();
    for task in 0..20 {
        let batcher = batcher.clone();
        let tracking_id = tracking_id.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..250 {
                let session = format!("session-{}", (task + i) % 8);
                let event = Event::new("click", SystemTime::now()).item_id(format!("item-{i}"));
                let record =
                    Record::event(&tracking_id, session, Some(format!("user-{task}")), event);
                if batcher.put(record).await.is_err() {
                    break;
                }
            }
        }));
    }
    for p in producers {
        p.await?;
    }
    let report = batcher.close().await?;
    println!(
        "{} records sent in {} calls ({} failed calls) in {:?}",
        report.records_sent,
        report.calls_made,
        report.calls_failed,
        started.elapsed()
    );
    for failed in report.failed.iter().take(5) {
        eprintln!("not sent: {}", failed.error);
    }
    if !report.is_success() {
        std::process::exit(1);
    }
    Ok(())
}
