//! Endpoint resolution (placeholder: being written).
