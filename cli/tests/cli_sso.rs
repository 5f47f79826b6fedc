//! The tool sends with an IAM Identity Center (SSO) profile: the token of
//! `aws sso login` in `~/.aws/sso/cache/` is exchanged at a fake portal on
//! 127.0.0.1 (`AWS_ENDPOINT_URL_SSO`) for the role's credentials; an expired
//! session tells the user to run `aws sso login` for the profile.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use personalize_events_core::Credentials;
use personalize_events_credentials::{sso_cache_file, Environment};
use personalize_events_local::LocalServer;

/// RFC 3339, as the AWS CLI writes `expiresAt`.
fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A portal answering role credentials for the bearer token `SSO-TOKEN`,
/// for at most 30 s and 5 connections; returns its URL and the request
/// heads it saw.
fn fake_portal() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        while served < 5 && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            served += 1;
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16_384 {
                if conn.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let ok = head
                .to_ascii_lowercase()
                .contains("x-amz-sso_bearer_token: sso-token\r\n");
            log.lock().unwrap().push(head);
            let expires = SystemTime::now() + Duration::from_secs(3600);
            let ms = expires.duration_since(UNIX_EPOCH).unwrap().as_millis();
            let (status, body) = if ok {
                (
                    "200 OK",
                    format!(
                        r#"{{"roleCredentials":{{"accessKeyId":"ASIASSOCLI","secretAccessKey":"sso/secret","sessionToken":"sso-session-token","expiration":{ms}}}}}"#
                    ),
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"message":"Session token not found or invalid"}"#.to_string(),
                )
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn setup(dir: &TempDir, expires: SystemTime) -> std::path::PathBuf {
    let config = dir.write(
        "sso-config",
        "[profile corp-dev]\nsso_session = corp\nsso_account_id = 111122223333\n\
         sso_role_name = EventsWriter\nregion = eu-west-1\n\n[sso-session corp]\n\
         sso_start_url = https://corp.example/start\nsso_region = eu-central-1\n",
    );
    let env = Environment::from_vars([("HOME", dir.path().display().to_string())]);
    let cache = sso_cache_file(&env, "corp");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    std::fs::write(
        &cache,
        format!(
            r#"{{"startUrl":"https://corp.example/start","region":"eu-central-1","accessToken":"SSO-TOKEN","expiresAt":"{}"}}"#,
            rfc3339(expires)
        ),
    )
    .unwrap();
    config
}

#[test]
fn an_sso_profile_sends_with_the_role_credentials() {
    let dir = TempDir::new("sso");
    let (portal, seen) = fake_portal();
    let server = LocalServer::builder()
        .credential(Credentials::new(
            "ASIASSOCLI",
            "sso/secret",
            Some("sso-session-token".into()),
        ))
        .start_blocking()
        .unwrap();
    let config = setup(&dir, SystemTime::now() + Duration::from_secs(3600));
    let input = dir.write("events.jsonl", &events(5, 1));
    let out = run(bin(&dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL_SSO", &portal)
        .args(["put-events", "--profile", "corp-dev", "--tracking-id", "t"])
        .arg("--endpoint-url")
        .arg(server.endpoint_url())
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 5);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with(
            "GET /federation/credentials?role_name=EventsWriter&account_id=111122223333 HTTP/1.1"
        ),
        "{seen:?}"
    );
}

#[test]
fn an_expired_sso_session_says_to_log_in() {
    let dir = TempDir::new("sso-expired");
    let config = setup(&dir, SystemTime::now() - Duration::from_secs(60));
    let input = dir.write("events.jsonl", &events(2, 1));
    let out = run(bin(&dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")
        .args(["put-events", "--profile", "corp-dev", "--tracking-id", "t"])
        .arg("--endpoint-url")
        .arg("http://127.0.0.1:9")
        .arg(&input));
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("aws sso login --profile corp-dev"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("SSO-TOKEN"), "{}", out.stderr);
}
