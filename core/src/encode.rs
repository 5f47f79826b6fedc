//! rest-json encoding of the five inputs: compact JSON in model member order,
//! raw UTF-8, unset members omitted, timestamps as epoch seconds, written
//! straight into one buffer sized up front.

use std::time::SystemTime;

use crate::model::*;

/// Appends a JSON string literal, escaping as serde_json and Python's `json`
/// do (`\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other controls as `\u00xx`).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }
    fn str(&mut self, k: &str, v: &str) {
        let out = self.key(k);
        write_str(out, v);
    }
    fn opt_str(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    fn opt_props(&mut self, v: &Option<Properties>) {
        if let Some(v) = v {
            self.str("properties", v.as_str());
        }
    }
    fn time(&mut self, k: &str, t: SystemTime) {
        let out = self.key(k);
        crate::time::write_epoch_seconds(t, out);
    }
    fn opt_str_list(&mut self, k: &str, v: &Option<Vec<String>>) {
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
    fn list<T>(&mut self, k: &str, v: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
        let out = self.key(k);
        out.push(b'[');
        for (i, r) in v.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            each(out, r);
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
    /// Appends the JSON body to `out`.
    fn encode_into(&self, out: &mut Vec<u8>);
    /// The JSON body in a buffer of its own.
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size_hint());
        self.encode_into(&mut v);
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

    fn encode_into(&self, out: &mut Vec<u8>) {
        let mut o = Obj::new(out);
        o.str("trackingId", &self.tracking_id);
        o.opt_str("userId", &self.user_id);
        o.str("sessionId", &self.session_id);
        o.list("eventList", &self.event_list, |out, e| {
            let mut o = Obj::new(out);
            o.opt_str("eventId", &e.event_id);
            o.str("eventType", &e.event_type);
            if let Some(v) = e.event_value {
                write_f32(o.key("eventValue"), v);
            }
            o.opt_str("itemId", &e.item_id);
            o.opt_props(&e.properties);
            o.time("sentAt", e.sent_at);
            o.opt_str("recommendationId", &e.recommendation_id);
            o.opt_str_list("impression", &e.impression);
            if let Some(m) = &e.metric_attribution {
                let out = o.key("metricAttribution");
                let mut m_o = Obj::new(out);
                m_o.str("eventAttributionSource", &m.event_attribution_source);
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
            fn encode_into(&self, out: &mut Vec<u8>) {
                let mut o = Obj::new(out);
                o.str("datasetArn", &self.dataset_arn);
                o.list($list_json, &self.$list, |out, r| {
                    let mut o = Obj::new(out);
                    o.str($id_json, &r.$id);
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
    fn encode_into(&self, out: &mut Vec<u8>) {
        let mut o = Obj::new(out);
        o.str("trackingId", &self.tracking_id);
        o.list("actionInteractions", &self.action_interactions, |out, a| {
            let mut o = Obj::new(out);
            o.str("actionId", &a.action_id);
            o.opt_str("userId", &a.user_id);
            o.str("sessionId", &a.session_id);
            o.time("timestamp", a.timestamp);
            o.str("eventType", &a.event_type);
            o.opt_str("eventId", &a.event_id);
            o.opt_str("recommendationId", &a.recommendation_id);
            o.opt_str_list("impression", &a.impression);
            o.opt_props(&a.properties);
            o.end();
        });
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
