//! The few timestamp formats the protocol uses, through the `time` crate:
//! RFC 3339 (input records, credential expiry), ISO 8601 basic
//! (`X-Amz-Date`) and IMF-fixdate (the HTTP `Date` header). Every function
//! is total: bad text gives `None`, never a panic, and times outside the
//! years 1..9999 are clamped when formatted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

const AMZ_DATE: &[time::format_description::BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'_>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Signed seconds and nanoseconds since the epoch (nanos always in 0..1e9).
pub(crate) fn to_epoch(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

pub(crate) fn from_epoch(secs: i64, nanos: u32) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(nanos as u64))
    }
}

/// `SystemTime` from epoch seconds given as a float (fractions allowed).
pub(crate) fn from_epoch_f64(v: f64) -> Option<SystemTime> {
    if !v.is_finite() || v.abs() > 1e13 {
        return None;
    }
    let secs = v.floor();
    // To the microsecond, as timestamps are written: a double near today's
    // epoch seconds resolves about a quarter of one, so finer digits are
    // noise, and keeping them made decode-then-encode drift by 1 µs.
    let mut nanos = ((v - secs) * 1e6).round() as i64 * 1000;
    let mut secs = secs as i64;
    if nanos >= 1_000_000_000 {
        secs += 1;
        nanos -= 1_000_000_000;
    }
    from_epoch(secs, nanos.max(0) as u32)
}

/// `t` in UTC, clamped to the years 1..=9999 that the formats can spell.
fn utc(t: SystemTime) -> OffsetDateTime {
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let (secs, nanos) = to_epoch(t);
    let clamped = secs.clamp(MIN, MAX);
    let nanos = if clamped == secs { nanos } else { 0 };
    OffsetDateTime::from_unix_timestamp(clamped)
        .ok()
        .and_then(|d| d.replace_nanosecond(nanos).ok())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_system_time(d: OffsetDateTime) -> Option<SystemTime> {
    from_epoch(d.unix_timestamp(), d.nanosecond())
}

/// `YYYYMMDDTHHMMSSZ` (the `X-Amz-Date` format).
pub fn amz_date(t: SystemTime) -> String {
    utc(t).format(AMZ_DATE).unwrap_or_default()
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s, AMZ_DATE).ok()?;
    to_system_time(d.assume_utc())
}

/// Parses an RFC 3339 timestamp: `2026-11-29T11:59:59.123456Z`,
/// `2026-11-29T12:59:59+01:00`; `t`/`z` and a space for `T` are accepted.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let d = match s.as_bytes().get(10) {
        Some(b' ' | b't') => {
            let mut fixed = s.to_owned();
            fixed.replace_range(10..11, "T");
            OffsetDateTime::parse(&fixed, &Rfc3339)
        }
        _ => OffsetDateTime::parse(s, &Rfc3339),
    };
    to_system_time(d.ok()?)
}

/// Parses an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`), the
/// format of the `Date` response header. RFC 850 and asctime forms are not
/// produced by AWS and give `None`.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s.trim(), HTTP_DATE).ok()?;
    to_system_time(d.assume_utc())
}

/// Formats an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    utc(t).format(HTTP_DATE).unwrap_or_default()
}

/// Formats RFC 3339 with as many fractional digits as needed (`Z` zone).
pub fn rfc3339(t: SystemTime) -> String {
    utc(t)
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_micros() {
        let t = parse_rfc3339("2026-11-29T11:59:59.123456Z").unwrap();
        assert_eq!(t, from_epoch(1_795_953_599, 123_456_000).unwrap());
        assert_eq!(rfc3339(t), "2026-11-29T11:59:59.123456Z");
        assert_eq!(
            rfc3339(from_epoch(1_795_953_599, 0).unwrap()),
            "2026-11-29T11:59:59Z"
        );
        let t2 = parse_rfc3339("2026-11-29T12:59:59.123456+01:00").unwrap();
        assert_eq!(t, t2);
        assert_eq!(parse_rfc3339("2026-11-29 11:59:59.123456z"), Some(t));
        assert_eq!(parse_rfc3339("2026-11-29t11:59:59.123456Z"), Some(t));
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_none());
        assert!(parse_rfc3339("2026-11-29T11:59:59").is_none());
        assert!(parse_rfc3339("garbage-but-long-enough!").is_none());
        assert!(parse_rfc3339("").is_none());
        assert!(parse_rfc3339("2026-11-29ü11:59:59Z").is_none());
    }

    #[test]
    fn amz_and_http_dates() {
        let t = parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
        assert_eq!(amz_date(t), "20261129T120000Z");
        assert_eq!(parse_amz_date("20261129T120000Z"), Some(t));
        assert!(parse_amz_date("20261129T120000").is_none());
        assert!(parse_amz_date("20261329T120000Z").is_none());
        assert_eq!(http_date(t), "Sun, 29 Nov 2026 12:00:00 GMT");
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT"), Some(t));
        assert!(parse_http_date("Sun, 29 Nov 2026 12:00:00 UTC").is_none());
        assert!(parse_http_date("").is_none());
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
