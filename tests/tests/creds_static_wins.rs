//! Credentials given in code win: with an environment and profile full of
//! other sources (environment keys, a `credential_process`, a container
//! endpoint), a client built with `credentials(..)` or a provider of its
//! own signs with those and never runs the chain: the container endpoint
//! sees no request and the process never runs. Region and endpoint still
//! come from the environment.

use std::path::Path;
use std::time::{Duration, SystemTime};

use personalize_events_core::Credentials;
use personalize_events_credentials::Environment;
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{container, FakeServer, Issued, TempHome};

const AKID: &str = "AKIDFROMCODE";
const SECRET: &str = "from-code/secret/key";

fn code_credentials() -> Credentials {
    Credentials::new(AKID, SECRET, None)
}

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

/// Every other source is configured: a profile with a process that leaves
/// a marker, a container endpoint, and keys in
/// the environment that the server does not accept.
fn everything_else(home: &TempHome, fake: &FakeServer, endpoint: &str) -> Environment {
    let marker = home.path("process-ran");
    let cmd = home.script("creds.sh", &format!("touch '{marker}'\nexit 1"));
    home.write(
        ".aws/config",
        &format!("[profile other]\nregion = sa-east-1\ncredential_process = {cmd}\n"),
    );
    home.env(&[
        ("AWS_PROFILE", "other"),
        ("AWS_ACCESS_KEY_ID", "AKIDENVIRONMENT"),
        ("AWS_SECRET_ACCESS_KEY", "environment-secret"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &fake.url("/creds")),
        ("AWS_ENDPOINT_URL", endpoint),
    ])
}

fn fake() -> FakeServer {
    container("/creds", None, Duration::ZERO, |n| {
        Issued::new(500 + n, Duration::from_secs(3600))
    })
}

fn assert_chain_unused(home: &TempHome, fake: &FakeServer) {
    assert!(
        fake.requests().is_empty(),
        "the container endpoint was asked"
    );
    assert!(
        !Path::new(&home.path("process-ran")).exists(),
        "the credential_process ran"
    );
}

#[test]
fn blocking_static_credentials_skip_the_chain() {
    let fake = fake();
    let server = LocalServer::builder()
        .credentials(AKID, SECRET)
        .start_blocking()
        .unwrap();
    let home = TempHome::new("static-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(everything_else(&home, &fake, &server.endpoint_url()))
        .credentials(code_credentials())
        .build()
        .unwrap();
    assert_eq!(client.core().config().region, "sa-east-1");
    client.put_events(input_blocking()).unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_chain_unused(&home, &fake);

    // A provider of one's own wins the same way, even with a profile
    // chosen in code.
    let client = personalize_events_blocking::Client::builder()
        .environment(everything_else(&home, &fake, &server.endpoint_url()))
        .profile("other")
        .credentials_provider(|| Ok(code_credentials()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_chain_unused(&home, &fake);
    assert_eq!(server.records().len(), 3);
}

#[derive(Debug)]
struct Vault;

impl personalize_events_hyper::ProvideCredentials for Vault {
    fn provide(&self) -> personalize_events_hyper::ProvideCredentialsFuture<'_> {
        Box::pin(async { Ok(code_credentials()) })
    }
}

#[tokio::test]
async fn async_static_credentials_skip_the_chain() {
    let fake = fake();
    let server = LocalServer::builder()
        .credentials(AKID, SECRET)
        .start()
        .await
        .unwrap();
    let home = TempHome::new("static-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(everything_else(&home, &fake, &server.endpoint_url()))
        .credentials(code_credentials())
        .build()
        .unwrap();
    assert_eq!(client.core().config().region, "sa-east-1");
    client.put_events(input_async()).await.unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_chain_unused(&home, &fake);

    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(everything_else(&home, &fake, &server.endpoint_url()))
        .profile("other")
        .credentials_provider(Vault)
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_chain_unused(&home, &fake);
    assert_eq!(server.records().len(), 3);
}
