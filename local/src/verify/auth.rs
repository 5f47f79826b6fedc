//! Reading what a request claims about its signature, before any of it is
//! checked: the `Authorization` header's parts, or the presigning query
//! parameters (percent-decoded), and the one-valued headers they rest on.

use http::header::HeaderMap;
use personalize_events_core::sign::ALGORITHM;

use super::{AuthParts, QueryAuth, VerifyError, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN};

/// The value of one hexadecimal digit.
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The `name=value` pairs of a query, still percent-encoded.
fn raw_query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Percent-decodes (and `+` to space) one query name or value into `out`;
/// a `%` not followed by two hex digits is kept as it is.
pub(super) fn decode_query_part(s: &str, out: &mut Vec<u8>) {
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

/// An `IncompleteSignatureException` with this message.
pub(super) fn incomplete(m: impl Into<String>) -> VerifyError {
    VerifyError::IncompleteSignature(m.into())
}

/// The one value of header `name`, trimmed: `None` when absent, refused
/// when repeated or not ASCII.
pub(super) fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, VerifyError> {
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

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..,
/// SignedHeaders=.., Signature=..` header, with the signing time from
/// `X-Amz-Date` (or `Date`) and the session token header; every missing
/// part is named in one message.
pub(super) fn parse_auth_header<'a>(
    auth: &'a str,
    headers: &HeaderMap,
) -> Result<AuthParts<'a>, VerifyError> {
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

/// The presigning parameters of a query (`X-Amz-Credential` and the
/// others), each at most once; other parameters are skipped.
pub(super) fn parse_query_auth(query: &str) -> Result<QueryAuth, VerifyError> {
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
