//! When no credentials can be found, or a configured source is broken, the
//! error names the source and the reason, identically in both transports:
//! the list of sources tried (with why each was passed over), an
//! unreachable instance metadata service given up on quickly, a role
//! profile without a source, partial environment keys refused at build.

use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use personalize_events_core::Error;
use personalize_events_credentials::Environment;
use personalize_events_tests::fake_aws::TempHome;

fn call_blocking(env: Environment) -> Error {
    use personalize_events_blocking::{ChainTimeouts, Client, Event, PutEventsInput};
    let client = Client::builder()
        .environment(env)
        .region("us-east-1")
        .endpoint_url("http://127.0.0.1:9")
        .credentials_timeouts(ChainTimeouts::default().with_imds(Duration::from_millis(300)))
        .build()
        .unwrap();
    client
        .put_events(PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now())))
        .unwrap_err()
}

fn call_async(env: Environment) -> Error {
    call_async_on(env, false).0
}

/// The async client's error and, on a `paused` clock, the time its timers
/// made it wait (the runtime's clock, not the machine's).
fn call_async_on(env: Environment, paused: bool) -> (Error, Duration) {
    use personalize_events_hyper::{ChainTimeouts, ClientBuilder, Event, PutEventsInput};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .unwrap();
    rt.block_on(async {
        let started = tokio::time::Instant::now();
        let client = ClientBuilder::new()
            .environment(env)
            .region("us-east-1")
            .endpoint_url("http://127.0.0.1:9")
            .credentials_timeouts(ChainTimeouts::default().with_imds(Duration::from_millis(300)))
            .build()
            .unwrap();
        let e = client
            .put_events(PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now())))
            .await
            .unwrap_err();
        (e, started.elapsed())
    })
}

fn both(env: Environment) -> [(&'static str, String, String); 2] {
    let split = |e: Error| match e {
        Error::Credentials {
            source_name,
            message,
        } => (source_name, message),
        other => panic!("not a credentials error: {other:?}"),
    };
    let (bs, bm) = split(call_blocking(env.clone()));
    let (hs, hm) = split(call_async(env));
    [("blocking", bs, bm), ("hyper", hs, hm)]
}

#[test]
fn no_credentials_lists_every_source_tried() {
    let home = TempHome::new("errors-none");
    for (client, source, message) in both(home.env(&[])) {
        assert_eq!(source, "default chain", "{client}");
        for part in [
            "no credentials found; tried: ",
            "environment (AWS_ACCESS_KEY_ID not set)",
            "web identity (environment) (AWS_WEB_IDENTITY_TOKEN_FILE not set)",
            "profile `default` (not found in ",
            "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)",
            "IMDSv2 (disabled by AWS_EC2_METADATA_DISABLED)",
        ] {
            assert!(message.contains(part), "{client}: `{part}` in {message}");
        }
    }
}

#[test]
fn unreachable_instance_metadata_is_given_up_quickly() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let home = TempHome::new("errors-imds");
    let endpoint = format!("http://127.0.0.1:{port}/");
    let env = home.env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]);
    // "Quickly" on the async client's paused clock: the timeouts and waits
    // it went through add up to under 5 s, whatever the machine's load.
    let (e, waited) = call_async_on(env.clone(), true);
    assert!(waited < Duration::from_secs(5), "{waited:?}: {e}");
    // Both clients drive the same core chain; for the blocking one, 60 s
    // is a hang guard only.
    let started = Instant::now();
    for (client, source, message) in both(env) {
        assert_eq!(source, "default chain", "{client}");
        assert!(
            message.contains(&format!("IMDSv2 (not reachable at http://127.0.0.1:{port}")),
            "{client}: {message}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn broken_role_profile_names_the_profile() {
    let home = TempHome::new("errors-role");
    home.write(
        ".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n",
    );
    for (client, source, message) in both(home.env(&[("AWS_PROFILE", "deploy")])) {
        assert_eq!(source, "profile `deploy`", "{client}");
        assert!(
            message.contains("sets role_arn without source_profile or credential_source"),
            "{client}: {message}"
        );
    }
}

#[test]
fn partial_environment_keys_fail_at_build() {
    let home = TempHome::new("errors-partial");
    let env = home.env(&[
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDPARTIAL"),
    ]);
    let b = personalize_events_blocking::Client::builder()
        .environment(env.clone())
        .build()
        .unwrap_err();
    let h = personalize_events_hyper::ClientBuilder::new()
        .environment(env)
        .build()
        .unwrap_err();
    for e in [b, h] {
        assert_eq!(
            e.to_string(),
            "credentials from environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
        );
    }
}
