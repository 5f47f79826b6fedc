//! ECS / EKS container credentials through each transport:
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` on 127.0.0.1 with the authorization
//! token read from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS Pod
//! Identity), then a call signed with the task role's credentials; a
//! rejected token gives an error naming the source and the status.

use std::time::{Duration, SystemTime};

use personalize_events_credentials::Environment;
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{container, FakeServer, Issued, TempHome};

const PATH: &str = "/v2/credentials/task-7";
const TOKEN: &str = "eks-pod-identity-token-EXAMPLE";

fn input_blocking() -> personalize_events_blocking::PutEventsInput {
    use personalize_events_blocking::{Event, PutEventsInput};
    PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

fn input_async() -> personalize_events_hyper::PutEventsInput {
    use personalize_events_hyper::{Event, PutEventsInput};
    PutEventsInput::new("tracking-id", "session-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

fn issued(n: u32) -> Issued {
    Issued::new(200 + n, Duration::from_secs(3600))
}

fn env(home: &TempHome, fake: &FakeServer, token: &str, endpoint: &str) -> Environment {
    let token_file = home.write("pod-token", &format!("{token}\n"));
    home.env(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &fake.url(PATH)),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            &token_file.display().to_string(),
        ),
        ("AWS_DEFAULT_REGION", "ap-southeast-2"),
        ("AWS_ENDPOINT_URL", endpoint),
    ])
}

fn assert_one_authorized_fetch(fake: &FakeServer) {
    let seen = fake.requests();
    assert_eq!(seen.len(), 1, "one fetch for two calls");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, PATH);
    assert_eq!(seen[0].header("authorization"), Some(TOKEN));
}

fn assert_rejected(e: &personalize_events_core::Error, fake: &FakeServer) {
    match e {
        personalize_events_core::Error::Credentials {
            source_name,
            message,
        } => {
            assert_eq!(source_name, "container credentials");
            assert!(
                message.contains(&fake.url(PATH)) && message.contains("401"),
                "{message}"
            );
            assert!(message.contains("invalid authorization token"), "{message}");
        }
        other => panic!("not a credentials error: {other:?}"),
    }
}

#[test]
fn blocking_client_uses_container_credentials() {
    let fake = container(PATH, Some(TOKEN), Duration::ZERO, issued);
    let server = LocalServer::builder()
        .region("ap-southeast-2")
        .credential(issued(0).credentials())
        .start_blocking()
        .unwrap();
    let home = TempHome::new("container-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &fake, TOKEN, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_one_authorized_fetch(&fake);
    assert_eq!(server.records().len(), 2);
}

#[tokio::test]
async fn async_client_uses_container_credentials() {
    let fake = container(PATH, Some(TOKEN), Duration::ZERO, issued);
    let server = LocalServer::builder()
        .region("ap-southeast-2")
        .credential(issued(0).credentials())
        .start()
        .await
        .unwrap();
    let home = TempHome::new("container-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &fake, TOKEN, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_one_authorized_fetch(&fake);
    assert_eq!(server.records().len(), 2);
}

#[test]
fn blocking_rejected_token_names_the_source_and_status() {
    let fake = container(PATH, Some(TOKEN), Duration::ZERO, issued);
    let home = TempHome::new("container-401-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &fake, "stale-token", "http://127.0.0.1:9"))
        .build()
        .unwrap();
    let e = client.put_events(input_blocking()).unwrap_err();
    assert_rejected(&e, &fake);
    assert!(!e.to_string().contains("stale-token"), "{e}");
}

#[tokio::test]
async fn async_rejected_token_names_the_source_and_status() {
    let fake = container(PATH, Some(TOKEN), Duration::ZERO, issued);
    let home = TempHome::new("container-401-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &fake, "stale-token", "http://127.0.0.1:9"))
        .build()
        .unwrap();
    let e = client.put_events(input_async()).await.unwrap_err();
    assert_rejected(&e, &fake);
    assert!(!e.to_string().contains("stale-token"), "{e}");
}
