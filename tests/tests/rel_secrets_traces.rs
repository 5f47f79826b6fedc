//! Nothing secret in anything `tracing` or `log` emits: no secret key,
//! session token, `Authorization` value or sensitive record member in any
//! event or span at any level (captured at TRACE, spans included), while
//! both clients make calls against the emulator that succeed, retry (503,
//! reset, 429, truncate, 500, stall) and fail (an unknown key, a bad
//! input); nor in the errors, the clients, their builders or the
//! emulator's handle.
//!
//! Its blind spot: each secret is looked for whole, so
//! ureq-proto's `TRACE` hex dump of each request head (16 bytes a row,
//! session token and `Authorization` included; see the README's
//! Reliability section) is not seen here. It is ureq's logging, not ours.
//!
//! Alone in its test binary on purpose: the capture is the process's one
//! global subscriber and logger, so any other test signing with the same
//! secrets at the same time (aws-sigv4 traces its canonical requests at
//! TRACE) would be captured too.
#![forbid(unsafe_code)]

use personalize_events_tests::clients as rel_support;
mod secrets_support;

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use personalize_events_core::*;
use personalize_events_local::LocalServer;
use rel_support::Settings;
use secrets_support::*;

/// Everything `tracing` and `log` say, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl log::Log for Captured {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!("LOG {} {}: {}\n", r.level(), r.target(), r.args());
        self.0.lock().unwrap().extend_from_slice(line.as_bytes());
    }
    fn flush(&self) {}
}

fn capture() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let c = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(c.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        log::set_boxed_logger(Box::new(c.clone())).expect("one logger");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

#[test]
fn nothing_secret_in_any_trace_or_log_while_both_clients_succeed_retry_and_fail() {
    let captured = capture();
    // Successes, retries of every fault kind, and failures.
    let script = "503,ok,reset,ok,429,ok,truncate,ok,500,500,500,stall,ok,ok";
    let steps =
        personalize_events_local::parse_fault_script(&format!("{script},{script}")).unwrap();
    let server = LocalServer::builder()
        .credential(credentials())
        .fault_script(steps)
        .stall(Duration::from_millis(600))
        .max_duration(Duration::from_secs(60))
        .start_blocking()
        .unwrap();
    let settings = Settings::new(&server.endpoint_url(), credentials()).timeouts(
        Timeouts::default()
            .with_attempt(Duration::from_millis(300))
            .with_operation(Duration::from_secs(10)),
    );
    let mut errors = Vec::new();
    for c in settings.both() {
        let before = captured.0.lock().unwrap().len();
        for input in all_inputs() {
            if let Err(e) = c.send_any(input) {
                errors.push(e);
            }
        }
        // Refused by the service (unknown key), refused locally (bad input).
        let other = Settings::new(
            &server.endpoint_url(),
            Credentials::new("AKIDUNKNOWN", SECRET_KEY, Some(SESSION_TOKEN.into())),
        );
        let stranger = match c {
            rel_support::AnyClient::Blocking(_) => other.blocking(),
            rel_support::AnyClient::Async(_, ref rt) => other.hyper(rt.clone()),
            rel_support::AnyClient::Call(_) => unreachable!("both() gives the two clients"),
        };
        errors.push(stranger.send_any(all_inputs().remove(0)).unwrap_err());
        let bad = PutEventsInput::new("t", "s").event(event().item_id(""));
        errors.push(c.put_events(bad).unwrap_err());
        assert!(
            captured.0.lock().unwrap().len() > before,
            "{}: nothing was traced",
            c.name()
        );
        assert_clean(
            "a client",
            &format!(
                "{:?}",
                match &c {
                    rel_support::AnyClient::Blocking(b) => format!("{b:?}"),
                    rel_support::AnyClient::Async(a, _) => format!("{a:?}"),
                    rel_support::AnyClient::Call(_) => unreachable!("both() gives the two clients"),
                }
            ),
        );
    }
    assert!(errors.len() >= 4, "{errors:?}");
    for e in &errors {
        assert_clean("an error", &format!("{e} {e:?}"));
    }
    let stats = server.stats();
    assert!(stats.faults_total() >= 10, "{stats}");
    assert!(
        stats.rejected_with("UnrecognizedClientException") >= 2,
        "{stats}"
    );
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("personalize_events.call"),
        "spans are captured"
    );
    assert!(text.contains("attempt"), "attempts are captured");
    assert_clean("the captured traces and logs", &text);
    // Builders are shown without their secrets too.
    let b = personalize_events_blocking::Client::builder().credentials(credentials());
    assert_clean("blocking builder", &format!("{b:?}"));
    let b = personalize_events_hyper::Client::builder().credentials(credentials());
    assert_clean("async builder", &format!("{b:?}"));
    // The emulator's own handle and statistics.
    assert_clean("emulator", &format!("{server:?} {stats} {stats:?}"));
    let _ = std::io::stderr().flush();
}
