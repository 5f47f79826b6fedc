//! The server: the settings and state its parts share, and the handle
//! tests hold ([`LocalServer`]). The builder that starts it is in
//! `builder`, the accept loop and connections in `accept`, the handling of
//! one request in `handle`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use personalize_events_core::Credentials;
use tokio::sync::watch;

use crate::fault::FaultPlan;
use crate::store::{Stats, Store, StoredRecord};

mod accept;
mod builder;
mod handle;
mod required;

pub use builder::LocalServerBuilder;

/// The access key id the emulator accepts unless told otherwise (the one
/// of the AWS SigV4 test suite).
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
/// The secret key that goes with [`DEFAULT_ACCESS_KEY_ID`].
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The longest stall a fault may hold a request.
pub const MAX_STALL: Duration = Duration::from_secs(60);
/// The largest request body accepted (413 beyond it).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Default clock-skew tolerance, as AWS front ends allow.
const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);
/// Default stall time.
const DEFAULT_STALL: Duration = Duration::from_secs(2);
/// How long a client may take to send the request headers, then its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish once the server stops.
const GRACE: Duration = Duration::from_secs(5);
/// What a truncated response announces and what it sends of it.
const TRUNCATED_LENGTH: u64 = 64;
const TRUNCATED_PART: &[u8] = b"{\"message\":\"cut short";

/// The settings a [`LocalServerBuilder`] collects, read by every part.
#[derive(Debug, Clone)]
struct Config {
    addr: SocketAddr,
    credentials: HashMap<String, Credentials>,
    region: Option<String>,
    max_skew: Duration,
    tracking_ids: Option<HashSet<String>>,
    dataset_arns: Option<HashSet<String>>,
    log_file: Option<PathBuf>,
    max_requests: Option<u64>,
    max_duration: Option<Duration>,
    faults: FaultPlan,
    stall: Duration,
    expected_records: usize,
}

/// What the handle, the accept loop and every request share.
struct Shared {
    config: Config,
    store: Mutex<Store>,
    seq: AtomicU64,
    instance: u128,
    shutdown: watch::Sender<bool>,
    stopped: watch::Sender<bool>,
    stopped_sync: (Mutex<bool>, Condvar),
}

impl Shared {
    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere must not take the records down with it.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    fn mark_stopped(&self) {
        self.stopped.send_replace(true);
        let (m, cv) = &self.stopped_sync;
        *m.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.borrow()
    }
}

/// Resolves once the server is asked to stop (the watch guard is not held).
async fn stopping(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A running emulator.
///
/// Dropping it stops the server (a server from
/// [`start_blocking`](LocalServerBuilder::start_blocking) is also joined).
pub struct LocalServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for LocalServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalServer")
            .field("addr", &self.addr)
            .field("stopped", &self.shared.is_stopped())
            .finish_non_exhaustive()
    }
}

impl LocalServer {
    /// A builder with the defaults.
    pub fn builder() -> LocalServerBuilder {
        LocalServerBuilder::default()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL to give a client: `http://127.0.0.1:PORT`
    /// (`http://[::1]:PORT` for IPv6).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every record accepted so far, in arrival order, duplicates included.
    pub fn records(&self) -> Vec<StoredRecord> {
        self.shared.store().records()
    }

    /// Takes the records accepted so far, leaving none (duplicate
    /// detection still remembers their event ids).
    pub fn take_records(&self) -> Vec<StoredRecord> {
        self.shared.store().take_records()
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        self.shared.store().stats.clone()
    }

    /// True once the server has stopped (asked to, or by its limits).
    pub fn is_stopped(&self) -> bool {
        self.shared.is_stopped()
    }

    /// Asks the server to stop without waiting: it accepts no more
    /// connections, lets answers in progress finish (for at most 5 s),
    /// then closes everything.
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Blocks until the server has stopped (by its limits or
    /// [`stop`](Self::stop)), at most `timeout`; true if it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (m, cv) = &self.shared.stopped_sync;
        let guard = m.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// Waits until the server has stopped (by its limits or
    /// [`stop`](Self::stop)).
    pub async fn wait(&self) {
        let mut rx = self.shared.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stops the server, waits until it has stopped, and returns the final
    /// statistics. For a server from [`start`](LocalServerBuilder::start)
    /// called on a tokio runtime thread, this only asks it to stop (waiting
    /// there could deadlock): use [`shutdown_async`](Self::shutdown_async).
    pub fn shutdown(mut self) -> Stats {
        self.shared.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        } else if tokio::runtime::Handle::try_current().is_err() {
            self.wait_timeout(GRACE + Duration::from_secs(5));
        }
        self.stats()
    }

    /// Stops the server, waits until it has stopped, and returns the final
    /// statistics.
    pub async fn shutdown_async(self) -> Stats {
        self.shared.stop();
        self.wait().await;
        self.stats()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.shared.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_blocking_serves_and_stops() {
        let server = LocalServer::builder().start_blocking().unwrap();
        assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
        assert!(!server.is_stopped());
        server.stop();
        assert!(server.wait_timeout(Duration::from_secs(10)));
        assert!(std::net::TcpStream::connect(server.local_addr()).is_err());
        let stats = server.shutdown();
        assert_eq!(stats.requests, 0);
    }
}
