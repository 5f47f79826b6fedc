//! EC2 instance metadata (IMDSv2) credentials through each transport: the
//! token handshake (`PUT /latest/api/token`, then every `GET` with the
//! token), a fake service that answers 401 to any request without a valid
//! token, and a token that expires mid-way (401) replaced by a fresh one.
//! The clients then call a loopback Personalize Events endpoint signed with
//! the instance role's credentials.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{imds, FakeServer, Issued, TempHome};

const ROLE: &str = "web-role";
const LIST: &str = "/latest/meta-data/iam/security-credentials/";
const CREDS: &str = "/latest/meta-data/iam/security-credentials/web-role";

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
    Issued::new(100 + n, Duration::from_secs(6 * 3600))
}

fn trace(server: &FakeServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|s| {
            let token = match (s.method.as_str(), s.header("x-aws-ec2-metadata-token")) {
                ("PUT", _) => {
                    assert_eq!(
                        s.header("x-aws-ec2-metadata-token-ttl-seconds"),
                        Some("21600")
                    );
                    ""
                }
                (_, Some(_)) => " +token",
                (_, None) => " NO TOKEN",
            };
            format!("{} {}{token}", s.method, s.path)
        })
        .collect()
}

/// What the fake answers a plain GET without a token: the IMDSv1 path is
/// closed, as on an instance requiring IMDSv2.
fn status_without_token(server: &FakeServer, path: &str) -> u16 {
    let addr = server.url("").trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split(' ').nth(1).unwrap().parse().unwrap()
}

fn env(
    home: &TempHome,
    imds: &FakeServer,
    endpoint: &str,
) -> personalize_events_credentials::Environment {
    home.env(&[
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url("/")),
        ("AWS_REGION", "us-west-2"),
        ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", endpoint),
    ])
}

#[test]
fn blocking_client_does_the_token_handshake() {
    let fake = imds(ROLE, &[], issued);
    assert_eq!(status_without_token(&fake, LIST), 401);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start_blocking()
        .unwrap();
    let home = TempHome::new("imds-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_eq!(
        trace(&fake)[1..],
        [
            "PUT /latest/api/token".to_string(),
            format!("GET {LIST} +token"),
            format!("GET {CREDS} +token"),
        ]
    );
    assert_eq!(server.records().len(), 2);
}

#[tokio::test]
async fn async_client_does_the_token_handshake() {
    let fake = imds(ROLE, &[], issued);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start()
        .await
        .unwrap();
    let home = TempHome::new("imds-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_eq!(
        trace(&fake),
        [
            "PUT /latest/api/token".to_string(),
            format!("GET {LIST} +token"),
            format!("GET {CREDS} +token"),
        ]
    );
    assert_eq!(server.records().len(), 2);
}

/// The first token is refused after one use, as an expired token is: the
/// client gets a fresh one and asks again.
const EXPIRED_TOKEN_TRACE: [&str; 5] = [
    "PUT /latest/api/token",
    "GET /latest/meta-data/iam/security-credentials/ +token",
    "GET /latest/meta-data/iam/security-credentials/web-role +token",
    "PUT /latest/api/token",
    "GET /latest/meta-data/iam/security-credentials/web-role +token",
];

#[test]
fn blocking_client_replaces_an_expired_token_after_401() {
    let fake = imds(ROLE, &[0], issued);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start_blocking()
        .unwrap();
    let home = TempHome::new("imds-401-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_eq!(trace(&fake), EXPIRED_TOKEN_TRACE);
    let tokens: Vec<_> = fake
        .requests()
        .iter()
        .filter_map(|s| s.header("x-aws-ec2-metadata-token").map(str::to_string))
        .collect();
    assert_ne!(tokens[1], tokens[2], "the retry uses the new token");
}

#[tokio::test]
async fn async_client_replaces_an_expired_token_after_401() {
    let fake = imds(ROLE, &[0], issued);
    let server = LocalServer::builder()
        .credential(issued(0).credentials())
        .start()
        .await
        .unwrap();
    let home = TempHome::new("imds-401-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &fake, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_eq!(trace(&fake), EXPIRED_TOKEN_TRACE);
}
