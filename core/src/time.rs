//! Calendar arithmetic for the few timestamp formats the protocol uses:
//! RFC 3339 (input records), ISO 8601 basic (`X-Amz-Date`), IMF-fixdate
//! (the HTTP `Date` header), and epoch seconds (the JSON body).
//!
//! Hand-written to keep the core's dependency tree small; every function is
//! pure and total (bad text gives `None`, never a panic).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The civil date of a day number since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

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

/// Writes `YYYYMMDDTHHMMSSZ` (the `X-Amz-Date` format) into `out`.
pub(crate) fn write_amz_date(t: SystemTime, out: &mut [u8; 16]) {
    let (secs, _) = to_epoch(t);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    let (h, mi, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    let y = y.clamp(0, 9999) as u32;
    let digits = |v: u32, n: usize, o: &mut [u8]| {
        let mut v = v;
        for i in (0..n).rev() {
            o[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(y, 4, &mut out[0..4]);
    digits(mo, 2, &mut out[4..6]);
    digits(d, 2, &mut out[6..8]);
    out[8] = b'T';
    digits(h as u32, 2, &mut out[9..11]);
    digits(mi as u32, 2, &mut out[11..13]);
    digits(s as u32, 2, &mut out[13..15]);
    out[15] = b'Z';
}

/// `YYYYMMDDTHHMMSSZ` as a `String`.
pub fn amz_date(t: SystemTime) -> String {
    let mut b = [0u8; 16];
    write_amz_date(t, &mut b);
    String::from_utf8_lossy(&b).into_owned()
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<u32> { num(&b[r]) };
    civil_to_time(
        n(0..4)? as i64,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
        0,
    )
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn civil_to_time(
    y: i64,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    nanos: u32,
) -> Option<SystemTime> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let s = s.min(59); // a leap second counts as the second before it
    let secs = days_from_civil(y, mo, d) * 86400 + (h * 3600 + mi * 60 + s) as i64;
    from_epoch(secs, nanos)
}

/// Parses an RFC 3339 timestamp: `2026-11-29T11:59:59.123456Z`,
/// `2026-11-29T12:59:59+01:00`; `t`/`z` and a space for `T` are accepted.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let y = num(&b[0..4])? as i64;
    let mo = num(&b[5..7])?;
    let d = num(&b[8..10])?;
    let h = num(&b[11..13])?;
    let mi = num(&b[14..16])?;
    let sec = num(&b[17..19])?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + (b[i] - b'0') as u32;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(&b[i + 1..i + 3])? as i64;
            let om = num(&b[i + 4..i + 6])? as i64;
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let t = civil_to_time(y, mo, d, h, mi, sec, nanos)?;
    let (secs, n) = to_epoch(t);
    from_epoch(secs - offset, n)
}

/// Parses an HTTP date (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`), the
/// format of the `Date` response header. RFC 850 and asctime forms are not
/// produced by AWS and give `None`.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let b = s.trim().as_bytes();
    if b.len() != 29 || b[3] != b',' || &b[26..] != b"GMT" {
        return None;
    }
    let d = num(&b[5..7])?;
    let mo = match &b[8..11] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    };
    let y = num(&b[12..16])? as i64;
    if b[19] != b':' || b[22] != b':' {
        return None;
    }
    civil_to_time(
        y,
        mo,
        d,
        num(&b[17..19])?,
        num(&b[20..22])?,
        num(&b[23..25])?,
        0,
    )
}

/// Formats an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    let (secs, _) = to_epoch(t);
    let days = secs.div_euclid(86400);
    let (y, mo, d) = civil_from_days(days);
    let sod = secs.rem_euclid(86400);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WD[days.rem_euclid(7) as usize],
        d,
        MO[(mo - 1) as usize],
        y,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Formats RFC 3339 with as many fractional digits as needed (`Z` zone).
pub fn rfc3339(t: SystemTime) -> String {
    let (secs, nanos) = to_epoch(t);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        mo,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Appends epoch seconds as the JSON body spells them: an integer when the
/// fraction is zero, otherwise a decimal fraction with trailing zeros cut.
/// Sub-microsecond digits are truncated, as botocore does: the service keeps
/// microseconds at most.
pub(crate) fn write_epoch_seconds(t: SystemTime, out: &mut Vec<u8>) {
    let (secs, nanos) = to_epoch(t);
    let micros = nanos / 1000;
    if micros == 0 {
        out.extend_from_slice(itoa_buf(secs, &mut [0u8; 24]));
        return;
    }
    // A time before the epoch with a fraction: secs=-2, micros=500000 is -1.5.
    let (whole, frac) = if secs < 0 {
        (secs + 1, 1_000_000 - micros)
    } else {
        (secs, micros)
    };
    if secs < 0 && whole == 0 {
        out.extend_from_slice(b"-0");
    } else {
        out.extend_from_slice(itoa_buf(whole, &mut [0u8; 24]));
    }
    out.push(b'.');
    let mut digits = [b'0'; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let mut n = 6;
    while digits[n - 1] == b'0' {
        n -= 1;
    }
    out.extend_from_slice(&digits[..n]);
}

/// Formats an integer into `buf` without allocating; returns the digits.
pub(crate) fn itoa_buf(v: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch_text(t: SystemTime) -> String {
        let mut v = Vec::new();
        write_epoch_seconds(t, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn rfc3339_round_trips_with_micros() {
        let t = parse_rfc3339("2026-11-29T11:59:59.123456Z").unwrap();
        assert_eq!(epoch_text(t), "1795953599.123456");
        assert_eq!(rfc3339(t), "2026-11-29T11:59:59.123456Z");
        let t2 = parse_rfc3339("2026-11-29T12:59:59.123456+01:00").unwrap();
        assert_eq!(t, t2);
        assert!(parse_rfc3339("2026-02-30T00:00:00Z").is_none());
        assert!(parse_rfc3339("2026-11-29T11:59:59").is_none());
        assert!(parse_rfc3339("garbage-but-long-enough!").is_none());
    }

    #[test]
    fn epoch_seconds_spelling() {
        assert_eq!(epoch_text(from_epoch(1795953540, 0).unwrap()), "1795953540");
        assert_eq!(
            epoch_text(from_epoch(1795953540, 500_000_000).unwrap()),
            "1795953540.5"
        );
        assert_eq!(epoch_text(from_epoch(-2, 500_000_000).unwrap()), "-1.5");
        assert_eq!(epoch_text(from_epoch(-1, 500_000_000).unwrap()), "-0.5");
        assert_eq!(epoch_text(UNIX_EPOCH), "0");
        // Sub-microsecond digits are truncated, not rounded (botocore does the same).
        assert_eq!(
            epoch_text(from_epoch(10, 123_456_999).unwrap()),
            "10.123456"
        );
        assert_eq!(epoch_text(from_epoch(10, 999).unwrap()), "10");
    }

    #[test]
    fn amz_and_http_dates() {
        let t = parse_rfc3339("2026-11-29T12:00:00Z").unwrap();
        assert_eq!(amz_date(t), "20261129T120000Z");
        assert_eq!(parse_amz_date("20261129T120000Z"), Some(t));
        assert_eq!(http_date(t), "Sun, 29 Nov 2026 12:00:00 GMT");
        assert_eq!(parse_http_date("Sun, 29 Nov 2026 12:00:00 GMT"), Some(t));
        assert!(parse_http_date("Sun, 29 Nov 2026 12:00:00 UTC").is_none());
        assert!(parse_http_date("").is_none());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
