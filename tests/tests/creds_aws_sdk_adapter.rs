//! `AwsSdkCredentials` (feature `aws-config-adapter` of the hyper crate):
//! any provider of the AWS SDK for Rust signs the async client's calls
//! unchanged, its expiry is carried over (credentials are cached until 5
//! minutes before it, and fetched once for 20 concurrent calls), and its
//! errors name the provider and keep their causes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use personalize_events_hyper::{AwsSdkCredentials, Client, Error, Event, PutEventsInput};
use personalize_events_local::LocalServer;

const AKID: &str = "ASIASDKEXAMPLE";
const SECRET: &str = "sdk/secret/key/EXAMPLE";
const TOKEN: &str = "sdk-session-token-EXAMPLE";

fn sdk_credentials(valid_for: Duration) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(
        AKID,
        SECRET,
        Some(TOKEN.into()),
        Some(SystemTime::now() + valid_for),
        "test",
    )
}

fn server_credentials() -> personalize_events_hyper::Credentials {
    personalize_events_hyper::Credentials::new(AKID, SECRET, Some(TOKEN.into()))
}

fn input(i: usize) -> PutEventsInput {
    PutEventsInput::new("tracking-id", format!("session-{i}"))
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

/// An SDK provider that counts its calls and answers after a short delay.
#[derive(Debug)]
struct Counting {
    calls: Arc<AtomicU32>,
    valid_for: Duration,
}

impl ProvideCredentials for Counting {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(sdk_credentials(self.valid_for))
        })
    }
}

/// An SDK provider that always fails, as an expired SSO session does.
#[derive(Debug)]
struct Failing;

impl ProvideCredentials for Failing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::provider_error(
            "the SSO session has expired; run `aws sso login`",
        )))
    }
}

async fn client_with(
    server: &LocalServer,
    provider: impl personalize_events_hyper::ProvideCredentials + 'static,
) -> Client {
    Client::builder()
        .region("us-east-1")
        .endpoint_url(server.endpoint_url())
        .credentials_provider(provider)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sdk_static_credentials_sign_calls() {
    let server = LocalServer::builder()
        .credential(server_credentials())
        .start()
        .await
        .unwrap();
    let provider = AwsSdkCredentials::new(sdk_credentials(Duration::from_secs(3600)));
    let shown = format!("{provider:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
    let client = client_with(&server, provider).await;
    client.put_events(input(0)).await.unwrap();
    assert_eq!(server.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_provider_is_cached_and_asked_once_by_concurrent_calls() {
    let server = LocalServer::builder()
        .credential(server_credentials())
        .start()
        .await
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let client = client_with(
        &server,
        AwsSdkCredentials::new(Counting {
            calls: calls.clone(),
            valid_for: Duration::from_secs(3600),
        }),
    )
    .await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.put_events(input(i)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    client.put_events(input(20)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(server.records().len(), 21);
}

#[tokio::test]
async fn sdk_expiry_is_carried_over() {
    let server = LocalServer::builder()
        .credential(server_credentials())
        .start()
        .await
        .unwrap();
    // Within the 5-minute margin: every call asks again.
    let calls = Arc::new(AtomicU32::new(0));
    let client = client_with(
        &server,
        AwsSdkCredentials::new(Counting {
            calls: calls.clone(),
            valid_for: Duration::from_secs(120),
        }),
    )
    .await;
    for i in 0..3 {
        client.put_events(input(i)).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn sdk_errors_name_the_provider_and_the_reason() {
    let server = LocalServer::builder().start().await.unwrap();
    let client = client_with(&server, AwsSdkCredentials::new(Failing)).await;
    let e = client.put_events(input(0)).await.unwrap_err();
    match &e {
        Error::Credentials {
            source_name,
            message,
        } => {
            assert_eq!(source_name, "AWS SDK credentials provider");
            assert!(
                message.contains("an error occurred while loading credentials")
                    && message.contains("the SSO session has expired; run `aws sso login`"),
                "{message}"
            );
        }
        other => panic!("not a credentials error: {other:?}"),
    }
    assert_eq!(server.records().len(), 0);
}
