//! Async client for Amazon Personalize Events on hyper 1.
#![forbid(unsafe_code)]
