//! Where a client gets its credentials from: an async-capable provider.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use personalize_events_core::{Credentials, Error};

/// The future a [`ProvideCredentials`] returns.
pub type ProvideCredentialsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, Error>> + Send + 'a>>;

/// A source of AWS credentials, asked once per call (and again before an
/// attempt when the credentials it gave are about to expire).
///
/// Static [`Credentials`] implement it. A provider that fetches credentials
/// over the network (IMDS, STS, SSO) should cache them and refresh them
/// ahead of expiry, since it is asked for every call.
///
/// ```
/// use personalize_events_hyper::{Credentials, Error, ProvideCredentials, ProvideCredentialsFuture};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// impl ProvideCredentials for FromVault {
///     fn provide(&self) -> ProvideCredentialsFuture<'_> {
///         Box::pin(async { Ok(Credentials::new("AKIDEXAMPLE", "secret", None)) })
///     }
/// }
/// ```
pub trait ProvideCredentials: Send + Sync + std::fmt::Debug {
    /// Credentials to sign the next request with.
    fn provide(&self) -> ProvideCredentialsFuture<'_>;
}

impl ProvideCredentials for Credentials {
    fn provide(&self) -> ProvideCredentialsFuture<'_> {
        Box::pin(std::future::ready(Ok(self.clone())))
    }
}

impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Arc<T> {
    fn provide(&self) -> ProvideCredentialsFuture<'_> {
        (**self).provide()
    }
}

impl<T: ProvideCredentials + ?Sized> ProvideCredentials for Box<T> {
    fn provide(&self) -> ProvideCredentialsFuture<'_> {
        (**self).provide()
    }
}
