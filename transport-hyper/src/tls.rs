//! Whom the client's TLS trusts, as a rustls configuration: the same for
//! the service's connections and the credentials chain's own (STS, the SSO
//! portal).

use std::sync::Arc;

use hyper_rustls::ConfigBuilderExt as _;
use personalize_events_core::Error;
use personalize_events_credentials::{load_trust_roots, TrustRoots, TrustSettings};

/// A rustls (ring) client configuration trusting the roots of `trust`.
///
/// # Errors
///
/// `Error::Config` naming the file when a CA bundle cannot be read or holds
/// no usable certificate.
pub(crate) fn client_config(trust: &TrustSettings) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS configuration: {e}")))?;
    let config = match load_trust_roots(trust, |p| std::fs::read(p), system_roots)? {
        TrustRoots::Certificates { der, source } => {
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(
                der.into_iter().map(rustls::pki_types::CertificateDer::from),
            );
            if added == 0 {
                return Err(Error::Config(format!("{source}: no usable certificate")));
            }
            tls.with_root_certificates(roots)
        }
        _ => tls.with_webpki_roots(),
    };
    Ok(config.with_no_client_auth())
}

/// The operating system's trust store (certificates, errors), for
/// `load_trust_roots`.
fn system_roots() -> (Vec<Vec<u8>>, Vec<String>) {
    let found = rustls_native_certs::load_native_certs();
    let errors = found.errors.iter().map(|e| e.to_string()).collect();
    (
        found.certs.into_iter().map(|c| c.to_vec()).collect(),
        errors,
    )
}
