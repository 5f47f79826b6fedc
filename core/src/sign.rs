//! SigV4 signing (placeholder: being written).
