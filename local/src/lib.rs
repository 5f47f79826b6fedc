//! A local emulator of Amazon Personalize Events for offline tests and demos.
#![forbid(unsafe_code)]
