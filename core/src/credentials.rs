//! AWS credentials as the core takes them: always as an argument.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Credentials that expire within this margin (5 minutes, as in the AWS
/// SDKs) are due for a refresh: a credentials cache refreshes them ahead of
/// time, while still handing them out.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Credentials that expire within this margin (one minute: longer than an
/// attempt may take) are not signed with while the provider may have
/// fresher ones: both clients ask their provider again before each
/// attempt ([`Credentials::needs_refresh`]).
pub const SIGNING_MARGIN: Duration = Duration::from_secs(60);

/// An access key, its secret and an optional session token.
///
/// `Debug` never shows the secret or the token. Cheap to clone (the
/// strings are shared), since a provider hands out a copy for every call.
///
/// ```
/// use personalize_events_core::Credentials;
/// let c = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
/// assert!(!format!("{c:?}").contains("EXAMPLEKEY"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key_id: Arc<str>,
    secret_access_key: Arc<str>,
    session_token: Option<Arc<str>>,
    expires_at: Option<SystemTime>,
}

impl Credentials {
    /// Static credentials that never expire.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: Arc::from(access_key_id.into()),
            secret_access_key: Arc::from(secret_access_key.into()),
            session_token: session_token.map(Arc::from),
            expires_at: None,
        }
    }

    /// The same credentials, expiring at `at`.
    pub fn with_expiry(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The access key id (not secret; it appears in every signed request).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The secret access key. Handle with care.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// When these credentials stop working, if they are temporary.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// True when they expire within [`SIGNING_MARGIN`] of `now`: the rule
    /// both clients apply before each attempt, asking their provider again.
    /// Static credentials never need one.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use personalize_events_core::Credentials;
    /// let now = SystemTime::now();
    /// let c = Credentials::new("AKID", "secret", None);
    /// assert!(!c.needs_refresh(now));
    /// assert!(c.clone().with_expiry(now + Duration::from_secs(30)).needs_refresh(now));
    /// assert!(!c.with_expiry(now + Duration::from_secs(120)).needs_refresh(now));
    /// ```
    pub fn needs_refresh(&self, now: SystemTime) -> bool {
        self.expires_within(now, SIGNING_MARGIN)
    }

    /// True when `other` is a clone of these (no string compared).
    pub(crate) fn same_as(&self, other: &Credentials) -> bool {
        let token = match (&self.session_token, &other.session_token) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        token
            && Arc::ptr_eq(&self.access_key_id, &other.access_key_id)
            && Arc::ptr_eq(&self.secret_access_key, &other.secret_access_key)
            && self.expires_at == other.expires_at
    }

    /// True when the credentials expire within `margin` of `now`.
    pub fn expires_within(&self, now: SystemTime, margin: std::time::Duration) -> bool {
        match self.expires_at {
            Some(at) => now + margin >= at,
            None => false,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
