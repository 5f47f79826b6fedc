//! The failed-records file, and the reasons file beside it.
//!
//! Every record that was not accepted goes to the failed file in the
//! input's own format, so that running the tool again on it finishes the
//! job: JSON lines for JSON-lines input (a record of a failed call as
//! exactly what was sent, event ids included), and for CSV input a CSV file
//! with the input's header row and each row as read (a row refused by
//! validation or malformed, byte for byte) or rebuilt from the record (a
//! row of a failed call).
//!
//! For each record, one JSON line goes to the reasons file
//! (`<failed file without .jsonl>.reasons.jsonl`): the line of the
//! input it came from (when known), where it is in the failed file, and
//! why it was not accepted. So `--quiet` loses no reason, and the failed
//! file stays exactly re-runnable.
//!
//! Both files are created at the first failure (a run without failures
//! leaves none behind) and written by the reader, the grouping loop and the
//! workers, a whole record at a time, under one lock. A file that turns out
//! to be the input (same device and inode) is never truncated.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use personalize_events_blocking::Record;
use serde_json::{json, Map, Value};

use crate::record::to_json_line;
use crate::same::FileId;

/// The input's CSV header, which a CSV failed file starts with.
#[derive(Debug, Clone)]
pub struct CsvHeader {
    /// The header row as read (without its line end).
    pub raw: Vec<u8>,
    /// The columns' keys, in camelCase.
    pub keys: Vec<String>,
    /// The id column.
    pub id_col: usize,
}

/// Why a record was not accepted.
#[derive(Debug, Clone, Copy)]
pub struct Reason<'a> {
    /// The input's line (of a CSV row, its first line), when known.
    pub line: Option<u64>,
    /// What went wrong.
    pub message: &'a str,
}

/// The failed-records file of one run.
#[derive(Debug)]
pub struct FailedOut {
    path: PathBuf,
    reasons_path: PathBuf,
    input: Option<FileId>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    file: Option<Counted<BufWriter<File>>>,
    reasons: Option<BufWriter<File>>,
    csv: Option<CsvHeader>,
    lines: u64,
    lost: u64,
    error: Option<String>,
    reasons_error: Option<String>,
}

/// Counts the line ends written through it.
#[derive(Debug)]
struct Counted<W> {
    inner: W,
    newlines: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What [`FailedOut::finish`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Records written.
    pub lines: u64,
    /// Records that could not be written.
    pub lost: u64,
    /// The first error of the failed file.
    pub error: Option<String>,
    /// The first error of the reasons file (no record is lost by it).
    pub reasons_error: Option<String>,
}

/// The reasons file beside a failed file: `failed.jsonl` →
/// `failed.reasons.jsonl`, `failed.csv` → `failed.csv.reasons.jsonl` (so
/// that the two default failed files of stdin do not share one).
pub fn reasons_path(failed: &Path) -> PathBuf {
    let name = failed.as_os_str().to_string_lossy();
    let stem = name
        .strip_suffix(".jsonl")
        .filter(|s| !s.is_empty() && !s.ends_with('/'))
        .unwrap_or(&name);
    if stem.len() == name.len() {
        // Keep non-UTF-8 names whole.
        let mut p = failed.as_os_str().to_owned();
        p.push(".reasons.jsonl");
        return PathBuf::from(p);
    }
    PathBuf::from(format!("{stem}.reasons.jsonl"))
}

/// Opens `path` for writing without truncating it first, refuses it when
/// it is the input, then empties it.
fn create(path: &Path, input: Option<FileId>) -> Result<File, String> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    if input.is_some() && FileId::of_file(&file) == input {
        return Err(format!(
            "{} is the input: not overwritten (give another --failed-out)",
            path.display()
        ));
    }
    file.set_len(0)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(file)
}

impl FailedOut {
    /// A file at `path` (and its reasons file), not created yet; neither
    /// is ever written if it turns out to be the file `input`.
    pub fn new(path: impl Into<PathBuf>, input: Option<FileId>) -> Self {
        let path = path.into();
        FailedOut {
            reasons_path: reasons_path(&path),
            path,
            input,
            state: Mutex::new(State::default()),
        }
    }

    /// Where the file is (or would be).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the reasons file is (or would be).
    pub fn reasons(&self) -> &Path {
        &self.reasons_path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes this a CSV failed file starting with `header` (before any
    /// record is written).
    pub fn set_csv_header(&self, header: CsvHeader) {
        self.lock().csv = Some(header);
    }

    /// Appends one record as read (`bytes` without its line end).
    pub fn write_line(&self, bytes: &[u8], reason: Reason<'_>) {
        self.write_with(
            |w| {
                w.write_all(bytes)?;
                w.write_all(b"\n")
            },
            reason,
        );
    }

    /// Appends records that were not accepted (of a failed call, or not
    /// sent), in the failed file's format.
    pub fn write_records(&self, records: Vec<Record>, reason: Reason<'_>) {
        for r in records {
            let csv = self.lock().csv.clone();
            match csv {
                None => self.write_line(to_json_line(r).as_bytes(), reason),
                Some(h) => match csv_row(&r, &h) {
                    Ok(row) => self.write_line(&row, reason),
                    Err(e) => {
                        let mut s = self.lock();
                        s.lost += 1;
                        s.error.get_or_insert(e);
                    }
                },
            }
        }
    }

    /// Appends one record written by `f` (which writes the line end too),
    /// under the lock, so that records of different threads never mix. A
    /// record that cannot be written is counted as lost, and the first
    /// error kept for the summary.
    pub fn write_with(&self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>, reason: Reason<'_>) {
        let mut s = self.lock();
        let s = &mut *s;
        if s.error.is_none() && s.file.is_none() {
            match self.open(s) {
                Ok(w) => s.file = Some(w),
                Err(e) => s.error = Some(e),
            }
        }
        let Some(w) = s.file.as_mut() else {
            s.lost += 1;
            return;
        };
        let at = w.newlines + 1;
        match f(w) {
            Ok(()) => s.lines += 1,
            Err(e) => {
                s.lost += 1;
                s.error
                    .get_or_insert(format!("cannot write {}: {e}", self.path.display()));
                return;
            }
        }
        let mut entry = Map::new();
        if let Some(line) = reason.line {
            entry.insert("line".into(), json!(line));
        }
        entry.insert("failedOutLine".into(), json!(at));
        entry.insert("reason".into(), json!(reason.message));
        if let Some(r) = s.reasons.as_mut() {
            if let Err(e) = writeln!(r, "{}", Value::Object(entry)) {
                s.reasons_error
                    .get_or_insert(format!("cannot write {}: {e}", self.reasons_path.display()));
                s.reasons = None;
            }
        }
    }

    /// Creates the failed file (with the CSV header) and the reasons file.
    fn open(&self, s: &mut State) -> Result<Counted<BufWriter<File>>, String> {
        let file = create(&self.path, self.input)?;
        let mut w = Counted {
            inner: BufWriter::with_capacity(64 * 1024, file),
            newlines: 0,
        };
        if let Some(h) = &s.csv {
            w.write_all(&h.raw)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        }
        match create(&self.reasons_path, self.input) {
            Ok(f) => s.reasons = Some(BufWriter::with_capacity(16 * 1024, f)),
            Err(e) => s.reasons_error = Some(e),
        }
        Ok(w)
    }

    /// Flushes both files; gives what was written and lost.
    pub fn finish(&self) -> Finished {
        let mut s = self.lock();
        if let Some(w) = s.file.as_mut() {
            if let Err(e) = w.flush() {
                // What was buffered is gone; the count may be short of it.
                let msg = format!("cannot write {}: {e}", self.path.display());
                s.error.get_or_insert(msg);
                s.lost += 1;
            }
        }
        if let Some(r) = s.reasons.as_mut() {
            if let Err(e) = r.flush() {
                let msg = format!("cannot write {}: {e}", self.reasons_path.display());
                s.reasons_error.get_or_insert(msg);
            }
        }
        s.file = None;
        s.reasons = None;
        Finished {
            lines: s.lines,
            lost: s.lost,
            error: s.error.clone(),
            reasons_error: s.reasons_error.clone(),
        }
    }
}

/// A record of a CSV run as a CSV row of `header`: its id in the id column
/// and each property in its column.
pub fn csv_row(record: &Record, header: &CsvHeader) -> Result<Vec<u8>, String> {
    let (id, props) = match record {
        Record::Item { item, .. } => (&item.item_id, &item.properties),
        Record::User { user, .. } => (&user.user_id, &user.properties),
        Record::Action { action, .. } => (&action.action_id, &action.properties),
        _ => return Err("not a dataset record: cannot be a CSV row".into()),
    };
    let props: Map<String, Value> = match props {
        Some(p) => serde_json::from_str(p.as_str())
            .map_err(|e| format!("properties are not a JSON object: {e}"))?,
        None => Map::new(),
    };
    if let Some(k) = props.keys().find(|k| !header.keys.contains(k)) {
        return Err(format!("property `{k}` has no column in the CSV header"));
    }
    let mut row = Vec::new();
    for (i, key) in header.keys.iter().enumerate() {
        if i > 0 {
            row.push(b',');
        }
        let cell = if i == header.id_col {
            id.clone()
        } else {
            match props.get(key) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        };
        crate::csvrow::quote_into(&cell, &mut row);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: u64) -> Reason<'static> {
        Reason {
            line: Some(line),
            message: "bad",
        }
    }

    #[test]
    fn reasons_file_names() {
        for (f, r) in [
            ("failed.jsonl", "failed.reasons.jsonl"),
            ("a/x.jsonl.failed.jsonl", "a/x.jsonl.failed.reasons.jsonl"),
            ("x.csv.failed.csv", "x.csv.failed.csv.reasons.jsonl"),
            ("failed.csv", "failed.csv.reasons.jsonl"),
            ("out.txt", "out.txt.reasons.jsonl"),
            (".jsonl", ".jsonl.reasons.jsonl"),
        ] {
            assert_eq!(reasons_path(Path::new(f)), PathBuf::from(r), "{f}");
        }
    }

    #[test]
    fn created_at_first_line_only_with_reasons_beside() {
        let dir = std::env::temp_dir().join(format!("pe-failed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.jsonl");
        let _ = std::fs::remove_file(&path);
        let f = FailedOut::new(&path, None);
        assert_eq!(f.finish(), Finished::default());
        assert!(!path.exists());
        let f = FailedOut::new(&path, None);
        f.write_line(b"{\"a\":1}", reason(3));
        f.write_line(
            b"{\"a\":2}",
            Reason {
                line: None,
                message: "a call failed",
            },
        );
        assert_eq!(f.finish().lines, 2);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("f.reasons.jsonl")).unwrap(),
            "{\"failedOutLine\":1,\"line\":3,\"reason\":\"bad\"}\n\
             {\"failedOutLine\":2,\"reason\":\"a call failed\"}\n"
        );
        // The input is never truncated.
        let input = dir.join("in.jsonl");
        std::fs::write(&input, "keep\n").unwrap();
        let f = FailedOut::new(&input, FileId::of_path(&input));
        f.write_line(b"x", reason(1));
        let done = f.finish();
        assert_eq!((done.lines, done.lost), (0, 1));
        assert!(done.error.unwrap().contains("is the input"));
        assert_eq!(std::fs::read_to_string(&input).unwrap(), "keep\n");
        let bad = FailedOut::new(dir.join("no/such/dir/f.jsonl"), None);
        bad.write_line(b"x", reason(1));
        let done = bad.finish();
        assert_eq!((done.lines, done.lost), (0, 1));
        assert!(done.error.unwrap().contains("cannot create"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
