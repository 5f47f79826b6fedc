//! The fast path of the `properties` check: one pass over the text that
//! answers only for the common shape, a flat JSON object whose keys and
//! values hold no escapes (`{"discount":"yes","numberOfRatings":12}`), and
//! gives up (`None`) on anything else, which serde_json then reads as
//! before (`validate::properties::scan`), with its error message.
//!
//! It answers only when serde_json would accept the text: whitespace,
//! strings, numbers and literals follow the JSON grammar exactly; a
//! backslash, a control character, a nested value or anything unexpected
//! sends the text to serde_json. Nothing is allocated.

use crate::validate::RESERVED_PROPERTY_KEYS;

/// `Some(found)` when `text` is certainly a JSON object (`found`: its first
/// reserved key when `reserved`), `None` when serde_json must decide.
pub(crate) fn flat_object(text: &str, reserved: bool) -> Option<Option<&'static str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut found = None;
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(None);
    }
    loop {
        // A key.
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let end = string_end(b, i + 1)?;
        if reserved && found.is_none() {
            found = reserved_key(&text[i + 1..end]);
        }
        i = skip_ws(b, end + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        // A flat value.
        i = match *b.get(i)? {
            b'"' => string_end(b, i + 1)? + 1,
            b'-' | b'0'..=b'9' => number_end(b, i)?,
            b't' => literal_end(b, i, b"true")?,
            b'f' => literal_end(b, i, b"false")?,
            b'n' => literal_end(b, i, b"null")?,
            _ => return None,
        };
        i = skip_ws(b, i);
        match *b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(found),
            _ => return None,
        }
    }
}

fn reserved_key(k: &str) -> Option<&'static str> {
    RESERVED_PROPERTY_KEYS
        .iter()
        .copied()
        .find(|r| r.eq_ignore_ascii_case(k))
}

/// JSON's whitespace: space, tab, line feed, carriage return.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The index of the closing quote of a string whose content starts at `i`;
/// `None` at a backslash, a control character or the end of the text.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES * 0x80;
    // A byte of `v` is zero exactly when the high bit of this is set for it
    // or a lower byte (so the whole is non-zero exactly when one is zero);
    // the same with `ONES * 0x20` for bytes below 0x20.
    fn special(x: u64) -> u64 {
        let q = x ^ (ONES * b'"' as u64);
        let s = x ^ (ONES * b'\\' as u64);
        (q.wrapping_sub(ONES) & !q)
            | (s.wrapping_sub(ONES) & !s)
            | (x.wrapping_sub(ONES * 0x20) & !x)
    }
    fn word(c: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_le_bytes(w)
    }
    // Sixteen bytes at a time while none of them is special.
    for chunk in b.get(i..)?.chunks_exact(16) {
        if (special(word(&chunk[..8])) | special(word(&chunk[8..]))) & HIGH != 0 {
            break;
        }
        i += 16;
    }
    loop {
        match *b.get(i)? {
            b'"' => return Some(i),
            b'\\' | 0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of a number starting at `i`: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match *b.get(i)? {
        b'0' => i + 1,
        b'1'..=b'9' => digits_end(b, i + 1),
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        let end = digits_end(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits_end(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

fn literal_end(b: &[u8], i: usize, lit: &[u8]) -> Option<usize> {
    (b.get(i..i + lit.len()) == Some(lit)).then_some(i + lit.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's answer, as `validate::properties::scan` gives it.
    fn slow(text: &str) -> Option<Option<&'static str>> {
        match crate::validate::scan_properties(text, true) {
            Ok(Some(found)) => Some(found),
            _ => None,
        }
    }

    fn agrees(text: &str) {
        if let Some(fast) = flat_object(text, true) {
            assert_eq!(Some(fast), slow(text), "{text:?}");
        }
    }

    #[test]
    fn answers_for_flat_objects() {
        for (text, want) in [
            (r#"{"discount":"yes","n":12}"#, None),
            (" {\t\"a\" :\r\n\"b\" , \"c\":-0.5e+3 } ", None),
            ("{}", None),
            (
                r#"{"x":true,"y":false,"z":null,"UserId":"u"}"#,
                Some("userId"),
            ),
            (
                r#"{"a":"0123456789abcdef0123456789","impression":1}"#,
                Some("impression"),
            ),
            (r#"{"a":"☕ and more than eight bytes","b":"é"}"#, None),
        ] {
            assert_eq!(flat_object(text, true), Some(want), "{text}");
            assert_eq!(slow(text), Some(want), "{text}");
        }
        assert_eq!(flat_object(r#"{"userId":"u"}"#, false), Some(None));
    }

    #[test]
    fn leaves_everything_else_to_serde_json() {
        for text in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"{"a\"b":1}"#,
            r#"{"a":"line\nbreak"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a" 1}"#,
            r#"{"a":1"#,
            r#"{"a":"#,
            "{",
            "",
            "[]",
            "\"{}\"",
            "\u{a0}{}",
        ] {
            assert_eq!(flat_object(text, true), None, "{text}");
        }
    }

    #[test]
    fn never_accepts_what_serde_json_refuses() {
        let samples = [
            r#"{"numberOfRatings":"12","discount":"yes","channel":"mobile-app"}"#,
            r#"{ "a" : -10.25E-7 , "b":true,"c":null ,"d":false,"timestamp":"0123456789abcdefXYZ"}"#,
        ];
        let bytes: &[u8] = b"\"\\:,{}[] \t\n\r0123456789-+.eEtfnulax\x01\x1f";
        for s in samples {
            agrees(s);
            for cut in 0..=s.len() {
                agrees(&s[..cut]);
                agrees(&s[cut..]);
            }
            for at in 0..s.len() {
                for &c in bytes {
                    let mut v = s.as_bytes().to_vec();
                    v[at] = c;
                    agrees(std::str::from_utf8(&v).unwrap());
                    v.insert(at, c);
                    agrees(std::str::from_utf8(&v).unwrap());
                }
                let mut v = s.as_bytes().to_vec();
                v.remove(at);
                agrees(std::str::from_utf8(&v).unwrap());
            }
        }
    }
}
