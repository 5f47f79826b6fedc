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

use personalize_events_core::{Credentials, Error, Event, PutEventsInput};
use personalize_events_tests::clients::{runtime, Kind, Settings};
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

fn credential_process_is_bounded_by_the_operation_timeout(kind: Kind) {
    for (name, script) in SLOW_SCRIPTS {
        let home = TempHome::new(&format!("deadline-{kind:?}-{name}"));
        let cmd = home.script("slow.sh", script);
        home.write(
            ".aws/config",
            &format!("[default]\nregion = eu-west-1\ncredential_process = {cmd}\n"),
        );
        let settings = Settings::new(
            "http://127.0.0.1:9",
            Credentials::new("unused", "unused", None),
        )
        .environment(home.env(&[]))
        .operation_timeout(Duration::from_millis(300));
        let client = match kind {
            Kind::Blocking => settings.blocking(),
            _ => settings.hyper(runtime()),
        };
        let input = PutEventsInput::new("t", "s").event(Event::new("click", SystemTime::now()));
        match client.put_events(input).unwrap_err() {
            Error::OperationTimeout { attempts, last, .. } => {
                assert_eq!(attempts, 0, "{name}: {last}");
                assert!(last.contains("resolving credentials"), "{name}: {last}");
            }
            other => panic!("{name}: expected the operation timeout, got {other:?}"),
        }
    }
}

personalize_events_tests::client_tests!([blocking, async]: credential_process_is_bounded_by_the_operation_timeout);
