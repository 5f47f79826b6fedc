//! rest-json encoding of the five inputs: compact JSON in model member order,
//! raw UTF-8, unset members omitted, timestamps as epoch seconds, written
//! straight into one buffer sized up front.

use std::time::SystemTime;

use crate::model::*;

/// Appends a JSON string literal, escaping as serde_json and Python's `json`
/// do (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other controls as `\u00xx`).
///
/// Runs of bytes that need no escape are found eight at a time (SWAR) and
/// copied whole.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Find the next byte that needs an escape, eight bytes at a time; the
        // tail is padded with a harmless byte.
        let mut chunk = [b'a'; 8];
        let n = (bytes.len() - i).min(8);
        chunk[..n].copy_from_slice(&bytes[i..i + n]);
        let mask = escape_mask8(u64::from_le_bytes(chunk));
        if mask == 0 {
            i += n;
            continue;
        }
        // The lowest flagged byte is a true hit (borrows only run upwards).
        i += (mask.trailing_zeros() / 8) as usize;
        let b = bytes[i];
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A mask with the high bit set in (at least) the lowest byte of `x` that is
/// a control character, `"` or `\\`; zero when there is none.
#[inline]
fn escape_mask8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // Bytes below 0x20; bytes >= 0x80 are excluded by `& !x`.
    let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    below | has_zero(x ^ (ONES * b'"' as u64)) | has_zero(x ^ (ONES * b'\\' as u64))
}

/// Appends a finite `f32` with the fewest digits that read back as the same
/// `f32`, laid out the way Python's `repr` lays out a float (`1.5`, `0.0`,
/// `10000000000.0`, `1e+20`, `1.5e-05`), so bodies match botocore's.
pub(crate) fn write_f32(out: &mut Vec<u8>, v: f32) {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v).as_bytes();
    let (neg, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mant, exp) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&text[..i], parse_exp(&text[i + 1..])),
        None => (text, 0),
    };
    // Collect significant digits and where the decimal point falls.
    let mut digits = [0u8; 24];
    let mut n = 0usize;
    let mut point: i32 = -1;
    for &b in mant {
        if b == b'.' {
            point = n as i32;
        } else if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    if point < 0 {
        point = n as i32;
    }
    // Strip leading zeros (moving the point) and trailing zeros.
    let mut lead = 0;
    while lead < n && digits[lead] == b'0' {
        lead += 1;
    }
    if lead == n {
        if neg {
            out.push(b'-');
        }
        out.extend_from_slice(b"0.0");
        return;
    }
    let mut end = n;
    while end > lead && digits[end - 1] == b'0' {
        end -= 1;
    }
    let sig = &digits[lead..end];
    // Value = 0.sig * 10^(decpt)
    let decpt = point - lead as i32 + exp;
    if neg {
        out.push(b'-');
    }
    let exp10 = decpt - 1;
    if (-4..16).contains(&exp10) {
        if decpt <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
            out.extend_from_slice(sig);
        } else if decpt as usize >= sig.len() {
            out.extend_from_slice(sig);
            out.extend(std::iter::repeat_n(b'0', decpt as usize - sig.len()));
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&sig[..decpt as usize]);
            out.push(b'.');
            out.extend_from_slice(&sig[decpt as usize..]);
        }
    } else {
        out.push(sig[0]);
        if sig.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&sig[1..]);
        }
        out.push(b'e');
        out.push(if exp10 < 0 { b'-' } else { b'+' });
        let e = exp10.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(crate::time::itoa_buf(e as i64, &mut [0u8; 24]));
    }
}

fn parse_exp(b: &[u8]) -> i32 {
    let (neg, b) = match b.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, b),
    };
    let mut v: i32 = 0;
    for &c in b {
        v = v.saturating_mul(10).saturating_add((c - b'0') as i32);
    }
    if neg {
        -v
    } else {
        v
    }
}

/// A member key as written after another member: `,"name":`.
macro_rules! k {
    ($name:expr) => {
        concat!(",\"", $name, "\":").as_bytes()
    };
}

/// A compact JSON object writer that handles the commas.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }
    /// Writes `k`, which is `,"name":` (see [`k!`]), without the comma
    /// when it is the object's first member.
    fn key(&mut self, k: &[u8]) -> &mut Vec<u8> {
        let k = if self.first { &k[1..] } else { k };
        self.first = false;
        self.out.extend_from_slice(k);
        self.out
    }
    fn str(&mut self, k: &[u8], v: &str) {
        let out = self.key(k);
        write_str(out, v);
    }
    fn opt_str(&mut self, k: &[u8], v: &Option<String>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    /// `eventId` as given, or derived from `seed` for record `i` when missing.
    fn event_id(&mut self, v: &Option<String>, seed: Option<u128>, i: usize) {
        match (v, seed) {
            (Some(id), _) => self.str(k!("eventId"), id),
            (None, Some(seed)) => {
                let id = crate::operation::uuid_bytes(seed, i as u64);
                let out = self.key(k!("eventId"));
                out.push(b'"');
                out.extend_from_slice(&id);
                out.push(b'"');
            }
            (None, None) => {}
        }
    }
    fn opt_props(&mut self, v: &Option<Properties>) {
        if let Some(v) = v {
            self.str(k!("properties"), v.as_str());
        }
    }
    fn time(&mut self, k: &[u8], t: SystemTime) {
        let out = self.key(k);
        crate::time::write_epoch_seconds(t, out);
    }
    fn opt_str_list(&mut self, k: &[u8], v: &Option<Vec<String>>) {
        if let Some(v) = v {
            let out = self.key(k);
            out.push(b'[');
            for (i, s) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, s);
            }
            out.push(b']');
        }
    }
    fn list<T>(&mut self, k: &[u8], v: &[T], mut each: impl FnMut(&mut Vec<u8>, usize, &T)) {
        let out = self.key(k);
        out.push(b'[');
        for (i, r) in v.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            each(out, i, r);
        }
        out.push(b']');
    }
    fn end(self) {
        self.out.push(b'}');
    }
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

/// Encoding of an operation input as its JSON body.
pub trait Encode {
    /// A size the body will very likely fit in.
    fn size_hint(&self) -> usize;
    /// Appends the JSON body to `out`. When `event_id_seed` is given, an
    /// event or action interaction without an `eventId` is written with the
    /// one [`Operation::fill_event_ids`](crate::Operation::fill_event_ids)
    /// would give it, without touching the input.
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
        let mut o = Obj::new(out);
        o.str(k!("trackingId"), &self.tracking_id);
        o.opt_str(k!("userId"), &self.user_id);
        o.str(k!("sessionId"), &self.session_id);
        o.list(k!("eventList"), &self.event_list, |out, i, e| {
            let mut o = Obj::new(out);
            o.event_id(&e.event_id, seed, i);
            o.str(k!("eventType"), &e.event_type);
            if let Some(v) = e.event_value {
                write_f32(o.key(k!("eventValue")), v);
            }
            o.opt_str(k!("itemId"), &e.item_id);
            o.opt_props(&e.properties);
            o.time(k!("sentAt"), e.sent_at);
            o.opt_str(k!("recommendationId"), &e.recommendation_id);
            o.opt_str_list(k!("impression"), &e.impression);
            if let Some(m) = &e.metric_attribution {
                let out = o.key(k!("metricAttribution"));
                let mut m_o = Obj::new(out);
                m_o.str(k!("eventAttributionSource"), &m.event_attribution_source);
                m_o.end();
            }
            o.end();
        });
        o.end();
    }
}

macro_rules! encode_dataset {
    ($input:ty, $list:ident, $list_json:literal, $id:ident, $id_json:literal) => {
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
                let mut o = Obj::new(out);
                o.str(k!("datasetArn"), &self.dataset_arn);
                o.list(k!($list_json), &self.$list, |out, _, r| {
                    let mut o = Obj::new(out);
                    o.str(k!($id_json), &r.$id);
                    o.opt_props(&r.properties);
                    o.end();
                });
                o.end();
            }
        }
    };
}

encode_dataset!(PutItemsInput, items, "items", item_id, "itemId");
encode_dataset!(PutUsersInput, users, "users", user_id, "userId");
encode_dataset!(PutActionsInput, actions, "actions", action_id, "actionId");

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
        let mut o = Obj::new(out);
        o.str(k!("trackingId"), &self.tracking_id);
        o.list(
            k!("actionInteractions"),
            &self.action_interactions,
            |out, i, a| {
                let mut o = Obj::new(out);
                o.str(k!("actionId"), &a.action_id);
                o.opt_str(k!("userId"), &a.user_id);
                o.str(k!("sessionId"), &a.session_id);
                o.time(k!("timestamp"), a.timestamp);
                o.str(k!("eventType"), &a.event_type);
                o.event_id(&a.event_id, seed, i);
                o.opt_str(k!("recommendationId"), &a.recommendation_id);
                o.opt_str_list(k!("impression"), &a.impression);
                o.opt_props(&a.properties);
                o.end();
            },
        );
        o.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn f(v: f32) -> String {
        let mut o = Vec::new();
        write_f32(&mut o, v);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn floats_read_like_python_repr() {
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(0.0), "0.0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(-3.25), "-3.25");
        assert_eq!(f(7.0), "7.0");
        assert_eq!(f(1e10), "10000000000.0");
        assert_eq!(f(1e20), "1e+20");
        assert_eq!(f(1.5e-5), "1.5e-05");
        assert_eq!(f(0.001), "0.001");
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
    fn strings_escape_like_serde_json() {
        for s in [
            "plain",
            "q\"b\\s",
            "ctl\u{1}\u{1f}\n\r\t\u{8}\u{c}",
            "ünï ☕ 🙂",
            "\u{7f}/",
        ] {
            let mut o = Vec::new();
            write_str(&mut o, s);
            assert_eq!(
                String::from_utf8(o).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn escapes_found_at_every_offset_of_the_eight_byte_scan() {
        let specials: Vec<char> = (0u8..0x20)
            .map(char::from)
            .chain(['"', '\\', '\u{7f}', 'é', '🙂', '/'])
            .collect();
        for len in 0..20 {
            for pos in 0..len {
                for &c in &specials {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    s.replace_range(
                        s.char_indices().nth(pos).map(|(i, _)| i).unwrap()..,
                        &format!("{c}{}", &"abcdefghijklmnopqrstuvwxyz"[pos + 1..len]),
                    );
                    let mut o = Vec::new();
                    write_str(&mut o, &s);
                    assert_eq!(
                        String::from_utf8(o).unwrap(),
                        serde_json::to_string(&s).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn member_order_and_omission() {
        let i = PutEventsInput::new("t", "s").event(Event::new(
            "click",
            UNIX_EPOCH + std::time::Duration::from_millis(1500),
        ));
        let body = String::from_utf8(i.encode()).unwrap();
        assert_eq!(
            body,
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"click","sentAt":1.5}]}"#
        );
    }
}
