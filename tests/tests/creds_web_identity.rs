//! Web identity (EKS IRSA) through each transport: the token file and role
//! from `AWS_WEB_IDENTITY_TOKEN_FILE` / `AWS_ROLE_ARN` /
//! `AWS_ROLE_SESSION_NAME`, exchanged with a fake STS on 127.0.0.1
//! (`AWS_ENDPOINT_URL_STS`) that checks the query-protocol form and answers
//! like the real one; the client then calls a loopback endpoint with the
//! role's credentials. A refused token gives STS's code, never the token.

use std::time::{Duration, SystemTime};

use personalize_events_credentials::Environment;
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{sts_web_identity, FakeServer, Issued, TempHome};

const ROLE: &str = "arn:aws:iam::123456789012:role/irsa-events";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.FAKE-WEB-IDENTITY.c2lnbmF0dXJl";

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
    Issued::new(300 + n, Duration::from_secs(3600))
}

fn env(home: &TempHome, sts: &FakeServer, token: &str, endpoint: &str) -> Environment {
    let file = home.write("web-identity-token", token);
    home.env(&[
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &file.display().to_string()),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ROLE_SESSION_NAME", "events-writer"),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_ENDPOINT_URL_STS", &sts.url("/")),
        ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", endpoint),
    ])
}

fn assert_one_exchange(sts: &FakeServer) {
    let seen = sts.requests();
    assert_eq!(seen.len(), 1, "one exchange for two calls");
    let form = seen[0].form();
    assert_eq!(form["Action"], "AssumeRoleWithWebIdentity");
    assert_eq!(form["Version"], "2011-06-15");
    assert_eq!(form["RoleArn"], ROLE);
    assert_eq!(form["RoleSessionName"], "events-writer");
    assert_eq!(form["WebIdentityToken"], TOKEN);
    assert!(seen[0]
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")));
    assert!(
        seen[0].header("authorization").is_none(),
        "AssumeRoleWithWebIdentity is not signed"
    );
}

fn assert_refused(e: &personalize_events_core::Error) {
    let shown = format!("{e} / {e:?}");
    assert!(shown.contains("InvalidIdentityToken"), "{shown}");
    assert!(shown.contains(ROLE), "{shown}");
    assert!(
        !shown.contains("not-the-right-token"),
        "the token is never shown: {shown}"
    );
    assert!(
        matches!(e, personalize_events_core::Error::Credentials { source_name, .. } if source_name.contains("web identity")),
        "{e:?}"
    );
}

#[test]
fn blocking_client_assumes_the_role_with_web_identity() {
    let sts = sts_web_identity(ROLE, TOKEN.into(), issued);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start_blocking()
        .unwrap();
    let home = TempHome::new("webid-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &sts, TOKEN, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_one_exchange(&sts);
    assert_eq!(server.records().len(), 2);
}

#[tokio::test]
async fn async_client_assumes_the_role_with_web_identity() {
    let sts = sts_web_identity(ROLE, TOKEN.into(), issued);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start()
        .await
        .unwrap();
    let home = TempHome::new("webid-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &sts, TOKEN, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_one_exchange(&sts);
    assert_eq!(server.records().len(), 2);
}

#[test]
fn blocking_refused_token_reports_sts_error_without_the_token() {
    let sts = sts_web_identity(ROLE, TOKEN.into(), issued);
    let home = TempHome::new("webid-bad-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(
            &home,
            &sts,
            "not-the-right-token",
            "http://127.0.0.1:9",
        ))
        .build()
        .unwrap();
    let e = client.put_events(input_blocking()).unwrap_err();
    assert_refused(&e);
}

#[tokio::test]
async fn async_refused_token_reports_sts_error_without_the_token() {
    let sts = sts_web_identity(ROLE, TOKEN.into(), issued);
    let home = TempHome::new("webid-bad-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(
            &home,
            &sts,
            "not-the-right-token",
            "http://127.0.0.1:9",
        ))
        .build()
        .unwrap();
    let e = client.put_events(input_async()).await.unwrap_err();
    assert_refused(&e);
}
