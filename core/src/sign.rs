//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) through AWS's own
//! [`aws-sigv4`](https://docs.rs/aws-sigv4) crate.
//!
//! The canonical request, the string to sign and the key derivation are
//! aws-sigv4's; this module only says what is signed (the header set
//! botocore signs, see [`UNSIGNED_HEADERS`]), converts core's
//! [`Credentials`] into aws-sigv4's identity once per key pair (see
//! [`SigningCache`]) and applies the result to an `http::Request`. This is
//! the only file of core that names `aws_sigv4` or `aws_credential_types`;
//! none of their types appears in a public signature.
//!
//! Three entry points sign a request:
//!
//! * [`sign_request`] puts the signature in the `Authorization` header (the
//!   normal way every AWS SDK sends a request);
//! * [`presign_request`] puts it in the query string (a presigned URL);
//! * [`sign_request_with`] does either, with every [`SignOptions`] knob.
//!
//! Checking a signature is the service's job: the emulator
//! (`personalize-events-local`) has the verifier.
//!
//! The body is always bound by its SHA-256 (never `UNSIGNED-PAYLOAD`), in
//! header signing and presigning alike.
//!
//! Logging: aws-sigv4 traces each canonical request at `TRACE` (target
//! `aws_sigv4`). Header values are redacted there, but a presigned
//! request's query, `X-Amz-Security-Token` included, is not: a program that
//! presigns with session credentials should keep `aws_sigv4` at `DEBUG` or
//! lower in its subscriber's filter.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SessionTokenMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::{HeaderValue, HOST};
use http::{Request, Uri};

use crate::{Credentials, Error};

/// The SigV4 algorithm name, as it appears in the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The presigned-URL lifetime used by [`SignOptions::presign_default`]: one hour.
pub const DEFAULT_PRESIGN_EXPIRES: Duration = Duration::from_secs(3600);

/// The longest presigned-URL lifetime SigV4 allows: seven days.
pub const MAX_PRESIGN_EXPIRES: Duration = Duration::from_secs(604_800);

/// Headers never signed, whatever their value (names in lowercase).
///
/// botocore's list (hop-by-hop headers and headers proxies or tracing
/// middleware rewrite) plus the headers botocore adds only after signing
/// (`authorization`, `content-length`, `accept-encoding`, `amz-sdk-*`), so
/// that the signature covers the same header set botocore's does. Any header
/// whose name starts with `proxy-` is not signed either. `content-length`
/// can be signed with [`SignOptions::sign_content_length`].
pub const UNSIGNED_HEADERS: &[&str] = &[
    "accept-encoding",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "authorization",
    "baggage",
    "connection",
    "content-length",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// What a signature is made with: credentials, scope and time.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The credentials to sign with.
    pub credentials: &'a Credentials,
    /// The signing region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The signing name of the service (`personalize` for Personalize Events).
    pub service: &'a str,
    /// The signing time; it becomes `x-amz-date` and the scope date (UTC).
    pub time: SystemTime,
}

/// Knobs for [`sign_request_with`]. `Default` gives what [`sign_request`]
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOptions {
    /// Remove `.`/`..` segments and collapse `//` in the canonical URI
    /// (default `true`; S3 is the one service that wants `false`).
    pub normalize_path: bool,
    /// Add and sign an `x-amz-content-sha256` header with the payload hash
    /// (default `false`; ignored when presigning).
    pub sign_payload_header: bool,
    /// Leave the session token out of the signature and add it only after
    /// signing (default `false`; a few services, such as IoT, want this).
    pub omit_session_token: bool,
    /// `Some(lifetime)` presigns (signature in the query string) instead of
    /// signing into the `Authorization` header. The lifetime must be a whole
    /// number of seconds in `1..=604800`; fractions of a second are dropped.
    pub presign_expires: Option<Duration>,
    /// Sign `content-length` when the request has it (default `false`: like
    /// botocore, which adds it only after signing).
    pub sign_content_length: bool,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            normalize_path: true,
            sign_payload_header: false,
            omit_session_token: false,
            presign_expires: None,
            sign_content_length: false,
        }
    }
}

impl SignOptions {
    /// The defaults, presigning for [`DEFAULT_PRESIGN_EXPIRES`] (one hour).
    pub fn presign_default() -> Self {
        SignOptions {
            presign_expires: Some(DEFAULT_PRESIGN_EXPIRES),
            ..SignOptions::default()
        }
    }

    fn settings(&self) -> Result<SigningSettings, Error> {
        let mut s = SigningSettings::default();
        // We pass only the headers to sign (see `is_unsigned_header`).
        s.excluded_headers = None;
        if !self.normalize_path {
            s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        if self.sign_payload_header {
            s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        if self.omit_session_token {
            s.session_token_mode = SessionTokenMode::Exclude;
        }
        if let Some(d) = self.presign_expires {
            s.signature_location = SignatureLocation::QueryParams;
            s.expires_in = Some(Duration::from_secs(presign_seconds(d)?));
        }
        Ok(s)
    }
}

/// What signing keeps from one request to the next: core's [`Credentials`]
/// converted to aws-sigv4's identity (once per key pair, not per request)
/// and the default signing settings, built once.
///
/// Thread-safe; share one per client. `Debug` shows no secret.
pub struct SigningCache {
    identity: Mutex<Option<(Credentials, Identity)>>,
    defaults: SigningSettings,
}

impl SigningCache {
    /// An empty cache.
    pub fn new() -> Self {
        SigningCache {
            identity: Mutex::new(None),
            defaults: SignOptions::default()
                .settings()
                .unwrap_or_else(|_| SigningSettings::default()),
        }
    }

    /// aws-sigv4's identity for `creds`, converted when they change.
    fn identity(&self, creds: &Credentials) -> Identity {
        let mut slot = self.identity.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, id)) = slot.as_ref() {
            if c.same_as(creds) || c == creds {
                return id.clone();
            }
        }
        let id = identity(creds, creds.session_token());
        *slot = Some((creds.clone(), id.clone()));
        id
    }
}

impl Default for SigningCache {
    fn default() -> Self {
        SigningCache::new()
    }
}

impl fmt::Debug for SigningCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCache").finish_non_exhaustive()
    }
}

/// Core's credentials as aws-sigv4's identity, with `token` as the session
/// token (the verifier of an emulator passes the one the request carried).
fn identity(creds: &Credentials, token: Option<&str>) -> Identity {
    // No expiry: aws-sigv4 does not look at it; core's credential cache does.
    aws_credential_types::Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        token.map(str::to_owned),
        None,
        "personalize-events-core",
    )
    .into()
}

fn config_error(msg: impl fmt::Display) -> Error {
    Error::Config(format!("SigV4 signing: {msg}"))
}

/// Scope parts and the access key go into `/`-separated credential scope
/// and a header value: visible ASCII without `/`, `,` or `=`.
fn check_scope_part(what: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() {
        return Err(config_error(format_args!("the {what} is empty")));
    }
    if let Some(c) = v
        .bytes()
        .find(|&b| !(0x21..=0x7e).contains(&b) || matches!(b, b'/' | b',' | b'='))
    {
        return Err(config_error(format_args!(
            "the {what} contains the character {:?}, which cannot appear in a SigV4 credential scope",
            c as char
        )));
    }
    Ok(())
}

fn presign_seconds(d: Duration) -> Result<u64, Error> {
    let secs = d.as_secs();
    if secs == 0 || secs > MAX_PRESIGN_EXPIRES.as_secs() {
        return Err(config_error(format_args!(
            "a presigned request must expire within 1 to 604800 seconds (7 days), not {d:?}"
        )));
    }
    Ok(secs)
}

fn is_unsigned_header(name: &str, options: &SignOptions) -> bool {
    if name == "content-length" {
        return !options.sign_content_length;
    }
    UNSIGNED_HEADERS.contains(&name) || name.starts_with("proxy-")
}

/// The `host` value for a URI: its authority without user info, and without
/// the port when it is the scheme's default.
fn host_from_uri(uri: &Uri) -> Option<&str> {
    let authority = uri.authority()?.as_str();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let default_port = match (uri.scheme_str(), uri.port_u16()) {
        (Some(s), Some(443)) if s.eq_ignore_ascii_case("https") => true,
        (Some(s), Some(80)) if s.eq_ignore_ascii_case("http") => true,
        _ => false,
    };
    if default_port {
        uri.host()
    } else {
        Some(host_port)
    }
}

/// The query parameters a presigned request carries.
const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// Presigning again replaces the old signature: its parameters go first.
fn strip_presign_params<B>(req: &mut Request<B>) -> Result<(), Error> {
    let Some(query) = req.uri().query() else {
        return Ok(());
    };
    let is_presign = |p: &&str| {
        let name = p.split_once('=').map_or(*p, |(k, _)| k);
        PRESIGN_PARAMS.iter().any(|n| n.eq_ignore_ascii_case(name))
    };
    if !query.split('&').any(|p| is_presign(&p)) {
        return Ok(());
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !is_presign(p))
        .collect();
    let mut parts = req.uri().clone().into_parts();
    let path = req.uri().path();
    let pq = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    parts.path_and_query = Some(pq.parse().map_err(config_error)?);
    *req.uri_mut() = Uri::from_parts(parts).map_err(config_error)?;
    Ok(())
}

/// Signs `req` in place: `x-amz-date`, `x-amz-security-token` (with session
/// credentials) and `Authorization` are added, and `host` when missing.
///
/// Errors (never panics) with [`Error::Config`] when the region, service or
/// access key cannot appear in a credential scope, or a header value is not
/// visible ASCII.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use personalize_events_core::{sign, Credentials};
///
/// let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
/// let cache = sign::SigningCache::new();
/// let mut req = http::Request::post("https://personalize-events.us-east-1.amazonaws.com/events")
///     .header("content-type", "application/json")
///     .body(b"{}".to_vec())
///     .unwrap();
/// let params = sign::SigningParams {
///     credentials: &creds,
///     region: "us-east-1",
///     service: "personalize",
///     time: UNIX_EPOCH + Duration::from_secs(1_795_953_600),
/// };
/// sign::sign_request(&mut req, &params, &cache).unwrap();
/// let auth = req.headers()["authorization"].to_str().unwrap();
/// assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/personalize/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="));
/// ```
pub fn sign_request<B: AsRef<[u8]>>(
    req: &mut Request<B>,
    params: &SigningParams<'_>,
    cache: &SigningCache,
) -> Result<(), Error> {
    sign_request_with(req, params, &SignOptions::default(), cache)
}

/// Presigns `req`: the signature goes into the query string
/// (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders`, `X-Amz-Security-Token`, `X-Amz-Signature`), and
/// the request comes back with the new URI.
///
/// The body stays bound to the signature by its SHA-256 (not
/// `UNSIGNED-PAYLOAD`), and the headers present now (except
/// [`UNSIGNED_HEADERS`]) are signed and must be sent as they are; `host` is
/// added when missing. `expires_in` must be 1 s to 7 days
/// ([`DEFAULT_PRESIGN_EXPIRES`] is the usual hour), otherwise
/// [`Error::Config`].
pub fn presign_request<B: AsRef<[u8]>>(
    req: Request<B>,
    params: &SigningParams<'_>,
    expires_in: Duration,
    cache: &SigningCache,
) -> Result<Request<B>, Error> {
    let mut req = req;
    let options = SignOptions {
        presign_expires: Some(expires_in),
        ..SignOptions::default()
    };
    sign_request_with(&mut req, params, &options, cache)?;
    Ok(req)
}

/// Signs `req` in place with every knob of [`SignOptions`]: into the
/// `Authorization` header, or into the query string when
/// [`SignOptions::presign_expires`] is set. On error the request is left
/// unchanged.
pub fn sign_request_with<B: AsRef<[u8]>>(
    req: &mut Request<B>,
    params: &SigningParams<'_>,
    options: &SignOptions,
    cache: &SigningCache,
) -> Result<(), Error> {
    check_scope_part("region", params.region)?;
    check_scope_part("service signing name", params.service)?;
    check_scope_part("access key id", params.credentials.access_key_id())?;
    if let Some(t) = params.credentials.session_token() {
        if HeaderValue::from_str(t).is_err() {
            return Err(config_error(
                "the session token contains characters not allowed in a header value",
            ));
        }
    }
    let settings = if *options == SignOptions::default() {
        cache.defaults.clone()
    } else {
        options.settings()?
    };
    let derived_host = if req.headers().contains_key(HOST) {
        None
    } else {
        let host = host_from_uri(req.uri())
            .and_then(|h| HeaderValue::from_str(h).ok())
            .ok_or_else(|| {
                config_error(
                    "the request has neither a host header nor an absolute URI to take it from",
                )
            })?;
        Some(host)
    };
    if options.presign_expires.is_some() {
        strip_presign_params(req)?;
    }
    let identity = cache.identity(params.credentials);
    let v4 = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(params.region)
        .name(params.service)
        .time(params.time)
        .settings(settings)
        .build()
        .map_err(config_error)?
        .into();
    let instructions = {
        let signed = |name: &http::HeaderName| !is_unsigned_header(name.as_str(), options);
        // Checked first, so that the headers go to aws-sigv4 as an iterator
        // (it collects them itself) rather than through a second list.
        for (name, value) in req.headers() {
            if signed(name) && value.to_str().is_err() {
                return Err(config_error(format_args!(
                    "the value of header {name} is not visible ASCII"
                )));
            }
        }
        let headers = (req.headers().iter())
            .filter(|(name, _)| signed(name))
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let uri = req.uri().to_string();
        let signable = SignableRequest::new(
            req.method().as_str(),
            uri,
            headers,
            SignableBody::Bytes(req.body().as_ref()),
        )
        .map_err(config_error)?;
        sign(signable, &v4).map_err(config_error)?.into_parts().0
    };
    if let Some(host) = derived_host {
        req.headers_mut().insert(HOST, host);
    }
    if options.presign_expires.is_some() {
        instructions.apply_to_request_http1x(req);
        return Ok(());
    }
    // `Authorization` last, as before aws-sigv4 signed (the wire order of
    // the headers); it and the token are marked sensitive for logs.
    let last = instructions
        .headers()
        .filter(|(n, _)| *n == "authorization");
    for (name, value) in instructions
        .headers()
        .filter(|(n, _)| *n != "authorization")
        .chain(last)
    {
        let mut v = HeaderValue::from_str(value).map_err(config_error)?;
        v.set_sensitive(name == "authorization" || name == "x-amz-security-token");
        let name = match name {
            "authorization" => http::header::AUTHORIZATION,
            "x-amz-date" => http::HeaderName::from_static("x-amz-date"),
            "x-amz-security-token" => http::HeaderName::from_static("x-amz-security-token"),
            other => http::HeaderName::from_bytes(other.as_bytes()).map_err(config_error)?,
        };
        req.headers_mut().insert(name, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const AK: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn req() -> Request<Vec<u8>> {
        Request::post("https://personalize-events.us-east-1.amazonaws.com/events")
            .header("content-type", "application/json")
            .header("user-agent", "x/1")
            .body(b"{}".to_vec())
            .unwrap()
    }

    fn params(creds: &Credentials) -> SigningParams<'_> {
        SigningParams {
            credentials: creds,
            region: "us-east-1",
            service: "personalize",
            time: UNIX_EPOCH + Duration::from_secs(1_795_953_600),
        }
    }

    #[test]
    fn header_signing_adds_date_host_token_and_authorization() {
        let creds = Credentials::new(AK, SECRET, Some("tok".into()));
        let mut r = req();
        sign_request(&mut r, &params(&creds), &SigningCache::new()).unwrap();
        let h = r.headers();
        assert_eq!(h["x-amz-date"], "20261129T120000Z");
        assert_eq!(h["host"], "personalize-events.us-east-1.amazonaws.com");
        assert_eq!(h["x-amz-security-token"], "tok");
        let auth = h["authorization"].to_str().unwrap();
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            "{auth}"
        );
    }

    #[test]
    fn cached_identity_follows_rotated_credentials() {
        let cache = SigningCache::new();
        let a = Credentials::new(AK, SECRET, None);
        let b = Credentials::new(AK, "other-secret", None);
        let sig = |c: &Credentials| {
            let mut r = req();
            sign_request(&mut r, &params(c), &cache).unwrap();
            r.headers()["authorization"].clone()
        };
        let (sa, sb) = (sig(&a), sig(&b));
        assert_ne!(sa, sb);
        assert_eq!(sig(&a), sa);
    }

    #[test]
    fn presign_bounds_and_query() {
        let creds = Credentials::new(AK, SECRET, Some("t/k".into()));
        let cache = SigningCache::new();
        for bad in [
            Duration::ZERO,
            Duration::from_millis(999),
            MAX_PRESIGN_EXPIRES + Duration::from_secs(1),
        ] {
            let e = presign_request(req(), &params(&creds), bad, &cache).unwrap_err();
            assert!(e.to_string().contains("1 to 604800 seconds"), "{e}");
        }
        for ok in [Duration::from_secs(1), MAX_PRESIGN_EXPIRES] {
            let r = presign_request(req(), &params(&creds), ok, &cache).unwrap();
            let q = r.uri().query().unwrap();
            assert!(
                q.contains(&format!("X-Amz-Expires={}", ok.as_secs())),
                "{q}"
            );
            assert!(q.contains("X-Amz-Security-Token=t%2Fk"), "{q}");
            assert!(q.contains("X-Amz-Signature="), "{q}");
            assert!(!r.headers().contains_key("authorization"));
        }
    }

    #[test]
    fn bad_scope_parts_and_header_values_are_config_errors() {
        let creds = Credentials::new(AK, SECRET, None);
        let cache = SigningCache::new();
        let mut p = params(&creds);
        p.region = "us east";
        assert!(matches!(
            sign_request(&mut req(), &p, &cache),
            Err(Error::Config(_))
        ));
        let mut r = req();
        r.headers_mut()
            .insert("x-odd", HeaderValue::from_bytes(b"\xff").unwrap());
        let e = sign_request(&mut r, &params(&creds), &cache).unwrap_err();
        assert!(e.to_string().contains("x-odd"), "{e}");
        assert!(!r.headers().contains_key("authorization"));
    }
}
