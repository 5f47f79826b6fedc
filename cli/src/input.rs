//! Reading the input: JSON lines or CSV, from a file or stdin, a line (row)
//! at a time, so that memory stays bounded whatever the input's size.
//!
//! The reader runs on a thread of its own and hands each line, built and
//! validated, to the grouping loop through a bounded channel.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use crate::same::FileId;

use personalize_events_blocking::Record;

use crate::csvrow::{CsvLines, Row};
use crate::failed::{CsvHeader, FailedOut, Reason};
use crate::record::{camel_case, from_csv_row, from_json_line, Defaults, Kind};

/// The longest JSON line read into memory; a longer one is refused and
/// copied to the failed file as it is read (no record is this long).
pub const MAX_LINE: usize = 1 << 20;

/// The input's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, in the API's shape.
    Jsonl,
    /// A header row naming the columns, then one record per row (items,
    /// users and actions only).
    Csv,
}

/// An open input: the reader, its size in bytes when known, its identity.
pub type Opened = (Box<dyn Read + Send>, Option<u64>, Option<FileId>);

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Source {
    /// `-` or nothing is stdin.
    pub fn from_arg(arg: Option<&PathBuf>) -> Source {
        match arg {
            Some(p) if p.as_os_str() != "-" => Source::File(p.clone()),
            _ => Source::Stdin,
        }
    }

    /// How it is named in messages.
    pub fn display(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "(stdin)".to_owned(),
        }
    }

    /// The format the name suggests: `.csv` is CSV, anything else JSON lines.
    pub fn guess_format(&self) -> Format {
        match self {
            Source::File(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) => {
                Format::Csv
            }
            _ => Format::Jsonl,
        }
    }

    /// Opens it; gives the reader, its size in bytes when known (a
    /// regular file, or stdin redirected from one) and its identity. A
    /// directory is refused here, before anything is read.
    pub fn open(&self) -> io::Result<Opened> {
        match self {
            Source::File(p) => {
                let f = File::open(p)?;
                let meta = f.metadata()?;
                if meta.is_dir() {
                    return Err(io::Error::other("is a directory, not a file of records"));
                }
                let size = meta.is_file().then_some(meta.len());
                let id = FileId::of_file(&f);
                Ok((Box::new(f), size, id))
            }
            Source::Stdin => {
                let meta = crate::same::stdin_metadata();
                if meta.as_ref().is_some_and(|m| m.is_dir()) {
                    return Err(io::Error::other("is a directory, not a file of records"));
                }
                let size = meta.as_ref().filter(|m| m.is_file()).map(|m| m.len());
                Ok((Box::new(io::stdin()), size, crate::same::stdin_id()))
            }
        }
    }
}

/// What the reader hands on for one line (or row).
#[derive(Debug)]
pub enum Parsed {
    /// A valid record (boxed: it is the large variant).
    Record(Box<Record>),
    /// A line that is not a valid record.
    Invalid {
        /// Its line number (of its first line, for a CSV row), from 1.
        line: u64,
        /// Why, e.g. the core's validation message.
        message: String,
        /// What goes to the failed file: the line as read (JSON lines), a
        /// JSON line of the API's shape (CSV), or `None` when the reader
        /// already copied it there (a line too long to hold in memory).
        failed: Option<Vec<u8>>,
    },
    /// The input could not be read on (an I/O error): what was read so far
    /// is handled, the rest is not.
    ReadError {
        /// The line where reading stopped.
        line: u64,
        /// The error.
        message: String,
    },
}

/// One outcome as it goes to the grouping loop, with how far the reader had
/// read when it handed it on: the input up to line `through` is accounted
/// for once this message is received, whatever the reader does after it.
#[derive(Debug)]
pub struct Message {
    /// The last line read (for a CSV row, its last line), from 1.
    pub through: u64,
    /// The outcome.
    pub parsed: Parsed,
}

/// What the reader reads.
pub enum Input {
    /// Lines (or CSV rows) of an open file or stdin.
    Stream(Box<dyn Read + Send>),
    /// Records already built and validated (`--cli-input-json`).
    Records(Vec<Record>),
}

/// What the reader shares with the rest of the run.
#[derive(Debug, Default)]
pub struct ReadProgress {
    /// Bytes read so far.
    pub bytes: AtomicU64,
    /// Lines (or CSV lines) read so far.
    pub lines: AtomicU64,
    /// Set when the reader is done (at the end, stopped, or failed).
    pub done: AtomicBool,
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    progress: Arc<ReadProgress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Everything the reader needs.
pub struct Reader {
    /// The open input.
    pub input: Input,
    /// Its format.
    pub format: Format,
    /// What the records are.
    pub kind: Kind,
    /// Values from flags.
    pub defaults: Defaults,
    /// Where overlong lines are copied (none in a dry run without a file).
    pub failed: Option<Arc<FailedOut>>,
    /// Shared counters.
    pub progress: Arc<ReadProgress>,
    /// Set to stop reading (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

impl Reader {
    /// Reads to the end (or until stopped, or until nobody listens),
    /// sending every line's outcome to `tx`.
    pub fn run(self, tx: SyncSender<Message>) {
        let input = match self.input {
            Input::Stream(r) => r,
            Input::Records(records) => {
                for r in records {
                    let through = self.progress.lines.fetch_add(1, Ordering::Relaxed) + 1;
                    let parsed = Parsed::Record(Box::new(r));
                    if tx.send(Message { through, parsed }).is_err() {
                        return;
                    }
                }
                return;
            }
        };
        let counting = Counting {
            inner: input,
            progress: self.progress.clone(),
        };
        let reader = BufReader::with_capacity(256 * 1024, counting);
        let ctx = Ctx {
            kind: self.kind,
            defaults: self.defaults,
            failed: self.failed,
            progress: self.progress,
            stop: self.stop,
            tx,
        };
        match self.format {
            Format::Jsonl => ctx.json_lines(reader),
            Format::Csv => ctx.csv(reader),
        }
    }
}

struct Ctx {
    kind: Kind,
    defaults: Defaults,
    failed: Option<Arc<FailedOut>>,
    progress: Arc<ReadProgress>,
    stop: Arc<AtomicBool>,
    tx: SyncSender<Message>,
}

impl Ctx {
    /// Copies a refused record's raw text (written by `copy`) to the failed
    /// file with its reason, or consumes it when there is no failed file.
    fn keep_raw(
        &self,
        copy: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
        line: u64,
        message: &str,
    ) {
        match &self.failed {
            Some(f) => f.write_with(
                copy,
                Reason {
                    line: Some(line),
                    message,
                },
            ),
            None => {
                let _ = copy(&mut io::sink());
            }
        }
    }

    /// Sends, with the lines read so far (stored before each line is
    /// handled); false when the receiver is gone.
    fn send(&self, parsed: Parsed) -> bool {
        let through = self.progress.lines.load(Ordering::Relaxed);
        self.tx.send(Message { through, parsed }).is_ok()
    }

    fn json_lines<R: BufRead>(&self, mut r: R) {
        let mut buf = Vec::with_capacity(4096);
        let mut line: u64 = 0;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            buf.clear();
            let n = match (&mut r)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
            {
                Ok(n) => n,
                Err(e) => {
                    self.send(Parsed::ReadError {
                        line: line + 1,
                        message: e.to_string(),
                    });
                    return;
                }
            };
            if n == 0 {
                return;
            }
            line += 1;
            self.progress.lines.store(line, Ordering::Relaxed);
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                let outcome = self.overlong(&mut r, &buf, line);
                if !outcome {
                    return;
                }
                continue;
            }
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            let mut text: &[u8] = &buf;
            if line == 1 {
                text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = match from_json_line(self.kind, &self.defaults, text) {
                Ok(record) => Parsed::Record(Box::new(record)),
                Err(message) => Parsed::Invalid {
                    line,
                    message,
                    failed: Some(text.to_vec()),
                },
            };
            if !self.send(parsed) {
                return;
            }
        }
    }

    /// A line longer than [`MAX_LINE`]: copied to the failed file as it is
    /// read, then reported. False when reading must stop.
    fn overlong<R: BufRead>(&self, r: &mut R, head: &[u8], line: u64) -> bool {
        let mut error = None;
        let mut copy = |w: &mut dyn Write| -> io::Result<()> {
            w.write_all(head)?;
            loop {
                let (done, used) = match r.fill_buf() {
                    Ok([]) => (true, 0),
                    Ok(chunk) => match chunk.iter().position(|&b| b == b'\n') {
                        Some(i) => {
                            w.write_all(&chunk[..i])?;
                            (true, i + 1)
                        }
                        None => {
                            w.write_all(chunk)?;
                            (false, chunk.len())
                        }
                    },
                    Err(e) => {
                        error = Some(e.to_string());
                        (true, 0)
                    }
                };
                r.consume(used);
                if done {
                    return w.write_all(b"\n");
                }
            }
        };
        let message = format!("longer than {} MiB: not a record", MAX_LINE >> 20);
        self.keep_raw(&mut copy, line, &message);
        let reported = self.send(Parsed::Invalid {
            line,
            message,
            failed: None,
        });
        match error {
            Some(message) => {
                self.send(Parsed::ReadError { line, message });
                false
            }
            None => reported,
        }
    }

    fn csv<R: BufRead>(&self, r: R) {
        let Some(member) = self.kind.id_member() else {
            return;
        };
        let mut rows = CsvLines::new(r);
        let read_error = |line: u64, e: io::Error| Parsed::ReadError {
            line,
            message: e.to_string(),
        };
        // The header.
        let (raw, fields) = match rows.next_row() {
            Ok(Row::Fields { raw, fields, .. }) => (raw, fields),
            Ok(Row::End) => return,
            Ok(Row::Malformed { message, .. }) => {
                self.send(Parsed::ReadError {
                    line: 1,
                    message: format!("CSV header: {message}"),
                });
                return;
            }
            Ok(Row::Overlong { .. }) => {
                self.send(Parsed::ReadError {
                    line: 1,
                    message: "CSV header: longer than 1 MiB".into(),
                });
                return;
            }
            Err(e) => {
                self.send(read_error(1, e));
                return;
            }
        };
        let header: Result<Vec<String>, String> = fields
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = std::str::from_utf8(h)
                    .map_err(|_| format!("column {} of the header is not UTF-8", i + 1))?;
                let key = camel_case(h);
                if key.is_empty() {
                    return Err(format!("column {} of the header has no name", i + 1));
                }
                Ok(key)
            })
            .collect();
        let (keys, id_col) = match header.and_then(|h| check_header(&h, member).map(|id| (h, id))) {
            Ok(h) => h,
            Err(message) => {
                self.send(Parsed::ReadError {
                    line: 1,
                    message: format!("CSV header: {message}"),
                });
                return;
            }
        };
        if let Some(f) = &self.failed {
            f.set_csv_header(CsvHeader {
                raw,
                keys: keys.clone(),
                id_col,
            });
        }
        self.progress.lines.store(rows.lines(), Ordering::Relaxed);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let row = match rows.next_row() {
                Ok(row) => row,
                Err(e) => {
                    self.send(read_error(rows.lines() + 1, e));
                    return;
                }
            };
            self.progress.lines.store(rows.lines(), Ordering::Relaxed);
            let parsed = match row {
                Row::End => return,
                Row::Fields { raw, .. } if raw.iter().all(u8::is_ascii_whitespace) => continue,
                Row::Fields { line, raw, fields } => {
                    self.csv_row(line, raw, &fields, &keys, id_col)
                }
                Row::Malformed { line, raw, message } => Parsed::Invalid {
                    line,
                    message,
                    failed: Some(raw),
                },
                Row::Overlong { line, head } => {
                    let message = format!("a CSV record longer than {} MiB", MAX_LINE >> 20);
                    let mut copy = |w: &mut dyn Write| -> io::Result<()> {
                        w.write_all(&head)?;
                        rows.copy_rest_of_line(w)
                    };
                    self.keep_raw(&mut copy, line, &message);
                    Parsed::Invalid {
                        line,
                        message,
                        failed: None,
                    }
                }
            };
            // The copy of an overlong row reads on to its end.
            self.progress.lines.store(rows.lines(), Ordering::Relaxed);
            if !self.send(parsed) {
                return;
            }
        }
    }

    fn csv_row(
        &self,
        line: u64,
        raw: Vec<u8>,
        fields: &[Vec<u8>],
        keys: &[String],
        id_col: usize,
    ) -> Parsed {
        let broken = |message: String, raw: Vec<u8>| Parsed::Invalid {
            line,
            failed: Some(raw),
            message,
        };
        if fields.len() != keys.len() {
            return broken(
                format!(
                    "the row has {} field{} but the header {}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" },
                    keys.len()
                ),
                raw,
            );
        }
        let mut text = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(t) => text.push(t),
                Err(_) => return broken(format!("field {} is not UTF-8", i + 1), raw),
            }
        }
        let props: Vec<(&str, &str)> = keys
            .iter()
            .zip(&text)
            .enumerate()
            .filter(|(i, _)| *i != id_col)
            .map(|(_, (k, v))| (k.as_str(), *v))
            .collect();
        match from_csv_row(self.kind, &self.defaults, text[id_col], &props) {
            Ok(r) => Parsed::Record(Box::new(r)),
            Err(message) => broken(message, raw),
        }
    }
}

/// Checks the converted header names; gives the id column.
fn check_header(keys: &[String], member: &str) -> Result<usize, String> {
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            return Err(format!("two columns are named `{k}` once in camelCase"));
        }
    }
    keys.iter().position(|k| k == member).ok_or_else(|| {
        let upper: String = member
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    vec!['_', c]
                } else {
                    vec![c.to_ascii_uppercase()]
                }
            })
            .collect();
        format!("no `{upper}` (or `{member}`) column")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn read(kind: Kind, format: Format, text: &str) -> Vec<Parsed> {
        let (tx, rx) = sync_channel(1000);
        Reader {
            input: Input::Stream(Box::new(io::Cursor::new(text.as_bytes().to_vec()))),
            format,
            kind,
            defaults: Defaults {
                tracking_id: Some("t".into()),
                dataset_arn: Some("arn:aws:personalize:us-east-1:1:dataset/d/ITEMS".into()),
                ..Defaults::default()
            },
            failed: None,
            progress: Arc::default(),
            stop: Arc::default(),
        }
        .run(tx);
        rx.into_iter().map(|m| m.parsed).collect()
    }

    #[test]
    fn json_lines_numbers_and_blank_lines() {
        let out = read(
            Kind::Events,
            Format::Jsonl,
            "\u{feff}{\"sessionId\":\"s\",\"eventType\":\"c\",\"sentAt\":1}\r\n\n  \n{\"bad\n{\"sessionId\":\"s\",\"eventType\":\"c\",\"sentAt\":2}",
        );
        assert_eq!(out.len(), 3);
        assert!(matches!(out[0], Parsed::Record(_)));
        match &out[1] {
            Parsed::Invalid {
                line,
                message,
                failed,
            } => {
                assert_eq!(*line, 4);
                assert!(message.starts_with("not valid JSON"), "{message}");
                assert_eq!(failed.as_deref(), Some(&b"{\"bad"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(out[2], Parsed::Record(_)));
    }

    #[test]
    fn overlong_line_is_refused_not_held() {
        let long = format!("{}\n{{\"itemId\":\"a\"}}\n", "x".repeat(MAX_LINE + 10));
        let out = read(Kind::Items, Format::Jsonl, &long);
        assert!(matches!(
            &out[0],
            Parsed::Invalid {
                line: 1,
                failed: None,
                ..
            }
        ));
        assert!(matches!(out[1], Parsed::Record(_)));
    }

    #[test]
    fn csv_quoted_fields_and_line_numbers() {
        let text = "ITEM_ID,TITLE,NUMBER_OF_RATINGS\n\
                    i1,\"Hats, Scarves\",12\n\
                    i2,\"Two\nlines, and \"\"quotes\"\"\",\n\
                    ,no id,3\n\
                    i4,a,b,c\n\
                    i5,short\n\
                    \"x3,unterminated\n";
        let out = read(Kind::Items, Format::Csv, text);
        assert_eq!(out.len(), 6);
        let Parsed::Record(r) = &out[1] else {
            panic!("{:?}", out[1])
        };
        let Record::Item { item, .. } = &**r else {
            panic!("{r:?}")
        };
        assert_eq!(item.item_id, "i2");
        assert_eq!(
            item.properties.as_ref().unwrap().as_str(),
            r#"{"title":"Two\nlines, and \"quotes\""}"#
        );
        match &out[2] {
            Parsed::Invalid { line, message, .. } => {
                assert_eq!(*line, 5);
                assert!(message.starts_with("items[0].itemId"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match &out[3] {
            Parsed::Invalid {
                line,
                message,
                failed,
            } => {
                assert_eq!(*line, 6);
                assert!(message.contains("4 fields but the header 3"), "{message}");
                assert_eq!(failed.as_deref(), Some(&b"i4,a,b,c"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&out[4], Parsed::Invalid { line: 7, message, .. } if message.contains("2 fields but the header 3")),
            "{:?}",
            out[4]
        );
        match &out[5] {
            Parsed::Invalid {
                line,
                message,
                failed,
            } => {
                assert_eq!(*line, 8);
                assert!(message.contains("unclosed quote"), "{message}");
                assert_eq!(failed.as_deref(), Some(&b"\"x3,unterminated"[..]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_header_without_id_column() {
        let out = read(Kind::Users, Format::Csv, "NAME,AGE\na,1\n");
        match &out[..] {
            [Parsed::ReadError { message, .. }] => {
                assert!(
                    message.contains("no `USER_ID` (or `userId`) column"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
