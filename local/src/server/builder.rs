//! [`LocalServerBuilder`]: the settings, their checks, and the two ways to
//! start (on the caller's runtime, or on a thread of its own).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::Credentials;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::accept::serve;
use super::{
    Config, LocalServer, Shared, DEFAULT_ACCESS_KEY_ID, DEFAULT_MAX_SKEW,
    DEFAULT_SECRET_ACCESS_KEY, DEFAULT_STALL, MAX_STALL,
};
use crate::fault::{FaultKind, FaultPlan, Phase, ScriptStep};
use crate::store::Store;

/// Configures and starts a [`LocalServer`].
///
/// Every setting has a default: loopback on a free port, the
/// `AKIDEXAMPLE` credentials, any region, 5 minutes of clock skew, any
/// tracking id or dataset, no log file, no limits, no faults.
#[derive(Debug, Clone)]
#[must_use]
pub struct LocalServerBuilder {
    pub(super) config: Config,
    default_credentials: bool,
}

impl Default for LocalServerBuilder {
    fn default() -> Self {
        let mut credentials = HashMap::new();
        credentials.insert(
            DEFAULT_ACCESS_KEY_ID.to_owned(),
            Credentials::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, None),
        );
        LocalServerBuilder {
            config: Config {
                addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
                credentials,
                region: None,
                max_skew: DEFAULT_MAX_SKEW,
                tracking_ids: None,
                dataset_arns: None,
                log_file: None,
                max_requests: None,
                max_duration: None,
                faults: FaultPlan::default(),
                stall: DEFAULT_STALL,
                expected_records: 0,
            },
            default_credentials: true,
        }
    }
}

impl LocalServerBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// The address to listen on, keeping the port (default `127.0.0.1`);
    /// e.g. another loopback address or `::1`. Nothing is checked here:
    /// [`parse_host`](crate::parse_host) refuses non-loopback input.
    pub fn host(mut self, ip: std::net::IpAddr) -> Self {
        self.config.addr.set_ip(ip);
        self
    }

    /// The port to listen on, keeping the address (0 picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.config.addr.set_port(port);
        self
    }

    /// Accepts requests signed with this key pair. The first call replaces
    /// the default `AKIDEXAMPLE` pair; later calls add more.
    pub fn credentials(
        self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credential(Credentials::new(
            access_key_id.into(),
            secret_access_key.into(),
            None,
        ))
    }

    /// Accepts requests signed with these credentials; when they have a
    /// session token, requests must carry the same token. The first call
    /// replaces the default pair; later calls add more.
    pub fn credential(mut self, credentials: Credentials) -> Self {
        if self.default_credentials {
            self.config.credentials.clear();
            self.default_credentials = false;
        }
        self.config
            .credentials
            .insert(credentials.access_key_id().to_owned(), credentials);
        self
    }

    /// Requires this region in the signature's credential scope (default:
    /// any region).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = Some(region.into());
        self
    }

    /// The largest accepted difference between a request's signing time
    /// and the server's clock (default 5 minutes).
    pub fn max_skew(mut self, skew: Duration) -> Self {
        self.config.max_skew = skew;
        self
    }

    /// Knows these tracking ids: `PutEvents` and `PutActionInteractions`
    /// for any other get 404 `ResourceNotFoundException`. Without this
    /// call every tracking id exists. Calls add up.
    pub fn tracking_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .tracking_ids
            .get_or_insert_with(HashSet::new)
            .extend(ids.into_iter().map(Into::into));
        self
    }

    /// Knows these dataset ARNs: `PutItems`, `PutUsers` and `PutActions`
    /// for any other get 404 `ResourceNotFoundException`. Without this
    /// call every dataset exists. Calls add up.
    pub fn dataset_arns<I, S>(mut self, arns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config
            .dataset_arns
            .get_or_insert_with(HashSet::new)
            .extend(arns.into_iter().map(Into::into));
        self
    }

    /// Appends every accepted record to this file as one JSON line (see
    /// [`StoredRecord::to_json_line`](crate::StoredRecord::to_json_line)); the file is created if needed.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.log_file = Some(path.into());
        self
    }

    /// Sizes the store for this many records up front, so that a long run
    /// (a soak test) does not pause while the duplicate-detection set
    /// rehashes; the default is to grow as needed.
    pub fn expected_records(mut self, n: usize) -> Self {
        self.config.expected_records = n;
        self
    }

    /// Stops after answering this many requests (at least 1).
    pub fn max_requests(mut self, n: u64) -> Self {
        self.config.max_requests = Some(n);
        self
    }

    /// Stops this long after starting.
    pub fn max_duration(mut self, d: Duration) -> Self {
        self.config.max_duration = Some(d);
        self
    }

    /// Injects a fault into this share of the requests after the script
    /// (0.0 to 1.0, default 0), chosen deterministically from the
    /// [`seed`](Self::seed) and the request's number.
    pub fn failure_rate(mut self, rate: f64) -> Self {
        self.config.faults.rate = rate;
        self
    }

    /// The seed of the failure rate (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.faults.seed = seed;
        self
    }

    /// The kinds the failure rate draws from (default
    /// [`FaultKind::DEFAULT_RANDOM`]).
    pub fn random_faults(mut self, kinds: impl IntoIterator<Item = FaultKind>) -> Self {
        self.config.faults.kinds = kinds.into_iter().collect();
        self
    }

    /// The phase of random faults and of script steps without one
    /// (default [`Phase::Before`]).
    pub fn fault_phase(mut self, phase: Phase) -> Self {
        self.config.faults.phase = phase;
        self
    }

    /// A fault script: step *i* decides what happens to request *i*
    /// (from 1). Accepts [`ScriptStep`]s or plain [`FaultKind`]s; see
    /// [`parse_fault_script`](crate::parse_fault_script) for the text form.
    pub fn fault_script<I, S>(mut self, steps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<ScriptStep>,
    {
        self.config.faults.script = steps.into_iter().map(Into::into).collect();
        self
    }

    /// How long a stall fault holds a request (default 2 s, at most
    /// [`MAX_STALL`]). A stall ends early when the server stops.
    pub fn stall(mut self, d: Duration) -> Self {
        self.config.stall = d;
        self
    }

    fn check(&self) -> io::Result<()> {
        let bad = |m: String| Err(io::Error::new(io::ErrorKind::InvalidInput, m));
        let c = &self.config;
        if !(0.0..=1.0).contains(&c.faults.rate) {
            return bad(format!(
                "failure rate {} is not between 0 and 1",
                c.faults.rate
            ));
        }
        if c.faults.rate > 0.0 && c.faults.kinds.is_empty() {
            return bad("a failure rate needs at least one fault kind".into());
        }
        if c.stall > MAX_STALL {
            return bad(format!(
                "stall {:?} is longer than the maximum {:?}",
                c.stall, MAX_STALL
            ));
        }
        if c.max_requests == Some(0) {
            return bad("max requests must be at least 1".into());
        }
        if c.credentials.is_empty() {
            return bad("no credentials configured".into());
        }
        Ok(())
    }

    fn shared(self) -> io::Result<Arc<Shared>> {
        self.check()?;
        let log = match &self.config.log_file {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| {
                        io::Error::new(e.kind(), format!("log file {}: {e}", p.display()))
                    })?,
            ),
            None => None,
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let instance = nanos ^ (u128::from(std::process::id()) << 64) ^ next_instance();
        let expected_records = self.config.expected_records;
        Ok(Arc::new(Shared {
            config: self.config,
            store: Mutex::new(Store::with_log(log, expected_records)),
            seq: AtomicU64::new(0),
            instance,
            shutdown: watch::channel(false).0,
            stopped: watch::channel(false).0,
            stopped_sync: (Mutex::new(false), Condvar::new()),
        }))
    }

    /// Binds and starts serving on the current tokio runtime (which must
    /// have I/O and time enabled). Do not block that runtime's threads
    /// while talking to the server: from synchronous code, use
    /// [`start_blocking`](Self::start_blocking).
    pub async fn start(self) -> io::Result<LocalServer> {
        let shared = self.shared()?;
        let listener = TcpListener::bind(shared.config.addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(serve(listener, shared.clone()));
        Ok(LocalServer {
            addr,
            shared,
            thread: None,
        })
    }

    /// Binds, then serves from a thread of its own running a
    /// single-threaded tokio runtime: for synchronous tests and tools.
    /// Returns once the port is open.
    pub fn start_blocking(self) -> io::Result<LocalServer> {
        let shared = self.shared()?;
        let listener = std::net::TcpListener::bind(shared.config.addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("personalize-events-local:{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => serve(l, task_shared).await,
                        Err(e) => {
                            eprintln!("personalize-events-local: cannot listen: {e}");
                            task_shared.mark_stopped();
                        }
                    }
                });
            })?;
        Ok(LocalServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }
}

/// Distinguishes servers started in the same nanosecond.
fn next_instance() -> u128 {
    static N: AtomicU64 = AtomicU64::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_refuses_unbounded_or_nonsense_settings() {
        assert!(LocalServer::builder().failure_rate(1.5).check().is_err());
        assert!(LocalServer::builder()
            .failure_rate(f64::NAN)
            .check()
            .is_err());
        assert!(LocalServer::builder()
            .failure_rate(0.5)
            .random_faults([])
            .check()
            .is_err());
        assert!(LocalServer::builder()
            .stall(MAX_STALL + Duration::from_secs(1))
            .check()
            .is_err());
        assert!(LocalServer::builder().max_requests(0).check().is_err());
        assert!(LocalServer::builder().check().is_ok());
    }

    #[test]
    fn credentials_replace_the_default_then_add_up() {
        let b = LocalServer::builder()
            .credentials("A", "a")
            .credentials("B", "b");
        let mut keys: Vec<_> = b.config.credentials.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["A", "B"]);
        assert!(LocalServer::builder()
            .config
            .credentials
            .contains_key(DEFAULT_ACCESS_KEY_ID));
    }
}
