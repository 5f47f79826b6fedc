//! RFC 3339, the timestamps of credential sources (`Expiration` of STS,
//! IMDS, the container endpoint and `credential_process`; the SSO token
//! cache), through the `time` crate. Total: bad text gives `None`.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses `2026-11-29T11:59:59.123456Z` or `2026-11-29T12:59:59+01:00`;
/// `t`/`z` and a space for `T` are accepted, as other AWS SDKs do.
pub(crate) fn parse(s: &str) -> Option<SystemTime> {
    let d = match s.as_bytes().get(10) {
        Some(b' ' | b't') => {
            let mut fixed = s.to_owned();
            fixed.replace_range(10..11, "T");
            OffsetDateTime::parse(&fixed, &Rfc3339)
        }
        _ => OffsetDateTime::parse(s, &Rfc3339),
    };
    let d = d.ok()?;
    // Years 1..=9999 only (the format's), so this cannot overflow.
    Some(d.into())
}

/// Formats with as many fractional digits as needed (`Z` zone); times the
/// format cannot spell (outside the years 1..=9999) give an empty string.
pub(crate) fn format(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s - 1),
    };
    if !(-62_135_596_800..253_402_300_800).contains(&secs) {
        return String::new();
    }
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn round_trips_with_micros_and_offsets() {
        let t = UNIX_EPOCH + Duration::new(1_795_953_599, 123_456_000);
        assert_eq!(parse("2026-11-29T11:59:59.123456Z"), Some(t));
        assert_eq!(format(t), "2026-11-29T11:59:59.123456Z");
        assert_eq!(parse("2026-11-29T12:59:59.123456+01:00"), Some(t));
        assert_eq!(parse("2026-11-29 11:59:59.123456z"), Some(t));
        assert_eq!(parse("2026-11-29t11:59:59.123456Z"), Some(t));
        assert_eq!(
            format(UNIX_EPOCH + Duration::from_secs(1_795_953_599)),
            "2026-11-29T11:59:59Z"
        );
        assert!(parse("2026-02-30T00:00:00Z").is_none());
        assert!(parse("2026-11-29T11:59:59").is_none());
        assert!(parse("").is_none());
        assert!(parse("2026-11-29ü11:59:59Z").is_none());
        assert_eq!(format(UNIX_EPOCH + Duration::from_secs(1 << 40)), "");
        assert_eq!(format(UNIX_EPOCH - Duration::from_secs(1 << 40)), "");
    }
}
