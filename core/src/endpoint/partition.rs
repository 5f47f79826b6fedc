//! The partitions of `partitions.json` this service is in (their DNS
//! suffixes and what they support), `aws.partition(Region)`, and the
//! rules-language `isValidHostLabel`.

/// One partition of `partitions.json`: its `outputs` and how regions map to it.
pub(super) struct Partition {
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
    pub(super) dns_suffix: &'static str,
    /// `outputs.dualStackDnsSuffix`.
    pub(super) dual_stack_dns_suffix: &'static str,
    /// `outputs.supportsFIPS`.
    pub(super) supports_fips: bool,
    /// `outputs.supportsDualStack`.
    pub(super) supports_dual_stack: bool,
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
pub(super) fn aws_partition(region: &str) -> &'static Partition {
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
pub(super) fn is_valid_host_label(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

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
