//! rest-json encoding of the five inputs with serde: the model types derive
//! `Serialize` (compact JSON in model member order, unset members omitted),
//! and `serde_json` writes them into one buffer sized up front. The helpers
//! here are the wire's few spellings serde does not choose by itself:
//! timestamps as epoch seconds, `eventValue` laid out as botocore (Python's
//! `repr`) lays out a float, and event ids filled in without touching the
//! input.

use std::time::SystemTime;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::model::*;

/// Serializes a timestamp as epoch seconds: an integer when the fraction is
/// zero, otherwise a decimal with microseconds at most (trailing zeros cut;
/// sub-microsecond digits truncated, as botocore does).
pub(crate) fn epoch_seconds<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let (secs, nanos) = crate::time::to_epoch(*t);
    let micros = i64::from(nanos / 1000);
    if micros == 0 {
        return s.serialize_i64(secs);
    }
    // Between 1 s and 2^32 s from the epoch a double resolves well under a
    // microsecond, so the shortest spelling of this f64 is exactly the
    // decimal with its six (or fewer) digits.
    let v = secs as f64 + micros as f64 / 1e6;
    if (1.0..4_294_967_296.0).contains(&v.abs()) {
        return s.serialize_f64(v);
    }
    let mut text = String::with_capacity(24);
    let (whole, frac) = if secs < 0 {
        (secs + 1, 1_000_000 - micros)
    } else {
        (secs, micros)
    };
    if secs < 0 && whole == 0 {
        text.push('-');
    }
    text.push_str(&whole.to_string());
    text.push('.');
    let digits = format!("{frac:06}");
    text.push_str(digits.trim_end_matches('0'));
    raw(text, s)
}

fn raw<S: Serializer>(text: String, s: S) -> Result<S::Ok, S::Error> {
    RawValue::from_string(text)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

/// Serializes `eventValue`: the fewest digits that read back as the same
/// `f32` (serde_json's own spelling), laid out as Python's `repr` lays out a
/// float (`1.5`, `10000000000.0`, `1e+20`, `1.5e-05`) so bodies match
/// botocore's. The two layouts agree from 1e-4 up to 1e13.
pub(crate) fn event_value<S: Serializer>(v: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    let Some(v) = *v else {
        return s.serialize_none();
    };
    let a = v.abs();
    if a == 0.0 || (1e-4..1e13).contains(&a) || !v.is_finite() {
        return s.serialize_f32(v);
    }
    raw(python_repr(v), s)
}

/// Python's layout of a float's shortest digits: positional for decimal
/// exponents -4..16, otherwise `d.ddde+XX`.
fn python_repr(v: f32) -> String {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v);
    let (neg, text) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (mant, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let sig = all.trim_matches('0');
    // value = 0.sig * 10^decpt
    let decpt = int.len() as i32 - lead as i32 + exp;
    let exp10 = decpt - 1;
    let mut out = String::with_capacity(sig.len() + 8);
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp10) {
        if decpt <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-decpt) as usize));
            out.push_str(sig);
        } else if decpt as usize >= sig.len() {
            out.push_str(sig);
            out.extend(std::iter::repeat_n('0', decpt as usize - sig.len()));
            out.push_str(".0");
        } else {
            out.push_str(&sig[..decpt as usize]);
            out.push('.');
            out.push_str(&sig[decpt as usize..]);
        }
    } else {
        out.push_str(&sig[..1]);
        if sig.len() > 1 {
            out.push('.');
            out.push_str(&sig[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp10 < 0 { '-' } else { '+' },
            exp10.abs()
        ));
    }
    out
}

/// A record list whose missing event ids are written as derived from
/// `seed` (the ids [`Operation::fill_event_ids`](crate::Operation::fill_event_ids)
/// would give), without touching the records.
struct WithIds<'a, T> {
    records: &'a [T],
    seed: Option<u128>,
}

/// A record without an event id, written with `eventId` first and then its
/// own members.
#[derive(Serialize)]
struct Filled<'a, T> {
    #[serde(rename = "eventId")]
    event_id: &'a str,
    #[serde(flatten)]
    record: &'a T,
}

trait HasEventId {
    fn has_event_id(&self) -> bool;
}

impl HasEventId for Event {
    fn has_event_id(&self) -> bool {
        self.event_id.is_some()
    }
}

impl HasEventId for ActionInteraction {
    fn has_event_id(&self) -> bool {
        self.event_id.is_some()
    }
}

impl<T: Serialize + HasEventId> Serialize for WithIds<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.records.len()))?;
        for (i, r) in self.records.iter().enumerate() {
            match self.seed {
                Some(seed) if !r.has_event_id() => {
                    let id = crate::operation::uuid_bytes(seed, i as u64);
                    let id = std::str::from_utf8(&id).unwrap_or_default();
                    seq.serialize_element(&Filled {
                        event_id: id,
                        record: r,
                    })?;
                }
                _ => seq.serialize_element(r)?,
            }
        }
        seq.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PutEventsBody<'a> {
    tracking_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: &'a Option<String>,
    session_id: &'a str,
    event_list: WithIds<'a, Event>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PutActionInteractionsBody<'a> {
    tracking_id: &'a str,
    action_interactions: WithIds<'a, ActionInteraction>,
}

fn opt_len(v: &Option<String>) -> usize {
    v.as_ref().map_or(0, |s| s.len() + 24)
}

fn props_len(v: &Option<Properties>) -> usize {
    // Properties carry quotes that gain a backslash each; allow for some.
    v.as_ref()
        .map_or(0, |p| p.as_str().len() + p.as_str().len() / 4 + 16)
}

fn list_len(v: &Option<Vec<String>>) -> usize {
    v.as_ref()
        .map_or(0, |l| 16 + l.iter().map(|s| s.len() + 3).sum::<usize>())
}

/// Writes `body` into `out`. Serializing the model into a `Vec` cannot fail
/// (no maps with non-string keys, no failing `Serialize` impl).
fn write<T: Serialize>(out: &mut Vec<u8>, body: &T) {
    // The writer is the `Vec` itself, moved in and back out, not `&mut
    // Vec`: serde_json's string escaping, where encoding spends its time,
    // compiles to a loop about a third faster for it (PutItems 10 x 1 KB:
    // 7.8 -> 5.4 us here).
    let mut ser = serde_json::Serializer::new(std::mem::take(out));
    let _ = body.serialize(&mut ser);
    *out = ser.into_inner();
}

/// Encoding of an operation input as its JSON body.
pub trait Encode {
    /// A size the body will very likely fit in.
    fn size_hint(&self) -> usize;
    /// Appends the JSON body to `out`. When `event_id_seed` is given, an
    /// event or action interaction without an `eventId` is written with the
    /// one [`Operation::fill_event_ids`](crate::Operation::fill_event_ids)
    /// would give it (as its first member), without touching the input.
    fn encode_into_with(&self, out: &mut Vec<u8>, event_id_seed: Option<u128>);
    /// Appends the JSON body to `out`, as given.
    fn encode_into(&self, out: &mut Vec<u8>) {
        self.encode_into_with(out, None)
    }
    /// The JSON body in a buffer of its own.
    fn encode(&self) -> Vec<u8> {
        self.encode_with(None)
    }
    /// The JSON body in a buffer of its own, with missing event ids filled
    /// in from `event_id_seed` when given.
    fn encode_with(&self, event_id_seed: Option<u128>) -> Vec<u8> {
        let mut v =
            Vec::with_capacity(self.size_hint() + if event_id_seed.is_some() { 512 } else { 0 });
        self.encode_into_with(&mut v, event_id_seed);
        v
    }
}

impl Encode for PutEventsInput {
    fn size_hint(&self) -> usize {
        64 + self.tracking_id.len()
            + self.session_id.len()
            + opt_len(&self.user_id)
            + self
                .event_list
                .iter()
                .map(|e| {
                    64 + e.event_type.len()
                        + opt_len(&e.event_id)
                        + opt_len(&e.item_id)
                        + opt_len(&e.recommendation_id)
                        + props_len(&e.properties)
                        + list_len(&e.impression)
                        + e.metric_attribution
                            .as_ref()
                            .map_or(0, |m| m.event_attribution_source.len() + 60)
                        + if e.event_value.is_some() { 32 } else { 0 }
                })
                .sum::<usize>()
    }

    fn encode_into_with(&self, out: &mut Vec<u8>, seed: Option<u128>) {
        if seed.is_none() {
            return write(out, self);
        }
        write(
            out,
            &PutEventsBody {
                tracking_id: &self.tracking_id,
                user_id: &self.user_id,
                session_id: &self.session_id,
                event_list: WithIds {
                    records: &self.event_list,
                    seed,
                },
            },
        );
    }
}

macro_rules! encode_dataset {
    ($input:ty, $list:ident, $id:ident) => {
        impl Encode for $input {
            fn size_hint(&self) -> usize {
                48 + self.dataset_arn.len()
                    + self
                        .$list
                        .iter()
                        .map(|r| 24 + r.$id.len() + props_len(&r.properties))
                        .sum::<usize>()
            }
            fn encode_into_with(&self, out: &mut Vec<u8>, _seed: Option<u128>) {
                write(out, self);
            }
        }
    };
}

encode_dataset!(PutItemsInput, items, item_id);
encode_dataset!(PutUsersInput, users, user_id);
encode_dataset!(PutActionsInput, actions, action_id);

impl Encode for PutActionInteractionsInput {
    fn size_hint(&self) -> usize {
        48 + self.tracking_id.len()
            + self
                .action_interactions
                .iter()
                .map(|a| {
                    96 + a.action_id.len()
                        + a.session_id.len()
                        + a.event_type.len()
                        + opt_len(&a.user_id)
                        + opt_len(&a.event_id)
                        + opt_len(&a.recommendation_id)
                        + list_len(&a.impression)
                        + props_len(&a.properties)
                })
                .sum::<usize>()
    }
    fn encode_into_with(&self, out: &mut Vec<u8>, seed: Option<u128>) {
        if seed.is_none() {
            return write(out, self);
        }
        write(
            out,
            &PutActionInteractionsBody {
                tracking_id: &self.tracking_id,
                action_interactions: WithIds {
                    records: &self.action_interactions,
                    seed,
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn f(v: f32) -> String {
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "event_value")] Option<f32>);
        serde_json::to_string(&W(Some(v))).unwrap()
    }

    #[test]
    fn floats_read_like_python_repr() {
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(-3.25), "-3.25");
        assert_eq!(f(7.0), "7.0");
        assert_eq!(f(1e10), "10000000000.0");
        assert_eq!(f(1e15), "1000000000000000.0");
        assert_eq!(f(1e20), "1e+20");
        assert_eq!(f(1.5e-5), "1.5e-05");
        assert_eq!(f(0.001), "0.001");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(123456.7), "123456.7");
        assert_eq!(f(f32::MAX), "3.4028235e+38");
        assert_eq!(f(f32::MIN_POSITIVE), "1.1754944e-38");
        // Every spelling reads back as the same f32.
        for v in [0.3f32, 1.0 / 3.0, 9.999e15, 1e16, 1e-4, 9.9e-5, 16777217.0] {
            let s = f(v);
            assert_eq!(s.parse::<f32>().unwrap(), v, "{s}");
        }
    }

    #[test]
    fn serde_json_and_python_layouts_agree_where_serde_json_writes() {
        // Powers of ten and neighbours over the range handed to serde_json.
        let mut v = 1e-4f32;
        while v < 1e13 {
            for x in [v, v * 1.5, v * 3.3, -v]
                .into_iter()
                .filter(|x| x.abs() < 1e13)
            {
                let mut buf = ryu::Buffer::new();
                assert_eq!(buf.format_finite(x), python_repr(x), "{x}");
            }
            v *= 10.0;
        }
    }

    fn t(secs: i64, micros: u32) -> String {
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "epoch_seconds")] SystemTime);
        let at = if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        } + Duration::from_micros(micros as u64);
        serde_json::to_string(&W(at)).unwrap()
    }

    #[test]
    fn timestamps_are_epoch_seconds_with_a_fraction_only_when_needed() {
        assert_eq!(t(1_795_953_540, 0), "1795953540");
        assert_eq!(t(1_795_953_540, 500_000), "1795953540.5");
        assert_eq!(t(1_795_953_540, 123_456), "1795953540.123456");
        assert_eq!(t(1_795_953_540, 1), "1795953540.000001");
        assert_eq!(t(0, 0), "0");
        assert_eq!(t(0, 1), "0.000001");
        assert_eq!(t(-2, 500_000), "-1.5");
        assert_eq!(t(-1, 500_000), "-0.5");
        assert_eq!(t(5_000_000_000, 250_000), "5000000000.25");
        // Sub-microsecond digits are cut.
        let at = UNIX_EPOCH + Duration::new(1_795_953_540, 999);
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "epoch_seconds")] SystemTime);
        assert_eq!(serde_json::to_string(&W(at)).unwrap(), "1795953540");
    }

    #[test]
    fn member_order_and_omission() {
        let i = PutEventsInput::new("t", "s").event(Event::new(
            "click",
            UNIX_EPOCH + Duration::from_millis(1500),
        ));
        let body = String::from_utf8(i.encode()).unwrap();
        assert_eq!(
            body,
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"click","sentAt":1.5}]}"#
        );
    }

    #[test]
    fn filled_event_ids_match_fill_event_ids() {
        use crate::Operation;
        let mut i = PutEventsInput::new("t", "s")
            .event(Event::new("a", UNIX_EPOCH))
            .event(Event::new("b", UNIX_EPOCH).event_id("given"));
        let body = i.encode_with(Some(7));
        i.fill_event_ids(7);
        assert_eq!(body, i.encode());
    }
}
