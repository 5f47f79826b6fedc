//! The core's network settings as ureq's: the proxy for the endpoint's
//! scheme and the TLS roots.

use std::sync::Arc;

use personalize_events_core::Error;
use personalize_events_credentials::{
    display_url, load_trust_roots, ProxySettings, TrustRoots, TrustSettings,
};
use ureq::tls::{Certificate, RootCerts};

/// What an agent needs of the network settings; by default no proxy and
/// the bundled roots.
pub(crate) struct Network {
    /// The proxy for the endpoint, if any.
    pub(crate) proxy: Option<ureq::Proxy>,
    /// The proxy as errors name it, when the endpoint is reached through it.
    pub(crate) via: Option<String>,
    /// Whom TLS trusts.
    pub(crate) roots: RootCerts,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            proxy: None,
            via: None,
            roots: RootCerts::WebPki,
        }
    }
}

impl Network {
    /// The proxy for `endpoint`, and the roots of `trust`.
    pub(crate) fn new(
        proxy: &ProxySettings,
        endpoint: &str,
        trust: &TrustSettings,
    ) -> Result<Self, Error> {
        let uri: http::Uri = (endpoint.parse())
            .map_err(|e| Error::Endpoint(format!("endpoint URL {endpoint}: {e}")))?;
        let proxy = ureq_proxy(proxy, uri.scheme_str().unwrap_or(""))?;
        let via = (proxy.as_ref())
            .filter(|p| !p.is_no_proxy(&uri))
            .map(|p| format!("http://{}:{}", p.host(), p.port()));
        Ok(Network {
            proxy,
            via,
            roots: root_certs(trust)?,
        })
    }

    /// `e`, naming the proxy when connecting to it failed.
    pub(crate) fn name_proxy(via: Option<&str>, e: Error) -> Error {
        match (via, e) {
            (Some(via), Error::Transport { kind, message })
                if kind == personalize_events_core::TransportErrorKind::Connect =>
            {
                Error::transport(kind, format!("via proxy {via}: {message}"))
            }
            (_, e) => e,
        }
    }
}

/// ureq's proxy for an endpoint of `scheme`: that scheme's proxy (else the
/// one for all), reached with `CONNECT`, skipped for the hosts of
/// `NO_PROXY`. An entry `example.com` also covers its subdomains, as in
/// curl and the async client.
///
/// # Errors
///
/// `Error::Config` naming the proxy (without its credentials) when its URL
/// is malformed or of an unsupported kind.
pub(crate) fn ureq_proxy(p: &ProxySettings, scheme: &str) -> Result<Option<ureq::Proxy>, Error> {
    let Some(url) = p.for_scheme(scheme).filter(|_| !p.is_direct()) else {
        return Ok(None);
    };
    let bad = |e: ureq::Error| Error::Config(format!("proxy {}: {e}", display_url(url)));
    let parsed = ureq::Proxy::new(url).map_err(bad)?;
    let mut b = ureq::Proxy::builder(parsed.protocol())
        .host(parsed.host())
        .port(parsed.port());
    if let Some(u) = parsed.username() {
        b = b.username(u);
    }
    if let Some(pw) = parsed.password() {
        b = b.password(pw);
    }
    for entry in p.no_proxy_entries() {
        b = b.no_proxy(entry);
        if !entry.starts_with(['.', '*']) && entry.parse::<std::net::IpAddr>().is_err() {
            b = b.no_proxy(&format!(".{entry}"));
        }
    }
    b.build().map(Some).map_err(bad)
}

/// ureq's roots for `trust`: a CA bundle's or the system store's
/// certificates, else the bundled Mozilla (webpki) roots.
///
/// # Errors
///
/// `Error::Config` naming the file when a CA bundle cannot be read or holds
/// no certificate.
pub(crate) fn root_certs(trust: &TrustSettings) -> Result<RootCerts, Error> {
    Ok(
        match load_trust_roots(trust, |p| std::fs::read(p), system_roots)? {
            TrustRoots::Certificates { der, .. } => RootCerts::Specific(Arc::new(
                der.iter()
                    .map(|d| Certificate::from_der(d).to_owned())
                    .collect(),
            )),
            _ => RootCerts::WebPki,
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_per_scheme_with_no_proxy_and_credentials() {
        let p = ProxySettings::none()
            .with_https("http://user:secret@127.0.0.1:3128")
            .with_no_proxy("direct.example, 10.0.0.1");
        let proxy = ureq_proxy(&p, "https").unwrap().unwrap();
        assert_eq!((proxy.host(), proxy.port()), ("127.0.0.1", 3128));
        assert_eq!(proxy.username(), Some("user"));
        let uri = |s: &'static str| http::Uri::from_static(s);
        assert!(proxy.is_no_proxy(&uri("https://direct.example/")));
        assert!(proxy.is_no_proxy(&uri("https://a.direct.example/")));
        assert!(proxy.is_no_proxy(&uri("https://10.0.0.1/")));
        assert!(!proxy.is_no_proxy(&uri("https://other.example/")));
        assert!(ureq_proxy(&p, "http").unwrap().is_none());
        let e = ureq_proxy(
            &ProxySettings::none().with_all("ftp://u:secret@h:1"),
            "http",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("ftp://h:1") && !e.to_string().contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn webpki_roots_when_asked() {
        assert!(matches!(
            root_certs(&TrustSettings::WebPki).unwrap(),
            RootCerts::WebPki
        ));
        let e = root_certs(&TrustSettings::Bundle("/nonexistent/ca.pem".into())).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
