//! Expiring credentials are fetched once and refreshed once, even when 20
//! calls need them at the same moment, in each transport: a fake container
//! endpoint (answering after 200 ms) counts its fetches. First the cache is
//! empty (19 calls wait for the one fetching); then the credentials come
//! within 5 minutes of expiry (one call refreshes, the others keep signing
//! with the still-valid old ones). Every call reaches the loopback endpoint.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use personalize_events_credentials::Environment;
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{container, FakeServer, Issued, TempHome};

const PATH: &str = "/creds";
const CALLS: usize = 20;

/// The first credentials expire in 302 s (so they are due for refresh
/// about 2 s later); the next ones in an hour.
fn issued(n: u32) -> Issued {
    if n == 0 {
        Issued::new(400, Duration::from_secs(302))
    } else {
        Issued::new(400 + n, Duration::from_secs(3600))
    }
}

fn server_builder() -> personalize_events_local::LocalServerBuilder {
    LocalServer::builder()
        .credential(issued(0).credentials())
        .credential(issued(1).credentials())
        .credential(issued(2).credentials())
}

fn env(home: &TempHome, fake: &FakeServer, endpoint: &str) -> Environment {
    home.env(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &fake.url(PATH)),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", endpoint),
    ])
}

/// How long until the first credentials, fetched after `started`, are
/// within the 5-minute margin: they expire at most 302 s after the fetch
/// (whole seconds on the wire), so 2.5 s after `started` is enough (and
/// they are still valid then).
fn until_refresh_is_due(started: SystemTime) -> Duration {
    (started + Duration::from_millis(2500))
        .duration_since(SystemTime::now())
        .unwrap_or_default()
}

#[test]
fn blocking_twenty_threads_fetch_once_then_refresh_once() {
    let fake = container(PATH, None, Duration::from_millis(200), issued);
    let server = server_builder().start_blocking().unwrap();
    let home = TempHome::new("refresh-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    let burst = || {
        let barrier = std::sync::Barrier::new(CALLS);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..CALLS)
                .map(|i| {
                    let (client, barrier) = (&client, &barrier);
                    s.spawn(move || {
                        use personalize_events_blocking::{Event, PutEventsInput};
                        barrier.wait();
                        client.put_events(
                            PutEventsInput::new("tracking-id", format!("session-{i}"))
                                .event(Event::new("click", SystemTime::now()).item_id("i")),
                        )
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
    };

    let started = SystemTime::now();
    burst();
    assert_eq!(fake.requests().len(), 1, "20 calls, one fetch");
    std::thread::sleep(until_refresh_is_due(started));
    burst();
    assert_eq!(fake.requests().len(), 2, "20 calls, one refresh");
    burst();
    assert_eq!(fake.requests().len(), 2, "fresh credentials are cached");
    assert_eq!(server.records().len(), 3 * CALLS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_twenty_tasks_fetch_once_then_refresh_once() {
    let fake = container(PATH, None, Duration::from_millis(200), issued);
    let server = server_builder().start().await.unwrap();
    let home = TempHome::new("refresh-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    let burst = || async {
        let barrier = Arc::new(tokio::sync::Barrier::new(CALLS));
        let tasks: Vec<_> = (0..CALLS)
            .map(|i| {
                let (client, barrier) = (client.clone(), barrier.clone());
                tokio::spawn(async move {
                    use personalize_events_hyper::{Event, PutEventsInput};
                    barrier.wait().await;
                    client
                        .put_events(
                            PutEventsInput::new("tracking-id", format!("session-{i}"))
                                .event(Event::new("click", SystemTime::now()).item_id("i")),
                        )
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    };

    let started = SystemTime::now();
    burst().await;
    assert_eq!(fake.requests().len(), 1, "20 calls, one fetch");
    tokio::time::sleep(until_refresh_is_due(started)).await;
    burst().await;
    assert_eq!(fake.requests().len(), 2, "20 calls, one refresh");
    burst().await;
    assert_eq!(fake.requests().len(), 2, "fresh credentials are cached");
    assert_eq!(server.records().len(), 3 * CALLS);
}
