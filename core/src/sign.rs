//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`), hand-written on `ring`.
//!
//! Three entry points sign a request:
//!
//! * [`sign_request`] puts the signature in the `Authorization` header (the
//!   normal way every AWS SDK sends a request);
//! * [`presign_request`] puts it in the query string (a presigned URL);
//! * [`sign_request_with`] does either, with every [`SignOptions`] knob.
//!
//! [`signature_parts`] returns the intermediate values (canonical request,
//! string to sign, signature) for tests and debugging, and
//! [`verify_request`] checks a received request the way an AWS front end
//! does, for server emulators.
//!
//! # Rules this signer follows
//!
//! * **Canonical URI**: the path as it appears on the wire (`Uri::path`),
//!   dot segments removed and runs of `/` collapsed when
//!   [`SignOptions::normalize_path`] is on (the default), then every byte
//!   except the unreserved set (`A-Z a-z 0-9 - _ . ~`) and `/` percent-encoded
//!   once. A path that was already percent-encoded on the wire (`%20`) is
//!   therefore encoded again (`%2520`), as botocore and the AWS SDKs do for
//!   every service but S3.
//! * **Canonical query**: each `name=value` pair is decoded (`%XX`, and `+` as
//!   a space), re-encoded with the unreserved set, and the pairs sorted by
//!   encoded name, then encoded value.
//! * **Signed headers**: every header on the request at signing time, plus
//!   `host` (taken from the URI authority and inserted when missing) and
//!   `x-amz-date` / `x-amz-security-token`, except the headers in
//!   [`UNSIGNED_HEADERS`] and any `proxy-*` header. Values are trimmed, inner
//!   runs of spaces collapsed to one, and repeated headers joined with `,`.
//! * **Payload hash**: hex SHA-256 of the body, for both header signing and
//!   presigning (never `UNSIGNED-PAYLOAD`).
//!
//! # Performance
//!
//! Signing borrows everything from the request: the canonical request is
//! streamed into SHA-256 as it is written, hex digits live on
//! the stack, and the derived signing key comes from a [`SigningKeyCache`]
//! (one derivation per UTC day, region, service and key pair). Header
//! signing allocates the `Authorization` value and the new header values
//! only (plus a query list when the URI has a query string).

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http::{Request, Uri};
use ring::{digest, hmac};

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
/// that this signer signs the same header set botocore does. Any header
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

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
const X_AMZ_USER_AGENT: &str = "x-amz-user-agent";
const TERMINATOR: &str = "aws4_request";

const Q_ALGORITHM: &str = "X-Amz-Algorithm";
const Q_CREDENTIAL: &str = "X-Amz-Credential";
const Q_DATE: &str = "X-Amz-Date";
const Q_EXPIRES: &str = "X-Amz-Expires";
const Q_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const Q_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
const Q_SIGNATURE: &str = "X-Amz-Signature";

/// The query parameters a presigned request carries (removed from the
/// query string before presigning again).
const PRESIGN_PARAMS: [&str; 7] = [
    Q_ALGORITHM,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SIGNED_HEADERS,
    Q_SECURITY_TOKEN,
    Q_SIGNATURE,
];

// ---------------------------------------------------------------------------
// Public parameter types
// ---------------------------------------------------------------------------

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

/// Knobs for [`sign_request_with`] and [`signature_parts`]. `Default` gives
/// what [`sign_request`] does.
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
}

/// The intermediate values of one signature, for tests and debugging.
///
/// Contains the session token when it is signed (it is part of the canonical
/// request), but never the secret key or the derived signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParts {
    /// The canonical request, lines separated by `\n`, no trailing newline.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The signature, 64 lowercase hex digits.
    pub signature: String,
    /// The signed header names, sorted and joined with `;`.
    pub signed_headers: String,
    /// The credential scope, `YYYYMMDD/region/service/aws4_request`.
    pub credential_scope: String,
}

// ---------------------------------------------------------------------------
// Signing key cache
// ---------------------------------------------------------------------------

/// Caches derived signing keys (`kSigning`), one per UTC date, region,
/// service and access key + secret, so that signing costs one HMAC instead
/// of five.
///
/// Thread-safe and cheap to share behind an `Arc`. The secret itself is not
/// stored (only a keyed 64-bit hash of it, to notice rotation), and
/// `Debug` shows neither keys nor secrets.
///
/// ```
/// use personalize_events_core::sign::SigningKeyCache;
/// let cache = std::sync::Arc::new(SigningKeyCache::new());
/// assert_eq!(cache.derivation_count(), 0);
/// ```
pub struct SigningKeyCache {
    entries: RwLock<Vec<KeyEntry>>,
    derivations: AtomicU64,
    /// Random SipHash keys for the secret fingerprints.
    fingerprint_keys: RandomState,
}

/// At most this many keys are kept; the oldest goes first.
const CACHE_CAPACITY: usize = 16;

struct KeyEntry {
    date: [u8; 8],
    region: Box<str>,
    service: Box<str>,
    access_key_id: Box<str>,
    secret_fingerprint: u64,
    key: hmac::Key,
}

impl KeyEntry {
    fn same_identity(&self, access_key_id: &str, fp: u64, region: &str, service: &str) -> bool {
        &*self.access_key_id == access_key_id
            && self.secret_fingerprint == fp
            && &*self.region == region
            && &*self.service == service
    }
}

impl SigningKeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        SigningKeyCache {
            entries: RwLock::new(Vec::new()),
            derivations: AtomicU64::new(0),
            fingerprint_keys: RandomState::new(),
        }
    }

    /// How many signing keys this cache has derived so far (a cache miss
    /// each). For tests and metrics.
    pub fn derivation_count(&self) -> u64 {
        self.derivations.load(Ordering::Relaxed)
    }

    /// How many keys the cache holds now.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every key (e.g. after the credentials were revoked).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn key(&self, creds: &Credentials, date: &[u8; 8], region: &str, service: &str) -> hmac::Key {
        let fp = self.fingerprint_keys.hash_one(creds.secret_access_key());
        let ak = creds.access_key_id();
        {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(e) = entries
                .iter()
                .find(|e| &e.date == date && e.same_identity(ak, fp, region, service))
            {
                return e.key.clone();
            }
        }
        let key = derive_signing_key(creds.secret_access_key(), date, region, service);
        self.derivations.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have derived the same key meanwhile: replace it,
        // and replace the key of another day for the same identity.
        if let Some(e) = entries
            .iter_mut()
            .find(|e| e.same_identity(ak, fp, region, service))
        {
            e.date = *date;
            e.key = key.clone();
            return key;
        }
        if entries.len() >= CACHE_CAPACITY {
            entries.remove(0);
        }
        entries.push(KeyEntry {
            date: *date,
            region: region.into(),
            service: service.into(),
            access_key_id: ak.into(),
            secret_fingerprint: fp,
            key: key.clone(),
        });
        key
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new()
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let scopes: Vec<String> = entries
            .iter()
            .map(|e| {
                format!(
                    "{}/{}/{}/{} (key redacted)",
                    e.access_key_id,
                    String::from_utf8_lossy(&e.date),
                    e.region,
                    e.service
                )
            })
            .collect();
        f.debug_struct("SigningKeyCache")
            .field("keys", &scopes)
            .field("derivations", &self.derivation_count())
            .finish()
    }
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
fn derive_signing_key(secret: &str, date: &[u8], region: &str, service: &str) -> hmac::Key {
    let mut stack = [0u8; 132];
    let mut heap = Vec::new();
    let k_secret: &mut [u8] = if secret.len() + 4 <= stack.len() {
        &mut stack[..secret.len() + 4]
    } else {
        heap.resize(secret.len() + 4, 0);
        &mut heap[..]
    };
    k_secret[..4].copy_from_slice(b"AWS4");
    k_secret[4..].copy_from_slice(secret.as_bytes());
    let k = hmac::Key::new(hmac::HMAC_SHA256, k_secret);
    k_secret.fill(0);
    let k_date = hmac::sign(&k, date);
    let k = hmac::Key::new(hmac::HMAC_SHA256, k_date.as_ref());
    let k_region = hmac::sign(&k, region.as_bytes());
    let k = hmac::Key::new(hmac::HMAC_SHA256, k_region.as_ref());
    let k_service = hmac::sign(&k, service.as_bytes());
    let k = hmac::Key::new(hmac::HMAC_SHA256, k_service.as_ref());
    let k_signing = hmac::sign(&k, TERMINATOR.as_bytes());
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

// ---------------------------------------------------------------------------
// Byte sinks: the canonical request is written once, into a hash or a buffer
// ---------------------------------------------------------------------------

trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Something that hashes bytes: a SHA-256 or an HMAC context.
trait Absorb {
    fn absorb(&mut self, bytes: &[u8]);
}

impl Absorb for digest::Context {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Absorb for hmac::Context {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Collects the many small pieces of a canonical request or string to sign
/// in a stack buffer and hands them to the hash in few large updates: each
/// `update` of ring costs a few hundred instructions however small it is.
struct Buffered<C: Absorb> {
    ctx: C,
    buf: [u8; 512],
    len: usize,
}

impl<C: Absorb> Buffered<C> {
    fn new(ctx: C) -> Self {
        Buffered {
            ctx,
            buf: [0; 512],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.ctx.absorb(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    fn into_inner(mut self) -> C {
        self.flush();
        self.ctx
    }
}

impl<C: Absorb> Sink for Buffered<C> {
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
            if bytes.len() >= self.buf.len() {
                self.ctx.absorb(bytes);
                return;
            }
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// SHA-256 of everything put into it.
struct HashSink {
    inner: Buffered<digest::Context>,
}

impl HashSink {
    fn new() -> Self {
        HashSink {
            inner: Buffered::new(digest::Context::new(&digest::SHA256)),
        }
    }

    fn finish(self) -> digest::Digest {
        self.inner.into_inner().finish()
    }
}

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        self.inner.put(bytes);
    }
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex32(bytes: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().take(32).enumerate() {
        out[2 * i] = HEX_LOWER[(b >> 4) as usize];
        out[2 * i + 1] = HEX_LOWER[(b & 15) as usize];
    }
    out
}

/// Hex digits are ASCII, so this never fails; kept total all the same.
fn hex_str(h: &[u8; 64]) -> &str {
    std::str::from_utf8(h).unwrap_or("")
}

fn sha256_hex(data: &[u8]) -> [u8; 64] {
    hex32(digest::digest(&digest::SHA256, data).as_ref())
}

// ---------------------------------------------------------------------------
// Canonical pieces
// ---------------------------------------------------------------------------

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes every byte outside the unreserved set (and `/` when
/// `keep_slash`), uppercase hex, writing runs of safe bytes in one piece.
fn put_encoded<S: Sink>(s: &mut S, v: &[u8], keep_slash: bool) {
    let mut chunk = 0;
    for (i, &b) in v.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        s.put(&v[chunk..i]);
        s.put(&[
            b'%',
            HEX_UPPER[(b >> 4) as usize],
            HEX_UPPER[(b & 15) as usize],
        ]);
        chunk = i + 1;
    }
    s.put(&v[chunk..]);
}

fn encode_to_string(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len() + 8);
    put_encoded(&mut out, v, false);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// Trims spaces at both ends and collapses inner runs of spaces to one.
fn put_trimmed<S: Sink>(s: &mut S, v: &[u8]) {
    let mut start = 0;
    let mut end = v.len();
    while start < end && v[start] == b' ' {
        start += 1;
    }
    while end > start && v[end - 1] == b' ' {
        end -= 1;
    }
    let v = &v[start..end];
    let mut chunk = 0;
    let mut i = 0;
    while i < v.len() {
        if v[i] == b' ' && v.get(i + 1) == Some(&b' ') {
            s.put(&v[chunk..=i]);
            i += 1;
            while i < v.len() && v[i] == b' ' {
                i += 1;
            }
            chunk = i;
        } else {
            i += 1;
        }
    }
    s.put(&v[chunk..]);
}

fn path_needs_normalizing(path: &str) -> bool {
    !path.starts_with('/')
        || path.contains("//")
        || path.split('/').any(|seg| seg == "." || seg == "..")
}

/// RFC 3986 §5.2.4 dot-segment removal, with empty segments dropped too
/// (`//` collapses); the result starts with `/` and keeps a trailing `/`.
fn normalize_path(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segs {
        out.push('/');
        out.push_str(s);
    }
    let trailing = ["/", "/.", "/..", "/./", "/../"]
        .iter()
        .any(|t| path.ends_with(t));
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    out
}

fn put_canonical_uri<S: Sink>(s: &mut S, path: &str, normalize: bool) {
    if path.is_empty() {
        s.put(b"/");
    } else if normalize && path_needs_normalizing(path) {
        put_encoded(s, normalize_path(path).as_bytes(), true);
    } else {
        put_encoded(s, path.as_bytes(), true);
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding: `%XX` and `+` as a space;
/// a `%` not followed by two hex digits stays as it is.
fn decode_query_part(s: &str, out: &mut Vec<u8>) {
    out.clear();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Splits a raw query string into raw `(name, value)` pairs; empty pieces
/// (`a=1&&b=2`) are skipped, a piece without `=` has an empty value.
fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Canonical (encoded) query pairs of `query`, skipping the pairs whose
/// decoded name `skip` rejects, plus `extra` (raw values), sorted.
fn canonical_query_pairs(
    query: Option<&str>,
    skip: &dyn Fn(&[u8]) -> bool,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut buf = Vec::new();
    if let Some(q) = query {
        for (k, v) in raw_query_pairs(q) {
            decode_query_part(k, &mut buf);
            if skip(&buf) {
                continue;
            }
            let ek = encode_to_string(&buf);
            decode_query_part(v, &mut buf);
            pairs.push((ek, encode_to_string(&buf)));
        }
    }
    for (k, v) in extra {
        pairs.push((
            encode_to_string(k.as_bytes()),
            encode_to_string(v.as_bytes()),
        ));
    }
    pairs.sort_unstable();
    pairs
}

fn put_query<S: Sink>(s: &mut S, pairs: &[(String, String)]) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.put(b"&");
        }
        s.put(k.as_bytes());
        s.put(b"=");
        s.put(v.as_bytes());
    }
}

fn is_unsigned_header(name: &str, options: &SignOptions) -> bool {
    if name == "content-length" {
        return !options.sign_content_length;
    }
    UNSIGNED_HEADERS.contains(&name) || name.starts_with("proxy-")
}

// ---------------------------------------------------------------------------
// The signing plan: everything the canonical request needs, borrowed
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Src<'r> {
    /// All values of this request header, joined with `,`.
    Map(&'r HeaderName),
    /// Host derived from the URI.
    Host,
    /// The signing time.
    Date,
    /// The session token.
    Token,
    /// The payload hash.
    ContentSha256,
}

#[derive(Clone, Copy)]
struct Item<'r> {
    name: &'r str,
    src: Src<'r>,
}

const EMPTY_ITEM: Item<'static> = Item {
    name: "",
    src: Src::Date,
};

const INLINE_ITEMS: usize = 12;

/// A list of header items on the stack, spilling to the heap past 12.
struct ItemList<'r> {
    inline: [Item<'r>; INLINE_ITEMS],
    len: usize,
    spill: Vec<Item<'r>>,
}

impl<'r> ItemList<'r> {
    fn new() -> Self {
        ItemList {
            inline: [EMPTY_ITEM; INLINE_ITEMS],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, item: Item<'r>) {
        if self.spill.is_empty() && self.len < INLINE_ITEMS {
            self.inline[self.len] = item;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.reserve(INLINE_ITEMS * 2);
                self.spill.extend_from_slice(&self.inline[..self.len]);
            }
            self.spill.push(item);
        }
    }

    fn as_slice(&self) -> &[Item<'r>] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    fn sort(&mut self) {
        let slice: &mut [Item<'r>] = if self.spill.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spill
        };
        slice.sort_unstable_by(|a, b| a.name.cmp(b.name));
    }
}

struct Plan<'r> {
    method: &'r str,
    path: &'r str,
    normalize: bool,
    headers: &'r HeaderMap,
    items: ItemList<'r>,
    /// Canonical query pairs; `None` when the canonical query is empty.
    query: Option<Vec<(String, String)>>,
    amz_date: [u8; 16],
    payload_hash: [u8; 64],
    /// The session token as signed (header or query), if any.
    token: Option<&'r str>,
    /// The host value derived from the URI when the request has no `host`.
    derived_host: Option<HeaderValue>,
    access_key_id: &'r str,
    region: &'r str,
    service: &'r str,
    /// Presigning: the signed-headers list and the lifetime in seconds.
    presign: Option<(String, u64)>,
}

impl<'r> Plan<'r> {
    fn date(&self) -> &[u8] {
        &self.amz_date[..8]
    }

    fn put_signed_headers<S: Sink>(&self, s: &mut S) {
        for (i, it) in self.items.as_slice().iter().enumerate() {
            if i > 0 {
                s.put(b";");
            }
            s.put(it.name.as_bytes());
        }
    }

    fn signed_headers_len(&self) -> usize {
        let items = self.items.as_slice();
        items.iter().map(|i| i.name.len()).sum::<usize>() + items.len().saturating_sub(1)
    }

    fn put_canonical_request<S: Sink>(&self, s: &mut S) {
        s.put(self.method.as_bytes());
        s.put(b"\n");
        put_canonical_uri(s, self.path, self.normalize);
        s.put(b"\n");
        if let Some(q) = &self.query {
            put_query(s, q);
        }
        s.put(b"\n");
        for it in self.items.as_slice() {
            s.put(it.name.as_bytes());
            s.put(b":");
            match it.src {
                Src::Map(name) => {
                    for (i, v) in self.headers.get_all(name).iter().enumerate() {
                        if i > 0 {
                            s.put(b",");
                        }
                        put_trimmed(s, v.as_bytes());
                    }
                }
                Src::Host => {
                    if let Some(h) = &self.derived_host {
                        put_trimmed(s, h.as_bytes());
                    }
                }
                Src::Date => s.put(&self.amz_date),
                Src::Token => put_trimmed(s, self.token.unwrap_or("").as_bytes()),
                Src::ContentSha256 => s.put(&self.payload_hash),
            }
            s.put(b"\n");
        }
        s.put(b"\n");
        self.put_signed_headers(s);
        s.put(b"\n");
        s.put(&self.payload_hash);
    }

    fn put_scope<S: Sink>(&self, s: &mut S) {
        s.put(self.date());
        s.put(b"/");
        s.put(self.region.as_bytes());
        s.put(b"/");
        s.put(self.service.as_bytes());
        s.put(b"/");
        s.put(TERMINATOR.as_bytes());
    }

    fn put_string_to_sign<S: Sink>(&self, s: &mut S, creq_hash_hex: &[u8; 64]) {
        s.put(ALGORITHM.as_bytes());
        s.put(b"\n");
        s.put(&self.amz_date);
        s.put(b"\n");
        self.put_scope(s);
        s.put(b"\n");
        s.put(creq_hash_hex);
    }

    /// Streams the canonical request into SHA-256 and HMACs the string to
    /// sign with `key`: the signature as hex.
    fn signature(&self, key: &hmac::Key) -> [u8; 64] {
        let mut h = HashSink::new();
        self.put_canonical_request(&mut h);
        let creq_hash = hex32(h.finish().as_ref());
        let mut ctx = Buffered::new(hmac::Context::with_key(key));
        self.put_string_to_sign(&mut ctx, &creq_hash);
        hex32(ctx.into_inner().sign().as_ref())
    }

    fn credential(&self) -> String {
        let mut c = String::with_capacity(
            self.access_key_id.len() + self.region.len() + self.service.len() + 26,
        );
        c.push_str(self.access_key_id);
        c.push('/');
        c.push_str(std::str::from_utf8(self.date()).unwrap_or(""));
        c.push('/');
        c.push_str(self.region);
        c.push('/');
        c.push_str(self.service);
        c.push('/');
        c.push_str(TERMINATOR);
        c
    }
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

fn presign_seconds(d: Duration) -> Result<u64, Error> {
    let secs = d.as_secs();
    if secs == 0 || secs > MAX_PRESIGN_EXPIRES.as_secs() {
        return Err(config_error(format_args!(
            "a presigned request must expire within 1 to 604800 seconds (7 days), not {d:?}"
        )));
    }
    Ok(secs)
}

fn make_plan<'r, B: AsRef<[u8]>>(
    req: &'r Request<B>,
    params: &SigningParams<'r>,
    options: &SignOptions,
) -> Result<Plan<'r>, Error> {
    check_scope_part("region", params.region)?;
    check_scope_part("service signing name", params.service)?;
    check_scope_part("access key id", params.credentials.access_key_id())?;

    let mut amz_date = [0u8; 16];
    crate::time::write_amz_date(params.time, &mut amz_date);
    let payload_hash = sha256_hex(req.body().as_ref());
    let headers = req.headers();

    let token = if options.omit_session_token {
        None
    } else {
        params.credentials.session_token()
    };
    if let Some(t) = params.credentials.session_token() {
        // HeaderValue's rule (checked without allocating one).
        if !t.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f)) {
            return Err(config_error(
                "the session token contains characters not allowed in a header value",
            ));
        }
    }

    let derived_host = if headers.contains_key(HOST) {
        None
    } else {
        let h = host_from_uri(req.uri()).ok_or_else(|| {
            config_error(
                "the request has neither a host header nor an absolute URI to take it from",
            )
        })?;
        Some(
            HeaderValue::from_str(h)
                .map_err(|_| config_error("the URI host is not a valid header value"))?,
        )
    };

    let presign_secs = options.presign_expires.map(presign_seconds).transpose()?;

    let mut items = ItemList::new();
    match presign_secs {
        None => {
            for name in headers.keys() {
                let n = name.as_str();
                if is_unsigned_header(n, options)
                    || n == X_AMZ_DATE
                    || n == X_AMZ_SECURITY_TOKEN
                    || (options.sign_payload_header && n == X_AMZ_CONTENT_SHA256)
                {
                    continue;
                }
                items.push(Item {
                    name: n,
                    src: Src::Map(name),
                });
            }
            items.push(Item {
                name: X_AMZ_DATE,
                src: Src::Date,
            });
            if token.is_some() {
                items.push(Item {
                    name: X_AMZ_SECURITY_TOKEN,
                    src: Src::Token,
                });
            }
            if options.sign_payload_header {
                items.push(Item {
                    name: X_AMZ_CONTENT_SHA256,
                    src: Src::ContentSha256,
                });
            }
        }
        Some(_) => {
            for name in headers.keys() {
                let n = name.as_str();
                if is_unsigned_header(n, options) || n == X_AMZ_USER_AGENT {
                    continue;
                }
                items.push(Item {
                    name: n,
                    src: Src::Map(name),
                });
            }
        }
    }
    if derived_host.is_some() {
        items.push(Item {
            name: "host",
            src: Src::Host,
        });
    }
    items.sort();

    let mut plan = Plan {
        method: req.method().as_str(),
        path: req.uri().path(),
        normalize: options.normalize_path,
        headers,
        items,
        query: None,
        amz_date,
        payload_hash,
        token,
        derived_host,
        access_key_id: params.credentials.access_key_id(),
        region: params.region,
        service: params.service,
        presign: None,
    };

    let raw_query = req.uri().query().filter(|q| !q.is_empty());
    match presign_secs {
        None => {
            if raw_query.is_some() {
                plan.query = Some(canonical_query_pairs(raw_query, &|_| false, &[]));
            }
        }
        Some(secs) => {
            let mut signed = Vec::with_capacity(plan.signed_headers_len());
            plan.put_signed_headers(&mut signed);
            let signed = String::from_utf8(signed).unwrap_or_default();
            let credential = plan.credential();
            let expires = secs.to_string();
            let date = std::str::from_utf8(&plan.amz_date).unwrap_or("");
            let mut extra: Vec<(&str, &str)> = vec![
                (Q_ALGORITHM, ALGORITHM),
                (Q_CREDENTIAL, &credential),
                (Q_DATE, date),
                (Q_EXPIRES, &expires),
                (Q_SIGNED_HEADERS, &signed),
            ];
            if let Some(t) = token {
                extra.push((Q_SECURITY_TOKEN, t));
            }
            let skip = |k: &[u8]| PRESIGN_PARAMS.iter().any(|p| p.as_bytes() == k);
            let pairs = canonical_query_pairs(raw_query, &skip, &extra);
            plan.query = Some(pairs);
            plan.presign = Some((signed, secs));
        }
    }
    Ok(plan)
}

// ---------------------------------------------------------------------------
// Public signing functions
// ---------------------------------------------------------------------------

/// Signs `req` in place into the `Authorization` header.
///
/// Adds (replacing any earlier value) `x-amz-date`, `x-amz-security-token`
/// when the credentials have a session token (and removes a stale one when
/// they do not), `host` when the request has none (from the URI authority),
/// and `authorization`. The signed headers are every header present now
/// except [`UNSIGNED_HEADERS`], so send the request with those headers as
/// they are. The payload hash is the SHA-256 of the body.
///
/// Errors (never panics) with [`Error::Config`] when the region, service or
/// access key cannot appear in a credential scope, the session token is not
/// a valid header value, or there is no host to sign.
///
/// ```
/// use personalize_events_core::{sign, Credentials};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None);
/// let cache = sign::SigningKeyCache::new();
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
    cache: &SigningKeyCache,
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
    cache: &SigningKeyCache,
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
    cache: &SigningKeyCache,
) -> Result<(), Error> {
    let mut plan = make_plan(req, params, options)?;
    let key = cache.key(
        params.credentials,
        &date8(&plan.amz_date),
        params.region,
        params.service,
    );
    let signature = plan.signature(&key);
    // Only the names of the signed headers are needed from here on.
    let derived_host = plan.derived_host.take();

    match &plan.presign {
        None => {
            // Exactly sized: a full String becomes the header's `Bytes`
            // without another allocation.
            let mut auth = String::with_capacity(
                ALGORITHM.len()
                    + " Credential=".len()
                    + plan.access_key_id.len()
                    + "/YYYYMMDD/".len()
                    + plan.region.len()
                    + 1
                    + plan.service.len()
                    + 1
                    + TERMINATOR.len()
                    + ", SignedHeaders=".len()
                    + plan.signed_headers_len()
                    + ", Signature=".len()
                    + 64,
            );
            auth.push_str(ALGORITHM);
            auth.push_str(" Credential=");
            auth.push_str(plan.access_key_id);
            auth.push('/');
            auth.push_str(std::str::from_utf8(plan.date()).unwrap_or(""));
            auth.push('/');
            auth.push_str(plan.region);
            auth.push('/');
            auth.push_str(plan.service);
            auth.push('/');
            auth.push_str(TERMINATOR);
            auth.push_str(", SignedHeaders=");
            for (i, it) in plan.items.as_slice().iter().enumerate() {
                if i > 0 {
                    auth.push(';');
                }
                auth.push_str(it.name);
            }
            auth.push_str(", Signature=");
            auth.push_str(hex_str(&signature));
            debug_assert_eq!(auth.len(), auth.capacity());

            let auth = HeaderValue::try_from(auth)
                .map_err(|_| config_error("the Authorization value is not a valid header value"))?;
            let date = HeaderValue::from_bytes(&plan.amz_date)
                .map_err(|_| config_error("the signing time is out of range"))?;
            let token =
                match params.credentials.session_token() {
                    Some(t) => Some(HeaderValue::from_str(t).map_err(|_| {
                        config_error("the session token is not a valid header value")
                    })?),
                    None => None,
                };
            let content_sha = if options.sign_payload_header {
                Some(
                    HeaderValue::from_bytes(&plan.payload_hash)
                        .map_err(|_| config_error("payload hash"))?,
                )
            } else {
                None
            };
            drop(plan);

            let headers = req.headers_mut();
            if let Some(h) = derived_host {
                headers.insert(HOST, h);
            }
            headers.insert(HeaderName::from_static(X_AMZ_DATE), date);
            match token {
                Some(mut t) => {
                    t.set_sensitive(true);
                    headers.insert(HeaderName::from_static(X_AMZ_SECURITY_TOKEN), t);
                }
                None => {
                    headers.remove(HeaderName::from_static(X_AMZ_SECURITY_TOKEN));
                }
            }
            if let Some(c) = content_sha {
                headers.insert(HeaderName::from_static(X_AMZ_CONTENT_SHA256), c);
            }
            let mut auth = auth;
            auth.set_sensitive(true);
            headers.insert(AUTHORIZATION, auth);
            Ok(())
        }
        Some((signed_headers, secs)) => {
            // Keep the caller's own query text (minus any earlier presigning
            // parameters) and append ours.
            let mut q = String::with_capacity(512);
            let mut buf = Vec::new();
            if let Some(raw) = req.uri().query() {
                for (k, v) in raw_query_pairs(raw) {
                    decode_query_part(k, &mut buf);
                    if PRESIGN_PARAMS
                        .iter()
                        .any(|p| p.as_bytes() == buf.as_slice())
                    {
                        continue;
                    }
                    if !q.is_empty() {
                        q.push('&');
                    }
                    q.push_str(k);
                    q.push('=');
                    q.push_str(v);
                }
            }
            let mut push = |k: &str, v: &str| {
                if !q.is_empty() {
                    q.push('&');
                }
                q.push_str(k);
                q.push('=');
                q.push_str(&encode_to_string(v.as_bytes()));
            };
            push(Q_ALGORITHM, ALGORITHM);
            push(Q_CREDENTIAL, &plan.credential());
            push(Q_DATE, std::str::from_utf8(&plan.amz_date).unwrap_or(""));
            push(Q_EXPIRES, &secs.to_string());
            push(Q_SIGNED_HEADERS, signed_headers);
            if let Some(t) = params.credentials.session_token() {
                push(Q_SECURITY_TOKEN, t);
            }
            push(Q_SIGNATURE, hex_str(&signature));
            let mut pq = String::with_capacity(plan.path.len() + 1 + q.len());
            pq.push_str(if plan.path.is_empty() { "/" } else { plan.path });
            pq.push('?');
            pq.push_str(&q);
            drop(plan);

            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                http::uri::PathAndQuery::try_from(pq)
                    .map_err(|e| config_error(format_args!("presigned URI: {e}")))?,
            );
            let uri = Uri::from_parts(parts)
                .map_err(|e| config_error(format_args!("presigned URI: {e}")))?;
            *req.uri_mut() = uri;
            if let Some(h) = derived_host {
                req.headers_mut().insert(HOST, h);
            }
            Ok(())
        }
    }
}

fn date8(amz_date: &[u8; 16]) -> [u8; 8] {
    let mut d = [0u8; 8];
    d.copy_from_slice(&amz_date[..8]);
    d
}

/// The canonical request, string to sign and signature `req` would get with
/// `options`, without changing `req` (nothing is cached: the signing key is
/// derived each call). For tests and debugging.
///
/// In header mode the values [`sign_request_with`] would add
/// (`x-amz-date`, `x-amz-security-token`, `host`, `x-amz-content-sha256`)
/// are included as if present; in presign mode the `X-Amz-*` query
/// parameters are.
pub fn signature_parts<B: AsRef<[u8]>>(
    req: &Request<B>,
    params: &SigningParams<'_>,
    options: &SignOptions,
) -> Result<SignatureParts, Error> {
    let plan = make_plan(req, params, options)?;
    let mut creq = Vec::with_capacity(512);
    plan.put_canonical_request(&mut creq);
    let creq_hash = sha256_hex(&creq);
    let mut sts = Vec::with_capacity(128);
    plan.put_string_to_sign(&mut sts, &creq_hash);
    let key = derive_signing_key(
        params.credentials.secret_access_key(),
        plan.date(),
        params.region,
        params.service,
    );
    let signature = hex32(hmac::sign(&key, &sts).as_ref());
    let mut signed = Vec::new();
    plan.put_signed_headers(&mut signed);
    let mut scope = Vec::new();
    plan.put_scope(&mut scope);
    Ok(SignatureParts {
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign: String::from_utf8_lossy(&sts).into_owned(),
        signature: hex_str(&signature).to_owned(),
        signed_headers: String::from_utf8_lossy(&signed).into_owned(),
        credential_scope: String::from_utf8_lossy(&scope).into_owned(),
    })
}

// ---------------------------------------------------------------------------
// Verification (server side)
// ---------------------------------------------------------------------------

/// Why a received request fails SigV4 verification, named after the error
/// code an AWS JSON service answers with. Every variant answers HTTP 403.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// No `Authorization` header and no presigning query parameters
    /// (`MissingAuthenticationTokenException`).
    MissingAuthenticationToken(String),
    /// The signature is malformed or lacks a part: credential, signed
    /// headers, signature, date (`IncompleteSignatureException`).
    IncompleteSignature(String),
    /// Unknown access key, or a session token that does not match
    /// (`UnrecognizedClientException`).
    UnrecognizedClient(String),
    /// Wrong signature, wrong scope (service, region, date), expired
    /// presigned URL or clock skew beyond the limit
    /// (`InvalidSignatureException`).
    InvalidSignature(String),
}

impl VerifyError {
    /// The error code to answer with, e.g. `InvalidSignatureException`
    /// (the `X-Amzn-ErrorType` of a rest-json error response).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MissingAuthenticationToken(_) => "MissingAuthenticationTokenException",
            VerifyError::IncompleteSignature(_) => "IncompleteSignatureException",
            VerifyError::UnrecognizedClient(_) => "UnrecognizedClientException",
            VerifyError::InvalidSignature(_) => "InvalidSignatureException",
        }
    }

    /// The HTTP status to answer with (403 for all of them).
    pub fn status(&self) -> u16 {
        403
    }

    /// The human-readable message, worded like AWS's.
    pub fn message(&self) -> &str {
        match self {
            VerifyError::MissingAuthenticationToken(m)
            | VerifyError::IncompleteSignature(m)
            | VerifyError::UnrecognizedClient(m)
            | VerifyError::InvalidSignature(m) => m,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for VerifyError {}

/// What a successfully verified request was signed with. `Debug` does not
/// show the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    /// The access key id of the signer.
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The service of the credential scope.
    pub service: String,
    /// The signing time (`x-amz-date` / `X-Amz-Date`).
    pub signing_time: SystemTime,
    /// The signed header names, as the request listed them.
    pub signed_headers: Vec<String>,
    /// True for a presigned (query-string) request.
    pub presigned: bool,
    /// When a presigned request stops being valid.
    pub expires_at: Option<SystemTime>,
    /// The session token the request carried, if any.
    pub session_token: Option<String>,
}

impl fmt::Debug for VerifiedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signing_time", &self.signing_time)
            .field("signed_headers", &self.signed_headers)
            .field("presigned", &self.presigned)
            .field("expires_at", &self.expires_at)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// Options of [`verify_request_with`].
#[derive(Debug, Clone, Copy)]
pub struct VerifyParams<'a> {
    /// The signing name the credential scope must name (e.g. `personalize`).
    pub service: &'a str,
    /// The region the credential scope must name; `None` accepts any.
    pub region: Option<&'a str>,
    /// The server's clock.
    pub now: SystemTime,
    /// The largest accepted difference between the signing time and `now`
    /// (AWS allows 5 to 15 minutes, depending on the service).
    pub max_skew: Duration,
}

/// Verifies a received SigV4-signed request (header-signed or presigned),
/// the way an AWS front end does, for server emulators. Any region is
/// accepted (see [`verify_request_with`] to require one).
///
/// `lookup_secret` maps an access key id to its credentials; `None` means
/// the key is unknown (`UnrecognizedClientException`). When the returned
/// credentials have a session token, the request must carry the same one.
/// The canonical request is rebuilt from the request's own `SignedHeaders`,
/// so a client may sign more headers than botocore does. Never panics on
/// garbage input.
pub fn verify_request<B, F>(
    req: &Request<B>,
    lookup_secret: F,
    now: SystemTime,
    max_skew: Duration,
    expected_service: &str,
) -> Result<VerifiedRequest, VerifyError>
where
    B: AsRef<[u8]>,
    F: Fn(&str) -> Option<Credentials>,
{
    verify_request_with(
        req,
        lookup_secret,
        &VerifyParams {
            service: expected_service,
            region: None,
            now,
            max_skew,
        },
    )
}

struct AuthParts<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    amz_date: String,
    expires: Option<u64>,
    token: Option<String>,
    presigned: bool,
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const BAD_TOKEN: &str = "The security token included in the request is invalid.";

fn incomplete(m: impl Into<String>) -> VerifyError {
    VerifyError::IncompleteSignature(m.into())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(incomplete(format!(
            "The request has more than one '{name}' header."
        )));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| incomplete(format!("The '{name}' header is not valid ASCII.")))
}

fn parse_auth_header<'a>(auth: &'a str, headers: &HeaderMap) -> Result<AuthParts<'a>, VerifyError> {
    let (alg, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    if alg != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported Authorization algorithm: only '{ALGORITHM}' is accepted."
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(incomplete(format!(
                "Authorization header has an element without '=': '{}'.",
                part.chars().take(64).collect::<String>()
            )));
        };
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(incomplete(format!(
                "Authorization header repeats '{}'.",
                k.trim()
            )));
        }
        *slot = Some(v.trim());
    }
    let amz_date = match header_str(headers, X_AMZ_DATE)? {
        Some(d) => Some(d.to_owned()),
        None => header_str(headers, "date")?
            .and_then(crate::time::parse_http_date)
            .map(crate::time::amz_date),
    };
    let mut missing = String::new();
    if credential.is_none() {
        missing.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if signature.is_none() {
        missing.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed_headers.is_none() {
        missing.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if amz_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    match (credential, signed_headers, signature, amz_date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) => {
            Ok(AuthParts {
                credential,
                signed_headers,
                signature,
                amz_date,
                expires: None,
                token: header_str(headers, X_AMZ_SECURITY_TOKEN)?.map(str::to_owned),
                presigned: false,
            })
        }
        _ => Err(incomplete(missing.trim_end())),
    }
}

/// Decoded presigning query parameters (owned: they were percent-decoded).
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    token: Option<String>,
}

fn parse_query_auth(query: &str) -> Result<QueryAuth, VerifyError> {
    let mut qa = QueryAuth {
        algorithm: None,
        credential: None,
        date: None,
        expires: None,
        signed_headers: None,
        signature: None,
        token: None,
    };
    let mut kb = Vec::new();
    let mut vb = Vec::new();
    for (k, v) in raw_query_pairs(query) {
        decode_query_part(k, &mut kb);
        let slot = match kb.as_slice() {
            b"X-Amz-Algorithm" => &mut qa.algorithm,
            b"X-Amz-Credential" => &mut qa.credential,
            b"X-Amz-Date" => &mut qa.date,
            b"X-Amz-Expires" => &mut qa.expires,
            b"X-Amz-SignedHeaders" => &mut qa.signed_headers,
            b"X-Amz-Signature" => &mut qa.signature,
            b"X-Amz-Security-Token" => &mut qa.token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(incomplete(format!(
                "The query string repeats the '{}' parameter.",
                String::from_utf8_lossy(&kb)
            )));
        }
        decode_query_part(v, &mut vb);
        *slot = Some(String::from_utf8_lossy(&vb).into_owned());
    }
    Ok(qa)
}

fn fmt_skew(d: Duration) -> String {
    let s = d.as_secs();
    if s % 60 == 0 {
        format!("{} min.", s / 60)
    } else {
        format!("{s} sec.")
    }
}

/// Constant-time equality of two byte strings of the same length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// [`verify_request`] with every option, including a required region.
pub fn verify_request_with<B, F>(
    req: &Request<B>,
    lookup_secret: F,
    params: &VerifyParams<'_>,
) -> Result<VerifiedRequest, VerifyError>
where
    B: AsRef<[u8]>,
    F: Fn(&str) -> Option<Credentials>,
{
    let headers = req.headers();
    let auth_header = header_str(headers, AUTHORIZATION.as_str())?;
    let query = req.uri().query().unwrap_or("");
    let qa = parse_query_auth(query)?;
    let query_signed = qa.algorithm.is_some() || qa.signature.is_some() || qa.credential.is_some();

    let owned_query_parts;
    let parts = match (auth_header, query_signed) {
        (Some(_), true) => {
            return Err(incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified.",
            ))
        }
        (None, false) => {
            return Err(VerifyError::MissingAuthenticationToken(
                "Missing Authentication Token".to_owned(),
            ))
        }
        (Some(a), false) => parse_auth_header(a, headers)?,
        (None, true) => {
            let mut missing = String::new();
            for (v, name) in [
                (&qa.algorithm, Q_ALGORITHM),
                (&qa.credential, Q_CREDENTIAL),
                (&qa.signature, Q_SIGNATURE),
                (&qa.signed_headers, Q_SIGNED_HEADERS),
                (&qa.date, Q_DATE),
                (&qa.expires, Q_EXPIRES),
            ] {
                if v.is_none() {
                    missing.push_str(&format!("The query string requires the '{name}' parameter. "));
                }
            }
            if !missing.is_empty() {
                return Err(incomplete(missing.trim_end()));
            }
            if qa.algorithm.as_deref() != Some(ALGORITHM) {
                return Err(incomplete(format!(
                    "Unsupported X-Amz-Algorithm: only '{ALGORITHM}' is accepted."
                )));
            }
            let expires = qa
                .expires
                .as_deref()
                .and_then(|e| e.parse::<u64>().ok())
                .filter(|e| (1..=604_800).contains(e))
                .ok_or_else(|| {
                    incomplete("X-Amz-Expires must be a whole number of seconds from 1 to 604800 (7 days).")
                })?;
            owned_query_parts = (
                qa.credential.unwrap_or_default(),
                qa.signed_headers.unwrap_or_default(),
                qa.signature.unwrap_or_default(),
            );
            AuthParts {
                credential: &owned_query_parts.0,
                signed_headers: &owned_query_parts.1,
                signature: &owned_query_parts.2,
                amz_date: qa.date.unwrap_or_default(),
                expires: Some(expires),
                token: qa.token,
                presigned: true,
            }
        }
    };

    // Credential scope.
    let scope: Vec<&str> = parts.credential.split('/').collect();
    if scope.len() != 5 || scope.iter().any(|s| s.is_empty()) {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            parts.credential.chars().take(128).collect::<String>()
        )));
    }
    let (access_key_id, scope_date, region, service, term) =
        (scope[0], scope[1], scope[2], scope[3], scope[4]);
    if term != TERMINATOR {
        return Err(VerifyError::InvalidSignature(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{term}'."
        )));
    }
    if service != params.service {
        return Err(VerifyError::InvalidSignature(format!(
            "Credential should be scoped to correct service: '{}'. ",
            params.service
        )));
    }
    if let Some(r) = params.region {
        if region != r {
            return Err(VerifyError::InvalidSignature(format!(
                "Credential should be scoped to a valid region, not '{region}'. "
            )));
        }
    }
    let signing_time = crate::time::parse_amz_date(&parts.amz_date).ok_or_else(|| {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
            parts.amz_date.chars().take(64).collect::<String>()
        ))
    })?;
    if parts.amz_date.get(..8) != Some(scope_date) {
        return Err(VerifyError::InvalidSignature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            scope_date,
            parts.amz_date.get(..8).unwrap_or(""),
            parts.amz_date
        )));
    }
    let signed_names: Vec<&str> = parts.signed_headers.split(';').collect();
    if !signed_names.contains(&"host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let signature = parts.signature.trim();
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VerifyError::InvalidSignature(MISMATCH.to_owned()));
    }

    // The key.
    let Some(creds) = lookup_secret(access_key_id) else {
        return Err(VerifyError::UnrecognizedClient(BAD_TOKEN.to_owned()));
    };
    if let Some(expected) = creds.session_token() {
        if !ct_eq(
            parts.token.as_deref().unwrap_or("").as_bytes(),
            expected.as_bytes(),
        ) {
            return Err(VerifyError::UnrecognizedClient(BAD_TOKEN.to_owned()));
        }
    }

    // Recompute.
    let query_pairs = {
        let q = Some(query).filter(|q| !q.is_empty());
        let skip = |k: &[u8]| parts.presigned && k == Q_SIGNATURE.as_bytes();
        canonical_query_pairs(q, &skip, &[])
    };
    let payload_hash = sha256_hex(req.body().as_ref());
    let key = derive_signing_key(
        creds.secret_access_key(),
        scope_date.as_bytes(),
        region,
        service,
    );
    let compute = |normalize: bool| -> [u8; 64] {
        let mut h = HashSink::new();
        h.put(req.method().as_str().as_bytes());
        h.put(b"\n");
        put_canonical_uri(&mut h, req.uri().path(), normalize);
        h.put(b"\n");
        put_query(&mut h, &query_pairs);
        h.put(b"\n");
        for name in &signed_names {
            h.put(name.as_bytes());
            h.put(b":");
            for (i, v) in headers.get_all(*name).iter().enumerate() {
                if i > 0 {
                    h.put(b",");
                }
                put_trimmed(&mut h, v.as_bytes());
            }
            h.put(b"\n");
        }
        h.put(b"\n");
        h.put(parts.signed_headers.as_bytes());
        h.put(b"\n");
        h.put(&payload_hash);
        let creq_hash = hex32(h.finish().as_ref());
        let mut ctx = Buffered::new(hmac::Context::with_key(&key));
        ctx.put(ALGORITHM.as_bytes());
        ctx.put(b"\n");
        ctx.put(parts.amz_date.as_bytes());
        ctx.put(b"\n");
        ctx.put(&parts.credential.as_bytes()[access_key_id.len() + 1..]);
        ctx.put(b"\n");
        ctx.put(&creq_hash);
        hex32(ctx.into_inner().sign().as_ref())
    };
    let provided = signature.to_ascii_lowercase();
    let mut ok = ct_eq(&compute(true), provided.as_bytes());
    // A client may have signed the path without normalizing it (S3 style).
    if !ok && path_needs_normalizing(req.uri().path()) && !req.uri().path().is_empty() {
        ok = ct_eq(&compute(false), provided.as_bytes());
    }
    if !ok {
        return Err(VerifyError::InvalidSignature(MISMATCH.to_owned()));
    }

    // Time.
    let now_s = crate::time::amz_date(params.now);
    let too_late = |limit: SystemTime| signing_time > limit;
    if let Some(limit) = params.now.checked_add(params.max_skew) {
        if too_late(limit) {
            return Err(VerifyError::InvalidSignature(format!(
                "Signature not yet current: {} is still later than {} ({} + {})",
                parts.amz_date,
                crate::time::amz_date(limit),
                now_s,
                fmt_skew(params.max_skew)
            )));
        }
    }
    let expires_at = match parts.expires {
        Some(secs) => {
            let at = signing_time + Duration::from_secs(secs);
            if params.now > at {
                return Err(VerifyError::InvalidSignature(format!(
                    "Signature expired: {} is now earlier than {} ({} + {} sec.)",
                    crate::time::amz_date(at),
                    now_s,
                    parts.amz_date,
                    secs
                )));
            }
            Some(at)
        }
        None => {
            if let Some(limit) = params.now.checked_sub(params.max_skew) {
                if signing_time < limit {
                    return Err(VerifyError::InvalidSignature(format!(
                        "Signature expired: {} is now earlier than {} ({} - {})",
                        parts.amz_date,
                        crate::time::amz_date(limit),
                        now_s,
                        fmt_skew(params.max_skew)
                    )));
                }
            }
            None
        }
    };

    Ok(VerifiedRequest {
        access_key_id: access_key_id.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signing_time,
        signed_headers: signed_names.iter().map(|s| (*s).to_owned()).collect(),
        presigned: parts.presigned,
        expires_at,
        session_token: parts.token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const AK: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn at(rfc3339: &str) -> SystemTime {
        crate::time::parse_rfc3339(rfc3339).unwrap()
    }

    fn creds() -> Credentials {
        Credentials::new(AK, SECRET, None)
    }

    fn params<'a>(c: &'a Credentials, t: SystemTime) -> SigningParams<'a> {
        SigningParams {
            credentials: c,
            region: "us-east-1",
            service: "service",
            time: t,
        }
    }

    fn vanilla() -> Request<Vec<u8>> {
        Request::get("https://example.amazonaws.com/")
            .header("host", "example.amazonaws.com")
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn sign_get_vanilla_matches_suite() {
        let c = creds();
        let p = params(&c, at("2015-08-30T12:36:00Z"));
        let parts = signature_parts(&vanilla(), &p, &SignOptions::default()).unwrap();
        assert_eq!(
            parts.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            parts.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        let cache = SigningKeyCache::new();
        let mut req = vanilla();
        sign_request(&mut req, &p, &cache).unwrap();
        assert_eq!(
            req.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
    }

    #[test]
    fn sign_key_cache_reuses_within_a_day_and_rederives_after_midnight() {
        let c = creds();
        let cache = SigningKeyCache::new();
        let mut sigs = Vec::new();
        for t in [
            "2026-11-29T00:00:00Z",
            "2026-11-29T12:00:00Z",
            "2026-11-29T23:59:59Z",
        ] {
            let mut req = vanilla();
            sign_request(&mut req, &params(&c, at(t)), &cache).unwrap();
            sigs.push(req.headers()["authorization"].clone());
        }
        assert_eq!(cache.derivation_count(), 1);
        assert_eq!(cache.len(), 1);
        let mut req = vanilla();
        sign_request(&mut req, &params(&c, at("2026-11-30T00:00:00Z")), &cache).unwrap();
        assert_eq!(cache.derivation_count(), 2);
        assert_eq!(cache.len(), 1, "the previous day's key is replaced");
        // The cached key signs exactly like a fresh derivation.
        let fresh = signature_parts(
            &vanilla(),
            &params(&c, at("2026-11-30T00:00:00Z")),
            &SignOptions::default(),
        )
        .unwrap();
        assert!(req.headers()["authorization"]
            .to_str()
            .unwrap()
            .ends_with(&fresh.signature));
        // Another region or a rotated secret is another key.
        let mut p = params(&c, at("2026-11-30T01:00:00Z"));
        p.region = "eu-west-1";
        sign_request(&mut vanilla(), &p, &cache).unwrap();
        let rotated = Credentials::new(AK, "another-secret", None);
        sign_request(
            &mut vanilla(),
            &params(&rotated, at("2026-11-30T01:00:00Z")),
            &cache,
        )
        .unwrap();
        assert_eq!(cache.derivation_count(), 4);
        sign_request(
            &mut vanilla(),
            &params(&c, at("2026-11-30T02:00:00Z")),
            &cache,
        )
        .unwrap();
        assert_eq!(cache.derivation_count(), 4);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn sign_key_cache_debug_redacts_secret_and_key() {
        let c = creds();
        let cache = SigningKeyCache::default();
        sign_request(
            &mut vanilla(),
            &params(&c, at("2015-08-30T12:36:00Z")),
            &cache,
        )
        .unwrap();
        let dbg = format!("{cache:?}");
        assert!(
            dbg.contains("AKIDEXAMPLE/20150830/us-east-1/service"),
            "{dbg}"
        );
        assert!(
            !dbg.contains(SECRET) && !dbg.contains("EXAMPLEKEY"),
            "{dbg}"
        );
        // The derived key (computed by hand) does not appear either.
        let mut k = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{SECRET}").as_bytes());
        let mut tag = Vec::new();
        for part in ["20150830", "us-east-1", "service", "aws4_request"] {
            tag = hmac::sign(&k, part.as_bytes()).as_ref().to_vec();
            k = hmac::Key::new(hmac::HMAC_SHA256, &tag);
        }
        let hex = String::from_utf8(hex32(&tag).to_vec()).unwrap();
        assert!(!dbg.contains(&hex) && !dbg.contains(&hex[..16]), "{dbg}");
        let p = params(&c, at("2015-08-30T12:36:00Z"));
        assert!(!format!("{p:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn sign_errors_instead_of_panicking() {
        let c = creds();
        let t = at("2026-11-29T12:00:00Z");
        let cache = SigningKeyCache::new();
        // No host header and no authority.
        let mut req = Request::post("/events").body(Vec::new()).unwrap();
        let before = req.headers().clone();
        assert!(matches!(
            sign_request(&mut req, &params(&c, t), &cache),
            Err(Error::Config(_))
        ));
        assert_eq!(req.headers(), &before, "unchanged on error");
        // A region that cannot be in a scope.
        let mut p = params(&c, t);
        p.region = "us/east";
        assert!(matches!(
            sign_request(&mut vanilla(), &p, &cache),
            Err(Error::Config(_))
        ));
        p.region = "";
        assert!(matches!(
            sign_request(&mut vanilla(), &p, &cache),
            Err(Error::Config(_))
        ));
        // A session token that is not a header value.
        let bad = Credentials::new(AK, SECRET, Some("tok\nen".into()));
        assert!(matches!(
            sign_request(&mut vanilla(), &params(&bad, t), &cache),
            Err(Error::Config(_))
        ));
        // Presign lifetimes.
        for secs in [0, 604_801] {
            let r = presign_request(vanilla(), &params(&c, t), Duration::from_secs(secs), &cache);
            assert!(matches!(r, Err(Error::Config(_))), "{secs}");
        }
        assert!(presign_request(vanilla(), &params(&c, t), MAX_PRESIGN_EXPIRES, &cache).is_ok());
        assert!(presign_request(
            vanilla(),
            &params(&c, t),
            Duration::from_millis(500),
            &cache
        )
        .is_err());
    }

    #[test]
    fn sign_canonical_pieces() {
        for (path, want) in [
            ("/", "/"),
            ("", "/"),
            ("//", "/"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/../..", "/"),
            ("//example//", "/example/"),
            ("/events", "/events"),
        ] {
            let mut out = Vec::new();
            put_canonical_uri(&mut out, path, true);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{path}");
        }
        let mut out = Vec::new();
        put_canonical_uri(&mut out, "/a%20b/ሴ/$", false);
        assert_eq!(String::from_utf8(out).unwrap(), "/a%2520b/%E1%88%B4/%24");

        let pairs = canonical_query_pairs(Some("b=2&a=1&a=0&&c&d=x+y%2Fz&e=%zz"), &|_| false, &[]);
        let mut out = Vec::new();
        put_query(&mut out, &pairs);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a=0&a=1&b=2&c=&d=x%20y%2Fz&e=%25zz"
        );

        for (v, want) in [
            ("  a   b  c ", "a b c"),
            ("x", "x"),
            ("   ", ""),
            ("a b", "a b"),
        ] {
            let mut out = Vec::new();
            put_trimmed(&mut out, v.as_bytes());
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn sign_then_verify_and_clock_skew() {
        let c = Credentials::new(AK, SECRET, Some("the-token".into()));
        let t = at("2026-11-29T12:00:00Z");
        let cache = SigningKeyCache::new();
        let mut req = Request::post("https://personalize-events.us-east-1.amazonaws.com/events")
            .header("content-type", "application/json")
            .header("user-agent", "test")
            .body(b"{\"a\":1}".to_vec())
            .unwrap();
        let mut p = params(&c, t);
        p.service = "personalize";
        sign_request(&mut req, &p, &cache).unwrap();
        assert!(req.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"));
        let lookup = |ak: &str| (ak == AK).then(|| c.clone());
        let five = Duration::from_secs(300);
        let ok = verify_request(
            &req,
            lookup,
            t + Duration::from_secs(299),
            five,
            "personalize",
        )
        .unwrap();
        assert_eq!(ok.region, "us-east-1");
        assert_eq!(ok.session_token.as_deref(), Some("the-token"));
        let err = verify_request(
            &req,
            lookup,
            t + Duration::from_secs(301),
            five,
            "personalize",
        )
        .unwrap_err();
        assert_eq!(err.code(), "InvalidSignatureException");
        assert_eq!(
            err.message(),
            "Signature expired: 20261129T120000Z is now earlier than 20261129T120001Z (20261129T120501Z - 5 min.)"
        );
        let err = verify_request(
            &req,
            lookup,
            t - Duration::from_secs(301),
            five,
            "personalize",
        )
        .unwrap_err();
        assert!(
            err.message().starts_with("Signature not yet current"),
            "{err}"
        );
        let err = verify_request(&req, lookup, t, five, "s3").unwrap_err();
        assert_eq!(err.code(), "InvalidSignatureException");
        let err = verify_request(&req, |_| None, t, five, "personalize").unwrap_err();
        assert_eq!(err.code(), "UnrecognizedClientException");
        let other_token = Credentials::new(AK, SECRET, Some("other".into()));
        let err = verify_request(&req, |_| Some(other_token.clone()), t, five, "personalize")
            .unwrap_err();
        assert_eq!(err.code(), "UnrecognizedClientException");
        let err = verify_request_with(
            &req,
            lookup,
            &VerifyParams {
                service: "personalize",
                region: Some("eu-west-1"),
                now: t,
                max_skew: five,
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), "InvalidSignatureException");
        // The user agent is not signed: a proxy may change it.
        req.headers_mut()
            .insert("user-agent", HeaderValue::from_static("proxy"));
        assert!(verify_request(&req, lookup, t, five, "personalize").is_ok());
        req.headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        let err = verify_request(&req, lookup, t, five, "personalize").unwrap_err();
        assert_eq!(err.code(), "InvalidSignatureException");
        assert!(err.to_string().contains("does not match"));
    }

    #[test]
    fn sign_presigned_round_trip_and_expiry() {
        let c = creds();
        let t = at("2026-11-29T12:00:00Z");
        let cache = SigningKeyCache::new();
        let req = Request::post("https://example.amazonaws.com/events?z=1&a=b%20c")
            .body(b"body".to_vec())
            .unwrap();
        let req = presign_request(req, &params(&c, t), DEFAULT_PRESIGN_EXPIRES, &cache).unwrap();
        let q = req.uri().query().unwrap().to_owned();
        assert!(q.starts_with("z=1&a=b%20c&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261129%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20261129T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature="), "{q}");
        assert_eq!(req.headers()["host"], "example.amazonaws.com");
        let lookup = |_: &str| Some(c.clone());
        let skew = Duration::from_secs(300);
        let v =
            verify_request(&req, lookup, t + Duration::from_secs(3600), skew, "service").unwrap();
        assert!(v.presigned);
        assert_eq!(v.expires_at, Some(t + Duration::from_secs(3600)));
        let err = verify_request(&req, lookup, t + Duration::from_secs(3601), skew, "service")
            .unwrap_err();
        assert!(err.message().starts_with("Signature expired"), "{err}");
        // Presigning again replaces the old parameters.
        let again = presign_request(req, &params(&c, t), Duration::from_secs(60), &cache).unwrap();
        let q2 = again.uri().query().unwrap();
        assert_eq!(q2.matches("X-Amz-Signature=").count(), 1, "{q2}");
        assert!(q2.contains("X-Amz-Expires=60&"));
        assert!(verify_request(&again, lookup, t, skew, "service").is_ok());
    }

    #[test]
    fn sign_verify_survives_garbage() {
        let lookup = |_: &str| Some(creds());
        let now = UNIX_EPOCH + Duration::from_secs(1_795_953_600);
        let skew = Duration::from_secs(900);
        let garbage: &[&[u8]] = &[
            b"",
            b"AWS4-HMAC-SHA256",
            b"AWS4-HMAC-SHA256 ",
            b"AWS4-HMAC-SHA256 Credential",
            b"AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
            b"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz",
            b"AWS4-HMAC-SHA256 Credential=a/20261129/r/service/aws4_request, SignedHeaders=host, Signature=00",
            b"AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature===",
            b"AWS4-HMAC-SHA256 Credential=a/\xc3\xa9/r/s/aws4_request, Signature=1",
            b"Basic dXNlcjpwYXNz",
            b"AWS4-HMAC-SHA256 ,,,,,=,=,",
        ];
        for g in garbage {
            let Ok(v) = HeaderValue::from_bytes(g) else {
                continue;
            };
            let req = Request::get("https://example.amazonaws.com/")
                .header("authorization", v)
                .header("x-amz-date", "20261129T120000Z")
                .body(Vec::new())
                .unwrap();
            let err = verify_request(&req, lookup, now, skew, "service").unwrap_err();
            assert!(!err.message().is_empty());
        }
        for q in [
            "X-Amz-Signature",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%FF%FE&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20261129%2Fr%2Fservice%2Faws4_request&X-Amz-Date=20261129T120000Z&X-Amz-Expires=99999999999999999999&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
            "X-Amz-Signature=1&X-Amz-Signature=2",
        ] {
            let req = Request::get(format!("https://example.amazonaws.com/?{q}"))
                .body(Vec::new())
                .unwrap();
            assert!(verify_request(&req, lookup, now, skew, "service").is_err(), "{q}");
        }
        let bare = Request::get("https://example.amazonaws.com/")
            .body(Vec::new())
            .unwrap();
        let err = verify_request(&bare, lookup, now, skew, "service").unwrap_err();
        assert_eq!(err.code(), "MissingAuthenticationTokenException");
        assert_eq!(err.status(), 403);
    }
}
