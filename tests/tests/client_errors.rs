//! The service's modeled errors (400, 404, 409) come back typed, with the
//! service's message and request id, after exactly one attempt; a refused
//! signature, a redirect, a body that is not JSON and an oversized body are
//! answers, not retried; bad input sends nothing. Every scenario runs
//! through the blocking client, the async client and (where no transport
//! is involved) core's `Call` driven directly.

use personalize_events_core::{
    Credentials, Error, Item, PutEventsInput, PutItemsInput, PutUsersInput, User,
};
use personalize_events_tests::client_tests;
use personalize_events_tests::clients::{events, AnyClient, Kind, Settings};
use personalize_events_tests::fake_service::{self, reply, FakeService, ReplyExt};

const DATASET: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";

fn client(kind: Kind, server: &FakeService) -> AnyClient {
    Settings::for_server(server).build(kind, server)
}

client_tests!([blocking, async, call]:
    invalid_input_is_typed_and_not_retried,
    resource_not_found_is_typed_and_not_retried,
    resource_in_use_is_typed_and_not_retried,
    wrong_secret_is_refused_by_the_server_and_not_retried,
    redirects_are_answers_not_followed,
    bad_input_sends_nothing,
    an_error_body_that_is_not_json_still_says_something,
);

// The transports cut the body they read; `Call` is handed what it is given.
client_tests!([blocking, async]: an_oversized_body_is_cut_not_fatal);

fn invalid_input_is_typed_and_not_retried(kind: Kind) {
    let server = FakeService::script(vec![
        reply::error(400, "InvalidInputException", "trackingId is not valid"),
        reply::error(400, "InvalidInputException", "trackingId is bad")
            .header("x-amzn-RequestId", "rid-400"),
    ]);
    let c = client(kind, &server);
    // The server's request id when it gives none of its own...
    let e = c.put_events(events()).unwrap_err();
    match &e {
        Error::InvalidInput {
            message,
            request_id,
        } => {
            assert_eq!(message.as_deref(), Some("trackingId is not valid"));
            assert_eq!(request_id.as_deref(), Some("req-0"));
        }
        other => panic!("not InvalidInput: {other:?}"),
    }
    assert_eq!(e.status(), Some(400));
    assert!(!e.is_retryable());
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].signature_ok());
    // ... and the one it gives.
    let e = c.put_events(events()).unwrap_err();
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
    assert_eq!(server.request_count(), 2, "one attempt each");
}

fn resource_not_found_is_typed_and_not_retried(kind: Kind) {
    let server = FakeService::script(vec![
        reply::error(404, "ResourceNotFoundException", "no such tracker"),
        reply::error(
            404,
            "ResourceNotFoundException",
            "tracker tracking-1 does not exist",
        )
        .header("x-amzn-RequestId", "rid-404"),
    ]);
    let c = client(kind, &server);
    let e = c.put_events(events()).unwrap_err();
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

    let e = c.put_events(events()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::ResourceNotFound { message: Some(m), request_id: Some(r) }
                if m == "tracker tracking-1 does not exist" && r == "rid-404"
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "ResourceNotFoundException (HTTP 404): tracker tracking-1 does not exist (request id rid-404)"
    );
    assert_eq!(server.requests().len(), 2);
}

fn resource_in_use_is_typed_and_not_retried(kind: Kind) {
    let server = FakeService::script(vec![reply::error(
        409,
        "ResourceInUseException",
        "dataset is being created",
    )]);
    let e = client(kind, &server)
        .put_items(PutItemsInput::new(DATASET).item(Item::new("i")))
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
    assert_eq!(server.requests().len(), 1);
}

fn wrong_secret_is_refused_by_the_server_and_not_retried(kind: Kind) {
    let server = FakeService::script(vec![]);
    let c = Settings::for_server(&server)
        .credentials(Credentials::new(
            fake_service::ACCESS_KEY_ID,
            "not-the-secret",
            None,
        ))
        .build(kind, &server);
    let e = c.put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert_eq!(server.requests().len(), 1);
    assert!(!server.requests()[0].signature_ok());
    // Another operation, the same answer.
    let e = c
        .put_users(PutUsersInput::new(DATASET).user(User::new("u")))
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert_eq!(server.requests().len(), 2);
    assert!(!server.requests()[1].signature_ok());
}

fn redirects_are_answers_not_followed(kind: Kind) {
    let server = FakeService::script(vec![
        reply::status(301).header("location", "http://127.0.0.1:9/elsewhere")
    ]);
    let e = client(kind, &server).put_events(events()).unwrap_err();
    assert!(matches!(e, Error::Service { status: 301, .. }), "{e:?}");
    assert_eq!(server.requests().len(), 1);
}

fn bad_input_sends_nothing(kind: Kind) {
    let server = FakeService::script(vec![]);
    let e = client(kind, &server)
        .put_events(PutEventsInput::new("tracking-1", "session-1"))
        .unwrap_err();
    assert!(matches!(e, Error::Validation { .. }), "{e:?}");
    assert!(e.is_local(), "{e}");
    assert!(server.requests().is_empty());
    assert_eq!(server.request_count(), 0);
}

fn an_error_body_that_is_not_json_still_says_something(kind: Kind) {
    let server = FakeService::script(vec![reply::respond(
        400,
        &[("content-type", "text/html")],
        b"<html>proxy says no</html>".to_vec(),
    )]);
    let e = client(kind, &server).put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("proxy says no"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

fn an_oversized_body_is_cut_not_fatal(kind: Kind) {
    let big = vec![b'x'; 3 << 20];
    let server = FakeService::script(vec![
        reply::respond(200, &[], big.clone()),
        reply::respond(400, &[], big),
    ]);
    let c = client(kind, &server);
    assert!(c.put_events(events()).is_ok());
    let e = c.put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("xxxx"), "{e}");
    assert!(e.to_string().len() < 4096);
    assert_eq!(server.requests().len(), 2);
}
