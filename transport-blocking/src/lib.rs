//! Blocking client for Amazon Personalize Events on ureq 3.
#![forbid(unsafe_code)]
