//! Benchmarks; see `benches/`.
#![forbid(unsafe_code)]
