//! Endpoint resolution: the `personalize-events` endpoint rule set, hand-coded.
//!
//! This is a direct transcription of botocore's
//! `personalize-events/2018-03-22/endpoint-rule-set-1.json` (botocore 1.44.8),
//! evaluated top to bottom:
//!
//! 1. `Endpoint` set: `UseFIPS` is an error, then `UseDualStack` is an error,
//!    otherwise the custom endpoint is used as given.
//! 2. `Region` set: `aws.partition(Region)`, then
//!    * FIPS and dual-stack: `https://personalize-events-fips.{Region}.{dualStackDnsSuffix}`
//!      if the partition supports both, else an error;
//!    * FIPS: `https://personalize-events-fips.{Region}.{dnsSuffix}` if supported, else an error;
//!    * dual-stack: `https://personalize-events.{Region}.{dualStackDnsSuffix}` if supported,
//!      else an error;
//!    * otherwise `https://personalize-events.{Region}.{dnsSuffix}`.
//! 3. Otherwise: `Invalid Configuration: Missing Region`.
//!
//! Error messages are the rule set's text, word for word. The rule set gives no
//! endpoint properties (no `authSchemes`), so [`ResolvedEndpoint::signing_region`]
//! is always `None` here; callers sign with the configured region.
//!
//! Two checks go beyond the rule set, so that a resolved endpoint is always
//! usable and never silently points somewhere unexpected:
//!
//! * The rule set interpolates `Region` into the host name without calling
//!   `isValidHostLabel`. A region that is not a valid host label (for
//!   example `us-east-1/x`, `evil.com#`, the empty string) would produce a URL
//!   with another host or path, so it is rejected with an [`Error::Endpoint`].
//!   Every real region passes this check, and all official test cases resolve
//!   exactly as the rule set says.
//! * A custom endpoint is parsed (scheme `http`/`https`, host, optional port,
//!   optional path; no user info, query or fragment) and a malformed one is an
//!   [`Error::Endpoint`].
//!
//! Nothing here panics, whatever the input strings.

use crate::Error;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Inputs of endpoint resolution (the rule set's parameters).
///
/// The defaults are those of the rule set: no region, no custom endpoint,
/// FIPS and dual-stack off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointParams {
    /// The `Region` parameter (built-in `AWS::Region`), e.g. `us-east-1`.
    pub region: Option<String>,
    /// The `UseFIPS` parameter (built-in `AWS::UseFIPS`): use the
    /// FIPS-compliant endpoint.
    pub use_fips: bool,
    /// The `UseDualStack` parameter (built-in `AWS::UseDualStack`): use the
    /// dual-stack (IPv4 and IPv6) endpoint.
    pub use_dual_stack: bool,
    /// The `Endpoint` parameter (built-in `SDK::Endpoint`): a custom endpoint
    /// URL such as `http://localhost:8080/prefix`, overriding the region's.
    pub endpoint: Option<String>,
}

/// A resolved endpoint.
///
/// Besides the URL the rule set produced, it holds that URL's parts, ready to
/// build a request: scheme, authority (the `Host` header value) and base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEndpoint {
    url: String,
    scheme: &'static str,
    authority: String,
    base_path: String,
    signing_region: Option<String>,
}

impl ResolvedEndpoint {
    /// The endpoint URL exactly as the rule set produces it, e.g.
    /// `https://personalize-events.us-east-1.amazonaws.com`; a custom
    /// endpoint is returned as it was given.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL scheme, in lower case: `https` or `http`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.scheme
    }

    /// `host[:port]`, the value of the `Host` header: the host in lower case
    /// (IPv6 addresses in brackets), and the port only when it is not the
    /// scheme's default (443 for https, 80 for http).
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path prefix of a custom endpoint, such as `/prefix`; `""` when
    /// there is none. It starts with `/` when not empty and never ends in `/`.
    #[must_use]
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// The signing region, when the rule set gives one in the endpoint's
    /// properties. This service's rule set gives none, so this is `None` and
    /// requests are signed with the configured region.
    #[must_use]
    pub fn signing_region(&self) -> Option<&str> {
        self.signing_region.as_deref()
    }

    /// Parses a URL the rules produced (or the custom endpoint) into its parts.
    fn from_url(url: String, signing_region: Option<String>) -> Result<Self, Error> {
        let parts = parse_endpoint_url(&url).map_err(|reason| {
            Error::Endpoint(format!(
                "Invalid Configuration: endpoint {} is not a valid URL: {reason}",
                quote_for_message(&url)
            ))
        })?;
        Ok(ResolvedEndpoint {
            url,
            scheme: parts.scheme,
            authority: parts.authority,
            base_path: parts.base_path,
            signing_region,
        })
    }
}

const ERR_FIPS_CUSTOM: &str = "Invalid Configuration: FIPS and custom endpoint are not supported";
const ERR_DUALSTACK_CUSTOM: &str =
    "Invalid Configuration: Dualstack and custom endpoint are not supported";
const ERR_FIPS_AND_DUALSTACK: &str =
    "FIPS and DualStack are enabled, but this partition does not support one or both";
const ERR_FIPS: &str = "FIPS is enabled but this partition does not support FIPS";
const ERR_DUALSTACK: &str = "DualStack is enabled but this partition does not support DualStack";
const ERR_MISSING_REGION: &str = "Invalid Configuration: Missing Region";

/// Resolves the endpoint for `params` by the service's endpoint rule set.
///
/// # Errors
///
/// Errors are [`Error::Endpoint`] carrying the rule set's message, e.g.
/// `Invalid Configuration: FIPS and custom endpoint are not supported`, or a
/// message naming what is wrong with the region or the custom endpoint URL.
pub fn resolve(params: &EndpointParams) -> Result<ResolvedEndpoint, Error> {
    // Rule 1: isSet(Endpoint).
    if let Some(endpoint) = &params.endpoint {
        if params.use_fips {
            return Err(Error::Endpoint(ERR_FIPS_CUSTOM.to_owned()));
        }
        if params.use_dual_stack {
            return Err(Error::Endpoint(ERR_DUALSTACK_CUSTOM.to_owned()));
        }
        return ResolvedEndpoint::from_url(endpoint.clone(), None);
    }

    // Rule 2: isSet(Region), then aws.partition(Region) (which always matches:
    // unknown regions fall back to the `aws` partition).
    if let Some(region) = &params.region {
        // Beyond the rule set: the region goes into the host name.
        if !is_valid_host_label(region) {
            return Err(Error::Endpoint(format!(
                "Invalid Configuration: Region {} is not a valid host label \
                 (1 to 63 letters, digits or '-', not starting or ending with '-')",
                quote_for_message(region)
            )));
        }
        let p = aws_partition(region);
        let url = match (params.use_fips, params.use_dual_stack) {
            (true, true) => {
                if p.supports_fips && p.supports_dual_stack {
                    format!(
                        "https://personalize-events-fips.{region}.{}",
                        p.dual_stack_dns_suffix
                    )
                } else {
                    return Err(Error::Endpoint(ERR_FIPS_AND_DUALSTACK.to_owned()));
                }
            }
            (true, false) => {
                if p.supports_fips {
                    format!("https://personalize-events-fips.{region}.{}", p.dns_suffix)
                } else {
                    return Err(Error::Endpoint(ERR_FIPS.to_owned()));
                }
            }
            (false, true) => {
                if p.supports_dual_stack {
                    format!(
                        "https://personalize-events.{region}.{}",
                        p.dual_stack_dns_suffix
                    )
                } else {
                    return Err(Error::Endpoint(ERR_DUALSTACK.to_owned()));
                }
            }
            (false, false) => format!("https://personalize-events.{region}.{}", p.dns_suffix),
        };
        return ResolvedEndpoint::from_url(url, None);
    }

    // Rule 3.
    Err(Error::Endpoint(ERR_MISSING_REGION.to_owned()))
}

// ---------------------------------------------------------------------------
// Partitions
// ---------------------------------------------------------------------------

/// One partition of `partitions.json`: its `outputs` and how regions map to it.
struct Partition {
    /// `id` (also the `name` output).
    #[cfg_attr(not(test), allow(dead_code))]
    id: &'static str,
    /// `regionRegex`, as written in the data; [`Partition::matches_regex`]
    /// implements it.
    #[allow(dead_code)]
    region_regex: &'static str,
    /// Hand matcher equivalent to `region_regex`.
    matches_regex: fn(&str) -> bool,
    /// The regions listed explicitly under `regions`. None of them carries
    /// an override of the partition's outputs in this data (each entry holds
    /// only a `description`), so only their names are kept.
    regions: &'static [&'static str],
    /// `outputs.dnsSuffix`.
    dns_suffix: &'static str,
    /// `outputs.dualStackDnsSuffix`.
    dual_stack_dns_suffix: &'static str,
    /// `outputs.supportsFIPS`.
    supports_fips: bool,
    /// `outputs.supportsDualStack`.
    supports_dual_stack: bool,
    /// `outputs.implicitGlobalRegion` (not used by this rule set).
    #[allow(dead_code)]
    implicit_global_region: &'static str,
}

/// The partitions, in the order of the data (the first one, `aws`, is the
/// default).
///
/// Source: `botocore/data/partitions.json` of the botocore 1.44.8 wheel
/// (copied to `spec/botocore/partitions.json`, version "1.1";
/// sha256 3dfaba8a471f98d2ea6f0681c3ef5776a9da9ad92e7934939cacb7457fa196b7).
/// The test `tests/tests/endpoint_rules.rs` checks this table against that file.
static PARTITIONS: &[Partition] = &[
    Partition {
        id: "aws",
        region_regex: r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
        matches_regex: matches_aws,
        regions: &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "aws-global",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "me-west-1",
            "mx-central-1",
            "sa-east-1",
            "sa-west-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "us-east-1",
    },
    Partition {
        id: "aws-cn",
        region_regex: r"^cn\-\w+\-\d+$",
        matches_regex: matches_aws_cn,
        regions: &["aws-cn-global", "cn-north-1", "cn-northwest-1"],
        dns_suffix: "amazonaws.com.cn",
        dual_stack_dns_suffix: "api.amazonwebservices.com.cn",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "cn-northwest-1",
    },
    Partition {
        id: "aws-eusc",
        region_regex: r"^eusc\-(de)\-\w+\-\d+$",
        matches_regex: matches_aws_eusc,
        regions: &["eusc-de-east-1"],
        dns_suffix: "amazonaws.eu",
        dual_stack_dns_suffix: "api.amazonwebservices.eu",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "eusc-de-east-1",
    },
    Partition {
        id: "aws-iso",
        region_regex: r"^us\-iso\-\w+\-\d+$",
        matches_regex: matches_aws_iso,
        regions: &["aws-iso-global", "us-iso-east-1", "us-iso-west-1"],
        dns_suffix: "c2s.ic.gov",
        dual_stack_dns_suffix: "api.aws.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "us-iso-east-1",
    },
    Partition {
        id: "aws-iso-b",
        region_regex: r"^us\-isob\-\w+\-\d+$",
        matches_regex: matches_aws_iso_b,
        regions: &["aws-iso-b-global", "us-isob-east-1", "us-isob-west-1"],
        dns_suffix: "sc2s.sgov.gov",
        dual_stack_dns_suffix: "api.aws.scloud",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "us-isob-east-1",
    },
    Partition {
        id: "aws-iso-e",
        region_regex: r"^eu\-isoe\-\w+\-\d+$",
        matches_regex: matches_aws_iso_e,
        regions: &["aws-iso-e-global", "eu-isoe-west-1"],
        dns_suffix: "cloud.adc-e.uk",
        dual_stack_dns_suffix: "api.cloud-aws.adc-e.uk",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "eu-isoe-west-1",
    },
    Partition {
        id: "aws-iso-f",
        region_regex: r"^us\-isof\-\w+\-\d+$",
        matches_regex: matches_aws_iso_f,
        regions: &["aws-iso-f-global", "us-isof-east-1", "us-isof-south-1"],
        dns_suffix: "csp.hci.ic.gov",
        dual_stack_dns_suffix: "api.aws.hci.ic.gov",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "us-isof-south-1",
    },
    Partition {
        id: "aws-us-gov",
        region_regex: r"^us\-gov\-\w+\-\d+$",
        matches_regex: matches_aws_us_gov,
        regions: &["aws-us-gov-global", "us-gov-east-1", "us-gov-west-1"],
        dns_suffix: "amazonaws.com",
        dual_stack_dns_suffix: "api.aws",
        supports_fips: true,
        supports_dual_stack: true,
        implicit_global_region: "us-gov-west-1",
    },
];

/// The `aws.partition` function: the partition that lists `region`
/// explicitly, else the first whose `regionRegex` matches, else `aws`.
///
/// (botocore checks "listed or regex" partition by partition; the Smithy
/// specification checks all listings first. With this data the two agree: no
/// listed region matches another partition's regex; a unit test checks it.)
fn aws_partition(region: &str) -> &'static Partition {
    PARTITIONS
        .iter()
        .find(|p| p.regions.contains(&region))
        .or_else(|| PARTITIONS.iter().find(|p| (p.matches_regex)(region)))
        .unwrap_or(&PARTITIONS[0])
}

/// Matches the shape shared by every `regionRegex` of the data:
/// `^F1\-F2\-...\-\w+\-\d+$` where each `Fi` is a fixed alternative
/// (`fixed[i]` lists them; none contains `-`).
///
/// Since neither `\w` nor `\d` matches `-`, a match splits at `-` into
/// exactly the fixed fields, one `\w+` field and one `\d+` field. `\w` and
/// `\d` are taken in their ASCII sense (`[A-Za-z0-9_]`, `[0-9]`) and `$` as
/// the end of the string. Python's `re` (used by botocore) would also accept
/// non-ASCII word characters and digits and one trailing `\n`; such regions
/// are rejected by the host-label check before any URL is built, so the
/// results are the same.
fn matches_dashed_region(region: &str, fixed: &[&[&str]]) -> bool {
    let mut fields = region.split('-');
    for alternatives in fixed {
        match fields.next() {
            Some(field) if alternatives.contains(&field) => {}
            _ => return false,
        }
    }
    let word = matches!(fields.next(), Some(f) if !f.is_empty()
        && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let digits = matches!(fields.next(), Some(f) if !f.is_empty()
        && f.bytes().all(|b| b.is_ascii_digit()));
    word && digits && fields.next().is_none()
}

/// `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$` (partition `aws`).
fn matches_aws(region: &str) -> bool {
    matches_dashed_region(
        region,
        &[&["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"]],
    )
}

/// `^cn\-\w+\-\d+$` (partition `aws-cn`).
fn matches_aws_cn(region: &str) -> bool {
    matches_dashed_region(region, &[&["cn"]])
}

/// `^eusc\-(de)\-\w+\-\d+$` (partition `aws-eusc`).
fn matches_aws_eusc(region: &str) -> bool {
    matches_dashed_region(region, &[&["eusc"], &["de"]])
}

/// `^us\-iso\-\w+\-\d+$` (partition `aws-iso`).
fn matches_aws_iso(region: &str) -> bool {
    matches_dashed_region(region, &[&["us"], &["iso"]])
}

/// `^us\-isob\-\w+\-\d+$` (partition `aws-iso-b`).
fn matches_aws_iso_b(region: &str) -> bool {
    matches_dashed_region(region, &[&["us"], &["isob"]])
}

/// `^eu\-isoe\-\w+\-\d+$` (partition `aws-iso-e`).
fn matches_aws_iso_e(region: &str) -> bool {
    matches_dashed_region(region, &[&["eu"], &["isoe"]])
}

/// `^us\-isof\-\w+\-\d+$` (partition `aws-iso-f`).
fn matches_aws_iso_f(region: &str) -> bool {
    matches_dashed_region(region, &[&["us"], &["isof"]])
}

/// `^us\-gov\-\w+\-\d+$` (partition `aws-us-gov`).
fn matches_aws_us_gov(region: &str) -> bool {
    matches_dashed_region(region, &[&["us"], &["gov"]])
}

/// The rules-language `isValidHostLabel(value, false)`, as botocore
/// implements it: `^(?!-)[a-zA-Z\d-]{1,63}(?<!-)$`.
fn is_valid_host_label(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

// ---------------------------------------------------------------------------
// URL parsing
// ---------------------------------------------------------------------------

/// The parts of an endpoint URL.
#[derive(Debug)]
struct UrlParts {
    scheme: &'static str,
    authority: String,
    base_path: String,
}

/// Parses `scheme://host[:port][/path]`, with scheme `http` or `https`:
/// `http::Uri` splits it, and the parts are then checked.
///
/// The host is a DNS name (labels of letters, digits, `-` and `_`), an IPv4
/// address or a bracketed IPv6 address. User info, query and fragment are
/// refused, as are characters that a URL may not hold unencoded.
fn parse_endpoint_url(url: &str) -> Result<UrlParts, String> {
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
fn quote_for_message(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(
        region: Option<&str>,
        fips: bool,
        dual: bool,
        endpoint: Option<&str>,
    ) -> EndpointParams {
        EndpointParams {
            region: region.map(str::to_owned),
            use_fips: fips,
            use_dual_stack: dual,
            endpoint: endpoint.map(str::to_owned),
        }
    }

    fn url(p: &EndpointParams) -> String {
        resolve(p).expect("resolves").url().to_owned()
    }

    fn err(p: &EndpointParams) -> String {
        match resolve(p) {
            Err(Error::Endpoint(m)) => m,
            other => panic!("expected an endpoint error for {p:?}, got {other:?}"),
        }
    }

    #[test]
    fn endpoint_regional_urls() {
        let r = resolve(&params(Some("us-east-1"), false, false, None)).unwrap();
        assert_eq!(
            r.url(),
            "https://personalize-events.us-east-1.amazonaws.com"
        );
        assert_eq!(r.scheme(), "https");
        assert_eq!(r.authority(), "personalize-events.us-east-1.amazonaws.com");
        assert_eq!(r.base_path(), "");
        assert_eq!(r.signing_region(), None);
        assert_eq!(
            url(&params(Some("us-east-1"), true, true, None)),
            "https://personalize-events-fips.us-east-1.api.aws"
        );
        assert_eq!(
            url(&params(Some("cn-north-1"), true, false, None)),
            "https://personalize-events-fips.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            url(&params(Some("cn-north-1"), false, true, None)),
            "https://personalize-events.cn-north-1.api.amazonwebservices.com.cn"
        );
        assert_eq!(
            url(&params(Some("us-isob-east-1"), false, false, None)),
            "https://personalize-events.us-isob-east-1.sc2s.sgov.gov"
        );
        // Not listed, matched by regex.
        assert_eq!(
            url(&params(Some("eusc-de-west-9"), false, false, None)),
            "https://personalize-events.eusc-de-west-9.amazonaws.eu"
        );
        // Matches nothing: the `aws` partition.
        assert_eq!(
            url(&params(Some("mars-north-1"), false, true, None)),
            "https://personalize-events.mars-north-1.api.aws"
        );
    }

    #[test]
    fn endpoint_rule_set_errors_in_order() {
        let ep = Some("https://example.com");
        assert_eq!(
            err(&params(Some("us-east-1"), true, true, ep)),
            ERR_FIPS_CUSTOM
        );
        assert_eq!(
            err(&params(None, false, true, ep)),
            "Invalid Configuration: Dualstack and custom endpoint are not supported"
        );
        assert_eq!(
            err(&params(None, false, false, None)),
            "Invalid Configuration: Missing Region"
        );
        assert_eq!(
            err(&EndpointParams::default()),
            "Invalid Configuration: Missing Region"
        );
        // FIPS/dual-stack checks come before the URL is parsed.
        assert_eq!(
            err(&params(None, true, false, Some("::bad"))),
            ERR_FIPS_CUSTOM
        );
    }

    #[test]
    fn endpoint_custom_with_port_and_path() {
        let r = resolve(&params(
            Some("us-east-1"),
            false,
            false,
            Some("http://LocalHost:8080/prefix/v1/"),
        ))
        .unwrap();
        assert_eq!(r.url(), "http://LocalHost:8080/prefix/v1/");
        assert_eq!(r.scheme(), "http");
        assert_eq!(r.authority(), "localhost:8080");
        assert_eq!(r.base_path(), "/prefix/v1");
        assert_eq!(r.signing_region(), None);

        let r = resolve(&params(
            None,
            false,
            false,
            Some("HTTPS://example.com:443/"),
        ))
        .unwrap();
        assert_eq!(r.scheme(), "https");
        assert_eq!(r.authority(), "example.com");
        assert_eq!(r.base_path(), "");

        let r = resolve(&params(None, false, false, Some("http://example.com:443"))).unwrap();
        assert_eq!(r.authority(), "example.com:443");

        let r = resolve(&params(None, false, false, Some("http://[::1]:4566/a%2Fb"))).unwrap();
        assert_eq!(r.authority(), "[::1]:4566");
        assert_eq!(r.base_path(), "/a%2Fb");

        let r = resolve(&params(None, false, false, Some("http://127.0.0.1:80"))).unwrap();
        assert_eq!(r.authority(), "127.0.0.1");

        let r = resolve(&params(None, false, false, Some("http://my_service.local"))).unwrap();
        assert_eq!(r.authority(), "my_service.local");
    }

    #[test]
    fn endpoint_malformed_custom_urls_are_errors() {
        for bad in [
            "",
            "example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://:443",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:+80",
            "https://example.com:80:80",
            "https://example.com:8o",
            "https://[::1",
            "https://[::1]x",
            "https://[nope]",
            "https://[fe80::1%25eth0]",
            "https://example.com?x=1",
            "https://example.com/#frag",
            "https://exa mple.com",
            " https://example.com",
            "https://example.com\n",
            "https://example.com/a b",
            "https://example.com/%zz",
            "https://example.com/%4",
            "https://example.com/a/../b",
            "https://example.com/./b",
            "https://a..b",
            "https://example.com.",
            "https://-\u{0}-",
            "https://exämple.com",
            "https://999.1.1.1",
            "https://1.2.3",
            "https://user:secret@example.com",
            "https://example.com/\u{7f}",
        ] {
            let m = err(&params(None, false, false, Some(bad)));
            assert!(m.contains("is not a valid URL"), "{bad:?}: {m}");
            assert!(!m.contains("secret"), "{bad:?}: {m}");
        }
        for (with_user_info, shown) in [
            (
                "https://user:secret@example.com/x",
                "\"https://***@example.com/x\"",
            ),
            ("secret@x://y", "\"***@x://y\""),
        ] {
            let m = err(&params(None, false, false, Some(with_user_info)));
            assert!(m.contains(shown), "{m}");
            assert!(!m.contains("secret"), "{m}");
        }
    }

    #[test]
    fn endpoint_odd_regions_are_errors() {
        let long = "a".repeat(64);
        for bad in [
            "",
            "-us-east-1",
            "us-east-1-",
            "us-east-1/evil",
            "us-east-1.evil.com",
            "us east 1",
            "us_east_1",
            "us-east-1\n",
            "üs-east-1",
            "us-east-\u{661}",
            "\u{0}",
            long.as_str(),
        ] {
            for (fips, dual) in [(false, false), (true, false), (false, true), (true, true)] {
                let m = err(&params(Some(bad), fips, dual, None));
                assert!(m.contains("is not a valid host label"), "{bad:?}: {m}");
            }
        }
        // 63 characters is fine.
        assert!(resolve(&params(Some(&"a".repeat(63)), false, false, None)).is_ok());
        // An odd region is ignored when a custom endpoint is given.
        assert!(resolve(&params(Some("a/b"), false, false, Some("https://x.test"))).is_ok());
    }

    #[test]
    fn endpoint_never_panics_on_combined_fragments() {
        let fragments = [
            "",
            "h",
            "http",
            "https",
            ":",
            "//",
            "://",
            "/",
            "[",
            "]",
            "::1",
            "@",
            "%",
            "%4",
            "?",
            "#",
            ".",
            "..",
            "-",
            "_",
            "8080",
            "99999",
            "é",
            "\u{0}",
            " ",
            "\u{10ffff}",
        ];
        for a in fragments {
            for b in fragments {
                for c in fragments {
                    let s = format!("{a}{b}{c}");
                    let _ = resolve(&params(None, false, false, Some(&s)));
                    let _ = resolve(&params(Some(&s), false, false, None));
                    let _ = resolve(&params(Some(&s), true, true, None));
                    let _ = quote_for_message(&s);
                }
            }
        }
    }

    #[test]
    fn endpoint_partition_matchers() {
        // Every listed region belongs to its own partition, and no listed
        // region matches an earlier partition's regex (so botocore's
        // per-partition order and the Smithy listing-first order agree).
        for (i, p) in PARTITIONS.iter().enumerate() {
            for r in p.regions {
                assert_eq!(aws_partition(r).id, p.id, "{r}");
                for earlier in &PARTITIONS[..i] {
                    assert!(!(earlier.matches_regex)(r), "{r} matches {}", earlier.id);
                }
            }
        }
        let cases = [
            ("us-west-9", "aws"),
            ("mx-central-2", "aws"),
            ("il-x_y-10", "aws"),
            ("us-gov-north-3", "aws-us-gov"),
            ("cn-south-2", "aws-cn"),
            ("eusc-de-north-1", "aws-eusc"),
            ("us-iso-south-4", "aws-iso"),
            ("us-isob-north-1", "aws-iso-b"),
            ("eu-isoe-east-2", "aws-iso-e"),
            ("us-isof-west-1", "aws-iso-f"),
            // No match: default partition.
            ("eusc-fr-east-1", "aws"),
            ("xx-east-1", "aws"),
            ("us-east-", "aws"),
            ("us--1", "aws"),
            ("us-east-1a", "aws"),
            ("cn-north", "aws"),
            ("us-isoz-east-1", "aws"),
            ("", "aws"),
        ];
        for (region, id) in cases {
            assert_eq!(aws_partition(region).id, id, "{region}");
        }
        assert!(matches_aws("us-east-1"));
        assert!(!matches_aws("US-east-1"));
        assert!(!matches_aws("us-east-1-2"));
        assert!(matches_aws_cn("cn-north-007"));
        assert!(!matches_aws_cn("cn-north-1x"));
        assert!(matches_aws_eusc("eusc-de-east-1"));
        assert!(!matches_aws_eusc("eusc-east-1"));
        assert!(matches_aws_iso("us-iso-east-1"));
        assert!(!matches_aws_iso("us-isob-east-1"));
        assert!(matches_aws_iso_b("us-isob-east-1"));
        assert!(matches_aws_iso_e("eu-isoe-west-1"));
        assert!(matches_aws_iso_f("us-isof-south-1"));
        assert!(matches_aws_us_gov("us-gov-west-1"));
        assert!(!matches_aws_us_gov("us-gov-west"));
    }

    #[test]
    fn endpoint_host_label() {
        assert!(is_valid_host_label("us-east-1"));
        assert!(is_valid_host_label("a"));
        assert!(!is_valid_host_label(""));
        assert!(!is_valid_host_label("-a"));
        assert!(!is_valid_host_label("a-"));
        assert!(!is_valid_host_label("a.b"));
    }
}
