//! N blocking calls against an endpoint, for profilers:
//! `blocking_loop URL N`.
use personalize_events_benches::*;

fn main() {
    let url = std::env::args().nth(1).expect("endpoint URL");
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let client = personalize_events_blocking::Client::builder()
        .region("us-east-1")
        .endpoint_url(url)
        .credentials(credentials())
        .fill_event_ids(false)
        .build()
        .expect("client");
    let input = put_events(10);
    for _ in 0..n {
        client.put_events(input.clone()).expect("call");
    }
}
