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

mod partition;
mod url;

use partition::{aws_partition, is_valid_host_label};
use url::{parse_endpoint_url, quote_for_message};

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
}
