//! The failed-records file: every record that was not accepted, one JSON
//! line each, so that running the tool again on it finishes the job.
//!
//! The file is created at the first failure (a run without failures leaves
//! no file behind) and written by the reader, the grouping loop and the
//! workers, a whole line at a time.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The failed-records file of one run.
#[derive(Debug)]
pub struct FailedOut {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    file: Option<BufWriter<File>>,
    lines: u64,
    lost: u64,
    error: Option<String>,
}

impl FailedOut {
    /// A file at `path`, not created yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FailedOut {
            path: path.into(),
            state: Mutex::new(State::default()),
        }
    }

    /// Where the file is (or would be).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one line (`line` without its newline). A line that cannot be
    /// written is counted as lost, and the first error kept for the summary.
    pub fn write_line(&self, line: &[u8]) {
        self.write_with(|w| {
            w.write_all(line)?;
            w.write_all(b"\n")
        });
    }

    /// Appends one line written by `f` (which writes the newline too), under
    /// the lock, so that lines of different threads never mix.
    pub fn write_with(&self, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
        let mut s = self.lock();
        if s.error.is_none() && s.file.is_none() {
            match File::create(&self.path) {
                Ok(file) => s.file = Some(BufWriter::with_capacity(64 * 1024, file)),
                Err(e) => s.error = Some(format!("cannot create {}: {e}", self.path.display())),
            }
        }
        let result = match s.file.as_mut() {
            Some(w) => f(w),
            None => Err(io::Error::other("not open")),
        };
        match result {
            Ok(()) => s.lines += 1,
            Err(e) => {
                s.lost += 1;
                if s.error.is_none() {
                    s.error = Some(format!("cannot write {}: {e}", self.path.display()));
                }
            }
        }
    }

    /// Flushes the file; gives the lines written, the lines lost and the
    /// first error.
    pub fn finish(&self) -> (u64, u64, Option<String>) {
        let mut s = self.lock();
        if let Some(w) = s.file.as_mut() {
            if let Err(e) = w.flush() {
                // What was buffered is gone; the count may be short of it.
                let msg = format!("cannot write {}: {e}", self.path.display());
                s.error.get_or_insert(msg);
                s.lost += 1;
            }
        }
        s.file = None;
        (s.lines, s.lost, s.error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_first_line_only() {
        let dir = std::env::temp_dir().join(format!("pe-failed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.jsonl");
        let _ = std::fs::remove_file(&path);
        let f = FailedOut::new(&path);
        assert_eq!(f.finish(), (0, 0, None));
        assert!(!path.exists());
        let f = FailedOut::new(&path);
        f.write_line(b"{\"a\":1}");
        f.write_line(b"{\"a\":2}");
        assert_eq!(f.finish(), (2, 0, None));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        let bad = FailedOut::new(dir.join("no/such/dir/f.jsonl"));
        bad.write_line(b"x");
        let (lines, lost, err) = bad.finish();
        assert_eq!((lines, lost), (0, 1));
        assert!(err.unwrap().contains("cannot create"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
