//! The timestamps core reads, through the `time` crate: epoch seconds (the
//! wire's `sentAt`/`timestamp`), RFC 3339 (input records) and IMF-fixdate
//! (the HTTP `Date` header, for clock skew). Every function is total: bad
//! text gives `None`, never a panic. (aws-sigv4 writes `X-Amz-Date`; the
//! crates that format other timestamps use the `time` crate themselves.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

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

fn to_system_time(d: OffsetDateTime) -> Option<SystemTime> {
    from_epoch(d.unix_timestamp(), d.nanosecond())
}

/// Parses an RFC 3339 timestamp: `2026-11-29T11:59:59.123456Z`,
/// `2026-11-29T12:59:59+01:00`; `t`/`z` and a space for `T` are accepted.
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
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
pub(crate) fn parse_http_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s.trim(), HTTP_DATE).ok()?;
    to_system_time(d.assume_utc())
}

/// Formats an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
#[cfg(test)]
pub(crate) fn http_date(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(HTTP_DATE)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_with_micros() {
        let t = parse_rfc3339("2026-11-29T11:59:59.123456Z").unwrap();
        assert_eq!(t, from_epoch(1_795_953_599, 123_456_000).unwrap());
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
    fn http_dates() {
        let t = parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
        assert_eq!(http_date(t), "Sun, 29 Nov 2026 12:00:00 GMT");
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT"), Some(t));
        assert!(parse_http_date("Sun, 29 Nov 2026 12:00:00 UTC").is_none());
        assert!(parse_http_date("").is_none());
    }

    #[test]
    fn epoch_floats_are_total() {
        assert_eq!(from_epoch_f64(1.5), from_epoch(1, 500_000_000));
        assert_eq!(from_epoch_f64(-1.5), from_epoch(-2, 500_000_000));
        assert!(from_epoch_f64(f64::NAN).is_none());
        assert!(from_epoch_f64(1e300).is_none());
    }
}
