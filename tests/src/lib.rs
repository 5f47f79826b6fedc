//! Shared helpers for the behaviour tests (see `tests/`).
#![forbid(unsafe_code)]
