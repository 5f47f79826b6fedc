//! Checks a signature made by core's signer (aws-sigv4 underneath) against a
//! test vector's canonical request, string to sign and signature.
//!
//! aws-sigv4 does not return its canonical request, but it traces it (with
//! sensitive header values such as the session token shown as
//! `** redacted (length=N) **`): [`capture`] runs a closure with a tracing
//! subscriber that keeps those fields, so a test compares aws-sigv4's own
//! canonical request with the vector's text. The chain from there is checked
//! with aws-sigv4's public primitives: the string to sign is the algorithm,
//! date, scope and the SHA-256 of the vector's canonical request, and the
//! signature is the HMAC of the vector's string to sign with the derived key.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What aws-sigv4 traced while signing.
#[derive(Debug, Default, Clone)]
pub struct Traced {
    /// The canonical request (sensitive header values redacted).
    pub canonical_request: Option<String>,
    /// The string to sign (traced when presigning only).
    pub string_to_sign: Option<String>,
}

/// The process-wide subscriber: it keeps aws-sigv4's fields for the
/// threads inside [`capture`] and drops everything else. (A scoped
/// subscriber is not enough: another test thread signing meanwhile caches
/// the callsite as uninteresting.)
struct Capture;

thread_local! {
    static SEEN: RefCell<Option<Traced>> = const { RefCell::new(None) };
}

struct Fields<'a>(&'a mut Traced);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let v = format!("{value:?}");
        match field.name() {
            "canonical_request" => self.0.canonical_request = Some(v),
            "string_to_sign" => self.0.string_to_sign = Some(v),
            _ => {}
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.target().starts_with("aws_sigv4")
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        SEEN.with(|seen| {
            if let Some(t) = seen.borrow_mut().as_mut() {
                e.record(&mut Fields(t));
            }
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Runs `f` and returns what aws-sigv4 traced meanwhile (on this thread).
///
/// Installs the capturing subscriber as the global default the first time;
/// a test binary that sets another global subscriber cannot use this.
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, Traced) {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ok = *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Capture).is_ok());
    assert!(ok, "another global tracing subscriber is set");
    SEEN.with(|s| *s.borrow_mut() = Some(Traced::default()));
    let out = f();
    let t = SEEN.with(|s| s.borrow_mut().take()).unwrap_or_default();
    (out, t)
}

/// A vector's expected texts.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The canonical request.
    pub canonical_request: &'a str,
    /// The string to sign.
    pub string_to_sign: &'a str,
    /// The signature (hex).
    pub signature: &'a str,
}

/// The scope of a signature.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The secret key.
    pub secret: &'a str,
    /// The signing time.
    pub time: SystemTime,
    /// The region.
    pub region: &'a str,
    /// The service signing name.
    pub service: &'a str,
}

/// `canonical` with the values of sensitive headers (here: the session
/// token) as aws-sigv4 traces them.
fn redacted(canonical: &str) -> String {
    canonical
        .split('\n')
        .map(|line| match line.split_once(':') {
            Some((name, v)) if name == "x-amz-security-token" => {
                format!("{name}:** redacted (length={}) **", v.len())
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that aws-sigv4 built `exp`'s canonical request (when it traced
/// one), that `exp`'s string to sign follows from its canonical request and
/// `scope`, that its signature follows from the string to sign, and that
/// the signature we produced (`got`) is that signature.
pub fn check(what: &str, exp: &Expected<'_>, scope: &Scope<'_>, traced: &Traced, got: &str) {
    let traced_creq = traced
        .canonical_request
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: aws-sigv4 traced no canonical request"));
    assert_eq!(
        traced_creq,
        redacted(exp.canonical_request),
        "{what}: aws-sigv4's canonical request"
    );
    if let Some(sts) = &traced.string_to_sign {
        assert_eq!(
            sts, exp.string_to_sign,
            "{what}: aws-sigv4's string to sign"
        );
    }
    let date = crate::time::amz_date(scope.time);
    let hash = Sha256::digest(exp.canonical_request.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let sts = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}/{}/{}/aws4_request\n{hex}",
        &date[..8],
        scope.region,
        scope.service
    );
    assert_eq!(sts, exp.string_to_sign, "{what}: string to sign");
    let key = aws_sigv4::sign::v4::generate_signing_key(
        scope.secret,
        scope.time,
        scope.region,
        scope.service,
    );
    let sig = aws_sigv4::sign::v4::calculate_signature(key, exp.string_to_sign.as_bytes());
    assert_eq!(
        sig, exp.signature,
        "{what}: signature of the string to sign"
    );
    assert_eq!(got, exp.signature, "{what}: our signature");
}

/// The `Signature=` of an `Authorization` value, or `X-Amz-Signature` of a
/// query.
pub fn signature_of(authorization_or_query: &str) -> &str {
    for sep in ["Signature=", "X-Amz-Signature="] {
        if let Some((_, rest)) = authorization_or_query.rsplit_once(sep) {
            return rest.split(['&', ',']).next().unwrap_or("");
        }
    }
    ""
}
