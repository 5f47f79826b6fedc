//! IAM Identity Center (SSO) profiles through each transport, against a
//! fake OIDC (`POST /token`) and portal (`GET /federation/credentials`) on
//! 127.0.0.1 (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL_SSO`): the
//! token `aws sso login` cached under `~/.aws/sso/cache/` is used, refreshed
//! with its refresh token when it expires (and written back), exchanged for
//! the role's credentials, which are cached until they expire; an expired
//! session with no refresh token says to run `aws sso login` for the profile.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_credentials::{sso_cache_file, Environment};
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{rfc3339, Answer, FakeServer, Issued, TempHome};

const CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n\
    sso_role_name = EventsWriter\nregion = eu-west-1\n\n[sso-session corp]\n\
    sso_start_url = https://corp.example/start\nsso_region = eu-central-1\n";

fn issued() -> Issued {
    Issued::new(700, Duration::from_secs(3600))
}

/// The fake OIDC + portal: the portal accepts only `token`; the OIDC
/// issues `NEW-ACCESS-TOKEN` for the refresh token `REFRESH-1`.
fn sso_server(token: Arc<Mutex<String>>) -> FakeServer {
    FakeServer::start(move |seen| {
        if seen.method == "POST" && seen.path == "/token" {
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap_or_default();
            if body["grantType"] == "refresh_token"
                && body["refreshToken"] == "REFRESH-1"
                && body["clientId"] == "client-1"
                && body["clientSecret"] == "CLIENT-SECRET"
            {
                *token.lock().unwrap() = "NEW-ACCESS-TOKEN".into();
                return Answer::json(
                    r#"{"accessToken":"NEW-ACCESS-TOKEN","expiresIn":28800,"refreshToken":"REFRESH-2","tokenType":"Bearer"}"#,
                );
            }
            return Answer::json(r#"{"error":"invalid_grant"}"#).status(400);
        }
        let want = "/federation/credentials?role_name=EventsWriter&account_id=111122223333";
        if seen.method == "GET" && seen.path == want {
            if seen.header("x-amz-sso_bearer_token") != Some(token.lock().unwrap().as_str()) {
                return Answer::json(r#"{"message":"Session token not found or invalid"}"#)
                    .status(401);
            }
            let i = issued();
            let ms = i.expires_at.duration_since(UNIX_EPOCH).unwrap().as_millis();
            return Answer::json(format!(
                r#"{{"roleCredentials":{{"accessKeyId":"{}","secretAccessKey":"{}","sessionToken":"{}","expiration":{ms}}}}}"#,
                i.access_key_id, i.secret_access_key, i.session_token
            ));
        }
        Answer::empty(404)
    })
}

/// A home with the config and a cached token expiring at `expires`.
fn setup(name: &str, expires: SystemTime, refresh: bool) -> (TempHome, std::path::PathBuf) {
    let home = TempHome::new(name);
    home.write(".aws/config", CONFIG);
    let mut cache = serde_json::json!({
        "startUrl": "https://corp.example/start",
        "region": "eu-central-1",
        "accessToken": "CACHED-ACCESS-TOKEN",
        "expiresAt": rfc3339(expires),
    });
    if refresh {
        cache["refreshToken"] = "REFRESH-1".into();
        cache["clientId"] = "client-1".into();
        cache["clientSecret"] = "CLIENT-SECRET".into();
        cache["registrationExpiresAt"] = rfc3339(expires + Duration::from_secs(86_400)).into();
    }
    let file = sso_cache_file(&home.env(&[]), "corp");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, cache.to_string()).unwrap();
    (home, file)
}

fn env(home: &TempHome, sso: &FakeServer, endpoint: &str) -> Environment {
    home.env(&[
        ("AWS_PROFILE", "dev"),
        ("AWS_ENDPOINT_URL_SSO", &sso.url("")),
        ("AWS_ENDPOINT_URL_SSO_OIDC", &sso.url("")),
        ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", endpoint),
    ])
}

fn portal_calls(sso: &FakeServer) -> usize {
    sso.requests()
        .iter()
        .filter(|s| s.path.starts_with("/federation/credentials"))
        .count()
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

fn assert_refreshed(sso: &FakeServer, file: &std::path::Path) {
    let seen = sso.requests();
    assert_eq!(seen[0].method, "POST", "{seen:?}");
    assert_eq!(seen[0].path, "/token");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    assert_eq!(written["accessToken"], "NEW-ACCESS-TOKEN");
    assert_eq!(written["refreshToken"], "REFRESH-2");
    assert_eq!(written["startUrl"], "https://corp.example/start");
    assert_eq!(portal_calls(sso), 1);
}

fn assert_login_hint(e: &personalize_events_core::Error) {
    let shown = format!("{e} / {e:?}");
    assert!(shown.contains("aws sso login --profile dev"), "{shown}");
    assert!(!shown.contains("CACHED-ACCESS-TOKEN"), "{shown}");
}

#[test]
fn blocking_client_uses_the_cached_token_and_caches_the_role_credentials() {
    let token = Arc::new(Mutex::new("CACHED-ACCESS-TOKEN".to_string()));
    let sso = sso_server(token);
    let server = LocalServer::builder()
        .credential(issued().credentials())
        .start_blocking()
        .unwrap();
    let (home, _) = setup(
        "sso-blocking",
        SystemTime::now() + Duration::from_secs(3600),
        false,
    );
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &sso, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_eq!(portal_calls(&sso), 1, "the role credentials are cached");
    assert_eq!(sso.requests().len(), 1, "no refresh for a valid token");
    assert_eq!(server.records().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_uses_the_cached_token_and_caches_the_role_credentials() {
    let token = Arc::new(Mutex::new("CACHED-ACCESS-TOKEN".to_string()));
    let sso = sso_server(token);
    let server = LocalServer::builder()
        .credential(issued().credentials())
        .start()
        .await
        .unwrap();
    let (home, _) = setup(
        "sso-async",
        SystemTime::now() + Duration::from_secs(3600),
        false,
    );
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &sso, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_eq!(portal_calls(&sso), 1, "the role credentials are cached");
    assert_eq!(sso.requests().len(), 1, "no refresh for a valid token");
    assert_eq!(server.records().len(), 2);
}

#[test]
fn blocking_client_refreshes_an_expired_token_and_writes_it_back() {
    let token = Arc::new(Mutex::new("not yet".to_string()));
    let sso = sso_server(token);
    let server = LocalServer::builder()
        .credential(issued().credentials())
        .start_blocking()
        .unwrap();
    let (home, file) = setup(
        "sso-refresh-blocking",
        SystemTime::now() - Duration::from_secs(60),
        true,
    );
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &sso, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_blocking()).unwrap();
    assert_refreshed(&sso, &file);
    assert_eq!(server.records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_refreshes_an_expired_token_and_writes_it_back() {
    let token = Arc::new(Mutex::new("not yet".to_string()));
    let sso = sso_server(token);
    let server = LocalServer::builder()
        .credential(issued().credentials())
        .start()
        .await
        .unwrap();
    let (home, file) = setup(
        "sso-refresh-async",
        SystemTime::now() - Duration::from_secs(60),
        true,
    );
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &sso, &server.endpoint_url()))
        .build()
        .unwrap();
    client.put_events(input_async()).await.unwrap();
    assert_refreshed(&sso, &file);
    assert_eq!(server.records().len(), 1);
}

#[test]
fn blocking_expired_session_without_refresh_token_says_to_log_in() {
    let sso = sso_server(Arc::new(Mutex::new(String::new())));
    let (home, _) = setup(
        "sso-expired-blocking",
        SystemTime::now() - Duration::from_secs(60),
        false,
    );
    let client = personalize_events_blocking::Client::builder()
        .environment(env(&home, &sso, "http://127.0.0.1:9"))
        .build()
        .unwrap();
    let e = client.put_events(input_blocking()).unwrap_err();
    assert_login_hint(&e);
    assert!(sso.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_expired_session_without_refresh_token_says_to_log_in() {
    let sso = sso_server(Arc::new(Mutex::new(String::new())));
    let (home, _) = setup(
        "sso-expired-async",
        SystemTime::now() - Duration::from_secs(60),
        false,
    );
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env(&home, &sso, "http://127.0.0.1:9"))
        .build()
        .unwrap();
    let e = client.put_events(input_async()).await.unwrap_err();
    assert_login_hint(&e);
    assert!(sso.requests().is_empty());
}
