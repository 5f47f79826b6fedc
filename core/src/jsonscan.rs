//! A validating JSON scanner for `properties`: checks that the text is one
//! JSON object (RFC 8259) and reports whether a top-level key is one of the
//! reserved keys, without building values or allocating. It is the hot path
//! of validation, so it reads bytes directly instead of going through serde.

use crate::validate::RESERVED_PROPERTY_KEYS;

/// How deep arrays and objects may nest (serde_json's default limit).
const MAX_DEPTH: usize = 128;

/// Why a text is not a JSON object.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// Valid JSON, but not an object.
    NotAnObject,
    /// Not valid JSON: what was expected, and the byte offset.
    Syntax(&'static str, usize),
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

type R<T> = Result<T, ScanError>;

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn fail<T>(&self, what: &'static str) -> R<T> {
        Err(ScanError::Syntax(what, self.i))
    }

    fn value(&mut self, depth: usize) -> R<()> {
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth + 1, false).map(|_| ()),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("expected a value"),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            self.fail("expected true, false or null")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> R<()> {
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("expected a digit"),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.fail("expected a digit after the decimal point");
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.fail("expected a digit in the exponent");
            }
        }
        Ok(())
    }

    /// Scans a string; returns its raw contents (between the quotes) and
    /// whether it holds escapes.
    fn string(&mut self) -> R<(&'a [u8], bool)> {
        self.i += 1; // opening quote
        let start = self.i;
        let mut escaped = false;
        loop {
            match self.b.get(self.i) {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    let raw = &self.b[start..self.i];
                    self.i += 1;
                    return Ok((raw, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    match self.b.get(self.i) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.fail("invalid \\u escape");
                            }
                            self.i += 5;
                        }
                        _ => return self.fail("invalid escape"),
                    }
                }
                Some(0..=0x1f) => return self.fail("control character in string"),
                Some(_) => self.i += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.value(depth)?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.fail("expected `,` or `]`"),
            }
        }
    }

    /// Scans an object; at the top level, returns the first reserved key.
    fn object(&mut self, depth: usize, check_keys: bool) -> R<Option<&'static str>> {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.i += 1;
        let mut found = None;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(None);
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return self.fail("expected a key");
            }
            let (key, escaped) = self.string()?;
            if check_keys && found.is_none() {
                found = reserved(key, escaped);
            }
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return self.fail("expected `:`");
            }
            self.i += 1;
            self.ws();
            self.value(depth)?;
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(found);
                }
                _ => return self.fail("expected `,` or `}`"),
            }
        }
    }
}

/// Which reserved key a raw key is, comparing case-insensitively after
/// decoding escapes (so `user\u0049d` is `userId`).
fn reserved(raw: &[u8], escaped: bool) -> Option<&'static str> {
    let mut buf = [0u8; 32];
    let key: &[u8] = if escaped {
        let mut n = 0;
        let mut i = 0;
        while i < raw.len() {
            if n == buf.len() {
                return None; // longer than any reserved key
            }
            let c = if raw[i] == b'\\' {
                i += 1;
                match raw.get(i) {
                    Some(b'u') => {
                        let hex = raw.get(i + 1..i + 5)?;
                        let v = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                        i += 4;
                        if v > 0x7f {
                            return None; // reserved keys are ASCII
                        }
                        v as u8
                    }
                    Some(b'b') => 8,
                    Some(b'f') => 12,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    Some(&c) => c,
                    None => return None,
                }
            } else {
                raw[i]
            };
            buf[n] = c;
            n += 1;
            i += 1;
        }
        &buf[..n]
    } else {
        raw
    };
    RESERVED_PROPERTY_KEYS
        .iter()
        .find(|r| r.as_bytes().eq_ignore_ascii_case(key))
        .copied()
}

/// Checks that `text` is exactly one JSON object (surrounding white space
/// allowed); returns the first reserved top-level key when `check_keys`.
pub(crate) fn scan_object(text: &str, check_keys: bool) -> Result<Option<&'static str>, ScanError> {
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    let found = if s.b.get(s.i) == Some(&b'{') {
        s.object(1, check_keys)?
    } else {
        s.value(0)?;
        s.ws();
        if s.i != s.b.len() {
            return s.fail("trailing characters");
        }
        return Err(ScanError::NotAnObject);
    };
    s.ws();
    if s.i != s.b.len() {
        return s.fail("trailing characters");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our verdict (valid JSON?) agrees with serde_json's on every sample.
    #[test]
    fn agrees_with_serde_json() {
        let samples = [
            "{}",
            " { } ",
            "{\"a\":1}",
            "{\"a\":-0.5e+3}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":[1,2,{\"b\":null}]}",
            "{\"a\":[1,]}",
            "{\"a\":[,1]}",
            "{\"a\":true,\"b\":false}",
            "{\"a\":tru}",
            "{\"a\":nul}",
            "{\"a\"}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":\"\\u00e9\\n\\\"\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":1} x",
            "{\"a\":1}}",
            "[1]",
            "\"s\"",
            "1",
            "null",
            "",
            "   ",
            "{",
            "}",
            "{\"a\":{}}",
            "{\"é\":\"ü\"}",
            "{'a':1}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":\t1\r\n}",
            "{\"a\":1\u{a0}}",
            "{\"a\":[[[[]]]]}",
            "{\"a\":1}\n",
            "{\"a\":-01}",
            "{\"a\":1E5}",
            "{\"a\":\"\\/\"}",
        ];
        for s in samples {
            let ours = scan_object(s, true);
            let theirs = serde_json::from_str::<serde_json::Value>(s);
            match (&ours, &theirs) {
                (Ok(_), Ok(v)) => assert!(v.is_object(), "{s}"),
                (Err(ScanError::NotAnObject), Ok(v)) => assert!(!v.is_object(), "{s}"),
                (Err(ScanError::Syntax(..)), Err(_)) => {}
                _ => panic!("{s:?}: ours {ours:?}, serde_json {theirs:?}"),
            }
        }
    }

    #[test]
    fn reserved_keys_top_level_only_and_escaped() {
        assert_eq!(scan_object(r#"{"USERID":1}"#, true), Ok(Some("userId")));
        assert_eq!(
            scan_object(r#"{"user\u0049d":1}"#, true),
            Ok(Some("userId"))
        );
        assert_eq!(scan_object(r#"{"x":{"userId":1}}"#, true), Ok(None));
        assert_eq!(scan_object(r#"{"userId":1}"#, false), Ok(None));
        assert_eq!(scan_object(r#"{"userIds":1}"#, true), Ok(None));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            scan_object(&deep, true),
            Err(ScanError::Syntax(..))
        ));
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(scan_object(&ok, true), Ok(None));
    }
}
