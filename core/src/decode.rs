//! Responses to outputs or errors, by the rest-json rules.
//!
//! The error code comes from the `X-Amzn-Errortype` header, then the body's
//! `code`, then its `__type`; it is cut at the first `:` and after the last
//! `#`. The message comes from `message` or `Message`, the request id from
//! `x-amzn-RequestId`. No bytes, however malformed, make this panic.

use crate::Error;

/// The largest response body a client reads (1 MiB), in both transports:
/// the service answers with small JSON documents, and a longer body is cut
/// (a 200 stays a success, an error keeps its status and code).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The request id of a response (`x-amzn-RequestId`, or `x-amz-request-id`).
pub fn request_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("x-amzn-requestid")
        .or_else(|| headers.get("x-amz-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Cuts a raw error type to its code: `aws.protocoltests#FooError:http://...`
/// becomes `FooError`.
fn sanitize_error_code(raw: &str) -> &str {
    let s = raw.split(':').next().unwrap_or(raw);
    let s = s.rsplit('#').next().unwrap_or(s);
    s.trim()
}

#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default, rename = "__type")]
    type_: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default, rename = "Message")]
    message_upper: Option<serde_json::Value>,
    #[serde(default, rename = "errorMessage")]
    error_message: Option<serde_json::Value>,
}

fn as_string(v: Option<serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Longest message we keep from a response body, in bytes.
const MAX_MESSAGE: usize = 2048;

fn clip(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Decodes a response: `Ok(request id)` for a 2xx, the typed error otherwise.
pub fn decode_response(resp: &http::Response<&[u8]>) -> Result<Option<String>, Error> {
    let status = resp.status().as_u16();
    let request_id = request_id(resp.headers());
    if (200..300).contains(&status) {
        return Ok(request_id);
    }
    Err(decode_error(
        status,
        resp.headers(),
        resp.body(),
        request_id,
    ))
}

fn decode_error(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    request_id: Option<String>,
) -> Error {
    let parsed: Option<ErrorBody> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<ErrorBody>(body).ok()
    };
    let header_code = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (body_code, message) = match parsed {
        Some(b) => (
            as_string(b.code).or_else(|| as_string(b.type_)),
            as_string(b.message)
                .or_else(|| as_string(b.message_upper))
                .or_else(|| as_string(b.error_message)),
        ),
        None => {
            // A body that is not JSON (an HTML page from a proxy, say): keep a
            // printable excerpt as the message, so the error says something.
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let msg = if text.is_empty() {
                None
            } else {
                Some(format!(
                    "response body is not JSON: {}",
                    clip(text.to_string())
                ))
            };
            (None, msg)
        }
    };
    let code = header_code
        .or(body_code)
        .map(|c| sanitize_error_code(&c).to_string())
        .filter(|c| !c.is_empty());
    let message = message.map(clip);
    match code.as_deref() {
        Some("InvalidInputException") => Error::InvalidInput {
            message,
            request_id,
        },
        Some("ResourceNotFoundException") => Error::ResourceNotFound {
            message,
            request_id,
        },
        Some("ResourceInUseException") => Error::ResourceInUse {
            message,
            request_id,
        },
        _ => Error::Service {
            status,
            code,
            message,
            request_id,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(
        status: u16,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> http::Response<&'static [u8]> {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body).unwrap()
    }

    #[test]
    fn success_carries_request_id() {
        let r = resp(200, &[("x-amzn-RequestId", "abc")], b"");
        assert_eq!(decode_response(&r).unwrap().as_deref(), Some("abc"));
    }

    #[test]
    fn code_from_header_then_code_then_type() {
        let r = resp(
            400,
            &[(
                "X-Amzn-Errortype",
                "InvalidInputException:http://internal.amazon.com/coral/",
            )],
            br#"{"message":"bad"}"#,
        );
        assert_eq!(
            decode_response(&r).unwrap_err(),
            Error::InvalidInput {
                message: Some("bad".into()),
                request_id: None
            }
        );
        let r = resp(
            404,
            &[],
            br#"{"code":"ResourceNotFoundException","Message":"gone"}"#,
        );
        assert!(
            matches!(decode_response(&r).unwrap_err(), Error::ResourceNotFound { message: Some(m), .. } if m == "gone")
        );
        let r = resp(
            409,
            &[],
            br#"{"__type":"com.amazon#ResourceInUseException","message":"busy"}"#,
        );
        assert!(matches!(
            decode_response(&r).unwrap_err(),
            Error::ResourceInUse { .. }
        ));
        let r = resp(
            400,
            &[],
            br#"{"__type":"ThrottlingException","message":"slow"}"#,
        );
        let e = decode_response(&r).unwrap_err();
        assert_eq!(e.code(), Some("ThrottlingException"));
        assert!(e.is_retryable());
    }

    #[test]
    fn bare_status_and_garbage_never_panic() {
        let r = resp(503, &[], b"");
        let e = decode_response(&r).unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert!(e.is_retryable());
        let r = resp(502, &[], b"<html>Bad Gateway</html>");
        let e = decode_response(&r).unwrap_err();
        assert!(e.to_string().contains("Bad Gateway"), "{e}");
        for body in [
            &b"\xff\xfe{"[..],
            b"{\"message\":",
            b"[1,2]",
            b"null",
            b"{\"code\":5}",
        ] {
            let r = http::Response::builder().status(400).body(body).unwrap();
            let _ = decode_response(&r).unwrap_err().to_string();
        }
    }
}
