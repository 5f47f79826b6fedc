//! The credentials a client currently uses, and single-flight refresh.
//!
//! # Protocol for transports
//!
//! Before each call, `cache.get(now)`:
//!
//! * [`CacheLookup::Ready`]`(creds)`: sign with these.
//! * [`CacheLookup::Refresh`]`(ticket)`: this caller refreshes. Run a
//!   [`CredentialsChain`](crate::CredentialsChain) to the end, then
//!   `ticket.complete(result, now)`, which stores and returns the new
//!   credentials (or the still-valid old ones if the refresh failed). Only
//!   one ticket is out at a time; dropping it without `complete` (panic,
//!   cancelled future) hands the job to the next caller.
//! * [`CacheLookup::Wait`]: another caller is refreshing and there are no
//!   usable credentials. Wait and call `get` again: the blocking transport
//!   can sleep a few milliseconds in a loop bounded by its operation
//!   timeout; the async transport keeps a `tokio::sync::Notify` beside the
//!   cache, creates `notify.notified()` *before* calling `get`, awaits it on
//!   `Wait`, and the refresher calls `notify_waiters()` after `complete`.
//!
//! Credentials are refreshed [`REFRESH_MARGIN`] (5 minutes) before they
//! expire; while a refresh runs, other callers keep using the old ones as
//! long as they have not expired. Credentials without an expiry (static
//! keys) are never refreshed. After a failed refresh with still-valid
//! credentials, the next attempt waits [`RETRY_AFTER_FAILURE`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use personalize_events_core::{Credentials, Error};

/// Refresh this long before credentials expire.
pub use personalize_events_core::REFRESH_MARGIN;

/// After a failed refresh, while the old credentials still work, wait this
/// long before trying again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Cached credentials shared by every clone (clones share one cache).
#[derive(Clone, Default)]
pub struct CredentialsCache {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    margin: Option<Duration>,
    waker: Mutex<Option<Waker>>,
}

/// What a transport runs when a refresh ends ([`CredentialsCache::on_refresh_end`]).
type Waker = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    current: Option<Credentials>,
    refreshing: bool,
    failed_at: Option<SystemTime>,
    generation: u64,
}

/// What [`CredentialsCache::get`] says to do.
#[derive(Debug)]
pub enum CacheLookup {
    /// Sign with these.
    Ready(Credentials),
    /// Refresh, then [`RefreshTicket::complete`].
    Refresh(RefreshTicket),
    /// Someone else is refreshing and nothing usable is cached: wait, then
    /// call `get` again.
    Wait,
}

impl CredentialsCache {
    /// An empty cache: the first `get` hands out a refresh ticket.
    pub fn new() -> Self {
        CredentialsCache::default()
    }

    /// A cache holding `credentials` (e.g. static keys given in code; those
    /// never refresh).
    pub fn with_credentials(credentials: Credentials) -> Self {
        let c = CredentialsCache::new();
        c.lock().current = Some(credentials);
        c
    }

    /// The same cache with another refresh margin (default [`REFRESH_MARGIN`]).
    /// Only before the cache is shared: clones made earlier keep the old one.
    pub fn with_margin(self, margin: Duration) -> Self {
        let current = self.lock().current.clone();
        CredentialsCache {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    current,
                    ..State::default()
                }),
                margin: Some(margin),
                waker: Mutex::new(self.waker()),
            }),
        }
    }

    /// Runs `wake` each time a refresh ends (stored, failed, or its ticket
    /// dropped unfinished), once the cache is updated: how a transport
    /// wakes the callers that were told [`CacheLookup::Wait`] (a Tokio
    /// `Notify`, a `Condvar`) without polling. Replaces an earlier one;
    /// clones share it.
    pub fn on_refresh_end(&self, wake: impl Fn() + Send + Sync + 'static) {
        *self.inner.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(wake));
    }

    fn waker(&self) -> Option<Waker> {
        self.inner
            .waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Tells the waiting callers that a refresh ended (outside the lock).
    fn wake(&self) {
        if let Some(w) = self.waker() {
            w();
        }
    }

    fn margin(&self) -> Duration {
        self.inner.margin.unwrap_or(REFRESH_MARGIN)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to do at `now`; see the module documentation.
    pub fn get(&self, now: SystemTime) -> CacheLookup {
        let margin = self.margin();
        let mut s = self.lock();
        if let Some(c) = &s.current {
            if !c.expires_within(now, margin) {
                return CacheLookup::Ready(c.clone());
            }
        }
        let usable = s.current.clone().filter(|c| still_valid(c, now));
        if s.refreshing {
            return usable.map_or(CacheLookup::Wait, CacheLookup::Ready);
        }
        if let (Some(c), Some(failed)) = (&usable, s.failed_at) {
            if now < failed + RETRY_AFTER_FAILURE {
                return CacheLookup::Ready(c.clone());
            }
        }
        s.refreshing = true;
        CacheLookup::Refresh(RefreshTicket {
            cache: Some(self.clone()),
            current: usable,
        })
    }

    /// The credentials held now, fresh or not.
    pub fn current(&self) -> Option<Credentials> {
        self.lock().current.clone()
    }

    /// Whether a refresh is due at `now` (nothing cached, or expiry within
    /// the margin).
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        let margin = self.margin();
        self.lock()
            .current
            .as_ref()
            .is_none_or(|c| c.expires_within(now, margin))
    }

    /// Forgets the cached credentials (e.g. after the service said they are
    /// expired or invalid), so that the next `get` refreshes.
    pub fn invalidate(&self) {
        let mut s = self.lock();
        s.current = None;
        s.failed_at = None;
    }

    /// How many times credentials were stored by a refresh.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }
}

fn still_valid(c: &Credentials, now: SystemTime) -> bool {
    c.expires_at().is_none_or(|at| now < at)
}

impl fmt::Debug for CredentialsCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("CredentialsCache")
            .field("current", &s.current)
            .field("refreshing", &s.refreshing)
            .field("generation", &s.generation)
            .finish()
    }
}

/// The right, held by one caller at a time, to refresh the cache.
pub struct RefreshTicket {
    cache: Option<CredentialsCache>,
    current: Option<Credentials>,
}

impl RefreshTicket {
    /// The old credentials, if they have not expired yet: usable while the
    /// refresh runs.
    pub fn current(&self) -> Option<&Credentials> {
        self.current.as_ref()
    }

    /// Ends the refresh with `result` (the chain's outcome) at `now`.
    ///
    /// New credentials are stored and returned. On failure, the old
    /// credentials are returned if they are still valid (the next refresh is
    /// tried [`RETRY_AFTER_FAILURE`] later), else the error.
    pub fn complete(
        mut self,
        result: Result<Credentials, Error>,
        now: SystemTime,
    ) -> Result<Credentials, Error> {
        let Some(cache) = self.cache.take() else {
            return result;
        };
        let mut s = cache.lock();
        s.refreshing = false;
        let out = match result {
            Ok(c) => {
                s.current = Some(c.clone());
                s.failed_at = None;
                s.generation += 1;
                Ok(c)
            }
            Err(e) => {
                s.failed_at = Some(now);
                match s.current.clone().filter(|c| still_valid(c, now)) {
                    Some(c) => Ok(c),
                    None => Err(e),
                }
            }
        };
        drop(s);
        cache.wake();
        out
    }
}

impl RefreshTicket {
    /// [`complete`](Self::complete), plus what happened, for the
    /// transport's log.
    pub fn finish(
        self,
        result: Result<Credentials, Error>,
        now: SystemTime,
    ) -> (Result<Credentials, Error>, RefreshOutcome) {
        let had_old = self.current.is_some();
        let failed = result.as_ref().err().cloned();
        let out = self.complete(result, now);
        let outcome = match (failed, out.is_ok()) {
            (Some(e), true) => RefreshOutcome::KeptOld(e),
            (Some(_), false) => RefreshOutcome::Failed,
            (None, _) if had_old => RefreshOutcome::Replaced,
            (None, _) => RefreshOutcome::Stored,
        };
        (out, outcome)
    }
}

/// How a refresh ended ([`RefreshTicket::finish`]).
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// New credentials were stored; none were usable before.
    Stored,
    /// New credentials replaced still-valid ones.
    Replaced,
    /// The refresh failed with this error, but the old credentials are still
    /// valid and were returned (worth a warning).
    KeptOld(Error),
    /// The refresh failed and nothing valid is cached: the error was
    /// returned.
    Failed,
}

impl fmt::Display for RefreshOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefreshOutcome::Stored => "credentials stored",
            RefreshOutcome::Replaced => "credentials refreshed",
            RefreshOutcome::KeptOld(_) => {
                "refreshing credentials failed; the current ones are still valid"
            }
            RefreshOutcome::Failed => "refreshing credentials failed",
        })
    }
}

impl Drop for RefreshTicket {
    fn drop(&mut self) {
        if let Some(cache) = self.cache.take() {
            cache.lock().refreshing = false;
            cache.wake();
        }
    }
}

impl fmt::Debug for RefreshTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTicket")
            .field("current", &self.current)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn temp(n: u32, expires: u64) -> Credentials {
        Credentials::new(format!("AK{n}"), "SECRET", Some("TOKEN".into())).with_expiry(t(expires))
    }

    fn ticket(l: CacheLookup) -> RefreshTicket {
        match l {
            CacheLookup::Refresh(t) => t,
            other => panic!("expected a ticket, got {other:?}"),
        }
    }

    fn ready(l: CacheLookup) -> Credentials {
        match l {
            CacheLookup::Ready(c) => c,
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    #[test]
    fn empty_cache_refreshes_once_others_wait() {
        let cache = CredentialsCache::new();
        assert!(cache.needs_refresh(t(0)));
        let tk = ticket(cache.get(t(0)));
        assert!(tk.current().is_none());
        assert!(matches!(cache.get(t(0)), CacheLookup::Wait));
        assert!(matches!(cache.clone().get(t(1)), CacheLookup::Wait));
        let c = tk.complete(Ok(temp(1, 3600)), t(1)).unwrap();
        assert_eq!(c.access_key_id(), "AK1");
        assert_eq!(ready(cache.get(t(2))).access_key_id(), "AK1");
        assert_eq!(cache.generation(), 1);
        assert!(!cache.needs_refresh(t(2)));
    }

    #[test]
    fn refresh_within_margin_while_others_use_old() {
        let cache = CredentialsCache::with_credentials(temp(1, 3600));
        assert_eq!(ready(cache.get(t(3600 - 301))).access_key_id(), "AK1");
        // 5 minutes before expiry: one caller refreshes, others keep AK1.
        let tk = ticket(cache.get(t(3600 - 300)));
        assert_eq!(tk.current().unwrap().access_key_id(), "AK1");
        assert_eq!(ready(cache.get(t(3600 - 200))).access_key_id(), "AK1");
        // Past expiry, while the refresh still runs: wait.
        assert!(matches!(cache.get(t(3600)), CacheLookup::Wait));
        tk.complete(Ok(temp(2, 7200)), t(3601)).unwrap();
        assert_eq!(ready(cache.get(t(3602))).access_key_id(), "AK2");
    }

    #[test]
    fn failed_refresh_keeps_valid_credentials_and_backs_off() {
        let cache = CredentialsCache::with_credentials(temp(1, 3600));
        let tk = ticket(cache.get(t(3400)));
        let e = crate::cred_err("IMDSv2", "down");
        assert_eq!(
            tk.complete(Err(e.clone()), t(3400))
                .unwrap()
                .access_key_id(),
            "AK1"
        );
        // No new ticket for RETRY_AFTER_FAILURE.
        assert_eq!(ready(cache.get(t(3405))).access_key_id(), "AK1");
        let tk = ticket(cache.get(t(3410)));
        // Expired meanwhile: the error comes back.
        assert_eq!(tk.complete(Err(e.clone()), t(3600)).unwrap_err(), e);
        // Nothing usable: the next caller gets a ticket at once.
        let _tk = ticket(cache.get(t(3600)));
    }

    #[test]
    fn dropped_ticket_releases_refresh() {
        let cache = CredentialsCache::new();
        let tk = ticket(cache.get(t(0)));
        assert!(matches!(cache.get(t(0)), CacheLookup::Wait));
        drop(tk);
        let _tk = ticket(cache.get(t(0)));
    }

    #[test]
    fn static_credentials_never_refresh_and_invalidate() {
        let cache = CredentialsCache::with_credentials(Credentials::new("AK", "SK", None));
        assert_eq!(ready(cache.get(t(10_000_000))).access_key_id(), "AK");
        assert!(!cache.needs_refresh(t(10_000_000)));
        cache.invalidate();
        assert!(cache.current().is_none());
        let _tk = ticket(cache.get(t(0)));
    }

    #[test]
    fn margin_is_configurable_and_debug_redacts() {
        let cache =
            CredentialsCache::with_credentials(temp(1, 100)).with_margin(Duration::from_secs(10));
        assert_eq!(ready(cache.get(t(89))).access_key_id(), "AK1");
        let _tk = ticket(cache.get(t(90)));
        let d = format!("{cache:?}");
        assert!(!d.contains("SECRET") && !d.contains("TOKEN\""), "{d}");
    }

    #[test]
    fn concurrent_callers_refresh_once() {
        let cache = CredentialsCache::new();
        let refreshes = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| loop {
                    match cache.get(t(0)) {
                        CacheLookup::Ready(c) => {
                            assert_eq!(c.access_key_id(), "AK7");
                            return;
                        }
                        CacheLookup::Refresh(tk) => {
                            refreshes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tk.complete(Ok(temp(7, 3600)), t(0)).unwrap();
                        }
                        CacheLookup::Wait => std::thread::yield_now(),
                    }
                });
            }
        });
        assert_eq!(refreshes.into_inner(), 1);
    }

    #[test]
    fn every_end_of_a_refresh_wakes_the_waiters() {
        let cache = CredentialsCache::new();
        let woken = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let w = woken.clone();
        cache.clone().on_refresh_end(move || {
            w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let count = || woken.load(std::sync::atomic::Ordering::SeqCst);
        // Completed, failed, dropped unfinished: each wakes once, and the
        // cache is already updated when the waker runs.
        ticket(cache.get(t(0)))
            .complete(Ok(temp(1, 100)), t(0))
            .unwrap();
        assert_eq!(count(), 1);
        let e = Error::Config("down".into());
        let _ = ticket(cache.get(t(95))).complete(Err(e), t(95));
        assert_eq!(count(), 2);
        drop(ticket(cache.get(t(200))));
        assert_eq!(count(), 3);
        assert!(matches!(cache.get(t(200)), CacheLookup::Refresh(_)));
        // A cache with another margin keeps the waker.
        let other = cache.with_margin(Duration::from_secs(1));
        drop(ticket(other.get(t(300))));
        assert_eq!(
            count(),
            5,
            "the refresh ticket of the last lookup above, then this one"
        );
    }
}
