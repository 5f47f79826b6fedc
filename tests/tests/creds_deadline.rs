//! Resolving credentials is part of the operation: a `credential_process`
//! slower than the operation timeout ends the call at that timeout, in both
//! clients, with `OperationTimeout` naming credential resolution (and the
//! process is stopped). The script would run for 30 s; before the fix the
//! calls waited for it and failed with a credentials error.
#![cfg(unix)]

use std::time::{Duration, SystemTime};

use personalize_events_core::Error;
use personalize_events_tests::fake_aws::TempHome;

/// A home whose default profile runs a script that sleeps 30 s, far below
/// its 60 s `credential_process` timeout.
fn home_with_slow_process(name: &str) -> TempHome {
    let home = TempHome::new(name);
    let cmd = home.script("slow.sh", "sleep 30\necho '{}'");
    home.write(
        ".aws/config",
        &format!("[default]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
    );
    home
}

fn assert_credentials_timeout(e: &Error) {
    match e {
        Error::OperationTimeout { attempts, last, .. } => {
            assert_eq!(*attempts, 0, "{e}");
            assert!(last.contains("resolving credentials"), "{e}");
        }
        other => panic!("expected the operation timeout, got {other:?}"),
    }
}

fn timeouts() -> personalize_events_core::Timeouts {
    personalize_events_core::Timeouts::default().with_operation(Duration::from_millis(300))
}

#[test]
fn blocking_credential_process_is_bounded_by_the_operation_timeout() {
    use personalize_events_blocking::{Client, Event, PutEventsInput};
    let home = home_with_slow_process("deadline-blocking");
    let client = Client::builder()
        .environment(home.env(&[]))
        .endpoint_url("http://127.0.0.1:9")
        .timeouts(timeouts())
        .build()
        .unwrap();
    let e = client
        .put_events(PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now())))
        .unwrap_err();
    assert_credentials_timeout(&e);
}

#[tokio::test]
async fn async_credential_process_is_bounded_by_the_operation_timeout() {
    use personalize_events_hyper::{ClientBuilder, Event, PutEventsInput};
    let home = home_with_slow_process("deadline-async");
    let client = ClientBuilder::new()
        .environment(home.env(&[]))
        .endpoint_url("http://127.0.0.1:9")
        .timeouts(timeouts())
        .build()
        .unwrap();
    let e = client
        .put_events(PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now())))
        .await
        .unwrap_err();
    assert_credentials_timeout(&e);
}
