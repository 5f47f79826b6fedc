//! The progress bar on stderr, and messages that must not tear it.
//!
//! The bar is drawn only when stderr is a terminal and `--quiet` is not
//! given. With a known input size it shows the share read and an ETA;
//! otherwise a spinner. Both show records sent, records per second and
//! errors.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Messages and, when shown, the bar.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    /// A bar for an input of `size` bytes (when known); hidden when `quiet`
    /// or when stderr is not a terminal. With `quiet`, per-record messages
    /// are not printed either.
    pub fn new(size: Option<u64>, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None, quiet };
        }
        let bar = match size {
            Some(len) => ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
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
            quiet,
        }
    }

    /// Prints a per-record message (a bad line, a failed call) above the
    /// bar; nothing with `--quiet`.
    pub fn message(&self, text: &str) {
        if self.quiet {
            return;
        }
        self.always(text);
    }

    /// Prints a message even with `--quiet` (fatal problems).
    pub fn always(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// Updates the bar: bytes read, records sent, records per second, errors.
    pub fn update(&self, bytes: u64, sent: u64, rate: f64, errors: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!(
                "{sent} sent · {rate:.0}/s · {errors} error{}",
                if errors == 1 { "" } else { "s" }
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
