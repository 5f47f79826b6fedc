//! STS: `AssumeRoleWithWebIdentity` (web identity from the environment or
//! a profile) and chains of signed `AssumeRole` (`role_arn` with
//! `source_profile` or `credential_source`).

use super::*;

pub(super) struct Role {
    pub(super) arn: String,
    pub(super) profile: String,
    pub(super) session_name: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) duration_seconds: Option<u32>,
}

impl Role {
    pub(super) fn from_profile(p: &Profile, arn: &str) -> Result<Role, String> {
        let duration_seconds = match p.get("duration_seconds") {
            None => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .ok()
                    .filter(|d| (900..=43_200).contains(d))
                    .ok_or_else(|| {
                        format!(
                            "profile `{}`: duration_seconds must be a number from 900 to 43200",
                            p.name()
                        )
                    })?,
            ),
        };
        Ok(Role {
            arn: arn.to_string(),
            profile: p.name().to_string(),
            session_name: p.get("role_session_name").map(str::to_string),
            external_id: p.get("external_id").map(str::to_string),
            duration_seconds,
        })
    }
}

pub(super) fn default_session_name(now: SystemTime) -> String {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("personalize-events-rs-{ms}")
}

pub(super) fn sts_request(sts: &Sts, pairs: &[(&str, &str)]) -> Result<Request<Vec<u8>>, String> {
    let url = match http::Uri::try_from(sts.url.as_str()) {
        Ok(u) if u.path().len() > 1 => sts.url.clone(),
        _ => format!("{}/", sts.url.trim_end_matches('/')),
    };
    build_request(
        Method::POST,
        &url,
        &[(
            CONTENT_TYPE.as_str(),
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        form_encode(pairs).into_bytes(),
    )
}

pub(super) fn sts_answer(
    r: Result<Response<Vec<u8>>, Error>,
    what: &str,
) -> Result<Credentials, String> {
    match r {
        Err(e) => Err(format!("{what}: request failed: {e}")),
        Ok(resp) if resp.status().is_success() => {
            wire::parse_sts_credentials(resp.body()).map_err(|m| format!("{what}: {m}"))
        }
        Ok(resp) => {
            let (code, message) = parse_sts_error(resp.body());
            Err(format!(
                "{what}: STS answered HTTP {}: {}{}",
                resp.status().as_u16(),
                code.as_deref()
                    .map(|c| shorten(c, 80))
                    .unwrap_or_else(|| "no error code".into()),
                message
                    .map(|m| format!(": {}", shorten(&m, 300)))
                    .unwrap_or_default()
            ))
        }
    }
}

impl Job {
    /// The web identity token was read: exchange it with STS.
    pub(super) fn web_token(
        &mut self,
        path: PathBuf,
        r: Result<Vec<u8>, FileError>,
        now: SystemTime,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        match read_token(r, "web identity token file", &path) {
            Err(m) => self.fail(m),
            Ok(token) => {
                secrets.push(token.clone());
                let (
                    Base::WebIdentity {
                        role_arn,
                        session_name,
                        ..
                    },
                    Some(sts),
                ) = (&self.base, &self.sts)
                else {
                    return self.fail("web identity source without STS endpoint");
                };
                let session = session_name
                    .clone()
                    .unwrap_or_else(|| default_session_name(now));
                let req = sts_request(
                    sts,
                    &[
                        ("Action", "AssumeRoleWithWebIdentity"),
                        ("Version", STS_VERSION),
                        ("RoleArn", role_arn),
                        ("RoleSessionName", &session),
                        ("WebIdentityToken", &token),
                    ],
                );
                let step = http_step(req, t.sts);
                self.io(JobState::WebSts, step)
            }
        }
    }

    /// STS answered `AssumeRoleWithWebIdentity`.
    pub(super) fn web_sts(&mut self, r: Result<Response<Vec<u8>>, Error>) -> JobPoll {
        let what = match &self.base {
            Base::WebIdentity { role_arn, .. } => {
                format!("AssumeRoleWithWebIdentity for {role_arn}")
            }
            _ => "AssumeRoleWithWebIdentity".into(),
        };
        match sts_answer(r, &what) {
            Ok(c) => self.got_base(c),
            Err(m) => self.fail(m),
        }
    }

    /// Base credentials in hand: assume the next role, or end with them.
    pub(super) fn assume_next(
        &mut self,
        i: usize,
        now: SystemTime,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        let Some(current) = self.current.clone() else {
            return self.fail("no base credentials");
        };
        secrets.push(current.secret_access_key().to_string());
        if let Some(tok) = current.session_token() {
            secrets.push(tok.to_string());
        }
        if let Some(at) = current.expires_at() {
            if at <= now {
                let what = if i == 0 {
                    "the credentials".to_string()
                } else {
                    format!("the credentials of role {}", self.roles[i - 1].arn)
                };
                return self.fail(format!("{what} expired at {}", crate::rfc3339::format(at)));
            }
        }
        let Some(role) = self.roles.get(i) else {
            self.state = JobState::Over;
            return JobPoll::Done(current);
        };
        let Some(sts) = &self.sts else {
            return self.fail("role to assume without an STS endpoint");
        };
        let session = role
            .session_name
            .clone()
            .unwrap_or_else(|| default_session_name(now));
        let duration = role.duration_seconds.map(|d| d.to_string());
        let mut pairs = vec![
            ("Action", "AssumeRole"),
            ("Version", STS_VERSION),
            ("RoleArn", role.arn.as_str()),
            ("RoleSessionName", session.as_str()),
        ];
        if let Some(x) = &role.external_id {
            pairs.push(("ExternalId", x));
        }
        if let Some(d) = &duration {
            pairs.push(("DurationSeconds", d));
        }
        let req = sts_request(sts, &pairs).and_then(|mut req| {
            let params = personalize_events_core::sign::SigningParams {
                credentials: &current,
                region: &sts.signing_region,
                service: "sts",
                time: now,
            };
            personalize_events_core::sign::sign_request(
                &mut req,
                &params,
                &personalize_events_core::sign::SigningCache::new(),
            )
            .map_err(|e| format!("cannot sign AssumeRole: {e}"))?;
            Ok(req)
        });
        let step = http_step(req, t.sts);
        self.io(JobState::AssumeRole(i), step)
    }

    /// STS answered `AssumeRole` for role `i`.
    pub(super) fn assume_answer(
        &mut self,
        i: usize,
        r: Result<Response<Vec<u8>>, Error>,
    ) -> JobPoll {
        let role = &self.roles[i];
        let what = format!("AssumeRole {} (profile `{}`)", role.arn, role.profile);
        match sts_answer(r, &what) {
            Ok(c) => {
                self.current = Some(c);
                self.state = JobState::Roles(i + 1);
                JobPoll::Continue
            }
            Err(m) => self.fail(m),
        }
    }
}

impl CredentialsChain {
    /// Where STS calls go, and the region they are signed for.
    pub(super) fn sts(&self) -> Result<Sts, String> {
        let region = self.region();
        let profile = self.selected_profile();
        let signing_region = region.clone().unwrap_or_else(|| "us-east-1".into());
        if let Some(url) = crate::resolve::configured_endpoint(
            &self.env,
            self.profile_set(),
            profile,
            "STS",
            "sts",
        )? {
            return Ok(Sts {
                url,
                signing_region,
            });
        }
        let mode = match self.env.get("AWS_STS_REGIONAL_ENDPOINTS") {
            Some(m) => Some(m.to_string()),
            None => profile
                .and_then(|p| p.get("sts_regional_endpoints"))
                .map(str::to_string),
        };
        let legacy = match mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("regional") => false,
            Some("legacy") => true,
            Some(other) => {
                return Err(format!(
                    "sts_regional_endpoints `{}` is not regional or legacy",
                    shorten(other, 40)
                ))
            }
        };
        let global = || Sts {
            url: "https://sts.amazonaws.com".into(),
            signing_region: "us-east-1".into(),
        };
        match region {
            None => Ok(global()),
            Some(r) if legacy && STS_LEGACY_GLOBAL.contains(&r.as_str()) => Ok(global()),
            Some(r) => {
                // The partition's DNS suffix, from the service's own endpoint rules.
                let ep = personalize_events_core::endpoint::resolve(
                    &personalize_events_core::endpoint::EndpointParams {
                        region: Some(r.clone()),
                        ..Default::default()
                    },
                )
                .map_err(|_| format!("region `{}` is not valid", shorten(&r, 40)))?;
                let prefix = format!("https://personalize-events.{r}.");
                let suffix = ep.url().strip_prefix(&prefix).unwrap_or("amazonaws.com");
                Ok(Sts {
                    url: format!("https://sts.{r}.{suffix}"),
                    signing_region: r,
                })
            }
        }
    }
}
