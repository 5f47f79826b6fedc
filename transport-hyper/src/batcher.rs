//! A high-throughput batcher: many tasks hand it single records; one
//! background task groups them into calls of up to 10 and sends them with
//! bounded concurrency, bounded memory and an optional rate limit.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::Connect;
use personalize_events_core::batch::{checked, BatchReport, FailedRecord, Grouper, Record};
use personalize_events_core::AnyInput;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::client::{now, Client};

/// Settings of a [`Batcher`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatcherConfig {
    /// How long a partial group waits for more records (default 5 ms).
    pub linger: Duration,
    /// Most calls in flight at once (default 32).
    pub max_in_flight: usize,
    /// Records the hand-over buffer holds before [`Batcher::put`] waits
    /// (default 8192): this bounds memory.
    pub capacity: usize,
    /// Client-side rate limits per operation, if any (default none).
    pub rate_limits: Option<RateLimits>,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        BatcherConfig {
            linger: Duration::from_millis(5),
            max_in_flight: 32,
            capacity: 8192,
            rate_limits: None,
        }
    }
}

impl BatcherConfig {
    /// Sets how long a partial group waits for more records.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// Sets the most calls in flight at once (at least 1).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets how many records the hand-over buffer holds (at least 1).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }

    /// Limits the calls per second sent: a number limits every operation to
    /// that rate; [`RateLimits::default()`] gives the service's default
    /// quotas (1000/s for `PutEvents`, 10/s for `PutItems` and `PutUsers`).
    pub fn rate_limit(mut self, limits: impl Into<RateLimits>) -> Self {
        self.rate_limits = Some(limits.into());
        self
    }
}

/// Calls per second per operation, for [`BatcherConfig::rate_limit`].
///
/// A rate that is not a positive finite number means no limit. Each
/// operation has a token bucket holding a tenth of a second's calls (at
/// least one), so short bursts stay close to the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RateLimits {
    /// `PutEvents` calls per second (default 1000).
    pub put_events: f64,
    /// `PutItems` calls per second (default 10).
    pub put_items: f64,
    /// `PutUsers` calls per second (default 10).
    pub put_users: f64,
    /// `PutActions` calls per second (default 10).
    pub put_actions: f64,
    /// `PutActionInteractions` calls per second (default 1000).
    pub put_action_interactions: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            put_events: 1000.0,
            put_items: 10.0,
            put_users: 10.0,
            put_actions: 10.0,
            put_action_interactions: 1000.0,
        }
    }
}

impl RateLimits {
    /// The same rate for every operation.
    pub fn uniform(calls_per_sec: f64) -> Self {
        RateLimits {
            put_events: calls_per_sec,
            put_items: calls_per_sec,
            put_users: calls_per_sec,
            put_actions: calls_per_sec,
            put_action_interactions: calls_per_sec,
        }
    }

    fn by_index(&self) -> [f64; OPS] {
        [
            self.put_events,
            self.put_items,
            self.put_users,
            self.put_actions,
            self.put_action_interactions,
        ]
    }
}

impl From<f64> for RateLimits {
    fn from(calls_per_sec: f64) -> Self {
        RateLimits::uniform(calls_per_sec)
    }
}

impl From<u32> for RateLimits {
    fn from(calls_per_sec: u32) -> Self {
        RateLimits::uniform(f64::from(calls_per_sec))
    }
}

/// The batcher is closed: its background task has ended or
/// [`Batcher::close`] was called. Holds the record that was not taken.
#[derive(Debug, Clone, PartialEq)]
pub struct BatcherClosed {
    record: Option<Record>,
}

impl BatcherClosed {
    /// The record that was handed over in vain, if this came from [`Batcher::put`].
    pub fn into_record(self) -> Option<Record> {
        self.record
    }
}

impl fmt::Display for BatcherClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the batcher is closed")
    }
}

impl std::error::Error for BatcherClosed {}

// Records are nearly every message: boxing them would allocate per record.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(Record),
    Flush(oneshot::Sender<BatchReport>),
    Close(oneshot::Sender<BatchReport>),
}

/// A handle to a background task that groups records into calls of up to
/// 10 and sends them; clone it freely.
///
/// * Events are grouped by tracking id, session id and user id, action
///   interactions by tracking id, items, users and actions by dataset.
/// * A call goes out as soon as its group holds 10 records, or when the
///   group's first record has waited [`linger`](BatcherConfig::linger).
/// * At most [`max_in_flight`](BatcherConfig::max_in_flight) calls are in
///   flight; each retries as the client does.
/// * [`put`](Self::put) waits when the buffer is full, so memory stays
///   bounded when the service is slower than the producers.
/// * Missing event ids are filled in before a call is sent (when the client
///   does so), so a failed record can be resent without counting twice.
/// * A call the service refuses for one bad record is not lost whole: the
///   records are checked one by one, the bad ones are reported and the rest
///   are sent.
///
/// [`flush`](Self::flush) and [`close`](Self::close) report what was sent
/// and every record that failed since the previous report. When every
/// handle is dropped without `close`, the task still sends what it holds,
/// but nobody gets its report (failures are logged with `tracing`).
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Msg>,
}

impl fmt::Debug for Batcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl Batcher {
    /// Hands over one record; waits while the buffer is full. When this
    /// future is dropped before it completes, the record was not taken.
    pub async fn put(&self, record: Record) -> Result<(), BatcherClosed> {
        self.tx
            .send(Msg::Record(record))
            .await
            .map_err(|mpsc::error::SendError(m)| BatcherClosed {
                record: match m {
                    Msg::Record(r) => Some(r),
                    _ => None,
                },
            })
    }

    /// Sends every record handed over before this call, waits for all calls
    /// to finish, and reports what happened since the previous report.
    /// Records handed over meanwhile wait until the flush is done.
    pub async fn flush(&self) -> Result<BatchReport, BatcherClosed> {
        let (tx, rx) = oneshot::channel();
        self.request(Msg::Flush(tx), rx).await
    }

    /// Stops taking records (for every handle), sends everything held,
    /// waits for all calls to finish and reports what happened since the
    /// previous report. The background task then ends.
    pub async fn close(&self) -> Result<BatchReport, BatcherClosed> {
        let (tx, rx) = oneshot::channel();
        self.request(Msg::Close(tx), rx).await
    }

    /// True once the batcher takes no more records.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    async fn request(
        &self,
        msg: Msg,
        rx: oneshot::Receiver<BatchReport>,
    ) -> Result<BatchReport, BatcherClosed> {
        self.tx
            .send(msg)
            .await
            .map_err(|_| BatcherClosed { record: None })?;
        rx.await.map_err(|_| BatcherClosed { record: None })
    }
}

const OPS: usize = 5;

fn op_index(input: &AnyInput) -> usize {
    match input.operation_name() {
        "PutEvents" => 0,
        "PutItems" => 1,
        "PutUsers" => 2,
        "PutActions" => 3,
        _ => 4,
    }
}

/// A token bucket on the Tokio clock.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` calls per second; `None` for no limit.
    pub(crate) fn new(rate: f64, now: Instant) -> Option<Self> {
        if !(rate.is_finite() && rate > 0.0) {
            return None;
        }
        let burst = (rate / 10.0).max(1.0);
        Some(TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        })
    }

    /// Takes a token, or tells when the next one is due.
    pub(crate) fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        if now > self.last {
            let dt = (now - self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err(now + Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

pub(crate) fn spawn<C>(client: Client<C>, config: BatcherConfig) -> Batcher
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel(config.capacity.max(1));
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let start = now();
    let buckets = match &config.rate_limits {
        Some(l) => l.by_index().map(|r| TokenBucket::new(r, start)),
        None => Default::default(),
    };
    let max_in_flight = config.max_in_flight.max(1);
    let dispatcher = Dispatcher {
        client,
        rx,
        rx_done: false,
        grouper: Grouper::new(config.linger),
        queues: Default::default(),
        queued: 0,
        max_queued: max_in_flight,
        next_queue: 0,
        buckets,
        permits: Arc::new(Semaphore::new(max_in_flight)),
        done_tx,
        done_rx,
        in_flight: 0,
        report: BatchReport::default(),
        flush_waiter: None,
        close_waiters: Vec::new(),
        timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
    };
    tokio::spawn(dispatcher.run());
    Batcher { tx }
}

#[allow(clippy::large_enum_variant)]
enum Event {
    Msg(Option<Msg>),
    Done(BatchReport),
    Timer,
}

struct Dispatcher<C> {
    client: Client<C>,
    rx: mpsc::Receiver<Msg>,
    /// The channel is closed and empty: finish and end.
    rx_done: bool,
    grouper: Grouper,
    /// Calls ready to send, per operation.
    queues: [VecDeque<AnyInput>; OPS],
    queued: usize,
    /// Stop reading the channel while this many calls wait to be sent.
    max_queued: usize,
    next_queue: usize,
    buckets: [Option<TokenBucket>; OPS],
    permits: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<BatchReport>,
    done_rx: mpsc::UnboundedReceiver<BatchReport>,
    in_flight: usize,
    report: BatchReport,
    /// A flush waiting for everything before it to be sent.
    flush_waiter: Option<oneshot::Sender<BatchReport>>,
    close_waiters: Vec<oneshot::Sender<BatchReport>>,
    timer: Pin<Box<tokio::time::Sleep>>,
}

/// Most channel messages handled between two looks at timers and queues.
const READ_BATCH: usize = 1024;

impl<C> Dispatcher<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    async fn run(mut self) {
        loop {
            let now = now();
            if self.rx_done {
                for input in self.grouper.drain() {
                    self.enqueue(input);
                }
            } else {
                for input in self.grouper.expired(now) {
                    self.enqueue(input);
                }
            }
            let rate_wake = self.dispatch(now);
            if self.grouper.pending() == 0 && self.queued == 0 && self.in_flight == 0 {
                if let Some(w) = self.flush_waiter.take() {
                    let _ = w.send(std::mem::take(&mut self.report));
                }
                if self.rx_done {
                    self.finish();
                    return;
                }
            }
            let read = self.can_read();
            let linger_wake = if self.flush_waiter.is_none() && !self.rx_done {
                self.grouper.next_deadline()
            } else {
                None
            };
            let wake = match (linger_wake, rate_wake) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match self.next_event(read, wake).await {
                Event::Msg(m) => {
                    // A record's linger starts when it arrives, not when the
                    // loop started waiting.
                    let arrived = crate::client::now();
                    self.handle(m, arrived);
                    for _ in 0..READ_BATCH {
                        if !self.can_read() {
                            break;
                        }
                        match self.rx.try_recv() {
                            Ok(m) => self.handle(Some(m), arrived),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => {
                                self.handle(None, arrived);
                                break;
                            }
                        }
                    }
                }
                Event::Done(outcome) => {
                    self.in_flight -= 1;
                    self.report.merge(outcome);
                    while let Ok(outcome) = self.done_rx.try_recv() {
                        self.in_flight -= 1;
                        self.report.merge(outcome);
                    }
                }
                Event::Timer => {}
            }
        }
    }

    fn can_read(&self) -> bool {
        !self.rx_done && self.flush_waiter.is_none() && self.queued < self.max_queued
    }

    fn finish(&mut self) {
        let report = std::mem::take(&mut self.report);
        let mut waiters = std::mem::take(&mut self.close_waiters).into_iter();
        match waiters.next() {
            Some(w) => {
                let _ = w.send(report);
            }
            None if !report.failed.is_empty() => tracing::warn!(
                failed_records = report.failed.len(),
                "batcher dropped without close(): failed records are not reported"
            ),
            None => {}
        }
        for w in waiters {
            let _ = w.send(BatchReport::default());
        }
    }

    fn handle(&mut self, msg: Option<Msg>, now: Instant) {
        match msg {
            Some(Msg::Record(r)) => {
                if let Some(input) = self.grouper.push(r, now) {
                    self.enqueue(input);
                }
            }
            Some(Msg::Flush(w)) => {
                self.flush_waiter = Some(w);
                for input in self.grouper.drain() {
                    self.enqueue(input);
                }
            }
            Some(Msg::Close(w)) => {
                // What is already buffered is still read and sent; then
                // `recv` gives `None` and the task finishes.
                self.close_waiters.push(w);
                self.rx.close();
            }
            None => self.rx_done = true,
        }
    }

    fn enqueue(&mut self, input: AnyInput) {
        self.queued += 1;
        self.queues[op_index(&input)].push_back(input);
    }

    /// Starts calls while permits and rate allow; gives when a rate limit
    /// lets the next waiting call go, if one holds calls back.
    fn dispatch(&mut self, now: Instant) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        while self.queued > 0 {
            let mut started = false;
            for k in 0..OPS {
                let i = (self.next_queue + k) % OPS;
                if self.queues[i].is_empty() {
                    continue;
                }
                let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                    // A finishing call wakes the loop.
                    return wake;
                };
                if let Some(bucket) = &mut self.buckets[i] {
                    if let Err(at) = bucket.try_take(now) {
                        wake = Some(wake.map_or(at, |w| w.min(at)));
                        continue;
                    }
                }
                let Some(input) = self.queues[i].pop_front() else {
                    continue;
                };
                self.queued -= 1;
                self.start(input, permit);
                started = true;
            }
            self.next_queue = (self.next_queue + 1) % OPS;
            if !started {
                break;
            }
        }
        wake
    }

    fn start(&mut self, input: AnyInput, permit: OwnedSemaphorePermit) {
        self.in_flight += 1;
        let client = self.client.clone();
        let guard = DoneGuard {
            tx: Some(self.done_tx.clone()),
        };
        tokio::spawn(async move {
            let outcome = send_batch(&client, input).await;
            drop(permit);
            guard.done(outcome);
        });
    }

    async fn next_event(&mut self, read: bool, wake: Option<Instant>) -> Event {
        if let Some(at) = wake {
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(at));
        }
        std::future::poll_fn(|cx| {
            if let Poll::Ready(Some(o)) = self.done_rx.poll_recv(cx) {
                return Poll::Ready(Event::Done(o));
            }
            if read {
                if let Poll::Ready(m) = self.rx.poll_recv(cx) {
                    return Poll::Ready(Event::Msg(m));
                }
            }
            if wake.is_some() && self.timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Timer);
            }
            Poll::Pending
        })
        .await
    }
}

/// Reports a call's outcome to the dispatcher, even if the call's task
/// panics or is cancelled, so that flushes never wait forever.
struct DoneGuard {
    tx: Option<mpsc::UnboundedSender<BatchReport>>,
}

impl DoneGuard {
    fn done(mut self, outcome: BatchReport) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            tracing::error!("a batch call ended without an outcome (panic or runtime shutdown)");
            let mut lost = BatchReport::default();
            lost.calls_made = 1;
            lost.calls_failed = 1;
            let _ = tx.send(lost);
        }
    }
}

/// Sends one call of the batcher and says what became of its records.
async fn send_batch<C>(client: &Client<C>, mut input: AnyInput) -> BatchReport
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut report = BatchReport::default();
    if client.core().config().fill_event_ids {
        input.fill_event_ids(client.entropy());
    }
    let (calls, refused) = checked(input);
    report.failed = refused;
    for input in calls {
        let records = input.record_count();
        report.calls_made += 1;
        match client.send_any(input.clone()).await {
            Ok(_) => report.records_sent += records as u64,
            Err(error) => {
                tracing::warn!(
                    operation = input.operation_name(),
                    records,
                    error = %error,
                    "batch call failed"
                );
                report.calls_failed += 1;
                report.failed.extend(
                    input
                        .into_records()
                        .into_iter()
                        .map(|record| FailedRecord::new(record, error.clone())),
                );
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_paces_calls() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0, t0).unwrap();
        // A tenth of a second's worth at once.
        for _ in 0..10 {
            assert!(b.try_take(t0).is_ok());
        }
        let at = b.try_take(t0).unwrap_err();
        assert_eq!(at - t0, Duration::from_millis(10));
        assert!(b.try_take(at).is_ok());
        assert!(b.try_take(at).is_err());
        // Tokens never pile up beyond the burst.
        let later = at + Duration::from_secs(60);
        for _ in 0..10 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
        // Slow rates still allow one call.
        let mut slow = TokenBucket::new(2.0, t0).unwrap();
        assert!(slow.try_take(t0).is_ok());
        assert_eq!(
            slow.try_take(t0).unwrap_err() - t0,
            Duration::from_millis(500)
        );
        assert!(TokenBucket::new(0.0, t0).is_none());
        assert!(TokenBucket::new(f64::INFINITY, t0).is_none());
    }

    #[test]
    fn rate_limit_defaults_and_uniform() {
        let d = RateLimits::default();
        assert_eq!(
            (d.put_events, d.put_items, d.put_users),
            (1000.0, 10.0, 10.0)
        );
        let c = BatcherConfig::default().rate_limit(50.0);
        assert_eq!(c.rate_limits, Some(RateLimits::uniform(50.0)));
        let c = BatcherConfig::default().rate_limit(RateLimits::default());
        assert_eq!(c.rate_limits, Some(RateLimits::default()));
    }
}
