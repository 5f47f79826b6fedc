//! botocore conformance: `tests/python/botocore_vs_local.py` sends valid
//! calls of all five operations, invalid ones (answered with the modeled
//! `InvalidInputException`) and badly signed ones to a started emulator,
//! and the emulator's statistics must agree with what botocore saw.
//!
//! Needs `python3` with botocore (CI: `pip install botocore==1.44.8`). When
//! either is missing the test fails, unless `PERSONALIZE_SKIP_PYTHON=1`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use personalize_events_local::LocalServer;
use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/botocore_vs_local.py");
const LIMIT: Duration = Duration::from_secs(180);

#[test]
fn botocore_against_the_emulator() {
    if std::env::var("PERSONALIZE_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("PERSONALIZE_SKIP_PYTHON=1: botocore conformance skipped");
        return;
    }
    let server = LocalServer::builder().start_blocking().expect("start");
    let mut child = match Command::new("python3")
        .arg(SCRIPT)
        .arg(server.endpoint_url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run python3 ({e}): this test needs python3 with botocore \
             (pip install botocore==1.44.8); set PERSONALIZE_SKIP_PYTHON=1 to skip it"
        ),
    };
    // Read the pipes on threads so a chatty script cannot block on them.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("botocore_vs_local.py ran longer than {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    match status.code() {
        Some(0) => {}
        Some(3) => panic!(
            "botocore is not installed for python3: pip install botocore==1.44.8 \
             (or set PERSONALIZE_SKIP_PYTHON=1 to skip)\n{stderr}"
        ),
        other => panic!(
            "botocore_vs_local.py failed ({other:?}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
    println!("{stdout}");

    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a JSON summary line");
    let stats = server.shutdown();
    let n = |k: &str| {
        summary[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {summary}"))
    };
    assert_eq!(stats.accepted_requests, n("valid_calls"), "{stats}");
    assert_eq!(stats.accepted_records, n("valid_records"), "{stats}");
    assert_eq!(
        stats.rejected_with("InvalidInputException"),
        n("invalid_calls"),
        "{stats}"
    );
    assert_eq!(
        stats.rejected_with("InvalidSignatureException")
            + stats.rejected_with("UnrecognizedClientException"),
        n("signature_calls"),
        "{stats}"
    );
    assert_eq!(
        stats.requests,
        n("valid_calls") + n("invalid_calls") + n("signature_calls"),
        "botocore made no retries and nothing else was refused: {stats}"
    );
    assert_eq!(stats.faults_total(), 0);
}
