//! Resolving credentials is part of the operation: a `credential_process`
//! slower than the operation timeout ends the call at that timeout, in both
//! clients, with `OperationTimeout` naming credential resolution (and the
//! process is stopped). Two scripts: one that sleeps 30 s (before the fix
//! the calls waited for it and failed with a credentials error), and one
//! that answers at once but leaves a process running that holds its output
//! open for 30 s (before the fix the blocking client waited for that end of
//! output, 30 s, past its 300 ms operation timeout).
#![cfg(unix)]

use std::time::{Duration, SystemTime};

use personalize_events_core::Error;
use personalize_events_tests::fake_aws::TempHome;

/// The two slow scripts: each ends its output 30 s after it starts, far
/// below the 60 s `credential_process` timeout.
const SLOW_SCRIPTS: [(&str, &str); 2] = [
    ("sleeps", "sleep 30\necho '{}'"),
    (
        "leaves-a-process",
        "sleep 30 &\necho '{\"Version\": 1, \"AccessKeyId\": \"AKID\", \"SecretAccessKey\": \"s\"}'",
    ),
];

/// A home whose default profile runs `script`.
fn home_with_slow_process(name: &str, script: &str) -> TempHome {
    let home = TempHome::new(name);
    let cmd = home.script("slow.sh", script);
    home.write(
        ".aws/config",
        &format!("[default]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
    );
    home
}

fn assert_credentials_timeout(e: &Error, script: &str) {
    match e {
        Error::OperationTimeout { attempts, last, .. } => {
            assert_eq!(*attempts, 0, "{script}: {e}");
            assert!(last.contains("resolving credentials"), "{script}: {e}");
        }
        other => panic!("{script}: expected the operation timeout, got {other:?}"),
    }
}

fn timeouts() -> personalize_events_core::Timeouts {
    personalize_events_core::Timeouts::default().with_operation(Duration::from_millis(300))
}

#[test]
fn blocking_credential_process_is_bounded_by_the_operation_timeout() {
    use personalize_events_blocking::{Client, Event, PutEventsInput};
    for (name, script) in SLOW_SCRIPTS {
        let home = home_with_slow_process(&format!("deadline-blocking-{name}"), script);
        let client = Client::builder()
            .environment(home.env(&[]))
            .endpoint_url("http://127.0.0.1:9")
            .timeouts(timeouts())
            .build()
            .unwrap();
        let input = PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        let e = client.put_events(input).unwrap_err();
        assert_credentials_timeout(&e, name);
    }
}

#[tokio::test]
async fn async_credential_process_is_bounded_by_the_operation_timeout() {
    use personalize_events_hyper::{ClientBuilder, Event, PutEventsInput};
    for (name, script) in SLOW_SCRIPTS {
        let home = home_with_slow_process(&format!("deadline-async-{name}"), script);
        let client = ClientBuilder::new()
            .environment(home.env(&[]))
            .endpoint_url("http://127.0.0.1:9")
            .timeouts(timeouts())
            .build()
            .unwrap();
        let input = PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        let e = client.put_events(input).await.unwrap_err();
        assert_credentials_timeout(&e, name);
    }
}
