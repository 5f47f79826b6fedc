//! The network settings both transports share: which proxy to go through
//! and whom TLS trusts.
//!
//! Both are resolved here once, from code, the environment snapshot and the
//! profile; each transport then hands them to its HTTP library (hyper-util's
//! proxy matcher and tunnel, ureq's proxy) and builds its TLS roots with
//! [`load_trust_roots`].
//!
//! | setting | code | environment | profile |
//! |---|---|---|---|
//! | proxy for https | `proxy` | `HTTPS_PROXY`, `https_proxy`, then `ALL_PROXY`, `all_proxy` | |
//! | proxy for http | `proxy` | `HTTP_PROXY`, `http_proxy`, then `ALL_PROXY`, `all_proxy` | |
//! | hosts reached directly | `proxy` | `NO_PROXY`, `no_proxy` | |
//! | trusted CAs | `ca_bundle` | `AWS_CA_BUNDLE` | `ca_bundle` |
//!
//! The proxy variables are read even when a client does not otherwise read
//! its environment, as curl, the AWS CLI and the AWS SDKs do.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::Environment;
use personalize_events_core::Error;

/// Which proxies a client goes through: the values of the proxy variables
/// (or set in code). Empty by default: every connection is direct.
///
/// `Debug` and [`display_url`] never show a proxy's user name or password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    http: Option<String>,
    https: Option<String>,
    all: Option<String>,
    no_proxy: Option<String>,
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| v.as_deref().map(display_url);
        f.debug_struct("ProxySettings")
            .field("http", &shown(&self.http))
            .field("https", &shown(&self.https))
            .field("all", &shown(&self.all))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

/// The first of `names` set (non-blank) in `env`.
fn first<'a>(env: &'a Environment, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| env.get(n))
}

impl ProxySettings {
    /// No proxy at all.
    pub fn none() -> Self {
        ProxySettings::default()
    }

    /// The proxy variables of `env`, upper case first: `HTTP_PROXY`,
    /// `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY` (or their lower-case forms).
    /// As curl does, `HTTP_PROXY` in upper case is ignored when
    /// `REQUEST_METHOD` is set (a CGI program, whose request headers become
    /// `HTTP_*` variables); `http_proxy` still counts.
    pub fn from_env(env: &Environment) -> Self {
        let http = if env.get("REQUEST_METHOD").is_some() {
            first(env, &["http_proxy"])
        } else {
            first(env, &["HTTP_PROXY", "http_proxy"])
        };
        ProxySettings {
            http: http.map(str::to_string),
            https: first(env, &["HTTPS_PROXY", "https_proxy"]).map(str::to_string),
            all: first(env, &["ALL_PROXY", "all_proxy"]).map(str::to_string),
            no_proxy: first(env, &["NO_PROXY", "no_proxy"]).map(str::to_string),
        }
    }

    /// The proxy for plain `http` endpoints, e.g. `http://proxy:3128`.
    pub fn with_http(mut self, url: impl Into<String>) -> Self {
        self.http = Some(url.into());
        self
    }

    /// The proxy for `https` endpoints (reached with `CONNECT`).
    pub fn with_https(mut self, url: impl Into<String>) -> Self {
        self.https = Some(url.into());
        self
    }

    /// The proxy for either scheme, when no scheme's own is set.
    pub fn with_all(mut self, url: impl Into<String>) -> Self {
        self.all = Some(url.into());
        self
    }

    /// Hosts reached directly: a comma-separated list as in `NO_PROXY`
    /// (`*`, host names and their subdomains, IP addresses).
    pub fn with_no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no_proxy = Some(list.into());
        self
    }

    /// The proxy set for `http`, if any.
    pub fn http(&self) -> Option<&str> {
        self.http.as_deref()
    }

    /// The proxy set for `https`, if any.
    pub fn https(&self) -> Option<&str> {
        self.https.as_deref()
    }

    /// The proxy set for both schemes, if any.
    pub fn all(&self) -> Option<&str> {
        self.all.as_deref()
    }

    /// The hosts reached directly, as given.
    pub fn no_proxy(&self) -> Option<&str> {
        self.no_proxy.as_deref()
    }

    /// The proxy for a URL of this scheme (`http` or `https`): that
    /// scheme's own, else the one for all; `None` for other schemes.
    pub fn for_scheme(&self, scheme: &str) -> Option<&str> {
        match scheme {
            "https" => self.https().or(self.all()),
            "http" => self.http().or(self.all()),
            _ => None,
        }
    }

    /// Whether every connection is direct: no proxy set, or `NO_PROXY` is
    /// `*` (which the transports' matchers may not apply to IP addresses).
    pub fn is_direct(&self) -> bool {
        (self.http.is_none() && self.https.is_none() && self.all.is_none())
            || self.no_proxy_entries().any(|e| e == "*")
    }

    /// The entries of the `NO_PROXY` list, trimmed, blanks left out.
    pub fn no_proxy_entries(&self) -> impl Iterator<Item = &str> {
        (self.no_proxy.as_deref().unwrap_or(""))
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
    }
}

/// A proxy URL fit to show: without its user name and password.
pub fn display_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    match scheme {
        Some(s) => format!("{s}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

/// Whether `uri`'s host is a loopback or link-local address (EC2 instance
/// metadata, ECS / EKS container endpoints): such requests of the
/// credentials chain are never sent through a proxy, as in the AWS SDKs.
pub fn is_local_endpoint(uri: &http::Uri) -> bool {
    let Some(host) = uri.host() else { return false };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_link_local(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback()
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip.segments()[..2] == [0xfd00, 0x0ec2]
        }
        Err(_) => false,
    }
}

/// Whom a client's TLS trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustSettings {
    /// The operating system's trust store (on Linux the distribution's CA
    /// file, e.g. Debian's `/etc/ssl/certs/ca-certificates.crt`, or
    /// `SSL_CERT_FILE` / `SSL_CERT_DIR`); the bundled Mozilla (webpki)
    /// roots when it holds no certificate. The default, as in the AWS SDKs.
    #[default]
    System,
    /// The bundled Mozilla (webpki) roots only.
    WebPki,
    /// Only the CAs of this PEM file (`AWS_CA_BUNDLE`, the profile's
    /// `ca_bundle`, `--ca-bundle`), instead of the default roots, as the
    /// AWS CLI does.
    Bundle(PathBuf),
}

/// The roots a transport gives its TLS library.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRoots {
    /// These certificates (DER), from the system store or a CA bundle.
    Certificates {
        /// The DER encodings.
        der: Vec<Vec<u8>>,
        /// Where they come from, for messages: `the system trust store`,
        /// `CA bundle /path`.
        source: String,
    },
    /// The bundled Mozilla (webpki) roots, which each TLS library knows.
    WebPki,
}

/// The PEM certificates of a CA bundle as DER. `path` is only for the
/// messages.
///
/// # Errors
///
/// `Error::Config` naming the file when it is not PEM or holds no
/// certificate.
pub fn parse_ca_bundle(path: &Path, pem: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem) {
        let c = c.map_err(|e| {
            Error::Config(format!(
                "CA bundle {}: not a PEM certificate file ({e})",
                path.display()
            ))
        })?;
        out.push(c.as_ref().to_vec());
    }
    if out.is_empty() {
        return Err(Error::Config(format!(
            "CA bundle {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
            path.display()
        )));
    }
    Ok(out)
}

/// The TLS roots for `trust`: `read` reads a CA bundle (the transport's
/// IO, e.g. `|p| std::fs::read(p)`), `system` loads the operating system's
/// store: its DER certificates and the errors met reading it (e.g. with
/// `rustls-native-certs`). The errors are logged at debug level, and an
/// empty store falls back to the bundled roots with a warning.
///
/// # Errors
///
/// `Error::Config` naming the file when a CA bundle cannot be read or holds
/// no certificate.
pub fn load_trust_roots(
    trust: &TrustSettings,
    read: impl FnOnce(&Path) -> std::io::Result<Vec<u8>>,
    system: impl FnOnce() -> (Vec<Vec<u8>>, Vec<String>),
) -> Result<TrustRoots, Error> {
    match trust {
        TrustSettings::WebPki => Ok(TrustRoots::WebPki),
        TrustSettings::Bundle(path) => {
            let pem = read(path)
                .map_err(|e| Error::Config(format!("CA bundle {}: {e}", path.display())))?;
            Ok(TrustRoots::Certificates {
                der: parse_ca_bundle(path, &pem)?,
                source: format!("CA bundle {}", path.display()),
            })
        }
        TrustSettings::System => {
            let (der, errors) = system();
            for e in &errors {
                tracing::debug!(error = %e, "reading the system trust store");
            }
            if der.is_empty() {
                tracing::warn!(
                    "no certificate in the system trust store: using the bundled Mozilla roots"
                );
                Ok(TrustRoots::WebPki)
            } else {
                Ok(TrustRoots::Certificates {
                    der,
                    source: "the system trust store".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn local_hosts_skip_the_proxy() {
        for (u, local) in [
            ("http://169.254.169.254/latest/api/token", true),
            ("http://169.254.170.2/v2/credentials/x", true),
            ("http://[fd00:ec2::254]/latest", true),
            ("http://[fe80::1]/", true),
            ("http://127.0.0.1:9/", true),
            ("http://localhost:9/", true),
            ("http://[::1]:9/", true),
            ("https://sts.us-east-1.amazonaws.com/", false),
            ("https://10.0.0.1/", false),
            ("https://[2001:db8::1]/", false),
        ] {
            assert_eq!(is_local_endpoint(&u.parse().unwrap()), local, "{u}");
        }
    }

    #[test]
    fn proxy_variables_upper_case_first_and_per_scheme() {
        let p = ProxySettings::from_env(&env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("all_proxy", "http://all:3"),
            ("no_proxy", " a.example, ,127.0.0.1 "),
        ]));
        assert_eq!(p.for_scheme("https"), Some("http://upper:2"));
        assert_eq!(p.for_scheme("http"), Some("http://all:3"));
        assert_eq!(p.for_scheme("ftp"), None);
        assert_eq!(
            p.no_proxy_entries().collect::<Vec<_>>(),
            ["a.example", "127.0.0.1"]
        );
        assert_eq!(ProxySettings::from_env(&env(&[])), ProxySettings::none());
        assert!(ProxySettings::none().is_direct() && !p.is_direct());
        assert!(p.with_no_proxy("a, *").is_direct());
        let cgi = env(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")]);
        assert_eq!(ProxySettings::from_env(&cgi).for_scheme("http"), None);
    }

    #[test]
    fn proxy_credentials_are_never_shown() {
        assert_eq!(
            display_url("http://user:pa%40ss@proxy.example:3128/x"),
            "http://proxy.example:3128/x"
        );
        assert_eq!(display_url("proxy:8080"), "proxy:8080");
        let p = ProxySettings::none().with_all("http://u:secret@p:1");
        assert!(!format!("{p:?}").contains("secret"));
    }

    #[test]
    fn trust_roots_from_bundle_system_or_webpki() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let path = PathBuf::from("/ca.pem");
        let b = TrustSettings::Bundle(path.clone());
        let got = load_trust_roots(&b, |_| Ok(pem.to_vec()), || unreachable!()).unwrap();
        assert_eq!(
            got,
            TrustRoots::Certificates {
                der: vec![vec![1, 2, 3]],
                source: "CA bundle /ca.pem".into()
            }
        );
        let e = load_trust_roots(&b, |_| Ok(b"junk".to_vec()), Default::default).unwrap_err();
        assert!(e.to_string().contains("/ca.pem") && e.to_string().contains("no PEM"));
        let e = load_trust_roots(
            &b,
            |_| Err(std::io::ErrorKind::NotFound.into()),
            Default::default,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Config(_)) && e.to_string().contains("/ca.pem"));
        let s = TrustSettings::System;
        assert_eq!(
            load_trust_roots(&s, |_| unreachable!(), Default::default).unwrap(),
            TrustRoots::WebPki
        );
        let got = load_trust_roots(
            &s,
            |_| unreachable!(),
            || (vec![vec![9]], vec!["one unreadable file".into()]),
        )
        .unwrap();
        assert!(matches!(got, TrustRoots::Certificates { der, .. } if der == [vec![9]]));
    }
}
