//! The run: read, validate, group, send, and account for every record.
//!
//! Threads and bounded queues, so memory stays bounded:
//!
//! ```text
//! reader ──(1024 lines)──▶ grouping loop ──(2 × N calls)──▶ N workers ──▶ service
//!   │                         │                               │
//!   └── failed file ◀─────────┴── invalid lines ◀─────────────┴── failed calls
//! ```
//!
//! * the reader builds and validates each line ([`crate::input`]);
//! * the grouping loop reports invalid lines and groups valid records into
//!   calls of at most 10 with the core's [`Grouper`] (events by tracking id,
//!   session and user; the rest by tracker or dataset). A group goes out
//!   when full; when it has waited [`LINGER`] while a worker is idle (a
//!   slow stream, e.g. events piped from another tool: partial calls go out
//!   soon); when more than [`MAX_PENDING`] records wait (the older half of
//!   the groups go out, so a backfill of many interleaved sessions still
//!   makes full calls with bounded memory); and at the end;
//! * each worker sends one call at a time with the blocking client's
//!   [`Client::put_all`], which fills in missing event ids before the first
//!   attempt, retries, and hands back a failed call's records *with* those
//!   ids, which go to the failed file.
//!
//! Every record read ends up sent, or in the failed file, or (when that
//! file cannot be written) counted as lost. After an error that no retry
//! can fix (credentials, signature, access) or [`MAX_FAILED_IN_A_ROW`]
//! failed calls in a row, nothing more is sent: the rest of the input is
//! validated and written to the failed file.
//!
//! Interrupted (Ctrl-C, SIGTERM, a closed stdout or stderr), the run stops
//! reading and finishes the calls in flight, without waiting for a reader
//! blocked on input that does not come: the lines it handed on are
//! accounted for, and the summary names the last of them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use personalize_events_blocking::{AnyInput, Client, Error};
use personalize_events_core::batch::Grouper;

use crate::failed::{FailedOut, Reason};
use crate::input::{Message, Parsed, ReadProgress, Reader};
use crate::progress::{Progress, Snapshot};

/// How long a partial group waits for more records of its session while a
/// worker is idle.
pub const LINGER: Duration = Duration::from_secs(2);
/// Most records held in partial groups; past it the older half go out.
/// Each group reserves room for 10 records (about 3 KiB with its key), so
/// the worst case, every record of its own session, holds about 70 MB; a
/// backfill interleaving up to 2000 sessions still makes full calls.
pub const MAX_PENDING: usize = 20_000;
/// How often partial groups are looked at.
const CHECK_EVERY: Duration = Duration::from_millis(100);
/// Failed calls in a row after which nothing more is sent.
pub const MAX_FAILED_IN_A_ROW: u64 = 25;

/// The counts of a run.
#[derive(Debug, Default)]
pub struct Counts {
    /// Valid records read.
    pub valid: AtomicU64,
    /// Lines refused by validation.
    pub invalid: AtomicU64,
    /// Records in calls that succeeded.
    pub sent: AtomicU64,
    /// Records in calls that failed after retries.
    pub failed: AtomicU64,
    /// Valid records not sent because sending had stopped.
    pub unsent: AtomicU64,
    /// Calls made (or, in a dry run, that would be made).
    pub calls: AtomicU64,
    /// Calls that failed.
    pub failed_calls: AtomicU64,
}

impl Counts {
    fn add(c: &AtomicU64, n: usize) {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Reads a counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// What a run needs.
pub struct Run {
    /// The reader, ready to go.
    pub reader: Reader,
    /// The client; `None` validates only (a dry run).
    pub client: Option<Client>,
    /// Worker threads (calls in flight).
    pub concurrency: usize,
    /// The failed file, if any.
    pub failed: Option<Arc<FailedOut>>,
    /// Bar and messages.
    pub progress: Progress,
    /// Set by Ctrl-C: stop reading and sending.
    pub interrupt: Arc<AtomicBool>,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The counts.
    pub counts: Counts,
    /// The line where an I/O error stopped reading, and the error.
    pub read_error: Option<(u64, String)>,
    /// Why sending stopped early, if it did.
    pub stopped: Option<String>,
    /// Whether Ctrl-C (or a closed stdout or stderr) stopped the run, and
    /// the last line read then.
    pub interrupted_at: Option<u64>,
    /// Whether it was a closed stdout or stderr that stopped it.
    pub output_closed: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
}

struct Shared<'a> {
    counts: &'a Counts,
    failed: Option<&'a FailedOut>,
    progress: &'a Progress,
    stop_sending: AtomicBool,
    /// Ctrl-C: the reader, the grouping loop and the workers all watch it.
    interrupt: &'a AtomicBool,
    stopped: Mutex<Option<String>>,
    failed_in_a_row: AtomicU64,
    /// Worker threads (0 in a dry run).
    workers: usize,
    /// Calls queued for the workers.
    queued: AtomicUsize,
    /// Calls being sent.
    in_flight: AtomicUsize,
}

impl Shared<'_> {
    /// Whether a worker waits for work: then partial groups may go out.
    fn idle_worker(&self) -> bool {
        self.workers > 0
            && self.queued.load(Ordering::SeqCst) == 0
            && self.in_flight.load(Ordering::SeqCst) < self.workers
    }

    /// Writes records that were not accepted to the failed file.
    fn write_records(&self, records: Vec<personalize_events_blocking::Record>, why: &str) {
        if let Some(f) = self.failed {
            f.write_records(
                records,
                Reason {
                    line: None,
                    message: why,
                },
            );
        }
    }

    fn stop(&self, why: String) {
        let mut s = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if s.is_none() {
            self.progress.always(&format!(
                "error: {why}\nerror: sending stopped; the remaining records go to the failed file"
            ));
            *s = Some(why);
        }
        self.stop_sending.store(true, Ordering::SeqCst);
    }
}

/// Errors that no retry and no other call will fix: stop sending.
fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Credentials { .. } | Error::Config(_) | Error::Endpoint(_)
    ) || matches!(
        e.code(),
        Some(
            "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "IncompleteSignatureException"
                | "MissingAuthenticationTokenException"
                | "AccessDeniedException"
                | "ExpiredTokenException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
        )
    )
}

impl Run {
    /// Runs to the end; never fails as a whole.
    pub fn run(self) -> Outcome {
        let started = Instant::now();
        let Run {
            reader,
            client,
            concurrency,
            failed,
            progress,
            interrupt,
        } = self;
        let read_progress: Arc<ReadProgress> = reader.progress.clone();
        let stop_reading = reader.stop.clone();
        let counts = Counts::default();
        let workers = if client.is_some() {
            concurrency.max(1)
        } else {
            0
        };
        let shared = Shared {
            counts: &counts,
            failed: failed.as_deref(),
            progress: &progress,
            stop_sending: AtomicBool::new(false),
            interrupt: &interrupt,
            stopped: Mutex::new(None),
            failed_in_a_row: AtomicU64::new(0),
            workers,
            queued: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        };
        let (tx, rx) = sync_channel::<Message>(1024);
        let mut end = LoopEnd::default();
        let done = AtomicBool::new(false);
        let reader_panic: Arc<Mutex<Option<String>>> = Arc::default();
        let (job_tx, job_rx) = sync_channel::<AnyInput>(workers.max(1) * 2);
        let job_rx = Mutex::new(job_rx);
        // The reader is not joined: once interrupted, the run ends without
        // waiting for a read that may never return (stdin from a terminal,
        // or a pipe whose writer is idle). What it read by then is
        // accounted for (see `Message::through`); the process exits with it
        // blocked.
        let (reader_panic_ref, read_done) = (reader_panic.clone(), read_progress.clone());
        let reader_thread = std::thread::Builder::new()
            .name("reader".into())
            .spawn(move || {
                let _reading = SetOnDrop(&read_done.done);
                if let Err(p) = catch_unwind(AssertUnwindSafe(move || reader.run(tx))) {
                    *reader_panic_ref.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(panic_text(&*p));
                }
            });
        let spawn_error = reader_thread
            .err()
            .map(|e| (0, format!("cannot start the reader: {e}")));
        std::thread::scope(|s| {
            // Whatever happens below (a panic too), the bar thread stops, and
            // the channels close so that every thread ends: the scope never
            // waits for a thread that waits for it.
            let _done = SetOnDrop(&done);
            for _ in 0..workers {
                let (client, job_rx, shared) = (client.as_ref(), &job_rx, &shared);
                s.spawn(move || {
                    if let Some(c) = client {
                        worker(c, job_rx, shared)
                    }
                });
            }
            // The bar, refreshed a few times a second.
            let (bar_progress, done_ref) = (&progress, &done);
            let (counts_ref, read_ref) = (&counts, &read_progress);
            let size = progress.size();
            s.spawn(move || {
                let mut tick = 0u32;
                while !done_ref.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    tick += 1;
                    if tick % 5 != 0 {
                        continue;
                    }
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    bar_progress.update(snapshot(counts_ref, read_ref, size, workers == 0, secs));
                }
            });
            let dry = workers == 0;
            let out = |input: AnyInput| {
                if dry {
                    Counts::add(&shared.counts.calls, 1);
                } else {
                    shared.queued.fetch_add(1, Ordering::SeqCst);
                    // Workers catch their panics, so they are there as long
                    // as this sender is; should they be gone, the records
                    // still go to the failed file.
                    if let Err(std::sync::mpsc::SendError(input)) = job_tx.send(input) {
                        shared.queued.fetch_sub(1, Ordering::SeqCst);
                        Counts::add(&shared.counts.unsent, input.record_count());
                        shared
                            .write_records(input.into_records(), "not sent: the workers are gone");
                    }
                }
            };
            end = grouping_loop(&rx, &shared, &interrupt, &stop_reading, out);
            drop(job_tx);
            // Workers finish their calls; then the bar stops.
            drop(rx);
        });
        if spawn_error.is_some() {
            end.read_error = spawn_error;
        }
        let panicked = reader_panic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(p) = panicked {
            let line = read_progress.lines.load(Ordering::Relaxed);
            end.read_error
                .get_or_insert((line, format!("internal error in the reader: {p}")));
        }
        progress.finish();
        let stopped = shared
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        Outcome {
            counts,
            read_error: end.read_error,
            stopped,
            interrupted_at: end.interrupted_at,
            output_closed: end.output_closed,
            elapsed: started.elapsed(),
        }
    }
}

/// Sets a flag when dropped (at the end of a scope, or when unwinding).
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A panic's message.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// What the bar shows: records settled (sent, failed or refused; in a dry
/// run, read) against the records the input holds, known once it is read
/// and estimated before from the bytes read so far.
fn snapshot(
    counts: &Counts,
    read: &ReadProgress,
    size: Option<u64>,
    dry: bool,
    secs: f64,
) -> Snapshot {
    let get = Counts::get;
    let read_records = get(&counts.valid) + get(&counts.invalid);
    let settled = if dry {
        read_records
    } else {
        get(&counts.sent) + get(&counts.failed) + get(&counts.invalid) + get(&counts.unsent)
    };
    let total = estimate_total(
        read_records,
        read.bytes.load(Ordering::Relaxed),
        size,
        read.done.load(Ordering::Relaxed),
    );
    let sent = get(&counts.sent);
    Snapshot {
        settled,
        total,
        sent,
        rate: if dry { read_records } else { sent } as f64 / secs,
        errors: get(&counts.invalid) + get(&counts.failed),
    }
}

/// The records the input holds: exact when it has been read to the end;
/// before, the records read so far scaled by the share of bytes read.
pub fn estimate_total(records: u64, bytes: u64, size: Option<u64>, done: bool) -> Option<u64> {
    if done {
        return Some(records);
    }
    let size = size?;
    if bytes == 0 || records == 0 {
        return None;
    }
    let est = (records as f64 * size as f64 / bytes as f64).ceil() as u64;
    Some(est.max(records))
}

/// How the grouping loop ended.
#[derive(Debug, Default)]
struct LoopEnd {
    read_error: Option<(u64, String)>,
    interrupted_at: Option<u64>,
    output_closed: bool,
}

/// Receives the reader's lines until it is done, grouping valid records
/// and handing each call to `out`.
fn grouping_loop(
    rx: &Receiver<Message>,
    shared: &Shared<'_>,
    interrupt: &AtomicBool,
    stop_reading: &AtomicBool,
    mut out: impl FnMut(AnyInput),
) -> LoopEnd {
    let mut end = LoopEnd::default();
    let mut grouper = Grouper::new(LINGER);
    let mut interrupted = false;
    // The input up to here is accounted for (the lines of the messages
    // received; a reader that stopped sends nothing for blank lines at the
    // end, which are harmless to read again).
    let mut through = 0;
    let mut last_check = Instant::now();
    loop {
        if !interrupted && (interrupt.load(Ordering::SeqCst) || crate::print::closed()) {
            interrupted = true;
            // Ctrl-C and the other end of stdout or stderr going away
            // alike: stop reading, finish the calls in flight, and account
            // for everything read.
            end.output_closed = crate::print::closed();
            interrupt.store(true, Ordering::SeqCst);
            stop_reading.store(true, Ordering::SeqCst);
            shared.stop_sending.store(true, Ordering::SeqCst);
            shared.progress.always(
                "interrupted: finishing the calls in flight; records read and not sent go to the failed file",
            );
        }
        let parsed = match rx.recv_timeout(CHECK_EVERY) {
            Ok(m) => {
                through = through.max(m.through);
                Some(m.parsed)
            }
            // Interrupted, the reader hands on at most the line it was at
            // (it stops before reading another): nothing for a while means
            // that it waits for input, which is not waited for.
            Err(RecvTimeoutError::Timeout) if interrupted => break,
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match parsed {
            None => {}
            Some(Parsed::Record(record)) => {
                Counts::add(&shared.counts.valid, 1);
                if let Some(full) = grouper.push(*record, Instant::now()) {
                    out(full);
                }
                if grouper.pending() > MAX_PENDING {
                    evict_older_half(&mut grouper, &mut out);
                }
            }
            Some(Parsed::Invalid {
                line,
                message,
                failed,
            }) => {
                Counts::add(&shared.counts.invalid, 1);
                shared.progress.message(&format!("line {line}: {message}"));
                if let (Some(f), Some(bytes)) = (shared.failed, failed) {
                    let why = Reason {
                        line: Some(line),
                        message: &message,
                    };
                    f.write_line(&bytes, why);
                }
            }
            Some(Parsed::ReadError { line, message }) => {
                shared
                    .progress
                    .always(&format!("error: reading stopped at line {line}: {message}"));
                end.read_error = Some((line, message));
            }
        }
        // Looking at every group costs; a few times a second is enough.
        let now = Instant::now();
        if now.duration_since(last_check) >= CHECK_EVERY {
            last_check = now;
            if shared.idle_worker() {
                grouper.expired(now).into_iter().for_each(&mut out);
            }
        }
    }
    grouper.drain().into_iter().for_each(&mut out);
    if interrupted {
        end.interrupted_at = Some(through);
    }
    end
}

/// Hands out the groups older than the middle of the pending groups' ages
/// (those whose session has most likely moved on), or all if that frees
/// nothing.
fn evict_older_half(grouper: &mut Grouper, out: &mut impl FnMut(AnyInput)) {
    let now = Instant::now();
    if let Some(oldest_deadline) = grouper.next_deadline() {
        let oldest = oldest_deadline.checked_sub(LINGER).unwrap_or(now);
        let cut = oldest_deadline + now.saturating_duration_since(oldest) / 2;
        grouper.expired(cut).into_iter().for_each(&mut *out);
    }
    if grouper.pending() > MAX_PENDING {
        grouper.drain().into_iter().for_each(out);
    }
}

/// Sends calls until the queue closes. A panic while sending (a bug) does
/// not end the worker: the call's records go to the failed file, sending
/// stops, and the run ends as after any error that no retry can fix.
fn worker(client: &Client, jobs: &Mutex<Receiver<AnyInput>>, shared: &Shared<'_>) {
    loop {
        let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(input) = job else { return };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        let backup = input.clone();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| send_one(client, input, shared))) {
            let why = format!("internal error while sending: {}", panic_text(&*p));
            Counts::add(&shared.counts.failed, backup.record_count());
            shared.write_records(backup.into_records(), &why);
            shared.stop(why);
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends one call, or writes its records to the failed file once sending
/// has stopped.
fn send_one(client: &Client, input: AnyInput, shared: &Shared<'_>) {
    let n = input.record_count();
    if shared.stop_sending.load(Ordering::SeqCst) || shared.interrupt.load(Ordering::SeqCst) {
        Counts::add(&shared.counts.unsent, n);
        let why = match shared
            .stopped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(s) => format!("not sent: sending had stopped ({s})"),
            None => "not sent: the run was interrupted".to_owned(),
        };
        shared.write_records(input.into_records(), &why);
        return;
    }
    let operation = input.operation_name();
    let report = client.put_all(input.into_records());
    Counts::add(&shared.counts.calls, report.calls_made as usize);
    Counts::add(&shared.counts.sent, report.records_sent as usize);
    if report.failed.is_empty() {
        shared.failed_in_a_row.store(0, Ordering::Relaxed);
    }
    // The records of one failed call share its error: one message each.
    let mut failed = report.failed.into_iter().peekable();
    while let Some(first) = failed.next() {
        let mut records = vec![first.record];
        while let Some(next) = failed.next_if(|f| f.error == first.error) {
            records.push(next.record);
        }
        let error = first.error;
        let k = records.len();
        let plural = if k == 1 { "" } else { "s" };
        Counts::add(&shared.counts.failed, k);
        let why = if matches!(error, personalize_events_core::Error::Validation { .. }) {
            // Refused before sending: no call was made for it.
            format!("{k} record{plural} refused before sending: {error}")
        } else {
            Counts::add(&shared.counts.failed_calls, 1);
            format!("a {operation} call of {k} record{plural} failed: {error}")
        };
        shared.progress.message(&format!("error: {why}"));
        let fatal = is_fatal(&error);
        let error = error.to_string();
        shared.write_records(records, &why);
        let in_a_row = shared.failed_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if fatal {
            shared.stop(format!("{error} (retrying cannot fix this)"));
        } else if in_a_row >= MAX_FAILED_IN_A_ROW {
            shared.stop(format!(
                "{in_a_row} calls in a row failed, the last with: {error}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_estimated_from_bytes_until_the_input_is_read() {
        assert_eq!(estimate_total(10, 100, Some(1000), false), Some(100));
        assert_eq!(estimate_total(10, 100, None, false), None);
        assert_eq!(estimate_total(0, 0, Some(1000), false), None);
        assert_eq!(estimate_total(10, 1000, Some(500), false), Some(10));
        assert_eq!(estimate_total(42, 1000, Some(5000), true), Some(42));
        // Settled against read-ahead: all read, few sent, the share is low.
        let counts = Counts::default();
        Counts::add(&counts.valid, 100);
        Counts::add(&counts.sent, 10);
        let read = ReadProgress::default();
        read.bytes.store(1000, Ordering::Relaxed);
        read.done.store(true, Ordering::Relaxed);
        let s = snapshot(&counts, &read, Some(1000), false, 1.0);
        assert_eq!((s.settled, s.total), (10, Some(100)));
    }

    #[test]
    fn fatal_errors() {
        assert!(is_fatal(&Error::Credentials {
            source_name: "x".into(),
            message: "y".into()
        }));
        assert!(is_fatal(&Error::Service {
            status: 403,
            code: Some("InvalidSignatureException".into()),
            message: None,
            request_id: None
        }));
        assert!(!is_fatal(&Error::Service {
            status: 503,
            code: Some("ServiceUnavailable".into()),
            message: None,
            request_id: None
        }));
    }
}
