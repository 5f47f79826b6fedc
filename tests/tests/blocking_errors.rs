//! The blocking client: the service's modeled errors come back typed, with
//! message and request id, and are not retried.

use std::time::{Duration, UNIX_EPOCH};

use personalize_events_blocking::*;
use personalize_events_tests::scripted_server::{self, Reply, ScriptedServer};

fn client(server: &ScriptedServer) -> Client {
    Client::builder()
        .region("us-east-1")
        .credentials(scripted_server::credentials())
        .endpoint_url(server.url())
        .retry_config(RetryConfig::default().with_initial_backoff(Duration::from_millis(5)))
        .build()
        .unwrap()
}

fn events() -> PutEventsInput {
    PutEventsInput::new("tracking-1", "session-1").event(Event::new(
        "click",
        UNIX_EPOCH + Duration::from_secs(1_795_953_540),
    ))
}

#[test]
fn invalid_input_is_typed_and_not_retried() {
    let server = ScriptedServer::start(vec![Reply::error(
        400,
        "InvalidInputException",
        "trackingId is not valid",
    )]);
    let e = client(&server).put_events(events()).unwrap_err();
    match &e {
        Error::InvalidInput {
            message,
            request_id,
        } => {
            assert_eq!(message.as_deref(), Some("trackingId is not valid"));
            assert_eq!(request_id.as_deref(), Some("req-0"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status(), Some(400));
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].signature_ok());
}

#[test]
fn resource_not_found_is_typed_and_not_retried() {
    let server = ScriptedServer::start(vec![Reply::error(
        404,
        "ResourceNotFoundException",
        "tracker tracking-1 does not exist",
    )
    .header("x-amzn-RequestId", "rid-404")]);
    let e = client(&server).put_events(events()).unwrap_err();
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
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn resource_in_use_is_typed_and_not_retried() {
    let server = ScriptedServer::start(vec![Reply::error(
        409,
        "ResourceInUseException",
        "dataset is being created",
    )]);
    let arn = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";
    let e = client(&server)
        .put_items(PutItemsInput::new(arn).item(Item::new("i")))
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::ResourceInUse { message: Some(m), request_id: Some(r) }
                if m == "dataset is being created" && r == "req-0"
        ),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn wrong_secret_is_refused_by_the_server_and_not_retried() {
    let server = ScriptedServer::start(vec![]);
    let client = Client::builder()
        .region("us-east-1")
        .credentials(Credentials::new("AKIDEXAMPLE", "not-the-secret", None))
        .endpoint_url(server.url())
        .build()
        .unwrap();
    let e = client.put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some("InvalidSignatureException"));
    assert_eq!(server.requests().len(), 1);
    assert!(!server.requests()[0].signature_ok());
}

#[test]
fn redirects_are_answers_not_followed() {
    let server = ScriptedServer::start(vec![
        Reply::status(301).header("location", "http://127.0.0.1:9/elsewhere")
    ]);
    let e = client(&server).put_events(events()).unwrap_err();
    assert!(matches!(e, Error::Service { status: 301, .. }), "{e:?}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn bad_input_sends_nothing() {
    let server = ScriptedServer::start(vec![]);
    let e = client(&server)
        .put_events(PutEventsInput::new("tracking-1", "session-1"))
        .unwrap_err();
    assert!(matches!(e, Error::Validation { .. }), "{e:?}");
    assert!(e.is_local());
    assert!(server.requests().is_empty());
}

#[test]
fn an_error_body_that_is_not_json_still_says_something() {
    let server = ScriptedServer::start(vec![Reply::Respond {
        status: 400,
        headers: vec![("content-type".into(), "text/html".into())],
        body: b"<html>proxy says no</html>".to_vec(),
    }]);
    let e = client(&server).put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("proxy says no"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn an_oversized_body_is_cut_not_fatal() {
    let big = vec![b'x'; 3 << 20];
    let server = ScriptedServer::start(vec![
        Reply::Respond {
            status: 200,
            headers: vec![],
            body: big.clone(),
        },
        Reply::Respond {
            status: 400,
            headers: vec![],
            body: big,
        },
    ]);
    let c = client(&server);
    assert!(c.put_events(events()).is_ok());
    let e = c.put_events(events()).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("xxxx"), "{e}");
    assert!(e.to_string().len() < 4096);
    assert_eq!(server.requests().len(), 2);
}
