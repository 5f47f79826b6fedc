//! Name resolution without a thread per request.
//!
//! ureq resolves the host before every request, pooled connection or not,
//! and with a timeout set (every attempt has one) it does so on a new
//! thread. That thread cost most of the client's CPU per call. This
//! resolver answers IP-literal hosts directly and keeps each name's
//! addresses for a short while, so only a cache miss goes to ureq's own
//! resolver (on its thread, bounded by the timeout).

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long resolved addresses are reused.
const TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    inner: DefaultResolver,
    /// (scheme, authority) → when resolved, addresses. A client talks to one
    /// endpoint (and perhaps a proxy), so a short list is enough.
    cache: Mutex<Vec<(String, String, Instant, ResolvedSocketAddrs)>>,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return self.inner.resolve(uri, config, timeout);
        };
        // An IP literal needs no lookup at all.
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if let (Ok(ip), Some(port)) = (
            host.parse::<IpAddr>(),
            authority.port_u16().or_else(|| default_port(scheme)),
        ) {
            let mut out = self.empty();
            out.push(SocketAddr::new(ip, port));
            return Ok(out);
        }
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((.., at, addrs)) = cache
                .iter()
                .find(|(s, a, ..)| s == scheme && a == authority.as_str())
            {
                if now.duration_since(*at) < TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|(s, a, ..)| !(s == scheme && a == authority.as_str()));
        if cache.len() >= 8 {
            cache.remove(0);
        }
        cache.push((
            scheme.to_owned(),
            authority.as_str().to_owned(),
            now,
            addrs.clone(),
        ));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_resolve_without_lookup() {
        let r = CachingResolver::default();
        let config = ureq::config::Config::default();
        for (uri, want) in [
            ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
            ("https://127.0.0.1/x", "127.0.0.1:443"),
            ("http://[::1]:9/x", "[::1]:9"),
        ] {
            let uri: Uri = uri.parse().unwrap();
            let got = r.resolve(&uri, &config, NextTimeout::default()).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].to_string(), want);
        }
        assert!(r.cache.lock().unwrap().is_empty());
    }

    #[test]
    fn names_are_cached() {
        let r = CachingResolver::default();
        let config = ureq::config::Config::default();
        let uri: Uri = "http://localhost:8080/x".parse().unwrap();
        let first = r.resolve(&uri, &config, NextTimeout::default()).unwrap();
        assert_eq!(r.cache.lock().unwrap().len(), 1);
        let second = r.resolve(&uri, &config, NextTimeout::default()).unwrap();
        assert_eq!(first.len(), second.len());
        assert_eq!(r.cache.lock().unwrap().len(), 1);
    }
}
