//! The environment's keys (`AWS_ACCESS_KEY_ID`, ...) and a profile's
//! static keys: credentials that need no IO.

use super::*;

pub(super) fn env_credentials(env: &Environment) -> Result<Option<Credentials>, Error> {
    let Some(akid) = env.get("AWS_ACCESS_KEY_ID") else {
        return Ok(None);
    };
    let secret = env.get("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
        cred_err(
            SRC_ENV,
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
        )
    })?;
    Ok(Some(Credentials::new(
        akid,
        secret,
        env.get("AWS_SESSION_TOKEN").map(str::to_string),
    )))
}

pub(super) fn static_from_profile(p: &Profile) -> Result<Credentials, String> {
    let akid = p
        .get("aws_access_key_id")
        .ok_or_else(|| format!("profile `{}` has no aws_access_key_id", p.name()))?;
    let secret = p.get("aws_secret_access_key").ok_or_else(|| {
        format!(
            "profile `{}` sets aws_access_key_id but not aws_secret_access_key",
            p.name()
        )
    })?;
    Ok(Credentials::new(
        akid,
        secret,
        p.get("aws_session_token").map(str::to_string),
    ))
}
