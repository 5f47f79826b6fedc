//! IAM Identity Center (SSO) profiles, as the AWS CLI v2 reads them.
//!
//! A profile with `sso_session = NAME` (and a `[sso-session NAME]` section
//! with `sso_start_url` and `sso_region`), or a legacy profile with
//! `sso_start_url` and `sso_region` itself, plus `sso_account_id` and
//! `sso_role_name`, gets its credentials in up to four steps:
//!
//! 1. read the token `aws sso login` cached in
//!    `~/.aws/sso/cache/<SHA-1 hex>.json` (of the session name, or of the
//!    start URL for a legacy profile);
//! 2. when the token expires within 5 minutes and it has a refresh token
//!    (sessions only), refresh it with the OIDC `CreateToken` call
//!    (`POST https://oidc.{region}.amazonaws.com/token`)...
//! 3. ...and write the refreshed token back to the cache file;
//! 4. get the role's credentials from the portal
//!    (`GET https://portal.sso.{region}.amazonaws.com/federation/credentials`
//!    with `x-amz-sso_bearer_token`); they are cached with their expiry by
//!    the credentials cache and fetched again when they expire.
//!
//! An expired token that cannot be refreshed ends the chain with an error
//! that names the profile and says to run `aws sso login`. The endpoints
//! follow the SDKs' service-specific endpoint settings
//! (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL_SSO`, `AWS_ENDPOINT_URL`,
//! the profile's `services` section with `sso_oidc` / `sso`), which is how
//! tests point them at loopback.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use serde_json::{Map, Value};

use crate::chain::{build_request, ChainStep, Input};
use crate::profile::{Profile, ProfileSet};
use crate::resolve::configured_endpoint;
use crate::{shorten, Environment};
use personalize_events_core::Credentials;

/// A token expiring sooner than this is refreshed when it can be.
const REFRESH_WINDOW: Duration = Duration::from_secs(300);

/// The SHA-1 hex digest that names a cache file.
fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache file of a session name (or of a legacy start URL).
pub fn sso_cache_file(env: &Environment, key: &str) -> PathBuf {
    env.expand_home(&format!("~/.aws/sso/cache/{}.json", sha1_hex(key)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    ReadCache,
    Refresh,
    WriteCache,
    Portal,
    Over,
}

/// What the SSO source needs next.
pub(crate) enum SsoPoll {
    Io(ChainStep),
    Done(Credentials),
    Fail(String),
}

/// One SSO profile's credentials, as a sans-IO machine.
pub(crate) struct SsoSource {
    profile: String,
    /// The `sso_session` name; `None` for a legacy profile.
    session: Option<String>,
    account_id: String,
    role_name: String,
    cache_path: PathBuf,
    oidc_url: String,
    portal_url: String,
    state: State,
    /// The cache file's JSON (other members kept when it is written back).
    cached: Map<String, Value>,
    token: String,
    timeout: Duration,
}

fn setting<'a>(p: &'a Profile, key: &str) -> Option<&'a str> {
    p.get(key).map(str::trim).filter(|v| !v.is_empty())
}

impl SsoSource {
    /// The SSO source of profile `p`, if it is an SSO profile.
    pub(crate) fn from_profile(
        env: &Environment,
        set: &ProfileSet,
        p: &Profile,
        timeout: Duration,
    ) -> Result<Option<SsoSource>, String> {
        let name = p.name();
        let session = setting(p, "sso_session");
        if session.is_none() && setting(p, "sso_start_url").is_none() {
            if setting(p, "sso_account_id").is_some() || setting(p, "sso_role_name").is_some() {
                return Err(format!(
                    "profile `{name}` sets sso_account_id / sso_role_name without sso_session or sso_start_url"
                ));
            }
            return Ok(None);
        }
        let need = |k: &str| {
            setting(p, k)
                .map(str::to_string)
                .ok_or_else(|| format!("SSO profile `{name}` does not set {k}"))
        };
        let (region, key, session) = match session {
            Some(s) => {
                let section = set.sso_session(s).ok_or_else(|| {
                    format!("profile `{name}` names sso_session `{s}`, but there is no [sso-session {s}] section")
                })?;
                let region = setting(section, "sso_region").ok_or_else(|| {
                    format!("[sso-session {s}] (of profile `{name}`) does not set sso_region")
                })?;
                if setting(section, "sso_start_url").is_none() {
                    return Err(format!(
                        "[sso-session {s}] (of profile `{name}`) does not set sso_start_url"
                    ));
                }
                (region.to_string(), s.to_string(), Some(s.to_string()))
            }
            None => (need("sso_region")?, need("sso_start_url")?, None),
        };
        if !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "SSO profile `{name}`: sso_region `{}` is not a region",
                shorten(&region, 40)
            ));
        }
        let endpoint = |env_suffix: &str, key: &str, default: String| {
            configured_endpoint(env, Some(set), Some(p), env_suffix, key)
                .map(|e| e.unwrap_or(default))
        };
        let oidc_url = endpoint(
            "SSO_OIDC",
            "sso_oidc",
            format!("https://oidc.{region}.amazonaws.com"),
        )?;
        let portal_url = endpoint(
            "SSO",
            "sso",
            format!("https://portal.sso.{region}.amazonaws.com"),
        )?;
        Ok(Some(SsoSource {
            profile: name.to_string(),
            account_id: need("sso_account_id")?,
            role_name: need("sso_role_name")?,
            cache_path: sso_cache_file(env, &key),
            session,
            oidc_url: oidc_url.trim_end_matches('/').to_string(),
            portal_url: portal_url.trim_end_matches('/').to_string(),
            state: State::Start,
            cached: Map::new(),
            token: String::new(),
            timeout,
        }))
    }

    fn login_hint(&self) -> String {
        format!(
            "run `aws sso login --profile {}` to sign in again",
            self.profile
        )
    }

    fn fail(&mut self, m: String) -> SsoPoll {
        self.state = State::Over;
        SsoPoll::Fail(m)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.cached
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn time(&self, key: &str) -> Option<SystemTime> {
        let raw = self.text(key)?;
        // Old caches write `2026-12-01T22:00:00UTC`.
        let fixed = match raw.strip_suffix("UTC") {
            Some(r) => format!("{r}Z"),
            None => raw,
        };
        crate::rfc3339::parse(&fixed)
    }

    /// Advances with `input` (the result of the last step).
    pub(crate) fn poll(
        &mut self,
        input: Option<Input>,
        now: SystemTime,
        secrets: &mut Vec<String>,
    ) -> SsoPoll {
        match (self.state, input) {
            (State::Start, None) => {
                self.state = State::ReadCache;
                SsoPoll::Io(ChainStep::ReadFile(self.cache_path.clone()))
            }
            (State::ReadCache, Some(Input::File(path, r))) => {
                let bytes = match r {
                    Ok(b) => b,
                    Err(e) if e.is_not_found() => {
                        return self.fail(format!(
                            "no cached SSO token ({} does not exist); {}",
                            path.display(),
                            self.login_hint()
                        ))
                    }
                    Err(e) => {
                        return self.fail(format!(
                            "cannot read the SSO token cache {}: {e}",
                            path.display()
                        ))
                    }
                };
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(m)) => self.cached = m,
                    _ => {
                        return self.fail(format!(
                            "the SSO token cache {} is not a JSON object; {}",
                            path.display(),
                            self.login_hint()
                        ))
                    }
                }
                for k in ["accessToken", "refreshToken", "clientSecret"] {
                    if let Some(s) = self.text(k) {
                        secrets.push(s);
                    }
                }
                let (Some(token), Some(expires)) =
                    (self.text("accessToken"), self.time("expiresAt"))
                else {
                    return self.fail(format!(
                        "the SSO token cache {} has no accessToken or no valid expiresAt; {}",
                        path.display(),
                        self.login_hint()
                    ));
                };
                self.token = token;
                if expires > now + REFRESH_WINDOW {
                    return self.portal_step();
                }
                match self.refresh_step(now) {
                    Some(step) => step,
                    None if expires > now => self.portal_step(),
                    None => {
                        let m = format!("the SSO session has expired; {}", self.login_hint());
                        self.fail(m)
                    }
                }
            }
            (State::Refresh, Some(Input::Http(r))) => {
                let answer = match r {
                    Err(e) => Err(format!("the SSO token refresh failed: {e}")),
                    Ok(resp) if resp.status().is_success() => {
                        parse_create_token(resp.body()).map_err(|m| format!("CreateToken: {m}"))
                    }
                    Ok(resp) => Err(format!(
                        "the SSO token refresh (CreateToken) answered HTTP {}",
                        resp.status().as_u16()
                    )),
                };
                match answer {
                    Ok((token, expires_in, refresh)) => {
                        secrets.push(token.clone());
                        self.token = token.clone();
                        self.cached
                            .insert("accessToken".into(), Value::String(token));
                        let at = now + Duration::from_secs(expires_in);
                        self.cached.insert(
                            "expiresAt".into(),
                            Value::String(crate::rfc3339::format(at)),
                        );
                        if let Some(r) = refresh {
                            secrets.push(r.clone());
                            self.cached.insert("refreshToken".into(), Value::String(r));
                        }
                        let contents = serde_json::to_vec_pretty(&self.cached).unwrap_or_default();
                        self.state = State::WriteCache;
                        SsoPoll::Io(ChainStep::WriteFile {
                            path: self.cache_path.clone(),
                            contents,
                        })
                    }
                    // A token that still works is used even if its refresh failed.
                    Err(_) if self.time("expiresAt").is_some_and(|e| e > now) => self.portal_step(),
                    Err(m) => {
                        let m =
                            format!("the SSO session has expired and {m}; {}", self.login_hint());
                        self.fail(m)
                    }
                }
            }
            // A cache that cannot be written costs a refresh next time, nothing more.
            (State::WriteCache, Some(Input::Written)) => self.portal_step(),
            (State::Portal, Some(Input::Http(r))) => match r {
                Err(e) => self.fail(format!("the SSO portal ({}) failed: {e}", self.portal_url)),
                Ok(resp) if resp.status().is_success() => {
                    match parse_role_credentials(resp.body()) {
                        Ok(c) => {
                            self.state = State::Over;
                            SsoPoll::Done(c)
                        }
                        Err(m) => self.fail(format!("GetRoleCredentials: {m}")),
                    }
                }
                Ok(resp) if matches!(resp.status().as_u16(), 401 | 403) => {
                    let m = format!(
                        "the SSO portal refused the cached token for role {} in account {} (HTTP {}); {}",
                        self.role_name,
                        self.account_id,
                        resp.status().as_u16(),
                        self.login_hint()
                    );
                    self.fail(m)
                }
                Ok(resp) => {
                    let m = format!(
                        "GetRoleCredentials for role {} in account {} answered HTTP {}",
                        self.role_name,
                        self.account_id,
                        resp.status().as_u16()
                    );
                    self.fail(m)
                }
            },
            (state, _) => self.fail(format!("SSO: unexpected step result in state {state:?}")),
        }
    }

    /// The `CreateToken` call, when the cache has what a refresh needs.
    fn refresh_step(&mut self, now: SystemTime) -> Option<SsoPoll> {
        self.session.as_ref()?;
        let (Some(refresh), Some(id), Some(secret)) = (
            self.text("refreshToken"),
            self.text("clientId"),
            self.text("clientSecret"),
        ) else {
            return None;
        };
        if self.time("registrationExpiresAt").is_some_and(|t| t <= now) {
            return None;
        }
        let body = serde_json::json!({
            "clientId": id,
            "clientSecret": secret,
            "grantType": "refresh_token",
            "refreshToken": refresh,
        });
        let req = build_request(
            Method::POST,
            &format!("{}/token", self.oidc_url),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        );
        Some(match req {
            Ok(request) => {
                self.state = State::Refresh;
                SsoPoll::Io(ChainStep::Http {
                    request,
                    timeout: self.timeout,
                })
            }
            Err(m) => self.fail(m),
        })
    }

    fn portal_step(&mut self) -> SsoPoll {
        let url = format!(
            "{}/federation/credentials?{}",
            self.portal_url,
            crate::wire::form_encode(&[
                ("role_name", &self.role_name),
                ("account_id", &self.account_id)
            ]),
        );
        let req = build_request(
            Method::GET,
            &url,
            &[("x-amz-sso_bearer_token", &self.token)],
            Vec::new(),
        );
        match req {
            Ok(request) => {
                self.state = State::Portal;
                SsoPoll::Io(ChainStep::Http {
                    request,
                    timeout: self.timeout,
                })
            }
            Err(m) => self.fail(m),
        }
    }
}

/// `CreateToken`'s answer: access token, seconds it lasts, new refresh token.
fn parse_create_token(body: &[u8]) -> Result<(String, u64, Option<String>), String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    let token = v["accessToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("the answer has no accessToken")?;
    let expires_in = v["expiresIn"]
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or("the answer has no expiresIn")?;
    let refresh = v["refreshToken"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok((token.to_string(), expires_in, refresh))
}

/// The portal's `roleCredentials` (expiration in epoch milliseconds).
fn parse_role_credentials(body: &[u8]) -> Result<Credentials, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_string())?;
    let rc = &v["roleCredentials"];
    let field = |k: &str| {
        rc[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("the answer has no roleCredentials.{k}"))
    };
    let expiration = rc["expiration"]
        .as_u64()
        .ok_or("the answer has no roleCredentials.expiration")?;
    Ok(Credentials::new(
        field("accessKeyId")?,
        field("secretAccessKey")?,
        Some(field("sessionToken")?),
    )
    .with_expiry(UNIX_EPOCH + Duration::from_millis(expiration)))
}

#[cfg(test)]
#[path = "sso_tests.rs"]
mod chain_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_names_are_sha1_of_the_session_or_start_url() {
        // The AWS CLI's names: SHA-1 of the session name / start URL.
        assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let env = Environment::from_vars([("HOME", "/home/u")]);
        assert_eq!(
            sso_cache_file(&env, "my-sso"),
            PathBuf::from(format!(
                "/home/u/.aws/sso/cache/{}.json",
                sha1_hex("my-sso")
            ))
        );
    }

    #[test]
    fn answers_parse() {
        let (t, n, r) =
            parse_create_token(br#"{"accessToken":"a","expiresIn":3600,"tokenType":"Bearer"}"#)
                .unwrap();
        assert_eq!((t.as_str(), n, r), ("a", 3600, None));
        assert!(parse_create_token(b"{}").is_err());
        let c = parse_role_credentials(
            br#"{"roleCredentials":{"accessKeyId":"AK","secretAccessKey":"S","sessionToken":"T","expiration":1800000000000}}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id(), "AK");
        assert_eq!(
            c.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        );
        assert!(parse_role_credentials(br#"{"roleCredentials":{}}"#).is_err());
    }
}
