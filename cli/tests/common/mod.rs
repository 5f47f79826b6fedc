//! Helpers for the CLI's tests: run the built binary against an in-process
//! emulator, with an environment of its own, bounded in time.
#![allow(dead_code)] // each test file uses a part of these

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use personalize_events_local::{
    LocalServer, StoredRecord, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY,
};

/// The longest a single run of the binary may take in a test.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A scratch directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pe-cli-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, with an environment that reads no real AWS configuration
/// and never reaches for instance metadata.
pub fn bin(dir: &TempDir) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_personalize-events"));
    c.env_clear()
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if let Some(path) = std::env::var_os("PATH") {
        c.env("PATH", path);
    }
    c
}

/// The binary pointed at `server` through `--endpoint-url` and the AWS_*
/// variables, as a user would.
pub fn bin_for(dir: &TempDir, server: &LocalServer, subcommand: &str) -> Command {
    let mut c = bin(dir);
    c.env("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .arg(subcommand)
        .arg("--endpoint-url")
        .arg(server.endpoint_url());
    c
}

/// What a run gave.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The `--output json` summary.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Waits (at most [`RUN_LIMIT`]) for a child spawned with stdout and stderr
/// piped, reading both.
pub fn wait(mut child: Child) -> Output {
    let take = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = take(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = take(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary ran longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs to the end (at most [`RUN_LIMIT`]) with no stdin.
pub fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child)
}

/// Runs to the end with `input` on stdin.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = wait(child);
    writer.join().unwrap();
    out
}

/// Runs to the end with stdin redirected from the file `path` (`< path`).
pub fn run_with_stdin_file(cmd: &mut Command, path: &Path) -> Output {
    let child = cmd
        .stdin(std::fs::File::open(path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child)
}

/// Runs to the end (at most [`RUN_LIMIT`]) with stderr a pipe whose
/// reading end is closed at once (`2>&1 | head -0`); gives what went to
/// stdout.
pub fn run_with_closed_stderr(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    wait(child)
}

/// `n` valid events (no trackingId, no eventId) over `sessions` sessions,
/// with an `itemId` naming the line, one per line.
pub fn events(n: usize, sessions: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"sessionId\":\"s{}\",\"userId\":\"u{}\",\"eventType\":\"click\",\"sentAt\":{},\"itemId\":\"line-{}\"}}\n",
                i % sessions,
                i % sessions,
                1_795_953_540 + i,
                i + 1
            )
        })
        .collect()
}

/// The item ids of stored event records.
pub fn item_ids(records: &[StoredRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.json["itemId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The distinct event ids of stored records.
pub fn event_ids(records: &[StoredRecord]) -> HashSet<String> {
    records
        .iter()
        .map(|r| r.event_id().expect("an event id").to_owned())
        .collect()
}

/// Lines of a file, parsed as JSON.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}
