//! EC2 instance metadata (IMDSv2): a token, the role name, the role's
//! credentials; a 401 gets one fresh token.

use super::*;

/// The instance metadata endpoint, unless disabled.
pub(super) fn imds_base(
    env: &Environment,
    profile: Option<&Profile>,
) -> Result<Option<Base>, String> {
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(None);
    }
    let from_profile = |k: &str| profile.and_then(|p| p.get(k)).map(str::to_string);
    let endpoint = match env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .map(str::to_string)
        .or_else(|| from_profile("ec2_metadata_service_endpoint"))
    {
        Some(e) => e,
        None => {
            let mode = env
                .get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .map(str::to_string)
                .or_else(|| from_profile("ec2_metadata_service_endpoint_mode"));
            match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None | Some("ipv4") => IMDS_V4.to_string(),
                Some("ipv6") => IMDS_V6.to_string(),
                Some(other) => {
                    return Err(format!(
                        "ec2_metadata_service_endpoint_mode `{}` is not IPv4 or IPv6",
                        shorten(other, 40)
                    ))
                }
            }
        }
    };
    let endpoint = endpoint.trim_end_matches('/').to_string();
    match http::Uri::try_from(endpoint.as_str()) {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
        _ => {
            return Err(format!(
                "instance metadata endpoint `{}` is not an http(s) URL",
                shorten(&endpoint, 80)
            ))
        }
    }
    Ok(Some(Base::Imds { endpoint }))
}

impl Job {
    /// IMDSv2 answered the token request: ask for the role (or its credentials).
    pub(super) fn imds_token(
        &mut self,
        role: Option<String>,
        refreshed: bool,
        r: Result<Response<Vec<u8>>, Error>,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        let ep = self.imds_url("");
        match r {
            Err(e) if !refreshed => self.unavailable(format!("not reachable at {ep}: {e}")),
            Err(e) => self.fail(format!("token request failed: {e}")),
            Ok(resp) if resp.status() == StatusCode::OK => {
                let token = String::from_utf8_lossy(resp.body()).trim().to_string();
                if token.is_empty() {
                    return self.fail("the token request answered an empty token");
                }
                secrets.push(token.clone());
                match role {
                    Some(role) => {
                        let step = self.imds_get_step(&token, Some(&role), t);
                        self.io(JobState::ImdsCreds { role, refreshed }, step)
                    }
                    None => {
                        let step = self.imds_get_step(&token, None, t);
                        self.io(JobState::ImdsRole { token, refreshed }, step)
                    }
                }
            }
            Ok(resp) if !refreshed => self.unavailable(format!(
                "token request (PUT {ep}/latest/api/token) answered HTTP {}",
                resp.status().as_u16()
            )),
            Ok(resp) => self.fail(format!(
                "token request answered HTTP {}",
                resp.status().as_u16()
            )),
        }
    }

    /// IMDS answered with the instance's role name.
    pub(super) fn imds_role(
        &mut self,
        token: String,
        refreshed: bool,
        r: Result<Response<Vec<u8>>, Error>,
        t: &ChainTimeouts,
    ) -> JobPoll {
        match r {
            Err(e) => self.fail(format!("role name request failed: {e}")),
            Ok(resp) if resp.status() == StatusCode::OK => {
                let text = String::from_utf8_lossy(resp.body()).into_owned();
                let role = text.lines().map(str::trim).find(|l| !l.is_empty());
                match role {
                    None => self.unavailable("no IAM role is attached to this instance".into()),
                    Some(role)
                        if !role
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) =>
                    {
                        self.fail("the instance's IAM role name is not a valid role name")
                    }
                    Some(role) => {
                        let role = role.to_string();
                        let step = self.imds_get_step(&token, Some(&role), t);
                        self.io(JobState::ImdsCreds { role, refreshed }, step)
                    }
                }
            }
            Ok(resp) if resp.status() == StatusCode::NOT_FOUND => {
                self.unavailable("no IAM role is attached to this instance (HTTP 404)".into())
            }
            Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                let step = self.imds_token_step(t);
                self.io(
                    JobState::ImdsToken {
                        role: None,
                        refreshed: true,
                    },
                    step,
                )
            }
            Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => self
                .fail("HTTP 401 again with a fresh token: the IMDSv2 token is missing or expired"),
            Ok(resp) => self.fail(format!(
                "role name request answered HTTP {}",
                resp.status().as_u16()
            )),
        }
    }

    /// IMDS answered with the role's credentials.
    pub(super) fn imds_creds(
        &mut self,
        role: String,
        refreshed: bool,
        r: Result<Response<Vec<u8>>, Error>,
        t: &ChainTimeouts,
    ) -> JobPoll {
        match r {
            Err(e) => self.fail(format!("credentials request for role `{role}` failed: {e}")),
            Ok(resp) if resp.status() == StatusCode::OK => {
                match wire::parse_imds_credentials(resp.body()) {
                    Ok(c) => self.got_base(c),
                    Err(m) => self.fail(format!("credentials of role `{role}`: {m}")),
                }
            }
            Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !refreshed => {
                let step = self.imds_token_step(t);
                self.io(
                    JobState::ImdsToken {
                        role: Some(role),
                        refreshed: true,
                    },
                    step,
                )
            }
            Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => self
                .fail("HTTP 401 again with a fresh token: the IMDSv2 token is missing or expired"),
            Ok(resp) => self.fail(format!(
                "credentials request for role `{role}` answered HTTP {}",
                resp.status().as_u16()
            )),
        }
    }

    pub(super) fn imds_url(&self, path: &str) -> String {
        match &self.base {
            Base::Imds { endpoint } => format!("{endpoint}{path}"),
            _ => path.to_string(),
        }
    }

    pub(super) fn imds_token_step(&self, t: &ChainTimeouts) -> Result<ChainStep, String> {
        http_step(
            build_request(
                Method::PUT,
                &self.imds_url("/latest/api/token"),
                &[("x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_TTL)],
                Vec::new(),
            ),
            t.imds,
        )
    }

    pub(super) fn imds_get_step(
        &self,
        token: &str,
        role: Option<&str>,
        t: &ChainTimeouts,
    ) -> Result<ChainStep, String> {
        let url = self.imds_url(&format!(
            "/latest/meta-data/iam/security-credentials/{}",
            role.unwrap_or("")
        ));
        http_step(
            build_request(
                Method::GET,
                &url,
                &[("x-aws-ec2-metadata-token", token)],
                Vec::new(),
            ),
            t.imds,
        )
    }
}
