//! The timestamps the emulator reads and writes, through the `time` crate:
//! `X-Amz-Date` (ISO 8601 basic), the HTTP `Date` header (IMF-fixdate) and
//! RFC 3339 (the records it keeps). Total: bad text gives `None`, and times
//! outside the years 1..9999 are clamped when formatted.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const AMZ_DATE: &[BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const HTTP_DATE: &[BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// `t` in UTC, clamped to the years 1..=9999 that the formats can spell.
fn utc(t: SystemTime) -> OffsetDateTime {
    let at = |secs| OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (min, max) = (at(-62_135_596_800), at(253_402_300_799)); // 0001-01-01, 9999-12-31T23:59:59
    if t < SystemTime::from(min) {
        min
    } else if t > SystemTime::from(max) {
        max
    } else {
        OffsetDateTime::from(t)
    }
}

/// `YYYYMMDDTHHMMSSZ`.
pub(crate) fn amz_date(t: SystemTime) -> String {
    utc(t).format(AMZ_DATE).unwrap_or_default()
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s, AMZ_DATE).ok()?;
    Some(d.assume_utc().into())
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s.trim(), HTTP_DATE).ok()?;
    Some(d.assume_utc().into())
}

/// Formats an IMF-fixdate.
pub(crate) fn http_date(t: SystemTime) -> String {
    utc(t).format(HTTP_DATE).unwrap_or_default()
}

/// Formats RFC 3339 with as many fractional digits as needed (`Z` zone).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    utc(t).format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn amz_and_http_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_953_600);
        assert_eq!(amz_date(t), "20261129T120000Z");
        assert_eq!(parse_amz_date("20261129T120000Z"), Some(t));
        assert!(parse_amz_date("20261129T120000").is_none());
        assert!(parse_amz_date("20261329T120000Z").is_none());
        assert_eq!(http_date(t), "Sun, 29 Nov 2026 12:00:00 GMT");
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT"), Some(t));
        assert!(parse_http_date("Sun, 29 Nov 2026 12:00:00 UTC").is_none());
        assert_eq!(rfc3339(t), "2026-11-29T12:00:00Z");
        let micros = t + Duration::from_micros(123_456);
        assert_eq!(rfc3339(micros), "2026-11-29T12:00:00.123456Z");
    }

    #[test]
    fn out_of_range_times_are_clamped_not_panics() {
        let far = UNIX_EPOCH + Duration::from_secs(1 << 40);
        assert_eq!(amz_date(far), "99991231T235959Z");
        assert!(rfc3339(far).starts_with("9999-12-31T23:59:59"));
        let before = UNIX_EPOCH - Duration::from_secs(1 << 40);
        assert_eq!(amz_date(before), "00010101T000000Z");
    }
}
