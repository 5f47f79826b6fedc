//! Client-side validation of every constraint of the service model
//! (`service-2.json`): lengths in Unicode code points, list sizes, patterns,
//! `properties` as a JSON object without reserved keys, finite floats.
//!
//! The first violation found is reported with its path, e.g.
//! `eventList[3].itemId: length 300 is above the maximum 256`. Paths are only
//! formatted when there is an error, so validating good input allocates nothing.

use std::fmt::{self, Write as _};

use crate::model::*;
use crate::Error;

/// Segments of a field path.
#[derive(Clone, Copy)]
pub(crate) enum Seg {
    Field(&'static str),
    Index(usize),
}

/// A field path on the stack (validation of good input allocates nothing).
pub(crate) struct Path {
    segs: [Seg; 8],
    len: usize,
}

impl Path {
    fn new() -> Self {
        Path {
            segs: [Seg::Index(0); 8],
            len: 0,
        }
    }
    fn push(&mut self, s: Seg) {
        // The model nests four deep at most; deeper pushes are dropped.
        if self.len < self.segs.len() {
            self.segs[self.len] = s;
            self.len += 1;
        }
    }
    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }
}

impl std::ops::Deref for Path {
    type Target = [Seg];
    fn deref(&self) -> &[Seg] {
        &self.segs[..self.len]
    }
}

struct PathFmt<'a>(&'a [Seg]);
impl fmt::Display for PathFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Field(n) if i == 0 => f.write_str(n)?,
                Seg::Field(n) => write!(f, ".{n}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// The service's (Coral's) path: members joined by `.`, list entries
/// numbered from 1 as `N.member` (`eventList.1.member.itemId`).
struct ServicePathFmt<'a>(&'a [Seg]);
impl fmt::Display for ServicePathFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match s {
                Seg::Field(n) => f.write_str(n)?,
                Seg::Index(i) => write!(f, "{}.member", i + 1)?,
            }
        }
        Ok(())
    }
}

fn err(path: &[Seg], problem: impl Into<String>) -> Error {
    let mut p = String::new();
    let _ = write!(p, "{}", PathFmt(path));
    Error::validation(p, problem)
}

/// A broken constraint, in terms both wordings need.
enum Broken<'a> {
    MinLength {
        n: usize,
        min: usize,
    },
    MaxLength {
        n: usize,
        max: usize,
    },
    MinItems {
        n: usize,
        min: usize,
    },
    MaxItems {
        n: usize,
        max: usize,
    },
    /// The model's pattern and this crate's explanation of it.
    Pattern(&'static str, &'static str),
    Reserved(&'a str),
    NotObject,
    /// serde_json's account of what is wrong, with its line and column.
    NotJson(String),
    NotFinite(f32),
}

impl Broken<'_> {
    /// This crate's wording (`length 300 is above the maximum 256`).
    fn client_problem(&self) -> String {
        match self {
            Broken::MinLength { n, min } => format!("length {n} is below the minimum {min}"),
            Broken::MaxLength { n, max } => format!("length {n} is above the maximum {max}"),
            Broken::MinItems { n, min } => format!("has {n} entries, below the minimum {min}"),
            Broken::MaxItems { n, max } => format!("has {n} entries, above the maximum {max}"),
            Broken::Pattern(pattern, why) => format!("does not match the pattern {pattern}{why}"),
            Broken::Reserved(k) => {
                format!("must not hold the reserved key \"{k}\" (compared case-insensitively)")
            }
            Broken::NotObject => "is not a JSON object".into(),
            Broken::NotJson(e) => format!("is not valid JSON ({e})"),
            Broken::NotFinite(v) => format!("{v} is not a finite number"),
        }
    }

    /// The service's wording of the constraint. The model's constraints
    /// (lengths, list sizes, patterns) read as the service words them; the
    /// `properties` rules and finite numbers, which are not model
    /// constraints, are worded in the same frame.
    fn service_constraint(&self) -> String {
        match self {
            Broken::MinLength { min, .. } | Broken::MinItems { min, .. } => {
                format!("Member must have length greater than or equal to {min}")
            }
            Broken::MaxLength { max, .. } | Broken::MaxItems { max, .. } => {
                format!("Member must have length less than or equal to {max}")
            }
            Broken::Pattern(pattern, _) => {
                format!("Member must satisfy regular expression pattern: {pattern}")
            }
            Broken::Reserved(k) => format!(
                "Member must not contain the reserved key \"{k}\" (compared case-insensitively)"
            ),
            Broken::NotObject => "Member must be a JSON object".into(),
            Broken::NotJson(e) => format!("Member must be valid JSON ({e})"),
            Broken::NotFinite(_) => "Member must be a finite number".into(),
        }
    }
}

/// Where violations go: the client stops at the first, in its own wording;
/// the emulator collects them all, in the service's.
pub(crate) enum Reporter {
    First,
    All(Vec<String>),
}

impl Reporter {
    /// Violations collected so far (always 0 for `First`).
    fn count(&self) -> usize {
        match self {
            Reporter::First => 0,
            Reporter::All(v) => v.len(),
        }
    }

    fn report(&mut self, path: &[Seg], broken: Broken<'_>) -> Result<(), Error> {
        match self {
            Reporter::First => Err(err(path, broken.client_problem())),
            Reporter::All(v) => {
                v.push(format!(
                    "Value at '{}' failed to satisfy constraint: {}",
                    ServicePathFmt(path),
                    broken.service_constraint()
                ));
                Ok(())
            }
        }
    }
}

/// Length in code points, counted only when the byte length could exceed `max`.
///
/// Inlined for the common case (a byte length within the bounds and a
/// minimum of at most 1, which any non-empty string meets), so that good
/// input pays a comparison or two per field rather than a call.
#[inline(always)]
fn check_len(r: &mut Reporter, path: &[Seg], s: &str, min: usize, max: usize) -> Result<(), Error> {
    if min <= 1 && s.len() >= min && s.len() <= max {
        return Ok(());
    }
    check_len_slow(r, path, s, min, max)
}

#[cold]
#[inline(never)]
fn check_len_slow(
    r: &mut Reporter,
    path: &[Seg],
    s: &str,
    min: usize,
    max: usize,
) -> Result<(), Error> {
    if s.len() < min {
        // Fewer bytes than the minimum means fewer code points too.
        let n = s.chars().count();
        return r.report(path, Broken::MinLength { n, min });
    }
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return r.report(path, Broken::MaxLength { n, max });
        }
    }
    if min > 1 {
        let n = s.chars().count();
        if n < min {
            return r.report(path, Broken::MinLength { n, min });
        }
    }
    Ok(())
}

fn check_list<T>(
    r: &mut Reporter,
    path: &[Seg],
    v: &[T],
    min: usize,
    max: usize,
) -> Result<(), Error> {
    let n = v.len();
    if n < min {
        return r.report(path, Broken::MinItems { n, min });
    }
    if n > max {
        return r.report(path, Broken::MaxItems { n, max });
    }
    Ok(())
}

/// ECMAScript `.` (what Smithy patterns use): anything but a line terminator.
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// The model's `Arn` pattern `arn:([a-z\d-]+):personalize:.*:.*:.+`, with
/// Smithy's search semantics (the pattern is not anchored).
pub(crate) fn matches_arn_pattern(s: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = s[from..].find("arn:") {
        let start = from + pos + 4;
        from = from + pos + 1;
        let rest = &s[start..];
        let part_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            .count();
        if part_len == 0 {
            continue;
        }
        let Some(tail) = rest[part_len..].strip_prefix(":personalize:") else {
            continue;
        };
        // `.*:.*:.+` within one line: a second colon followed by a character.
        let line = tail.split(is_line_terminator).next().unwrap_or("");
        let mut colons = line.match_indices(':');
        colons.next();
        if let Some((j, _)) = colons.next() {
            if j + 1 < line.len() {
                return true;
            }
        }
    }
    false
}

/// `^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$`: printable ASCII with at least
/// one character that is not a space.
pub(crate) fn matches_attribution_source_pattern(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b)) && s.bytes().any(|b| b != b' ')
}

/// Keys that event and action-interaction properties must not hold
/// (compared case-insensitively), from the model's documentation.
pub const RESERVED_PROPERTY_KEYS: [&str; 6] = [
    "userId",
    "sessionId",
    "eventType",
    "timestamp",
    "recommendationId",
    "impression",
];

fn check_properties(
    r: &mut Reporter,
    path: &[Seg],
    p: &Properties,
    max: usize,
    reserved: bool,
) -> Result<(), Error> {
    let text = p.as_str();
    let before = r.count();
    check_len(r, path, text, 1, max)?;
    if r.count() != before {
        return Ok(());
    }
    match properties::scan(text, reserved) {
        Ok(properties::Shape::Object(None)) => Ok(()),
        Ok(properties::Shape::Object(Some(k))) => r.report(path, Broken::Reserved(k)),
        Ok(properties::Shape::Other) => r.report(path, Broken::NotObject),
        Err(e) => r.report(path, Broken::NotJson(e.to_string())),
    }
}

/// `properties` read by serde_json: a visitor over the top-level keys (the
/// values are skipped with `IgnoredAny`), nothing kept.
mod properties {
    use std::fmt;

    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::RESERVED_PROPERTY_KEYS;

    /// What the text holds.
    pub(super) enum Shape {
        /// An object, and the first reserved key it has (when checked).
        Object(Option<&'static str>),
        /// Valid JSON that is not an object.
        Other,
    }

    struct Top {
        reserved: bool,
    }

    /// A key, compared with the reserved ones without being kept.
    struct Key;

    impl<'de> de::DeserializeSeed<'de> for Key {
        type Value = Option<&'static str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl Visitor<'_> for Key {
        type Value = Option<&'static str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E: de::Error>(self, k: &str) -> Result<Self::Value, E> {
            Ok(RESERVED_PROPERTY_KEYS
                .iter()
                .copied()
                .find(|r| r.eq_ignore_ascii_case(k)))
        }
    }

    impl<'de> Visitor<'de> for Top {
        type Value = Shape;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
            let mut found = None;
            while let Some(k) = map.next_key_seed(Key)? {
                if self.reserved && found.is_none() {
                    found = k;
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(Shape::Object(found))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Shape::Other)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
        fn visit_unit<E>(self) -> Result<Shape, E> {
            Ok(Shape::Other)
        }
    }

    /// Reads `text` as one JSON value; `reserved` checks the top-level keys.
    pub(super) fn scan(text: &str, reserved: bool) -> Result<Shape, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let shape = de.deserialize_any(Top { reserved })?;
        de.end()?;
        Ok(shape)
    }
}

fn check_ids(
    r: &mut Reporter,
    path: &mut Path,
    ids: &[String],
    max_each: usize,
) -> Result<(), Error> {
    check_list(r, path, ids, 1, 25)?;
    for (i, id) in ids.iter().enumerate() {
        path.push(Seg::Index(i));
        check_len(r, path, id, 1, max_each)?;
        path.pop();
    }
    Ok(())
}

macro_rules! at {
    ($path:ident, $seg:expr, $body:expr) => {{
        $path.push($seg);
        $body?;
        $path.pop();
    }};
}

const ARN_PATTERN: &str = r"arn:([a-z\d-]+):personalize:.*:.*:.+";
const ATTRIBUTION_SOURCE_PATTERN: &str = r"^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$";

fn check_arn(r: &mut Reporter, path: &[Seg], arn: &str) -> Result<(), Error> {
    let before = r.count();
    check_len(r, path, arn, 0, 256)?;
    if r.count() == before && !matches_arn_pattern(arn) {
        return r.report(path, Broken::Pattern(ARN_PATTERN, ""));
    }
    Ok(())
}

/// Validation of an operation input against the model.
pub trait Validate {
    /// Checks every constraint; the first violation is returned with its path.
    fn validate(&self) -> Result<(), Error>;
}

/// Every check of one input, reporting to `r`.
pub(crate) trait Check {
    fn check(&self, r: &mut Reporter) -> Result<(), Error>;
}

macro_rules! validate_by_check {
    ($($t:ty),*) => {$(
        impl Validate for $t {
            fn validate(&self) -> Result<(), Error> {
                self.check(&mut Reporter::First)
            }
        }
    )*};
}
validate_by_check!(
    PutEventsInput,
    PutItemsInput,
    PutUsersInput,
    PutActionsInput,
    PutActionInteractionsInput
);

/// Every violation of `input`, in the service's wording and paths, in model
/// order (empty when it is valid).
pub(crate) fn service_violations(input: &impl Check) -> Vec<String> {
    let mut r = Reporter::All(Vec::new());
    // `All` never stops early.
    let _ = input.check(&mut r);
    match r {
        Reporter::All(v) => v,
        Reporter::First => Vec::new(),
    }
}

impl Check for PutEventsInput {
    fn check(&self, r: &mut Reporter) -> Result<(), Error> {
        let mut p = Path::new();
        at!(
            p,
            Seg::Field("trackingId"),
            check_len(r, &p, &self.tracking_id, 1, 256)
        );
        if let Some(u) = &self.user_id {
            at!(p, Seg::Field("userId"), check_len(r, &p, u, 1, 256));
        }
        at!(
            p,
            Seg::Field("sessionId"),
            check_len(r, &p, &self.session_id, 1, 256)
        );
        p.push(Seg::Field("eventList"));
        check_list(r, &p, &self.event_list, 1, 10)?;
        for (i, e) in self.event_list.iter().enumerate() {
            p.push(Seg::Index(i));
            validate_event(r, &mut p, e)?;
            p.pop();
        }
        Ok(())
    }
}

fn validate_event(r: &mut Reporter, p: &mut Path, e: &Event) -> Result<(), Error> {
    if let Some(v) = &e.event_id {
        at!(p, Seg::Field("eventId"), check_len(r, p, v, 1, 256));
    }
    at!(
        p,
        Seg::Field("eventType"),
        check_len(r, p, &e.event_type, 1, 256)
    );
    if let Some(v) = e.event_value {
        if !v.is_finite() {
            at!(
                p,
                Seg::Field("eventValue"),
                r.report(p, Broken::NotFinite(v))
            );
        }
    }
    if let Some(v) = &e.item_id {
        at!(p, Seg::Field("itemId"), check_len(r, p, v, 1, 256));
    }
    if let Some(v) = &e.properties {
        at!(
            p,
            Seg::Field("properties"),
            check_properties(r, p, v, 1024, true)
        );
    }
    if let Some(v) = &e.recommendation_id {
        at!(p, Seg::Field("recommendationId"), check_len(r, p, v, 1, 40));
    }
    if let Some(v) = &e.impression {
        at!(p, Seg::Field("impression"), check_ids(r, p, v, 256));
    }
    if let Some(m) = &e.metric_attribution {
        p.push(Seg::Field("metricAttribution"));
        p.push(Seg::Field("eventAttributionSource"));
        let s = &m.event_attribution_source;
        let before = r.count();
        check_len(r, p, s, 0, 1024)?;
        if r.count() == before && !matches_attribution_source_pattern(s) {
            r.report(
                p,
                Broken::Pattern(
                    ATTRIBUTION_SOURCE_PATTERN,
                    " (printable ASCII with at least one non-space character)",
                ),
            )?;
        }
        p.pop();
        p.pop();
    }
    Ok(())
}

macro_rules! validate_dataset {
    ($input:ty, $list:ident, $list_json:literal, $id:ident, $id_json:literal, $props_max:literal) => {
        impl Check for $input {
            fn check(&self, r: &mut Reporter) -> Result<(), Error> {
                let mut p = Path::new();
                at!(
                    p,
                    Seg::Field("datasetArn"),
                    check_arn(r, &p, &self.dataset_arn)
                );
                p.push(Seg::Field($list_json));
                check_list(r, &p, &self.$list, 1, 10)?;
                for (i, record) in self.$list.iter().enumerate() {
                    p.push(Seg::Index(i));
                    at!(
                        p,
                        Seg::Field($id_json),
                        check_len(r, &p, &record.$id, 1, 256)
                    );
                    if let Some(v) = &record.properties {
                        at!(
                            p,
                            Seg::Field("properties"),
                            check_properties(r, &p, v, $props_max, false)
                        );
                    }
                    p.pop();
                }
                Ok(())
            }
        }
    };
}

validate_dataset!(PutItemsInput, items, "items", item_id, "itemId", 32000);
validate_dataset!(PutUsersInput, users, "users", user_id, "userId", 24000);
validate_dataset!(
    PutActionsInput,
    actions,
    "actions",
    action_id,
    "actionId",
    32000
);

impl Check for PutActionInteractionsInput {
    fn check(&self, r: &mut Reporter) -> Result<(), Error> {
        let mut p = Path::new();
        at!(
            p,
            Seg::Field("trackingId"),
            check_len(r, &p, &self.tracking_id, 1, 256)
        );
        p.push(Seg::Field("actionInteractions"));
        check_list(r, &p, &self.action_interactions, 1, 10)?;
        for (i, a) in self.action_interactions.iter().enumerate() {
            p.push(Seg::Index(i));
            at!(
                p,
                Seg::Field("actionId"),
                check_len(r, &p, &a.action_id, 1, 256)
            );
            if let Some(v) = &a.user_id {
                at!(p, Seg::Field("userId"), check_len(r, &p, v, 1, 256));
            }
            at!(
                p,
                Seg::Field("sessionId"),
                check_len(r, &p, &a.session_id, 1, 256)
            );
            at!(
                p,
                Seg::Field("eventType"),
                check_len(r, &p, &a.event_type, 1, 256)
            );
            if let Some(v) = &a.event_id {
                at!(p, Seg::Field("eventId"), check_len(r, &p, v, 1, 256));
            }
            if let Some(v) = &a.recommendation_id {
                at!(
                    p,
                    Seg::Field("recommendationId"),
                    check_len(r, &p, v, 1, 40)
                );
            }
            if let Some(v) = &a.impression {
                at!(p, Seg::Field("impression"), check_ids(r, &mut p, v, 256));
            }
            if let Some(v) = &a.properties {
                at!(
                    p,
                    Seg::Field("properties"),
                    check_properties(r, &p, v, 1024, true)
                );
            }
            p.pop();
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
