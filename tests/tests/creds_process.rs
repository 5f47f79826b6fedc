//! `credential_process` in the shared config file: a small `sh` script run
//! by each transport, its credentials cached; a failing script and a
//! hanging one (killed at the timeout) give errors that name the source and
//! the reason. No process environment is read or changed: every client gets
//! an `Environment` snapshot.
#![cfg(unix)]

use std::time::{Duration, SystemTime};

use personalize_events_local::LocalServer;
use personalize_events_tests::fake_aws::{Issued, TempHome};

fn input_blocking() -> personalize_events_blocking::PutEventsInput {
    use personalize_events_blocking::{Event, PutEventsInput};
    PutEventsInput::new("tracking-id", "session-1")
        .user_id("user-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

fn input_async() -> personalize_events_hyper::PutEventsInput {
    use personalize_events_hyper::{Event, PutEventsInput};
    PutEventsInput::new("tracking-id", "session-1")
        .user_id("user-1")
        .event(Event::new("click", SystemTime::now()).item_id("item-1"))
}

/// A home whose default profile runs a script printing `issued` and
/// appending a line to `runs.log` at each run.
fn home_with_process(name: &str, issued: &Issued) -> TempHome {
    let home = TempHome::new(name);
    let log = home.path("runs.log");
    let cmd = home.script(
        "creds.sh",
        &format!(
            "echo run >> '{log}'\ncat <<'JSON'\n{}\nJSON",
            issued.process_json()
        ),
    );
    home.write(
        ".aws/config",
        &format!("[default]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
    );
    home
}

fn runs(home: &TempHome) -> usize {
    std::fs::read_to_string(home.path("runs.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A home whose profile `slow` runs a script that never finishes in time.
fn home_with_hanging_process(name: &str) -> TempHome {
    let home = TempHome::new(name);
    let cmd = home.script("hang.sh", "sleep 10\necho '{}'");
    home.write(
        ".aws/config",
        &format!("[profile slow]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
    );
    home
}

/// A home whose default profile runs a script that fails with a message.
fn home_with_failing_process(name: &str) -> TempHome {
    let home = TempHome::new(name);
    let cmd = home.script(
        "fail.sh",
        "echo 'session expired: run my-sso login' >&2\nexit 3",
    );
    home.write(
        ".aws/config",
        &format!("[default]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
    );
    home
}

fn credentials_error(e: &personalize_events_core::Error) -> (String, String) {
    match e {
        personalize_events_core::Error::Credentials {
            source_name,
            message,
        } => (source_name.clone(), message.clone()),
        other => panic!("not a credentials error: {other:?}"),
    }
}

#[test]
fn blocking_client_signs_with_the_process_credentials_and_runs_it_once() {
    let issued = Issued::new(1, Duration::from_secs(3600));
    let home = home_with_process("proc-blocking", &issued);
    let server = LocalServer::builder()
        .credential(issued.credentials())
        .start_blocking()
        .unwrap();
    let env = home.env(&[(
        "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS",
        &server.endpoint_url(),
    )]);
    let client = personalize_events_blocking::Client::builder()
        .environment(env)
        .build()
        .unwrap();
    assert_eq!(client.core().config().region, "eu-west-1");
    assert_eq!(runs(&home), 0, "credentials are resolved at the first call");
    for _ in 0..3 {
        client.put_events(input_blocking()).unwrap();
    }
    assert_eq!(runs(&home), 1, "the credentials are cached");
    assert_eq!(server.records().len(), 3);
}

#[tokio::test]
async fn async_client_signs_with_the_process_credentials_and_runs_it_once() {
    let issued = Issued::new(2, Duration::from_secs(3600));
    let home = home_with_process("proc-async", &issued);
    let server = LocalServer::builder()
        .credential(issued.credentials())
        .start()
        .await
        .unwrap();
    let env = home.env(&[(
        "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS",
        &server.endpoint_url(),
    )]);
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(env)
        .build()
        .unwrap();
    for _ in 0..3 {
        client.put_events(input_async()).await.unwrap();
    }
    assert_eq!(runs(&home), 1, "the credentials are cached");
    assert_eq!(server.records().len(), 3);
}

#[test]
fn blocking_hanging_process_is_killed_at_the_timeout() {
    let home = home_with_hanging_process("hang-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(home.env(&[]))
        .profile("slow")
        .credentials_timeouts(
            personalize_events_blocking::ChainTimeouts::default()
                .with_process(Duration::from_millis(300)),
        )
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    // The script sleeps 10 s: the message shows it was stopped at 0.3 s.
    let e = client.put_events(input_blocking()).unwrap_err();
    let (source, message) = credentials_error(&e);
    assert_eq!(source, "profile `slow`");
    assert!(
        message.contains("credential_process did not finish within 0.3 s and was stopped"),
        "{message}"
    );
}

#[tokio::test]
async fn async_hanging_process_is_killed_at_the_timeout() {
    let home = home_with_hanging_process("hang-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(home.env(&[]))
        .profile("slow")
        .credentials_timeouts(
            personalize_events_hyper::ChainTimeouts::default()
                .with_process(Duration::from_millis(300)),
        )
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    // The script sleeps 10 s: the message shows it was stopped at 0.3 s.
    let e = client.put_events(input_async()).await.unwrap_err();
    let (source, message) = credentials_error(&e);
    assert_eq!(source, "profile `slow`");
    assert!(
        message.contains("credential_process did not finish within 0.3 s and was stopped"),
        "{message}"
    );
}

/// A call given up while its `credential_process` runs (the caller's own
/// timeout drops the future) does not leave the process running.
#[tokio::test]
async fn async_dropped_call_kills_its_process() {
    let home = TempHome::new("drop-async");
    let pid_file = home.path("pid");
    // The shell itself becomes the `sleep` (what a kill reaches; a script
    // run by the shell would be a process of its own).
    home.write(
        ".aws/config",
        &format!(
            "[profile slow]\nregion = eu-west-1\n\
             credential_process = echo $$ > '{pid_file}'; exec sleep 10\n"
        ),
    );
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(home.env(&[]))
        .profile("slow")
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let call = client.put_events(input_async());
    assert!(tokio::time::timeout(Duration::from_millis(500), call)
        .await
        .is_err());
    let pid = std::fs::read_to_string(&pid_file).expect("the process started");
    let alive = || {
        std::process::Command::new("kill")
            .args(["-0", pid.trim()])
            .status()
            .is_ok_and(|s| s.success())
    };
    // Checked for at most 2 s (the runner looks every 20 ms at most).
    for _ in 0..40 {
        if !alive() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "credential_process {} still running after its call was dropped",
        pid.trim()
    );
}

#[test]
fn blocking_failing_process_reports_status_and_stderr() {
    let home = home_with_failing_process("fail-blocking");
    let client = personalize_events_blocking::Client::builder()
        .environment(home.env(&[]))
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let e = client.put_events(input_blocking()).unwrap_err();
    let (source, message) = credentials_error(&e);
    assert_eq!(source, "profile `default`");
    assert!(
        message.contains("exit status 3") && message.contains("session expired: run my-sso login"),
        "{message}"
    );
}

#[tokio::test]
async fn async_failing_process_reports_status_and_stderr() {
    let home = home_with_failing_process("fail-async");
    let client = personalize_events_hyper::ClientBuilder::new()
        .environment(home.env(&[]))
        .endpoint_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let e = client.put_events(input_async()).await.unwrap_err();
    let (source, message) = credentials_error(&e);
    assert_eq!(source, "profile `default`");
    assert!(
        message.contains("exit status 3") && message.contains("session expired: run my-sso login"),
        "{message}"
    );
}
