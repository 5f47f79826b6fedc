//! The application id in the `User-Agent`, as the AWS SDKs send it.
//!
//! A company tells its tools apart in its logs by an application id: set in
//! code, in `AWS_SDK_UA_APP_ID`, or as `sdk_ua_app_id` in the profile (first
//! found wins). It is sent as `app/<id>` after this crate's own product
//! token: `personalize-events-rs/0.1.0 app/billing-export`. Like botocore,
//! characters a header token cannot hold become `-` and the id is cut to
//! [`APP_ID_MAX_LEN`] characters.

/// The environment variable of the application id.
pub const APP_ID_ENV: &str = "AWS_SDK_UA_APP_ID";

/// The profile key of the application id.
pub const APP_ID_PROFILE_KEY: &str = "sdk_ua_app_id";

/// The longest application id sent; a longer one is cut.
pub const APP_ID_MAX_LEN: usize = 50;

/// `id` as it goes into the `User-Agent`: trimmed, each character outside
/// the header-token set (letters, digits, `!#$%&'*+-.^_`|~`) replaced by
/// `-`, cut to [`APP_ID_MAX_LEN`] characters; `None` when blank.
pub fn app_id_token(id: &str) -> Option<String> {
    let id = id.trim();
    if id.is_empty() {
        return None;
    }
    Some(
        id.chars()
            .take(APP_ID_MAX_LEN)
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect(),
    )
}

/// The `User-Agent` suffix with the application id first: `app/<id>`, then
/// the suffix given in code, if any.
pub(crate) fn suffix_with_app_id(app_id: Option<&str>, suffix: Option<String>) -> Option<String> {
    match (app_id.and_then(app_id_token), suffix) {
        (Some(id), Some(s)) => Some(format!("app/{id} {s}")),
        (Some(id), None) => Some(format!("app/{id}")),
        (None, s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_sanitized_and_cut() {
        assert_eq!(
            app_id_token("billing-export").as_deref(),
            Some("billing-export")
        );
        assert_eq!(app_id_token("  a b/c(d)é ").as_deref(), Some("a-b-c-d--"));
        assert_eq!(app_id_token("   "), None);
        assert_eq!(
            app_id_token(&"x".repeat(80)).map(|s| s.len()),
            Some(APP_ID_MAX_LEN)
        );
    }

    #[test]
    fn the_app_id_comes_before_the_code_suffix() {
        assert_eq!(
            suffix_with_app_id(Some("etl"), Some("tool/1".into())).as_deref(),
            Some("app/etl tool/1")
        );
        assert_eq!(
            suffix_with_app_id(Some("etl"), None).as_deref(),
            Some("app/etl")
        );
        assert_eq!(suffix_with_app_id(Some(" "), None), None);
        assert_eq!(
            suffix_with_app_id(None, Some("t".into())).as_deref(),
            Some("t")
        );
    }
}
