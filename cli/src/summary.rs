//! The final summary: a few lines on stderr, or a JSON object on stdout
//! with `--output json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

/// Everything the summary reports.
#[derive(Debug, Default)]
pub struct Summary {
    /// The subcommand, e.g. `put-events`.
    pub command: &'static str,
    /// The operation, e.g. `PutEvents`.
    pub operation: &'static str,
    /// The input, as named on the command line (`-` for stdin).
    pub input: String,
    /// A dry run (validation only).
    pub dry_run: bool,
    /// Valid records read.
    pub valid: u64,
    /// Lines refused by validation.
    pub invalid: u64,
    /// Records sent.
    pub sent: u64,
    /// Records of calls that failed after retries.
    pub failed: u64,
    /// Valid records not sent because sending stopped.
    pub unsent: u64,
    /// Calls made (would be made, in a dry run).
    pub calls: u64,
    /// Retries made.
    pub retries: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The failed file, when lines were written to it.
    pub failed_out: Option<String>,
    /// Lines written to it.
    pub failed_lines: u64,
    /// Records neither sent nor written to the failed file.
    pub lost: u64,
    /// The failed file's problem, if any.
    pub failed_out_error: Option<String>,
    /// Whether the input was CSV (the failed file is CSV then).
    pub csv_input: bool,
    /// The reasons file beside the failed file.
    pub reasons_out: Option<String>,
    /// The reasons file's problem, if any (no record is lost by it).
    pub reasons_error: Option<String>,
    /// Whether a closed stdout or stderr stopped the run.
    pub output_closed: bool,
    /// Why sending stopped early.
    pub stopped: Option<String>,
    /// Where an I/O error stopped reading.
    pub read_error: Option<(u64, String)>,
    /// The last line read when interrupted.
    pub interrupted_at: Option<u64>,
    /// What the `--local` emulator received: records, duplicates, requests.
    pub local: Option<(u64, u64, u64)>,
}

impl Summary {
    /// True when every record read was sent (or, in a dry run, is valid)
    /// and the whole input was read.
    pub fn complete(&self) -> bool {
        self.invalid == 0
            && self.failed == 0
            && self.unsent == 0
            && self.lost == 0
            && self.read_error.is_none()
            && self.interrupted_at.is_none()
            && self.failed_out_error.is_none()
    }

    fn rate(&self) -> f64 {
        let n = if self.dry_run { self.valid } else { self.sent };
        n as f64 / self.elapsed.as_secs_f64().max(1e-6)
    }

    /// The summary as text, one fact a line.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let secs = self.elapsed.as_secs_f64();
        let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        if self.dry_run {
            let _ = writeln!(
                s,
                "dry run of {} on {}: {} valid (would be sent in {}), {} invalid, in {secs:.2} s",
                self.command,
                self.input,
                plural(self.valid, "record"),
                plural(self.calls, "call"),
                self.invalid,
            );
        } else {
            let _ = writeln!(
                s,
                "{} {}: sent {} of {} in {} ({}) in {secs:.2} s, {:.0} records/s",
                self.command,
                self.input,
                self.sent,
                plural(self.valid + self.invalid, "record"),
                plural(self.calls, "call"),
                plural(self.retries, "retry").replace("retrys", "retries"),
                self.rate(),
            );
            let _ = writeln!(s, "  rejected by validation: {}", self.invalid);
            let _ = writeln!(s, "  failed after retries:   {}", self.failed);
            if self.unsent > 0 {
                let _ = writeln!(s, "  not sent (stopped):     {}", self.unsent);
            }
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(s, "  sending stopped: {why}");
        }
        if let Some((line, e)) = &self.read_error {
            let _ = writeln!(
                s,
                "  reading stopped at line {line}: {e}; the input after it was not read"
            );
        }
        if let Some(line) = self.interrupted_at {
            // A file can be read again from the next line; stdin cannot.
            let go_on = if self.input == "-" {
                format!("to go on, send the input from line {} again", line + 1)
            } else {
                format!(
                    "to go on: tail -n +{} {} | personalize-events {} ...",
                    line + 1,
                    self.input,
                    self.command
                )
            };
            let _ = writeln!(
                s,
                "  {}: lines 1 to {line} were read; the input after line {line} was not read \
                 ({go_on})",
                if self.output_closed {
                    "stopped as stdout or stderr was closed"
                } else {
                    "interrupted"
                },
            );
        }
        if let Some(path) = &self.failed_out {
            if self.failed_lines > 0 {
                let _ = writeln!(
                    s,
                    "  {} not accepted written to {path}{}{}; run the same command on that file{} to finish{}",
                    plural(self.failed_lines, "record"),
                    if self.csv_input {
                        " (as CSV, with the input's header)"
                    } else {
                        ""
                    },
                    match &self.reasons_out {
                        Some(r) if self.reasons_error.is_none() => format!(", why in {r}"),
                        _ => String::new(),
                    },
                    if self.csv_input && !path.to_ascii_lowercase().ends_with(".csv") {
                        " (with --format csv)"
                    } else {
                        ""
                    },
                    if self.invalid > 0 {
                        " (fix the lines validation refused first)"
                    } else {
                        ""
                    }
                );
            }
        }
        if let Some(e) = &self.reasons_error {
            let _ = writeln!(s, "  warning: {e}: the reasons are not all kept");
        }
        if let Some(e) = &self.failed_out_error {
            let _ = writeln!(
                s,
                "  error: {e}: {} not written to the failed file",
                plural(self.lost, "record")
            );
        }
        if let Some((records, duplicates, requests)) = self.local {
            let _ = writeln!(
                s,
                "local emulator received {} in {}{}",
                plural(records, "record"),
                plural(requests, "request"),
                if duplicates > 0 {
                    format!(" ({duplicates} with an event id received before)")
                } else {
                    String::new()
                }
            );
        }
        s
    }

    /// The summary as one JSON object.
    pub fn json(&self) -> Value {
        let mut v = json!({
            "command": self.command,
            "operation": self.operation,
            "input": self.input,
            "dryRun": self.dry_run,
            "records": self.valid + self.invalid,
            "valid": self.valid,
            "sent": self.sent,
            "rejectedByValidation": self.invalid,
            "failedAfterRetries": self.failed,
            "notSent": self.unsent,
            "calls": self.calls,
            "retries": self.retries,
            "elapsedSeconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "recordsPerSecond": self.rate().round(),
            "failedOut": if self.failed_lines > 0 { json!(self.failed_out) } else { Value::Null },
            "failedOutLines": self.failed_lines,
            "reasonsOut": if self.failed_lines > 0 && self.reasons_error.is_none() { json!(self.reasons_out) } else { Value::Null },
            "lost": self.lost,
            "complete": self.complete(),
        });
        let m = v.as_object_mut().expect("an object");
        if let Some(why) = &self.stopped {
            m.insert("stopped".into(), json!(why));
        }
        if let Some(e) = &self.failed_out_error {
            m.insert("failedOutError".into(), json!(e));
        }
        if let Some((line, e)) = &self.read_error {
            m.insert("readError".into(), json!({"line": line, "message": e}));
        }
        if let Some(line) = self.interrupted_at {
            m.insert("interruptedAfterLine".into(), json!(line));
        }
        if self.output_closed {
            m.insert("outputClosed".into(), json!(true));
        }
        if let Some(e) = &self.reasons_error {
            m.insert("reasonsOutError".into(), json!(e));
        }
        if let Some((records, duplicates, requests)) = self.local {
            m.insert(
                "local".into(),
                json!({"records": records, "duplicates": duplicates, "requests": requests}),
            );
        }
        v
    }
}
