//! Credentials from any provider of the AWS SDK for Rust (feature
//! `aws-config-adapter`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials as AwsProvideCredentials;
use personalize_events_core::{Credentials, Error};
use personalize_events_credentials::CredentialsCache;

use crate::chain::{SingleFlight, DEFAULT_WAIT};
use crate::credentials::{ProvideCredentials, ProvideCredentialsFuture};

/// The source name in the errors of an [`AwsSdkCredentials`].
const SOURCE: &str = "AWS SDK credentials provider";

/// Any credentials provider of the AWS SDK for Rust
/// (`aws_credential_types::provider::ProvideCredentials`) as this client's
/// [`ProvideCredentials`], so that `aws-config`'s full default chain (SSO,
/// login sessions and everything else it knows) plugs in unchanged.
///
/// The SDK's providers do not cache (the SDK's clients do), so this wrapper
/// caches the credentials and refreshes them 5 minutes before they expire,
/// once even when many calls need them at the same moment.
///
/// ```ignore
/// let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let client = personalize_events_hyper::Client::builder()
///     .region(sdk_config.region().unwrap().to_string())
///     .credentials_provider(AwsSdkCredentials::new(sdk_config.credentials_provider().unwrap()))
///     .build()?;
/// ```
pub struct AwsSdkCredentials<P> {
    provider: P,
    flight: Arc<SingleFlight>,
}

impl<P> AwsSdkCredentials<P> {
    /// Wraps `provider`.
    pub fn new(provider: P) -> Self {
        AwsSdkCredentials {
            provider,
            flight: Arc::new(SingleFlight::new(CredentialsCache::new(), DEFAULT_WAIT)),
        }
    }

    /// How long a call waits while another one refreshes and no valid
    /// credentials are cached (default 30 s).
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.flight = Arc::new(SingleFlight::new(CredentialsCache::new(), wait));
        self
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.provider
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.provider
    }
}

impl<P> fmt::Debug for AwsSdkCredentials<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSdkCredentials")
            .field("provider", &std::any::type_name::<P>())
            .field("cache", &self.flight)
            .finish()
    }
}

impl<P: AwsProvideCredentials> ProvideCredentials for AwsSdkCredentials<P> {
    fn provide(&self) -> ProvideCredentialsFuture<'_> {
        Box::pin(self.flight.get(SOURCE, || async {
            let c = self
                .provider
                .provide_credentials()
                .await
                .map_err(|e| convert_error(&e))?;
            Ok(convert(&c))
        }))
    }
}

/// The SDK's credentials as this client's, expiry included.
fn convert(c: &aws_credential_types::Credentials) -> Credentials {
    let out = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token().map(str::to_string),
    );
    match c.expiry() {
        Some(at) => out.with_expiry(at),
        None => out,
    }
}

/// The SDK's error with its causes, as a credentials error.
fn convert_error(e: &CredentialsError) -> Error {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(c) = cause {
        if depth == 8 {
            break;
        }
        let text = c.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
        depth += 1;
    }
    Error::Credentials {
        source_name: SOURCE.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn converts_keys_and_expiry() {
        let at = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let c =
            aws_credential_types::Credentials::new("AKID", "SK", Some("T".into()), Some(at), "t");
        let ours = convert(&c);
        assert_eq!(ours.access_key_id(), "AKID");
        assert_eq!(ours.secret_access_key(), "SK");
        assert_eq!(ours.session_token(), Some("T"));
        assert_eq!(ours.expires_at(), Some(at));
        let c = aws_credential_types::Credentials::new("AKID", "SK", None, None, "t");
        assert_eq!(convert(&c).expires_at(), None);
    }

    #[test]
    fn errors_keep_their_causes() {
        let e = CredentialsError::provider_error("sso session expired");
        let ours = convert_error(&e);
        assert_eq!(
            ours.to_string(),
            "credentials from AWS SDK credentials provider: an error occurred while loading credentials: sso session expired"
        );
    }
}
