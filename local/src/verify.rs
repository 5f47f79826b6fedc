//! Server-side SigV4 verification, the way an AWS front end answers: the
//! request's `Authorization` header (or presigning query parameters) is
//! parsed, the key looked up, and the signature recomputed with AWS's own
//! `aws-sigv4` over exactly the headers the request lists in
//! `SignedHeaders`, at the request's own `X-Amz-Date`. Failures carry the
//! error codes and messages AWS answers with (`InvalidSignatureException`,
//! `IncompleteSignatureException`, ...).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::AUTHORIZATION;
use http::Request;
use personalize_events_core::sign::ALGORITHM;
use personalize_events_core::Credentials;

mod auth;
use auth::{decode_query_part, header_str, incomplete, parse_auth_header, parse_query_auth};

const TERMINATOR: &str = "aws4_request";
const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const Q_ALGORITHM: &str = "X-Amz-Algorithm";
const Q_CREDENTIAL: &str = "X-Amz-Credential";
const Q_DATE: &str = "X-Amz-Date";
const Q_EXPIRES: &str = "X-Amz-Expires";
const Q_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
const Q_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
const Q_SIGNATURE: &str = "X-Amz-Signature";

/// The query parameters aws-sigv4 adds when presigning (removed from the
/// received query before recomputing).
const PRESIGN_PARAMS: [&str; 7] = [
    Q_ALGORITHM,
    Q_CREDENTIAL,
    Q_DATE,
    Q_EXPIRES,
    Q_SIGNED_HEADERS,
    Q_SECURITY_TOKEN,
    Q_SIGNATURE,
];

/// The signature aws-sigv4 computes for `req` as `parts` describe it, or
/// `None` when a signed header is not text or aws-sigv4 refuses the request.
#[allow(clippy::too_many_arguments)]
fn recompute<B: AsRef<[u8]>>(
    req: &Request<B>,
    parts: &AuthParts<'_>,
    signed_names: &[&str],
    creds: &Credentials,
    time: SystemTime,
    region: &str,
    service: &str,
    normalize: bool,
) -> Option<String> {
    // aws-sigv4 adds x-amz-date and the token itself, from the time and
    // the identity.
    let mut headers = Vec::new();
    for name in signed_names {
        if *name == X_AMZ_DATE || *name == X_AMZ_SECURITY_TOKEN {
            continue;
        }
        for v in req.headers().get_all(*name) {
            headers.push((*name, v.to_str().ok()?));
        }
    }
    let signs_token = parts.presigned || signed_names.contains(&X_AMZ_SECURITY_TOKEN);
    let token = parts.token.as_deref().filter(|_| signs_token);
    let identity: Identity = aws_credential_types::Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        token.map(str::to_owned),
        None,
        "personalize-events-local",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if !normalize {
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let mut uri = req.uri().path().to_owned();
    if let Some(secs) = parts.expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(secs));
        // aws-sigv4 adds the X-Amz-* parameters itself.
        let mut kb = Vec::new();
        let rest: Vec<&str> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| {
                let k = p.split_once('=').map_or(*p, |(k, _)| k);
                decode_query_part(k, &mut kb);
                !p.is_empty() && !PRESIGN_PARAMS.iter().any(|n| n.as_bytes() == kb.as_slice())
            })
            .collect();
        if !rest.is_empty() {
            uri.push('?');
            uri.push_str(&rest.join("&"));
        }
    } else if let Some(q) = req.uri().query() {
        uri.push('?');
        uri.push_str(q);
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .ok()?
        .into();
    let signable = SignableRequest::new(
        req.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(req.body().as_ref()),
    )
    .ok()?;
    Some(sign(signable, &params).ok()?.signature().to_owned())
}

fn path_needs_normalizing(path: &str) -> bool {
    !path.starts_with('/')
        || path.contains("//")
        || path.split('/').any(|seg| seg == "." || seg == "..")
}

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

fn fmt_skew(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(60) {
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

    // Recompute with aws-sigv4, over exactly the headers the request
    // signed and at its own X-Amz-Date.
    let provided = signature.to_ascii_lowercase();
    let compute = |normalize: bool| -> Option<String> {
        recompute(
            req,
            &parts,
            &signed_names,
            &creds,
            signing_time,
            region,
            service,
            normalize,
        )
    };
    let matches = |s: Option<String>| s.is_some_and(|s| ct_eq(s.as_bytes(), provided.as_bytes()));
    let mut ok = matches(compute(true));
    // A client may have signed the path without normalizing it (S3 style).
    if !ok && path_needs_normalizing(req.uri().path()) && !req.uri().path().is_empty() {
        ok = matches(compute(false));
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
#[path = "verify_tests.rs"]
mod tests;
