//! The library part of the `personalize-events` command-line tool: the
//! readers (JSON lines and strict CSV), the run (grouping, sending, the
//! failed and reasons files) and the summary. The binary (`main.rs`) parses
//! the command line and drives them; `fuzz/` drives the readers. This is
//! not a stable API: use the client crates for that.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attempts;
pub mod aws;
pub mod csvrow;
pub mod failed;
pub mod input;
pub mod local;
pub mod print;
pub mod progress;
pub mod record;
pub mod same;
pub mod send;
pub mod summary;
