//! Writing to stdout and stderr without panicking.
//!
//! `println!` and `eprintln!` panic when the stream is a closed pipe
//! (`personalize-events ... 2>&1 | head -1`); a panic inside the run's
//! threads used to leave the process waiting forever. Every print of the
//! tool goes through here instead: a failed write is not an error of its
//! own, it marks the output closed ([`closed`]), and the run then stops
//! reading, as on Ctrl-C, finishes the calls in flight and writes every
//! record read and not sent to the failed file, like any Unix tool that
//! stops when its reader goes away.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write to stdout or stderr has failed (a closed pipe, mostly).
pub fn closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

fn mark(result: io::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(_) => {
            CLOSED.store(true, Ordering::SeqCst);
            false
        }
    }
}

/// Writes `text` and a newline to stderr; false (and [`closed`]) when it
/// cannot be written.
pub fn err_line(text: &str) -> bool {
    let mut e = io::stderr().lock();
    mark(writeln!(e, "{text}").and_then(|()| e.flush()))
}

/// Writes `text` as it is to stderr.
pub fn err(text: &str) -> bool {
    let mut e = io::stderr().lock();
    mark(e.write_all(text.as_bytes()).and_then(|()| e.flush()))
}

/// Writes `text` and a newline to stdout.
pub fn out_line(text: &str) -> bool {
    let mut o = io::stdout().lock();
    mark(writeln!(o, "{text}").and_then(|()| o.flush()))
}
