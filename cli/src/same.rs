//! Whether two names are one file: device and inode, so that a hard link,
//! a symbolic link, `./x` against `x`, or stdin redirected from the file
//! (`< failed.jsonl`) are all seen for what they are.

use std::fs::{File, Metadata};
use std::path::Path;

/// A file's identity: its device and inode (Unix); elsewhere unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    #[cfg(unix)]
    fn of(m: &Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    #[cfg(not(unix))]
    fn of(_: &Metadata) -> Option<FileId> {
        None
    }

    /// The file `path` names (links followed), if it exists.
    pub fn of_path(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().as_ref().and_then(FileId::of)
    }

    /// An open file's.
    pub fn of_file(file: &File) -> Option<FileId> {
        file.metadata().ok().as_ref().and_then(FileId::of)
    }
}

/// The metadata of what stdin is (a file it was redirected from, a pipe, a
/// terminal), without taking it over.
#[cfg(unix)]
pub fn stdin_metadata() -> Option<Metadata> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

/// Unknown off Unix.
#[cfg(not(unix))]
pub fn stdin_metadata() -> Option<Metadata> {
    None
}

/// Stdin's identity.
pub fn stdin_id() -> Option<FileId> {
    stdin_metadata().as_ref().and_then(FileId::of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn links_are_the_same_file() {
        let dir = std::env::temp_dir().join(format!("pe-same-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        std::fs::write(&a, "x").unwrap();
        let _ = std::fs::remove_file(dir.join("b"));
        let _ = std::fs::remove_file(dir.join("c"));
        std::fs::hard_link(&a, dir.join("b")).unwrap();
        std::os::unix::fs::symlink(&a, dir.join("c")).unwrap();
        let id = FileId::of_path(&a);
        assert!(id.is_some());
        assert_eq!(FileId::of_path(&dir.join("b")), id);
        assert_eq!(FileId::of_path(&dir.join("c")), id);
        assert_eq!(FileId::of_file(&File::open(&a).unwrap()), id);
        assert_eq!(FileId::of_path(&dir.join("none")), None);
        std::fs::write(dir.join("d"), "x").unwrap();
        assert_ne!(FileId::of_path(&dir.join("d")), id);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
