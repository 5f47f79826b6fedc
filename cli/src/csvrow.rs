//! A strict CSV reader (RFC 4180), a record at a time, that keeps each
//! record's bytes as read.
//!
//! The `csv` crate this replaces is lenient by design: at the end of the
//! input an unclosed quote simply ends the field (`"x3,unterminated` was
//! sent as the item id `x3,unterminated⏎`), and it does not keep a
//! record's raw bytes, which the failed file needs to hold a malformed row
//! exactly as it was. Here a record is one line, or more while a quoted
//! field is open; it is refused (with the line it starts on) when a quote
//! is still open at the end of the input, when text follows a closing
//! quote (`"a"b`), or when it is longer than [`MAX_ROW`]. A quote inside an
//! unquoted field (`5'11"`) is kept as text, as most writers produce it.
//! Line ends are `\n` or `\r\n`; inside quotes they are part of the field.

use std::io::{self, BufRead, Read, Write};

/// The longest record held in memory; a longer one is refused, and its
/// bytes are copied (not held) by [`CsvLines::copy_rest_of_line`].
pub const MAX_ROW: usize = 1 << 20;

/// One record read.
#[derive(Debug, PartialEq, Eq)]
pub enum Row {
    /// A well-formed record.
    Fields {
        /// The line it starts on, from 1.
        line: u64,
        /// Its bytes as read, without the final line end.
        raw: Vec<u8>,
        /// Its fields, unquoted.
        fields: Vec<Vec<u8>>,
    },
    /// A malformed record.
    Malformed {
        /// The line it starts on.
        line: u64,
        /// Its bytes as read, without the final line end.
        raw: Vec<u8>,
        /// What is wrong.
        message: String,
    },
    /// A record longer than [`MAX_ROW`]: `head` is its first bytes; the
    /// rest of its last line is still to be read with
    /// [`CsvLines::copy_rest_of_line`].
    Overlong {
        /// The line it starts on.
        line: u64,
        /// What was read of it.
        head: Vec<u8>,
    },
    /// The end of the input.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: an escaped quote or the closing one.
    QuoteInQuoted,
}

fn advance(mut s: State, bytes: &[u8]) -> State {
    for &b in bytes {
        s = match (s, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => State::FieldStart,
            (State::FieldStart | State::Unquoted, b'\n') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            // Text after a closing quote: `split` refuses it.
            (State::QuoteInQuoted, _) => State::Unquoted,
        };
    }
    s
}

/// Splits one complete record (without its final line end) into fields.
pub fn split(raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut fields = Vec::new();
    let mut field = Vec::new();
    let mut s = State::FieldStart;
    for &b in raw {
        s = match (s, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => {
                fields.push(std::mem::take(&mut field));
                State::FieldStart
            }
            (State::FieldStart | State::Unquoted, _) => {
                field.push(b);
                State::Unquoted
            }
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => {
                field.push(b);
                State::Quoted
            }
            (State::QuoteInQuoted, b'"') => {
                field.push(b'"');
                State::Quoted
            }
            (State::QuoteInQuoted, _) => {
                return Err(format!(
                    "text after the closing quote of field {}",
                    fields.len() + 1
                ))
            }
        };
    }
    if s == State::Quoted {
        return Err(format!("field {} has an unclosed quote", fields.len() + 1));
    }
    fields.push(field);
    Ok(fields)
}

/// Appends `cell` to `out` as one CSV field, quoted when it must be.
pub fn quote_into(cell: &str, out: &mut Vec<u8>) {
    if cell.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        for b in cell.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

/// Reads records from a buffered input.
#[derive(Debug)]
pub struct CsvLines<R> {
    r: R,
    /// Lines read so far.
    line: u64,
}

impl<R: BufRead> CsvLines<R> {
    /// A reader at the start of `r`.
    pub fn new(r: R) -> Self {
        CsvLines { r, line: 0 }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// The next record.
    pub fn next_row(&mut self) -> io::Result<Row> {
        let start = self.line + 1;
        let mut raw = Vec::new();
        let mut state = State::FieldStart;
        loop {
            if raw.len() > MAX_ROW {
                return Ok(Row::Overlong {
                    line: start,
                    head: raw,
                });
            }
            let room = (MAX_ROW + 1 - raw.len()) as u64;
            let before = raw.len();
            let n = (&mut self.r).take(room).read_until(b'\n', &mut raw)?;
            if n == 0 {
                // The end of the input: only inside a quoted field is there
                // a record left (an empty `raw` is the end).
                if raw.is_empty() {
                    return Ok(Row::End);
                }
                // The last line end is the record's, as its writer meant.
                if raw.last() == Some(&b'\n') {
                    raw.pop();
                    if raw.last() == Some(&b'\r') {
                        raw.pop();
                    }
                }
                return Ok(Row::Malformed {
                    line: start,
                    message: format!(
                        "unclosed quote: the record starting on line {start} runs to the end of the input (line {})",
                        self.line
                    ),
                    raw,
                });
            }
            let ended = raw.last() == Some(&b'\n');
            if !ended && raw.len() > MAX_ROW {
                return Ok(Row::Overlong {
                    line: start,
                    head: raw,
                });
            }
            // A whole line (or the input's last, without a line end).
            self.line += 1;
            if start == 1 && before == 0 && raw.starts_with(b"\xef\xbb\xbf") {
                raw.drain(..3);
            }
            state = advance(state, &raw[before..]);
            if state == State::Quoted {
                continue; // a line end inside quotes: the record goes on
            }
            if ended {
                raw.pop();
                if raw.last() == Some(&b'\r') {
                    raw.pop();
                }
            }
            return Ok(match split(&raw) {
                Ok(fields) => Row::Fields {
                    line: start,
                    raw,
                    fields,
                },
                Err(message) => Row::Malformed {
                    line: start,
                    raw,
                    message,
                },
            });
        }
    }

    /// After [`Row::Overlong`]: copies the rest of its line to `w` (its line
    /// end too) without holding it; reading goes on at the next line.
    pub fn copy_rest_of_line(&mut self, w: &mut dyn Write) -> io::Result<()> {
        loop {
            let (done, used) = {
                let chunk = self.r.fill_buf()?;
                if chunk.is_empty() {
                    (true, 0)
                } else {
                    match chunk.iter().position(|&b| b == b'\n') {
                        Some(i) => {
                            w.write_all(&chunk[..i])?;
                            (true, i + 1)
                        }
                        None => {
                            w.write_all(chunk)?;
                            (false, chunk.len())
                        }
                    }
                }
            };
            self.r.consume(used);
            if done {
                self.line += 1;
                return w.write_all(b"\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[u8]) -> Vec<Row> {
        let mut r = CsvLines::new(text);
        let mut out = Vec::new();
        loop {
            match r.next_row().unwrap() {
                Row::End => return out,
                Row::Overlong { line, head } => {
                    let mut rest = Vec::new();
                    r.copy_rest_of_line(&mut rest).unwrap();
                    out.push(Row::Overlong { line, head });
                }
                row => out.push(row),
            }
        }
    }

    fn fields(row: &Row) -> Vec<&str> {
        match row {
            Row::Fields { fields, .. } => fields
                .iter()
                .map(|f| std::str::from_utf8(f).unwrap())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoted_fields_line_ends_and_numbers() {
        let r = rows(b"\xef\xbb\xbfa,b\r\n\"x,1\",\"two\nlines \"\"q\"\"\"\n,\n5'11\",z");
        assert_eq!(r.len(), 4);
        assert_eq!(fields(&r[0]), ["a", "b"]);
        assert_eq!(fields(&r[1]), ["x,1", "two\nlines \"q\""]);
        assert!(
            matches!(&r[1], Row::Fields { line: 2, raw, .. } if raw == b"\"x,1\",\"two\nlines \"\"q\"\"\"")
        );
        assert_eq!(fields(&r[2]), ["", ""]);
        assert!(matches!(&r[2], Row::Fields { line: 4, .. }));
        assert_eq!(fields(&r[3]), ["5'11\"", "z"]);
    }

    #[test]
    fn malformed_records_are_refused_with_their_line() {
        let r = rows(b"a,b\n\"a\"b,c\nok,1\n\"x3,unterminated\n");
        assert!(
            matches!(&r[1], Row::Malformed { line: 2, message, raw } if message.contains("after the closing quote") && raw == b"\"a\"b,c")
        );
        assert_eq!(fields(&r[2]), ["ok", "1"]);
        match &r[3] {
            Row::Malformed { line, message, raw } => {
                assert_eq!(*line, 4);
                assert!(message.contains("unclosed quote"), "{message}");
                assert_eq!(raw, b"\"x3,unterminated");
            }
            other => panic!("{other:?}"),
        }
        let r = rows(b"a\n\"open");
        assert!(matches!(&r[1], Row::Malformed { line: 2, .. }));
    }

    #[test]
    fn overlong_records_are_not_held() {
        let mut text = b"a\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_ROW + 10));
        text.extend(b"\nnext\n");
        let r = rows(&text);
        assert!(matches!(&r[1], Row::Overlong { line: 2, head } if head.len() == MAX_ROW + 1));
        assert_eq!(fields(&r[2]), ["next"]);
    }

    #[test]
    fn quoting_round_trips() {
        for cell in ["plain", "a,b", "say \"hi\"", "two\nlines", ""] {
            let mut out = Vec::new();
            quote_into(cell, &mut out);
            assert_eq!(split(&out).unwrap(), vec![cell.as_bytes().to_vec()]);
        }
    }
}
