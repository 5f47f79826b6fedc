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

use personalize_events_blocking::Record;
use serde_json::{json, Value};

use crate::failed::FailedOut;
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

    /// Opens it; gives the reader and its size in bytes when known (a
    /// regular file, or stdin redirected from one).
    pub fn open(&self) -> io::Result<(Box<dyn Read + Send>, Option<u64>)> {
        match self {
            Source::File(p) => {
                let f = File::open(p)?;
                let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
                Ok((Box::new(f), size))
            }
            Source::Stdin => Ok((Box::new(io::stdin()), stdin_size())),
        }
    }
}

#[cfg(unix)]
fn stdin_size() -> Option<u64> {
    use std::os::fd::AsFd;
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    let m = File::from(fd).metadata().ok()?;
    m.is_file().then_some(m.len())
}

#[cfg(not(unix))]
fn stdin_size() -> Option<u64> {
    None
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

/// What the reader shares with the rest of the run.
#[derive(Debug, Default)]
pub struct ReadProgress {
    /// Bytes read so far.
    pub bytes: AtomicU64,
    /// Lines (or CSV lines) read so far.
    pub lines: AtomicU64,
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
    pub input: Box<dyn Read + Send>,
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
    pub fn run(self, tx: SyncSender<Parsed>) {
        let counting = Counting {
            inner: self.input,
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
    tx: SyncSender<Parsed>,
}

impl Ctx {
    /// Sends; false when the receiver is gone.
    fn send(&self, p: Parsed) -> bool {
        self.tx.send(p).is_ok()
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
        match &self.failed {
            Some(f) => f.write_with(&mut copy),
            None => {
                let _ = copy(&mut io::sink());
            }
        }
        let reported = self.send(Parsed::Invalid {
            line,
            message: format!("longer than {} MiB: not a record", MAX_LINE >> 20),
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
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(r);
        let mut row = csv::ByteRecord::new();
        let read_error = |line: u64, e: csv::Error| Parsed::ReadError {
            line,
            message: e.to_string(),
        };
        // The header.
        match rdr.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                self.send(read_error(1, e));
                return;
            }
        }
        let header: Result<Vec<String>, String> = row
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
        let header = match header.and_then(|h| check_header(&h, member).map(|id| (h, id))) {
            Ok(h) => h,
            Err(message) => {
                self.send(Parsed::ReadError {
                    line: 1,
                    message: format!("CSV header: {message}"),
                });
                return;
            }
        };
        let (keys, id_col) = header;
        self.progress.lines.store(1, Ordering::Relaxed);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let line = rdr.position().line();
            match rdr.read_byte_record(&mut row) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    self.send(read_error(line, e));
                    return;
                }
            }
            self.progress
                .lines
                .store(rdr.position().line().saturating_sub(1), Ordering::Relaxed);
            if row.len() == 1 && row[0].iter().all(u8::is_ascii_whitespace) {
                continue; // a blank line
            }
            if !self.send(self.csv_row(&row, line, &keys, id_col)) {
                return;
            }
        }
    }

    fn csv_row(&self, row: &csv::ByteRecord, line: u64, keys: &[String], id_col: usize) -> Parsed {
        let fields: Vec<String> = row
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let broken = |message: String| Parsed::Invalid {
            line,
            failed: Some(
                json!({"csvLine": line, "csvError": message, "fields": fields})
                    .to_string()
                    .into_bytes(),
            ),
            message,
        };
        if row.len() > keys.len() {
            return broken(format!(
                "the row has {} fields but the header {}",
                row.len(),
                keys.len()
            ));
        }
        if let Some(i) = row.iter().position(|f| std::str::from_utf8(f).is_err()) {
            return broken(format!("column {} is not UTF-8", i + 1));
        }
        let id = fields.get(id_col).map(String::as_str).unwrap_or("");
        let props: Vec<(&str, &str)> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_col)
            .map(|(i, k)| (k.as_str(), fields.get(i).map(String::as_str).unwrap_or("")))
            .collect();
        let (record, object) = from_csv_row(self.kind, &self.defaults, id, &props);
        match record {
            Ok(r) => Parsed::Record(Box::new(r)),
            Err(message) => Parsed::Invalid {
                line,
                message,
                failed: Some(Value::to_string(&object).into_bytes()),
            },
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
            input: Box::new(io::Cursor::new(text.as_bytes().to_vec())),
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
        rx.into_iter().collect()
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
                    i4,a,b,c\n";
        let out = read(Kind::Items, Format::Csv, text);
        assert_eq!(out.len(), 4);
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
                let v: Value = serde_json::from_slice(failed.as_ref().unwrap()).unwrap();
                assert_eq!(v["csvLine"], 6);
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
