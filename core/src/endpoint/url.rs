//! Parsing and checking a custom endpoint URL, and quoting user input in
//! error messages.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The parts of an endpoint URL.
#[derive(Debug)]
pub(super) struct UrlParts {
    pub(super) scheme: &'static str,
    pub(super) authority: String,
    pub(super) base_path: String,
}

/// Parses `scheme://host[:port][/path]`, with scheme `http` or `https`:
/// `http::Uri` splits it, and the parts are then checked.
///
/// The host is a DNS name (labels of letters, digits, `-` and `_`), an IPv4
/// address or a bracketed IPv6 address. User info, query and fragment are
/// refused, as are characters that a URL may not hold unencoded.
pub(super) fn parse_endpoint_url(url: &str) -> Result<UrlParts, String> {
    if url.is_empty() {
        return Err("it is empty".to_owned());
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "it contains the non-ASCII character {c:?} (percent-encode it, or use the punycode form of the host)"
        ));
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("it contains whitespace or control characters".to_owned());
    }
    if !url.contains("://") {
        return Err("it has no scheme (expected http:// or https://)".to_owned());
    }
    if url.contains('#') {
        return Err("a fragment is not supported in an endpoint".to_owned());
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let (scheme, default_port): (&'static str, u16) = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => ("https", 443),
        Some(s) if s.eq_ignore_ascii_case("http") => ("http", 80),
        _ => return Err("the scheme must be http or https".to_owned()),
    };
    if uri.query().is_some() {
        return Err("a query string is not supported in an endpoint".to_owned());
    }
    let authority = uri.authority().map_or("", |a| a.as_str());
    let path = uri.path();
    if authority.contains('@') {
        return Err("user info (user:password@) is not supported in an endpoint".to_owned());
    }
    if authority.is_empty() {
        return Err("it has no host".to_owned());
    }

    // Host and port.
    let (host, port_text) = if let Some(after_bracket) = authority.strip_prefix('[') {
        let Some((inside, after)) = after_bracket.split_once(']') else {
            return Err("the IPv6 address is missing its closing ']'".to_owned());
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(format!("[{inside}] is not a valid IPv6 address"));
        }
        let port_text = if after.is_empty() {
            None
        } else if let Some(p) = after.strip_prefix(':') {
            Some(p)
        } else {
            return Err("unexpected characters after the IPv6 address".to_owned());
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port_text)
    } else {
        let (host, port_text) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        check_host_name(host)?;
        (host.to_ascii_lowercase(), port_text)
    };
    let port = match port_text {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    let authority = match port {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host,
    };

    // Path.
    check_path(path)?;
    let base_path = path.trim_end_matches('/').to_owned();

    Ok(UrlParts {
        scheme,
        authority,
        base_path,
    })
}

/// Checks a DNS name or IPv4 address.
fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("it has no host".to_owned());
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters".to_owned());
    }
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err("the host name has an empty label".to_owned());
        }
        if label.len() > 63 {
            return Err("a label of the host name is longer than 63 characters".to_owned());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("the host name contains the character {c:?}"));
        }
    }
    // As in the WHATWG URL standard: a host whose last label is numeric is an
    // IPv4 address, and must be a valid one.
    let last_is_numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if last_is_numeric && host.parse::<Ipv4Addr>().is_err() {
        return Err(format!("{host} is not a valid IPv4 address"));
    }
    Ok(())
}

/// Parses a port: 1 to 5 ASCII digits, 1 to 65535.
fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() {
        return Err("the port is empty".to_owned());
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
        return Err(format!("the port {p:?} is not a number from 1 to 65535"));
    }
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("the port {p:?} is not a number from 1 to 65535")),
    }
}

/// Checks the path: `pchar`s of RFC 3986 and `/`, `%` followed by two hex
/// digits, and no `.` or `..` segments.
fn check_path(path: &str) -> Result<(), String> {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("the path has a '%' not followed by two hex digits".to_owned());
            }
            i += 3;
            continue;
        }
        let allowed = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&c);
        if !allowed {
            return Err(format!(
                "the path contains the character {:?} (percent-encode it)",
                char::from(c)
            ));
        }
        i += 1;
    }
    if path.split('/').any(|s| s == "." || s == "..") {
        return Err("the path has a '.' or '..' segment".to_owned());
    }
    Ok(())
}

/// Quotes a user-given string for an error message: escaped, shortened, and
/// never showing user info (which may hold a password).
pub(super) fn quote_for_message(s: &str) -> String {
    const MAX_CHARS: usize = 100;
    let hidden;
    let s = match s.rfind('@') {
        None => s,
        Some(at) => {
            // Keep the scheme, hide everything up to the last '@'.
            let keep = s
                .find("://")
                .map(|i| i + 3)
                .filter(|&k| k <= at)
                .unwrap_or(0);
            hidden = format!("{}***{}", &s[..keep], &s[at..]);
            &hidden
        }
    };
    let short: String = s.chars().take(MAX_CHARS).collect();
    if short.len() < s.len() {
        format!("{short:?}...")
    } else {
        format!("{short:?}")
    }
}
