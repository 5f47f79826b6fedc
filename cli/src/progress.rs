//! The progress bar on stderr, and messages that must not tear it.
//!
//! The bar is drawn only when stderr is a terminal and `--quiet` is not
//! given. Its share and ETA follow the records settled (sent, failed or
//! refused), against the records the input holds: exact once it is read,
//! and before that estimated from the share of its bytes read (so reading
//! far ahead of the sending does not make the bar run ahead and the ETA
//! grow). Without a known size (a pipe) it is a spinner. Both show records
//! sent, records per second and errors.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::print;

/// Messages and, when shown, the bar.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    size: Option<u64>,
    quiet: bool,
}

/// What the bar shows at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Records settled: sent, failed, refused or not sent.
    pub settled: u64,
    /// Records the input holds (estimated until it is read), when known.
    pub total: Option<u64>,
    /// Records sent.
    pub sent: u64,
    /// Records per second.
    pub rate: f64,
    /// Records refused or failed.
    pub errors: u64,
}

impl Progress {
    /// A bar for an input of `size` bytes (when known); hidden when `quiet`,
    /// when not `bar` (`--debug` prints lines of its own) or when stderr is
    /// not a terminal. With `quiet`, per-record messages are not printed
    /// either.
    pub fn new(size: Option<u64>, quiet: bool, bar: bool) -> Self {
        if quiet || !bar || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                size,
                quiet,
            };
        }
        let bar = match size {
            Some(_) => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% {msg} · ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message("0 sent");
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar: Some(bar),
            size,
            quiet,
        }
    }

    /// The input's size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Prints a per-record message (a bad line, a failed call) above the
    /// bar; nothing with `--quiet`.
    pub fn message(&self, text: &str) {
        if self.quiet {
            return;
        }
        self.always(text);
    }

    /// Prints a message even with `--quiet` (fatal problems). A closed
    /// stderr is noted (see [`print::closed`]), never a panic.
    pub fn always(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| print::err_line(text)),
            None => print::err_line(text),
        };
    }

    /// Updates the bar.
    pub fn update(&self, s: Snapshot) {
        if let Some(bar) = &self.bar {
            if self.size.is_some() {
                if let Some(total) = s.total {
                    bar.set_length(total.max(s.settled));
                }
            }
            bar.set_position(s.settled);
            bar.set_message(format!(
                "{} sent · {:.0}/s · {} error{}",
                s.sent,
                s.rate,
                s.errors,
                if s.errors == 1 { "" } else { "s" }
            ));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
