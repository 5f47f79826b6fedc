//! Connecting through a proxy, with hyper-util's own proxy support: its
//! [`Matcher`] decides which proxy (if any) a destination goes through
//! (`NO_PROXY` included), its [`Tunnel`] opens `CONNECT` tunnels for https,
//! and plain http goes to the proxy in absolute form.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use personalize_events_credentials::{display_url, ProxySettings};
use tokio::net::TcpStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The default client's TCP connector: direct, or through the proxy the
/// environment (or code) names for the destination. TLS, when the
/// destination is https, is layered on top by hyper-rustls, through the
/// tunnel.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    matcher: Option<Arc<Matcher>>,
}

impl fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The matcher's Debug shows proxy URIs without credentials.
        f.debug_struct("ProxyConnector")
            .field("matcher", &self.matcher)
            .finish_non_exhaustive()
    }
}

impl ProxyConnector {
    /// Connects with `http`, through the proxies of `proxy` (none: always
    /// directly).
    pub(crate) fn new(http: HttpConnector, proxy: &ProxySettings) -> Self {
        ProxyConnector {
            http,
            matcher: matcher(proxy).map(Arc::new),
        }
    }

    /// The `Proxy-Authorization` header plain-http requests to `dst` need:
    /// the proxy's user and password, when its URL has them.
    pub(crate) fn http_proxy_auth(&self, dst: &Uri) -> Option<HeaderValue> {
        if dst.scheme_str() != Some("http") {
            return None;
        }
        let i = self.matcher.as_ref()?.intercept(dst)?;
        i.basic_auth().cloned()
    }
}

/// hyper-util's matcher over the resolved settings; `None` when no proxy
/// is set.
fn matcher(p: &ProxySettings) -> Option<Matcher> {
    if p.is_direct() {
        return None;
    }
    let value = |v: Option<&str>| v.unwrap_or("").to_string();
    Some(
        Matcher::builder()
            .http(value(p.http()))
            .https(value(p.https()))
            .all(value(p.all()))
            .no(value(p.no_proxy()))
            .build(),
    )
}

/// A failure to connect through a proxy; names the proxy (without its
/// credentials) and the destination.
#[derive(Debug)]
pub struct ProxyError {
    proxy: String,
    target: String,
    source: BoxError,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "via proxy {} to {}", self.proxy, self.target)
    }
}

impl StdError for ProxyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let intercept = self.matcher.as_ref().and_then(|m| m.intercept(&dst));
        let mut http = self.http.clone();
        Box::pin(async move {
            let Some(intercept) = intercept else {
                let io = http.call(dst).await?;
                return Ok(ProxyStream { io, proxied: false });
            };
            let proxy_uri = intercept.uri().clone();
            let failed = |source: BoxError| -> BoxError {
                Box::new(ProxyError {
                    proxy: display_url(&proxy_uri.to_string())
                        .trim_end_matches('/')
                        .to_string(),
                    target: dst.authority().map(|a| a.to_string()).unwrap_or_default(),
                    source,
                })
            };
            if proxy_uri.scheme_str() != Some("http") {
                return Err(failed(
                    "only http:// proxies are supported (no https:// or socks)".into(),
                ));
            }
            if dst.scheme_str() == Some("https") {
                let mut tunnel = Tunnel::new(proxy_uri.clone(), http);
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                match tunnel.call(dst.clone()).await {
                    Ok(io) => Ok(ProxyStream { io, proxied: false }),
                    Err(e) => Err(failed(Box::new(e))),
                }
            } else {
                match http.call(proxy_uri.clone()).await {
                    Ok(io) => Ok(ProxyStream { io, proxied: true }),
                    Err(e) => Err(failed(Box::new(e))),
                }
            }
        })
    }
}

/// A TCP connection, direct, tunnelled, or to an http proxy (then marked
/// so that requests go in absolute form).
#[derive(Debug)]
pub struct ProxyStream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for ProxyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_follows_the_settings() {
        assert!(matcher(&ProxySettings::none()).is_none());
        let p = ProxySettings::none()
            .with_https("http://u:p@127.0.0.1:3128")
            .with_no_proxy("direct.example");
        let m = matcher(&p).unwrap();
        let via = m
            .intercept(&Uri::from_static("https://a.example/"))
            .unwrap();
        assert_eq!(via.uri().authority().unwrap().as_str(), "127.0.0.1:3128");
        assert!(m
            .intercept(&Uri::from_static("https://direct.example/"))
            .is_none());
        assert!(m
            .intercept(&Uri::from_static("http://a.example/"))
            .is_none());
        let c = ProxyConnector::new(HttpConnector::new(), &p.with_all("http://u:p@h:1"));
        assert!(c
            .http_proxy_auth(&Uri::from_static("http://a.example/"))
            .is_some());
        assert!(!format!("{c:?}").contains("u:p"));
    }
}
