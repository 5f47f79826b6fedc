//! The timestamp formats tests write and read, through the `time` crate
//! (core keeps its own private; the emulator and the credentials crate
//! theirs). Panics on text that is not the format: these are test inputs.

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

/// RFC 3339 (`2026-11-29T12:00:00Z`, fractions as needed).
pub fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).expect("formats")
}

/// Parses RFC 3339; `None` when `s` is not.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(SystemTime::from)
}

/// `X-Amz-Date` (`20261129T120000Z`).
pub fn amz_date(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(AMZ_DATE).expect("formats")
}

/// Parses `X-Amz-Date`; `None` when `s` is not one.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s, AMZ_DATE).ok()?;
    Some(d.assume_utc().into())
}

/// The HTTP `Date` header (`Sun, 29 Nov 2026 12:00:00 GMT`).
pub fn http_date(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(HTTP_DATE).expect("formats")
}

/// Parses an HTTP `Date`; `None` when `s` is not one.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    let d = PrimitiveDateTime::parse(s, HTTP_DATE).ok()?;
    Some(d.assume_utc().into())
}
