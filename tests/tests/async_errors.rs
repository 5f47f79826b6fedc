//! Modeled errors (400, 404, 409) come back typed, with the service's
//! message and request id, after exactly one attempt.

use std::time::{Duration, SystemTime};

use personalize_events_hyper::{
    Client, Error, Event, Item, PutEventsInput, PutItemsInput, RetryConfig,
};
use personalize_events_tests::async_server::{self, AsyncServer, Reply};

fn client(url: &str) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(async_server::credentials())
        .endpoint_url(url)
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(10)))
        .build()
        .expect("a client")
}

fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(Event::new("click", SystemTime::now()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_typed_and_not_retried() {
    let server = AsyncServer::start(vec![Reply::error(
        400,
        "InvalidInputException",
        "trackingId is bad",
    )
    .header("x-amzn-RequestId", "rid-400")])
    .await;
    let e = client(&server.url())
        .put_events(events())
        .await
        .unwrap_err();
    match &e {
        Error::InvalidInput {
            message,
            request_id,
        } => {
            assert_eq!(message.as_deref(), Some("trackingId is bad"));
            assert_eq!(request_id.as_deref(), Some("rid-400"));
        }
        other => panic!("not InvalidInput: {other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_not_found_is_typed_and_not_retried() {
    let server = AsyncServer::start(vec![Reply::error(
        404,
        "ResourceNotFoundException",
        "no such tracker",
    )])
    .await;
    let e = client(&server.url())
        .put_events(events())
        .await
        .unwrap_err();
    match &e {
        Error::ResourceNotFound {
            message,
            request_id,
        } => {
            assert_eq!(message.as_deref(), Some("no such tracker"));
            assert_eq!(request_id.as_deref(), Some("req-0"));
        }
        other => panic!("not ResourceNotFound: {other:?}"),
    }
    assert!(e.to_string().contains("request id req-0"), "{e}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_in_use_is_typed_and_not_retried() {
    let server = AsyncServer::start(vec![Reply::error(
        409,
        "ResourceInUseException",
        "dataset is being created",
    )])
    .await;
    let e = client(&server.url())
        .put_items(
            PutItemsInput::new("arn:aws:personalize:us-east-1:1:dataset/x").item(Item::new("i")),
        )
        .await
        .unwrap_err();
    match &e {
        Error::ResourceInUse {
            message,
            request_id,
        } => {
            assert_eq!(message.as_deref(), Some("dataset is being created"));
            assert_eq!(request_id.as_deref(), Some("req-0"));
        }
        other => panic!("not ResourceInUse: {other:?}"),
    }
    assert_eq!(server.request_count(), 1);
}
