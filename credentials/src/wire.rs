//! Wire formats of the credential sources: STS query-protocol requests and
//! XML answers, the container and IMDS JSON documents, and the output of a
//! `credential_process`.
//!
//! Parsers return `Err(reason)` with a reason that never quotes the
//! document (it holds secrets); the chain adds the source's name.

use std::borrow::Cow;
use std::time::SystemTime;

use serde_json::Value;

use personalize_events_core::Credentials;

/// The STS API version of the query protocol.
pub(crate) const STS_VERSION: &str = "2011-06-15";

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(k, &mut out);
        out.push('=');
        percent_encode_into(v, &mut out);
    }
    out
}

fn percent_encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
}

/// The text of the first `<tag>` element in `doc` (entities decoded,
/// CDATA unwrapped), `""` for `<tag/>`; `None` when absent.
pub(crate) fn xml_tag<'a>(doc: &'a str, tag: &str) -> Option<Cow<'a, str>> {
    let (start, end) = xml_element(doc, tag)?;
    Some(xml_unescape(&doc[start..end]))
}

/// The byte range of the content of the first `<tag>` element.
fn xml_element(doc: &str, tag: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(pos) = doc[from..].find('<').map(|p| p + from) {
        let after = pos + 1;
        from = after;
        let Some(rest) = doc[after..].strip_prefix(tag) else {
            continue;
        };
        let open_end = after + tag.len();
        match rest.chars().next() {
            Some('>') => {}
            Some('/') if rest.starts_with("/>") => return Some((open_end, open_end)),
            Some(c) if c.is_ascii_whitespace() => {}
            _ => continue,
        }
        let gt = doc[open_end..].find('>')? + open_end;
        if doc[..gt].ends_with('/') {
            return Some((gt, gt));
        }
        let close = format!("</{tag}>");
        let content_end = doc[gt + 1..].find(&close)? + gt + 1;
        return Some((gt + 1, content_end));
    }
    None
}

fn xml_unescape(s: &str) -> Cow<'_, str> {
    let s = s.trim();
    let s = match s
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
    {
        Some(inner) => return Cow::Borrowed(inner),
        None => s,
    };
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// An STS error answer: `(code, message)` from `<ErrorResponse><Error>`.
pub(crate) fn parse_sts_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let doc = String::from_utf8_lossy(body);
    let scope = match xml_element(&doc, "Error") {
        Some((s, e)) => &doc[s..e],
        None => &doc[..],
    };
    (
        xml_tag(scope, "Code").map(Cow::into_owned),
        xml_tag(scope, "Message").map(Cow::into_owned),
    )
}

/// The credentials in an STS `AssumeRole` / `AssumeRoleWithWebIdentity`
/// answer (`<Credentials>` with `AccessKeyId`, `SecretAccessKey`,
/// `SessionToken`, `Expiration`).
///
/// ```
/// use personalize_events_credentials::parse_sts_credentials;
/// let xml = b"<AssumeRoleResponse><AssumeRoleResult><Credentials>\
///   <AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
///   <SessionToken>t</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>\
///   </Credentials></AssumeRoleResult></AssumeRoleResponse>";
/// let c = parse_sts_credentials(xml).unwrap();
/// assert_eq!(c.access_key_id(), "ASIA1");
/// assert_eq!(c.session_token(), Some("t"));
/// ```
pub fn parse_sts_credentials(body: &[u8]) -> Result<Credentials, String> {
    let doc = std::str::from_utf8(body).map_err(|_| "answer is not UTF-8".to_string())?;
    let (s, e) = xml_element(doc, "Credentials").ok_or("answer has no <Credentials>")?;
    let scope = &doc[s..e];
    let field = |name: &str| {
        xml_tag(scope, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("answer has no <{name}>"))
    };
    let akid = field("AccessKeyId")?;
    let secret = field("SecretAccessKey")?;
    let token = field("SessionToken")?;
    let exp = field("Expiration")?;
    let exp = crate::rfc3339::parse(&exp).ok_or_else(|| {
        format!(
            "<Expiration> `{}` is not an RFC 3339 time",
            crate::shorten(&exp, 40)
        )
    })?;
    Ok(Credentials::new(
        akid.into_owned(),
        secret.into_owned(),
        Some(token.into_owned()),
    )
    .with_expiry(exp))
}

fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, String> {
    // Parse to a Value first: serde's messages for syntax errors give a
    // position only, never the document's text.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("answer is not a JSON object".into()),
        Err(e) => Err(format!(
            "answer is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
    }
}

fn json_str<'a>(
    m: &'a serde_json::Map<String, Value>,
    key: &str,
    required: bool,
) -> Result<Option<&'a str>, String> {
    match m.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(_)) if !required => Ok(None),
        None | Some(Value::Null) => Err(format!("`{key}` is missing")),
        Some(Value::String(_)) => Err(format!("`{key}` is empty")),
        Some(_) => Err(format!("`{key}` is not a string")),
    }
}

fn json_expiry(
    m: &serde_json::Map<String, Value>,
    required: bool,
) -> Result<Option<SystemTime>, String> {
    match json_str(m, "Expiration", required)? {
        None => Ok(None),
        Some(s) => crate::rfc3339::parse(s).map(Some).ok_or_else(|| {
            format!(
                "`Expiration` `{}` is not an RFC 3339 time",
                crate::shorten(s, 40)
            )
        }),
    }
}

/// The JSON a `credential_process` prints: `Version` 1, `AccessKeyId`,
/// `SecretAccessKey`, optional `SessionToken` and `Expiration` (RFC 3339;
/// without it the credentials never expire).
pub fn parse_credential_process_output(stdout: &[u8]) -> Result<Credentials, String> {
    let m = json_object(stdout)?;
    match m.get("Version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(Value::Number(_)) => return Err("unsupported `Version` (only 1 is supported)".into()),
        None => return Err("`Version` is missing (must be 1)".into()),
        Some(_) => return Err("`Version` must be the number 1".into()),
    }
    credentials_from(&m, "SessionToken", false, false)
}

/// The JSON of the ECS/EKS container credentials endpoint: `AccessKeyId`,
/// `SecretAccessKey`, `Token`, `Expiration`.
pub fn parse_container_credentials(body: &[u8]) -> Result<Credentials, String> {
    let m = json_object(body)?;
    credentials_from(&m, "Token", false, false)
}

/// The JSON of IMDS `iam/security-credentials/{role}`: `Code` `Success`,
/// `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
pub fn parse_imds_credentials(body: &[u8]) -> Result<Credentials, String> {
    let m = json_object(body)?;
    if let Some(code) = json_str(&m, "Code", false)? {
        if code != "Success" {
            return Err(format!(
                "`Code` is `{}`, not `Success`",
                crate::shorten(code, 60)
            ));
        }
    }
    credentials_from(&m, "Token", true, true)
}

fn credentials_from(
    m: &serde_json::Map<String, Value>,
    token_key: &str,
    token_required: bool,
    expiry_required: bool,
) -> Result<Credentials, String> {
    let akid = json_str(m, "AccessKeyId", true)?.unwrap_or_default();
    let secret = json_str(m, "SecretAccessKey", true)?.unwrap_or_default();
    let token = json_str(m, token_key, token_required)?;
    let c = Credentials::new(akid, secret, token.map(str::to_string));
    Ok(match json_expiry(m, expiry_required)? {
        Some(t) => c.with_expiry(t),
        None => c,
    })
}

/// `code: message` of a JSON error answer (`code`/`Code`, `message`/`Message`).
pub(crate) fn json_error_summary(body: &[u8]) -> Option<String> {
    let m = json_object(body).ok()?;
    let get = |a: &str, b: &str| {
        m.get(a)
            .or_else(|| m.get(b))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match (get("code", "Code"), get("message", "Message")) {
        (Some(c), Some(msg)) => Some(format!("{c}: {msg}")),
        (Some(c), None) => Some(c),
        (None, Some(msg)) => Some(msg),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const STS_OK: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>FwoG&amp;token/+=</SessionToken>
      <SecretAccessKey>wJalr/K7+secret</SecretAccessKey>
      <Expiration>2026-11-29T13:00:00Z</Expiration>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn sts_credentials_parse() {
        let c = parse_sts_credentials(STS_OK.as_bytes()).unwrap();
        assert_eq!(c.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(c.secret_access_key(), "wJalr/K7+secret");
        assert_eq!(c.session_token(), Some("FwoG&token/+="));
        assert_eq!(
            c.expires_at(),
            crate::rfc3339::parse("2026-11-29T13:00:00Z")
        );
        let e = parse_sts_credentials(
            b"<X><Credentials><AccessKeyId>a</AccessKeyId></Credentials></X>",
        )
        .unwrap_err();
        assert_eq!(e, "answer has no <SecretAccessKey>");
        assert_eq!(
            parse_sts_credentials(b"<X/>").unwrap_err(),
            "answer has no <Credentials>"
        );
        let bad = STS_OK.replace("2026-11-29T13:00:00Z", "tomorrow");
        assert!(parse_sts_credentials(bad.as_bytes())
            .unwrap_err()
            .contains("`tomorrow`"));
        assert!(parse_sts_credentials(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn sts_error_parse() {
        let body = br#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>ExpiredTokenException</Code>
  <Message>Token expired: current date/time 1 must be before the expiration date/time 0 &lt;x&gt;</Message></Error>
  <RequestId>r</RequestId></ErrorResponse>"#;
        let (code, msg) = parse_sts_error(body);
        assert_eq!(code.as_deref(), Some("ExpiredTokenException"));
        assert!(msg.unwrap().ends_with("date/time 0 <x>"));
        assert_eq!(parse_sts_error(b"not xml"), (None, None));
    }

    #[test]
    fn xml_edge_cases() {
        assert_eq!(
            xml_tag("<a><b x=\"1\">v</b></a>", "b").as_deref(),
            Some("v")
        );
        assert_eq!(
            xml_tag("<a><bb>no</bb><b>yes</b></a>", "b").as_deref(),
            Some("yes")
        );
        assert_eq!(xml_tag("<a><b/></a>", "b").as_deref(), Some(""));
        assert_eq!(xml_tag("<a><b x='1'/></a>", "b").as_deref(), Some(""));
        assert_eq!(
            xml_tag("<b><![CDATA[<&>]]></b>", "b").as_deref(),
            Some("<&>")
        );
        assert_eq!(
            xml_tag("<b>&#65;&#x42;&bogus;&amp</b>", "b").as_deref(),
            Some("AB&bogus;&amp")
        );
        assert_eq!(xml_tag("<b>unterminated", "b"), None);
        assert_eq!(xml_tag("", "b"), None);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::1:role/a b+c")
            ]),
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b%2Bc"
        );
    }

    #[test]
    fn process_output_parse() {
        let c = parse_credential_process_output(
            br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","SessionToken":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!((c.access_key_id(), c.session_token()), ("AK", Some("T")));
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_893_456_000))
        );
        let c = parse_credential_process_output(
            br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#,
        )
        .unwrap();
        assert_eq!((c.session_token(), c.expires_at()), (None, None));
        for (doc, want) in [
            (
                &br#"{"AccessKeyId":"AK","SecretAccessKey":"SK"}"#[..],
                "`Version` is missing",
            ),
            (
                br#"{"Version":2,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#,
                "unsupported `Version`",
            ),
            (
                br#"{"Version":"1","AccessKeyId":"AK","SecretAccessKey":"SK"}"#,
                "must be the number 1",
            ),
            (
                br#"{"Version":1,"SecretAccessKey":"SK"}"#,
                "`AccessKeyId` is missing",
            ),
            (
                br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":""}"#,
                "`SecretAccessKey` is empty",
            ),
            (
                br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":5}"#,
                "not a string",
            ),
            (
                br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK","Expiration":"soon"}"#,
                "not an RFC 3339",
            ),
            (br#"[1]"#, "not a JSON object"),
            (
                br#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SECRETSECRET""#,
                "not valid JSON (line 1",
            ),
        ] {
            let e = parse_credential_process_output(doc).unwrap_err();
            assert!(e.contains(want), "{e} / {want}");
            assert!(!e.contains("SECRETSECRET"), "{e}");
        }
    }

    #[test]
    fn container_and_imds_parse() {
        let c = parse_container_credentials(
            br#"{"AccessKeyId":"AK","SecretAccessKey":"SK","Token":"T","Expiration":"2030-01-01T00:00:00Z","RoleArn":"r"}"#,
        )
        .unwrap();
        assert_eq!(c.session_token(), Some("T"));
        assert!(c.expires_at().is_some());
        let imds = br#"{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"AK","SecretAccessKey":"SK","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#;
        assert!(parse_imds_credentials(imds).is_ok());
        let e = parse_imds_credentials(
            br#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"AK"}"#,
        )
        .unwrap_err();
        assert!(e.contains("AssumeRoleUnauthorizedAccess"), "{e}");
        let e = parse_imds_credentials(
            br#"{"AccessKeyId":"AK","SecretAccessKey":"SK","Expiration":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(e.contains("`Token` is missing"), "{e}");
    }

    #[test]
    fn json_errors_summarised() {
        assert_eq!(
            json_error_summary(br#"{"code":"Denied","message":"no"}"#).as_deref(),
            Some("Denied: no")
        );
        assert_eq!(
            json_error_summary(br#"{"Message":"m"}"#).as_deref(),
            Some("m")
        );
        assert_eq!(json_error_summary(b"<html>"), None);
    }
}
