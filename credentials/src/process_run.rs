//! Running a `credential_process` with `std::process`, the one way both
//! transports do it: the blocking client calls [`run_process`] on the
//! calling thread, the async one on Tokio's blocking pool. The async client
//! does not use `tokio::process` for it: that feature makes every runtime
//! of the program built with `enable_all` set up a signal driver at start,
//! which a cold start (a new Lambda instance) pays whether or not a
//! `credential_process` is ever configured (about 0.3 ms, measured with
//! `benches/coldstart`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use personalize_events_core::{Error, TransportErrorKind};

use crate::{ProcessOutput, MAX_ANSWER_BYTES};

/// The longest the runner sleeps between two looks at the process (it
/// starts at 1 ms and doubles): how late a timeout or a cancel is seen.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// The program and arguments that run a `credential_process` command line
/// through the shell: `sh -c COMMAND` on Unix, `cmd /C COMMAND` on Windows.
fn shell_command(command: &str) -> [&str; 3] {
    if cfg!(windows) {
        ["cmd", "/C", command]
    } else {
        ["sh", "-c", command]
    }
}

/// Runs `command` through the shell, stdin inherited and the output
/// captured (each pipe read on a thread of its own, at most
/// [`MAX_ANSWER_BYTES`] kept and the rest drained, so a chatty process never
/// blocks), and kills it when `timeout` passes or when `cancelled` becomes
/// true (seen within 20 ms; the async client sets it when its future is
/// dropped). Blocks until the process has ended or been killed.
///
/// What is killed is the shell (or the program it `exec`s); processes the
/// shell started of its own keep running until they end. When such a
/// process still holds the output pipes after the shell exited, the output
/// is waited for until the same timeout, then the run fails (the output
/// may not be complete) rather than hang.
///
/// # Errors
///
/// `Error::Transport`: `Timeout` when the process was killed at the
/// timeout, `Other` when the shell cannot start, the process cannot be
/// waited for, or the run was cancelled.
pub fn run_process(
    command: &str,
    timeout: Duration,
    cancelled: &AtomicBool,
) -> Result<ProcessOutput, Error> {
    let [program, flag, line] = shell_command(command);
    let mut child = Command::new(program)
        .arg(flag)
        .arg(line)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| other(format!("cannot start the shell: {e}")))?;
    let (ended, done) = mpsc::channel();
    let out = reader(child.stdout.take(), ended.clone());
    let err = reader(child.stderr.take(), ended);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        let ended = match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => None,
            Err(e) => Some(other(format!("cannot wait for credential_process: {e}"))),
        };
        let now = Instant::now();
        let ended = ended.or_else(|| {
            if cancelled.load(Ordering::Relaxed) {
                Some(other("credential_process cancelled; killed".into()))
            } else if now >= deadline {
                Some(Error::transport(
                    TransportErrorKind::Timeout,
                    format!(
                        "credential_process still running after {} ms; killed",
                        timeout.as_millis()
                    ),
                ))
            } else {
                None
            }
        });
        if let Some(e) = ended {
            let _ = child.kill();
            let _ = child.wait();
            // The reader threads end when the last holder of the pipes
            // (possibly a grandchild) exits; nobody waits for them.
            return Err(e);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_PAUSE);
    };
    // The output ends when the last holder of the pipes exits: usually the
    // shell, but a process it left running (`helper &`) holds them too.
    // Its end is waited for within the same timeout, not beyond.
    let mut open = 2;
    while open > 0 {
        let now = Instant::now();
        if cancelled.load(Ordering::Relaxed) {
            return Err(other("credential_process cancelled".into()));
        }
        if now >= deadline {
            return Err(Error::transport(
                TransportErrorKind::Timeout,
                format!(
                    "credential_process exited, but its output is still held open after {} ms \
                     by a process it started",
                    timeout.as_millis()
                ),
            ));
        }
        match done.recv_timeout((deadline - now).min(MAX_PAUSE)) {
            Ok(()) => open -= 1,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(ProcessOutput {
        status: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn other(message: String) -> Error {
    Error::transport(TransportErrorKind::Other, message)
}

/// A thread reading `pipe` to its end: the first [`MAX_ANSWER_BYTES`] kept,
/// the rest drained. It says on `ended` when the pipe has ended.
fn reader<R: Read + Send + 'static>(
    pipe: Option<R>,
    ended: mpsc::Sender<()>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.by_ref().take(MAX_ANSWER_BYTES as u64).read_to_end(&mut v);
            let _ = std::io::copy(&mut p, &mut std::io::sink());
        }
        let _ = ended.send(());
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_of_the_platform() {
        let [program, flag, command] = shell_command("echo hi");
        assert_eq!(command, "echo hi");
        if cfg!(windows) {
            assert_eq!((program, flag), ("cmd", "/C"));
        } else {
            assert_eq!((program, flag), ("sh", "-c"));
        }
    }

    #[cfg(unix)]
    #[test]
    fn output_and_status_are_captured() {
        let never = AtomicBool::new(false);
        let out = run_process(
            "echo out; echo err >&2; exit 3",
            Duration::from_secs(10),
            &never,
        )
        .unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_cancelled_run_is_killed() {
        let cancelled = AtomicBool::new(true);
        let e = run_process("sleep 30", Duration::from_secs(20), &cancelled).unwrap_err();
        assert!(e.to_string().contains("cancelled"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_run_past_its_timeout_is_killed() {
        let never = AtomicBool::new(false);
        let e = run_process("sleep 30", Duration::from_millis(50), &never).unwrap_err();
        assert!(e.to_string().contains("still running after 50 ms"), "{e}");
    }

    /// A process the shell leaves behind, still holding the output pipes
    /// open after the shell exited, must not keep the call waiting past its
    /// timeout for an end of output that may never come.
    #[cfg(unix)]
    #[test]
    fn output_held_open_by_a_leftover_process_ends_at_the_timeout() {
        let never = AtomicBool::new(false);
        let e = run_process(
            r#"sleep 5 & echo '{"Version": 1}'"#,
            Duration::from_millis(300),
            &never,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("exited, but its output is still held open"),
            "{e}"
        );
        assert!(
            matches!(
                e,
                Error::Transport {
                    kind: TransportErrorKind::Timeout,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
