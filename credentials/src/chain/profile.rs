//! The shared config files as the chain reads them: the selected
//! profile, and the source it configures (`role_arn` chains,
//! `credential_source`, web identity, SSO, static keys,
//! `credential_process`).

use super::*;

impl CredentialsChain {
    pub(super) fn parse_files(&self) -> Result<ProfileSet, Error> {
        let mut texts: Vec<Option<(&Path, String)>> = Vec::new();
        for (path, r) in &self.files {
            texts.push(match r {
                None => None,
                Some(Err(e)) if e.is_not_found() => None,
                Some(Err(e)) => {
                    return Err(cred_err(
                        SRC_FILES,
                        format!("cannot read {}: {e}", path.display()),
                    ))
                }
                Some(Ok(bytes)) => Some((
                    path.as_path(),
                    String::from_utf8(bytes.clone()).map_err(|_| {
                        cred_err(SRC_FILES, format!("{} is not valid UTF-8", path.display()))
                    })?,
                )),
            });
        }
        // The files are [config, credentials] when both paths are known.
        let config_path = self.env.config_file();
        let pick = |want: &Option<PathBuf>| {
            texts
                .iter()
                .flatten()
                .find(|(p, _)| Some(*p) == want.as_deref())
                .map(|(p, t)| (*p, t.as_str()))
        };
        ProfileSet::parse(pick(&config_path), pick(&self.env.credentials_file()))
            .map_err(|e| cred_err(SRC_FILES, e.to_string()))
    }

    pub(super) fn files_description(&self) -> String {
        let names: Vec<String> = self
            .files
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        if names.is_empty() {
            "no shared config files (no home directory)".into()
        } else {
            names.join(", ")
        }
    }

    pub(super) fn profile_set(&self) -> Option<&ProfileSet> {
        self.profiles.as_ref().and_then(|r| r.as_ref().ok())
    }

    pub(super) fn selected_profile(&self) -> Option<&Profile> {
        self.profile_set().and_then(|s| s.profile(&self.profile))
    }

    /// Region for STS: code, `AWS_REGION`, `AWS_DEFAULT_REGION`, profile.
    pub(super) fn region(&self) -> Option<String> {
        self.region
            .clone()
            .or_else(|| self.env.get("AWS_REGION").map(str::to_string))
            .or_else(|| self.env.get("AWS_DEFAULT_REGION").map(str::to_string))
            .or_else(|| self.selected_profile()?.get("region").map(str::to_string))
    }

    pub(super) fn web_identity_env_job(&mut self) -> Result<Option<Job>, Error> {
        if self.profile_from_code {
            self.tried
                .push(format!("{SRC_WEB_ID} (skipped: profile chosen in code)"));
            return Ok(None);
        }
        let Some(file) = self.env.get("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            self.tried.push(format!(
                "{SRC_WEB_ID} (AWS_WEB_IDENTITY_TOKEN_FILE not set)"
            ));
            return Ok(None);
        };
        let role_arn = self.env.get("AWS_ROLE_ARN").ok_or_else(|| {
            cred_err(
                SRC_WEB_ID,
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
            )
        })?;
        let sts = self.sts().map_err(|m| cred_err(SRC_WEB_ID, m))?;
        let mut job = Job::new(
            SRC_WEB_ID,
            false,
            Base::WebIdentity {
                role_arn: role_arn.to_string(),
                token_file: self.env.expand_home(file),
                session_name: self.env.get("AWS_ROLE_SESSION_NAME").map(str::to_string),
            },
        );
        job.sts = Some(sts);
        Ok(Some(job))
    }

    pub(super) fn profile_job(&mut self) -> Result<Option<Job>, Error> {
        let source = format!("profile `{}`", self.profile);
        let set = match &self.profiles {
            Some(Ok(set)) => set,
            Some(Err(e)) => return Err(e.clone()),
            None => return Ok(None),
        };
        if set.profile(&self.profile).is_none() {
            let msg = format!("not found in {}", self.files_description());
            if self.profile_explicit {
                return Err(cred_err(source, msg));
            }
            self.tried.push(format!("{source} ({msg})"));
            return Ok(None);
        }
        let err = |m: String| cred_err(&source, m);
        let mut roles: Vec<Role> = Vec::new();
        let mut visited: Vec<String> = Vec::new();
        let mut name = self.profile.clone();
        let base = loop {
            let p = set
                .profile(&name)
                .ok_or_else(|| err(format!("source_profile `{name}` does not exist")))?;
            if visited.contains(&name) {
                return Err(err(format!(
                    "source_profile loop: {} -> {name}",
                    visited.join(" -> ")
                )));
            }
            let is_source = !visited.is_empty();
            visited.push(name.clone());
            if is_source && p.get("aws_access_key_id").is_some() {
                break Base::Static(static_from_profile(p).map_err(err)?);
            }
            if let Some(role_arn) = p.get("role_arn") {
                if p.get("mfa_serial").is_some() {
                    return Err(err(format!(
                        "profile `{name}` needs an MFA code (mfa_serial), which this client cannot prompt for"
                    )));
                }
                if let Some(file) = p.get("web_identity_token_file") {
                    break Base::WebIdentity {
                        role_arn: role_arn.to_string(),
                        token_file: self.env.expand_home(file),
                        session_name: p.get("role_session_name").map(str::to_string),
                    };
                }
                roles.push(Role::from_profile(p, role_arn).map_err(err)?);
                match (p.get("source_profile"), p.get("credential_source")) {
                    (Some(_), Some(_)) => {
                        return Err(err(format!(
                            "profile `{name}` sets both source_profile and credential_source"
                        )))
                    }
                    (None, None) => {
                        return Err(err(format!(
                            "profile `{name}` sets role_arn without source_profile or credential_source"
                        )))
                    }
                    (Some(sp), None) if sp == name => {
                        break Base::Static(static_from_profile(p).map_err(err)?)
                    }
                    (Some(sp), None) => {
                        name = sp.to_string();
                        continue;
                    }
                    (None, Some(cs)) => break self.named_source(cs, p).map_err(err)?,
                }
            }
            if let Some(sso) =
                SsoSource::from_profile(&self.env, set, p, self.timeouts.sts).map_err(err)?
            {
                break Base::Sso(Box::new(sso));
            }
            if p.get("aws_access_key_id").is_some() {
                break Base::Static(static_from_profile(p).map_err(err)?);
            }
            if let Some(command) = p.get("credential_process") {
                break Base::Process {
                    command: command.to_string(),
                };
            }
            if p.get("aws_secret_access_key").is_some() {
                return Err(err(format!(
                    "profile `{name}` sets aws_secret_access_key without aws_access_key_id"
                )));
            }
            if !is_source {
                self.tried.push(format!("{source} (has no credentials)"));
                return Ok(None);
            }
            return Err(err(format!("source_profile `{name}` has no credentials")));
        };
        roles.reverse();
        let needs_sts = !roles.is_empty() || matches!(base, Base::WebIdentity { .. });
        let mut job = Job::new(&source, false, base);
        job.roles = roles;
        if needs_sts {
            job.sts = Some(self.sts().map_err(err)?);
        }
        Ok(Some(job))
    }

    pub(super) fn named_source(&self, name: &str, profile: &Profile) -> Result<Base, String> {
        match name {
            "Environment" => env_credentials(&self.env)
                .map_err(|e| e.to_string())?
                .map(Base::Static)
                .ok_or_else(|| {
                    "credential_source = Environment but AWS_ACCESS_KEY_ID is not set".into()
                }),
            "EcsContainer" => container_base(&self.env)?.ok_or_else(|| {
                "credential_source = EcsContainer but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI are not set"
                    .into()
            }),
            "Ec2InstanceMetadata" => imds_base(&self.env, Some(profile))?.ok_or_else(|| {
                "credential_source = Ec2InstanceMetadata but AWS_EC2_METADATA_DISABLED is true".into()
            }),
            other => Err(format!(
                "credential_source `{}` is not one of Environment, Ec2InstanceMetadata, EcsContainer",
                shorten(other, 40)
            )),
        }
    }
}
