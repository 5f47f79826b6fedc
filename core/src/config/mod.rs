//! Credentials and configuration the way the AWS CLI and SDKs find them (being written).
