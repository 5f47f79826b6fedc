//! The async client sends all five operations, signed so that the server's
//! SigV4 verification accepts them, over pooled connections.

use std::time::{Duration, SystemTime};

use personalize_events_hyper::{
    Action, ActionInteraction, Client, Event, Item, PutActionInteractionsInput, PutActionsInput,
    PutEventsInput, PutItemsInput, PutUsersInput, RetryConfig, Timeouts, User,
};
use personalize_events_tests::async_server::{self, AsyncServer};

const DATASET: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";

fn client(url: &str) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(async_server::credentials())
        .endpoint_url(url)
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(10)))
        .timeouts(Timeouts::default().with_attempt(Duration::from_secs(2)))
        .build()
        .expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_five_operations_succeed_and_are_signed() {
    let server = AsyncServer::start(vec![]).await;
    let c = client(&server.url());
    let at = SystemTime::now();

    let out = c
        .put_events(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id("user-1")
                .event(Event::new("click", at).item_id("item-1")),
        )
        .await
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-0"));
    let out = c
        .put_items(PutItemsInput::new(DATASET).item(Item::new("item-1").properties(r#"{"a":"b"}"#)))
        .await
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));
    c.put_users(PutUsersInput::new(DATASET).user(User::new("user-1")))
        .await
        .unwrap();
    c.put_actions(PutActionsInput::new(DATASET).action(Action::new("action-1")))
        .await
        .unwrap();
    // Clones share the pool.
    let clone = c.clone();
    let out = tokio::spawn(async move {
        clone
            .put_action_interactions(
                PutActionInteractionsInput::new("tracking-2").action_interaction(
                    ActionInteraction::new("action-1", "session-1", at, "Viewed"),
                ),
            )
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-4"));

    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/events",
            "/items",
            "/users",
            "/actions",
            "/action-interactions"
        ]
    );
    for r in &reqs {
        let v = r
            .signature
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}", r.path));
        assert_eq!(v.region, "us-east-1");
        assert_eq!(v.service, "personalize");
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r
            .header("user-agent")
            .unwrap()
            .starts_with("personalize-events-rs/"));
        assert_eq!(r.header("amz-sdk-request"), Some("attempt=1; max=3"));
        assert!(r.json.is_some(), "{} sent JSON", r.path);
    }
    let ev = reqs[0].json.as_ref().unwrap();
    assert_eq!(ev["trackingId"], "tracking-1");
    assert_eq!(ev["sessionId"], "session-1");
    assert_eq!(ev["userId"], "user-1");
    assert_eq!(ev["eventList"][0]["itemId"], "item-1");
    assert_eq!(ev["eventList"][0]["eventId"].as_str().unwrap().len(), 36);
    assert_eq!(
        reqs[1].json.as_ref().unwrap()["items"][0]["properties"],
        r#"{"a":"b"}"#
    );
    let ai = reqs[4].json.as_ref().unwrap();
    assert_eq!(
        ai["actionInteractions"][0]["eventId"]
            .as_str()
            .unwrap()
            .len(),
        36
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_reuse_a_pooled_connection() {
    let server = AsyncServer::start(vec![]).await;
    let c = client(&server.url());
    for i in 0..5 {
        c.put_users(PutUsersInput::new(DATASET).user(User::new(format!("user-{i}"))))
            .await
            .unwrap();
        // Give the connection time to go back to the pool (hyper does that
        // on a spawned task; without the pause a call may race it).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reqs = server.requests();
    let on_first = reqs
        .iter()
        .filter(|r| r.connection == reqs[0].connection)
        .count();
    assert!(on_first >= 2, "connections: {}", server.connections());
    assert!(server.connections() < 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_sending() {
    let server = AsyncServer::start(vec![]).await;
    let c = client(&server.url());
    let e = c
        .put_events(PutEventsInput::new("tracking-1", "session-1"))
        .await
        .unwrap_err();
    assert!(e.is_local(), "{e}");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_ids_are_left_alone_when_asked() {
    let server = AsyncServer::start(vec![]).await;
    let c = Client::builder()
        .region("us-east-1")
        .credentials(async_server::credentials())
        .endpoint_url(server.url())
        .fill_event_ids(false)
        .build()
        .unwrap();
    c.put_events(PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now())))
        .await
        .unwrap();
    let body = server.requests()[0].json.clone().unwrap();
    assert!(body["eventList"][0].get("eventId").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_by_the_server() {
    let server = AsyncServer::start(vec![]).await;
    let c = Client::builder()
        .region("us-east-1")
        .credentials(personalize_events_hyper::Credentials::new(
            async_server::ACCESS_KEY_ID,
            "not-the-secret",
            None,
        ))
        .endpoint_url(server.url())
        .build()
        .unwrap();
    let e = c
        .put_users(PutUsersInput::new(DATASET).user(User::new("u")))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert!(!server.requests()[0].signature_ok());
}
