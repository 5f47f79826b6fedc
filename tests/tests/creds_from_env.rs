//! `Client::from_env()` of each transport, reading this process's real
//! environment and the shared files under `$HOME`: region, endpoint
//! (including a profile's `services` section), retries and credentials
//! (profile keys, `credential_process`) are picked up and a loopback
//! Personalize Events endpoint is called successfully; `.profile(..)` and
//! values in code win.
//!
//! These are the only tests that change process variables: they hold one
//! lock for their whole run, clear every `AWS_*` variable first and restore
//! the variables (and `HOME`) afterwards. Everything else in the `creds_*`
//! tests passes `Environment` snapshots instead.
#![cfg(unix)]

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use personalize_events_core::{Credentials, RetryMode};
use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::TempHome;

static ENV_LOCK: Mutex<()> = Mutex::new(());

/// The process environment for one test: `AWS_*` cleared, `HOME` and
/// `vars` set; everything restored on drop.
struct ProcessEnv {
    saved: Vec<(OsString, Option<OsString>)>,
    _lock: MutexGuard<'static, ()>,
}

impl ProcessEnv {
    fn set(home: &TempHome, vars: &[(&str, &str)]) -> Self {
        let lock = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<OsString> = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with("AWS_"))
            .collect();
        names.push("HOME".into());
        names.extend(vars.iter().map(|(k, _)| OsString::from(k)));
        names.sort();
        names.dedup();
        let saved = names
            .into_iter()
            .map(|k| {
                let v = std::env::var_os(&k);
                (k, v)
            })
            .collect::<Vec<_>>();
        for (k, _) in &saved {
            std::env::remove_var(k);
        }
        std::env::set_var("HOME", home.dir());
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
        ProcessEnv { saved, _lock: lock }
    }
}

impl Drop for ProcessEnv {
    fn drop(&mut self) {
        let set_now: Vec<OsString> = std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| k.to_string_lossy().starts_with("AWS_"))
            .collect();
        for k in set_now {
            std::env::remove_var(k);
        }
        for (k, v) in &self.saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
}

/// A home with a `dev` profile (region, endpoint in a `services` section,
/// keys in the credentials file) and an `ops` profile (other region and
/// keys).
fn home_with_profiles(name: &str, endpoint: &str) -> TempHome {
    let home = TempHome::new(name);
    home.write(
        ".aws/config",
        &format!(
            "[profile dev]\nregion = eu-west-3\nservices = local\nretry_mode = adaptive\n\n\
             [services local]\npersonalize_events =\n  endpoint_url = {endpoint}\n\n\
             [profile ops]\nregion = us-east-2\nendpoint_url = {endpoint}\n"
        ),
    );
    home.write(
        ".aws/credentials",
        "[dev]\naws_access_key_id = AKIDDEVPROFILE\naws_secret_access_key = dev/profile/secret\n\n\
         [ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = ops/profile/secret\n",
    );
    home
}

fn local_server() -> LocalServer {
    LocalServer::builder()
        .credentials("AKIDDEVPROFILE", "dev/profile/secret")
        .credentials("AKIDOPSPROFILE", "ops/profile/secret")
        .start_blocking()
        .unwrap()
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn blocking_from_env_uses_the_profile_of_aws_profile() {
    let server = local_server();
    let home = home_with_profiles("fromenv-blocking", &server.endpoint_url());
    let _env = ProcessEnv::set(&home, &[("AWS_PROFILE", "dev")]);
    let client = personalize_events_blocking::Client::from_env().unwrap();
    let cfg = client.core().config();
    assert_eq!(cfg.region, "eu-west-3");
    assert_eq!(client.endpoint_url(), server.endpoint_url());
    assert_eq!(cfg.retry.mode, RetryMode::Adaptive);
    client.put_events(input_blocking()).unwrap();
    assert_eq!(server.records().len(), 1);
}

#[test]
fn async_from_env_uses_variables_and_credential_process() {
    let server = LocalServer::builder()
        .credential(Credentials::new(
            "AKIDFROMPROCESS",
            "process/secret",
            Some("process-token".into()),
        ))
        .start_blocking()
        .unwrap();
    let home = TempHome::new("fromenv-async");
    let cmd = home.script(
        "creds.sh",
        r#"echo '{"Version":1,"AccessKeyId":"AKIDFROMPROCESS","SecretAccessKey":"process/secret","SessionToken":"process-token"}'"#,
    );
    home.write(
        ".aws/config",
        &format!("[default]\ncredential_process = {cmd}\nregion = eu-west-1\n"),
    );
    let _env = ProcessEnv::set(
        &home,
        &[
            ("AWS_REGION", "ap-south-1"),
            (
                "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS",
                &server.endpoint_url(),
            ),
            ("AWS_MAX_ATTEMPTS", "4"),
        ],
    );
    runtime().block_on(async {
        let client = personalize_events_hyper::Client::from_env().unwrap();
        let cfg = client.core().config();
        assert_eq!(cfg.region, "ap-south-1");
        assert_eq!(cfg.endpoint.url(), server.endpoint_url());
        assert_eq!(cfg.retry.max_attempts, 4);
        client.put_events(input_async()).await.unwrap();
    });
    assert_eq!(server.records().len(), 1);
}

#[test]
fn blocking_profile_in_code_beats_aws_profile_and_environment_keys() {
    let server = local_server();
    let home = home_with_profiles("fromenv-profile-blocking", &server.endpoint_url());
    let _env = ProcessEnv::set(
        &home,
        &[
            ("AWS_PROFILE", "dev"),
            ("AWS_ACCESS_KEY_ID", "AKIDNOTACCEPTED"),
            ("AWS_SECRET_ACCESS_KEY", "not/accepted"),
        ],
    );
    let client = personalize_events_blocking::Client::builder()
        .with_env()
        .profile("ops")
        .build()
        .unwrap();
    assert_eq!(client.core().config().region, "us-east-2");
    client.put_events(input_blocking()).unwrap();

    // Without the profile in code, the environment's keys are used (and
    // refused by the server); the region set in code wins.
    let client = personalize_events_blocking::Client::builder()
        .with_env()
        .region("ca-central-1")
        .build()
        .unwrap();
    assert_eq!(client.core().config().region, "ca-central-1");
    let e = client.put_events(input_blocking()).unwrap_err();
    assert!(
        e.to_string().contains("AKIDNOTACCEPTED") || e.code().is_some(),
        "{e}"
    );
    assert_eq!(server.records().len(), 1);
}

#[test]
fn async_profile_in_code_beats_aws_profile_and_environment_keys() {
    let server = local_server();
    let home = home_with_profiles("fromenv-profile-async", &server.endpoint_url());
    let _env = ProcessEnv::set(
        &home,
        &[
            ("AWS_PROFILE", "dev"),
            ("AWS_ACCESS_KEY_ID", "AKIDNOTACCEPTED"),
            ("AWS_SECRET_ACCESS_KEY", "not/accepted"),
        ],
    );
    runtime().block_on(async {
        let client = personalize_events_hyper::ClientBuilder::from_env()
            .profile("ops")
            .build()
            .unwrap();
        assert_eq!(client.core().config().region, "us-east-2");
        client.put_events(input_async()).await.unwrap();

        let client = personalize_events_hyper::ClientBuilder::from_env()
            .region("ca-central-1")
            .build()
            .unwrap();
        assert_eq!(client.core().config().region, "ca-central-1");
        let e = client.put_events(input_async()).await.unwrap_err();
        assert_eq!(e.code(), Some("UnrecognizedClientException"), "{e}");
    });
    assert_eq!(server.records().len(), 1);
}
