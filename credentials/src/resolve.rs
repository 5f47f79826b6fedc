//! Client configuration from code, environment and profile.
//!
//! Two steps, so that the transport does the reading:
//!
//! ```text
//! let env = Environment::from_vars(std::env::vars());
//! let files = ConfigLoader::files_needed(&env)
//!     .into_iter()
//!     .map(|p| { let r = std::fs::read(&p).map_err(FileError::from); (p, r) })
//!     .collect();
//! let config = ConfigLoader::resolve(&env, &files, &overrides)?.into_client_config()?;
//! ```
//!
//! Precedence, first found wins:
//!
//! | setting | code | environment | profile |
//! |---|---|---|---|
//! | region | `region` | `AWS_REGION`, `AWS_DEFAULT_REGION` | `region` |
//! | endpoint | `endpoint_url` | `AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`, `AWS_ENDPOINT_URL` | `services` section `personalize_events = endpoint_url = ..`, then `endpoint_url` |
//! | FIPS | `use_fips` | `AWS_USE_FIPS_ENDPOINT` | `use_fips_endpoint` |
//! | dual-stack | `use_dual_stack` | `AWS_USE_DUALSTACK_ENDPOINT` | `use_dualstack_endpoint` |
//! | attempts | `max_attempts` | `AWS_MAX_ATTEMPTS` | `max_attempts` |
//! | retry mode | `retry_mode` | `AWS_RETRY_MODE` | `retry_mode` |
//! | `User-Agent` application id | `app_id` | `AWS_SDK_UA_APP_ID` | `sdk_ua_app_id` |
//! | CA bundle | `ca_bundle` | `AWS_CA_BUNDLE` | `ca_bundle` |
//!
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` (or the profile's
//! `ignore_configured_endpoint_urls = true`) ignores the endpoints of the
//! environment and profile, not the one given in code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::profile::{Profile, ProfileSet};
use crate::ua::{suffix_with_app_id, APP_ID_ENV, APP_ID_PROFILE_KEY};
use crate::{parse_bool, shorten, Environment, FileError};
use personalize_events_core::endpoint::{self, EndpointParams};
use personalize_events_core::{ClientConfig, Error};
use personalize_events_core::{RetryConfig, RetryMode};

/// The suffix of this service's endpoint variable, `AWS_ENDPOINT_URL_<suffix>`.
pub const SERVICE_ENV_SUFFIX: &str = "PERSONALIZE_EVENTS";

/// This service's key in a `[services name]` section.
pub const SERVICE_KEY: &str = "personalize_events";

/// Settings given in code; each wins over environment and profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigOverrides {
    /// The profile to read instead of `AWS_PROFILE` / `default`.
    pub profile: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// A custom endpoint URL.
    pub endpoint_url: Option<String>,
    /// Use the FIPS endpoint.
    pub use_fips: Option<bool>,
    /// Use the dual-stack endpoint.
    pub use_dual_stack: Option<bool>,
    /// Attempts in all (at least 1).
    pub max_attempts: Option<u32>,
    /// Retry mode.
    pub retry_mode: Option<RetryMode>,
    /// The application id of the `User-Agent` (`app/<id>`).
    pub app_id: Option<String>,
    /// A PEM file of the CAs to trust instead of the default roots.
    pub ca_bundle: Option<PathBuf>,
}

impl ConfigOverrides {
    /// Sets the profile.
    pub fn with_profile(mut self, p: impl Into<String>) -> Self {
        self.profile = Some(p.into());
        self
    }
    /// Sets the region.
    pub fn with_region(mut self, r: impl Into<String>) -> Self {
        self.region = Some(r.into());
        self
    }
    /// Sets the endpoint URL.
    pub fn with_endpoint_url(mut self, u: impl Into<String>) -> Self {
        self.endpoint_url = Some(u.into());
        self
    }
    /// Sets FIPS.
    pub fn with_fips(mut self, on: bool) -> Self {
        self.use_fips = Some(on);
        self
    }
    /// Sets dual-stack.
    pub fn with_dual_stack(mut self, on: bool) -> Self {
        self.use_dual_stack = Some(on);
        self
    }
    /// Sets the number of attempts.
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }
    /// Sets the retry mode.
    pub fn with_retry_mode(mut self, m: RetryMode) -> Self {
        self.retry_mode = Some(m);
        self
    }
    /// Sets the application id of the `User-Agent`.
    pub fn with_app_id(mut self, id: impl Into<String>) -> Self {
        self.app_id = Some(id.into());
        self
    }
    /// Sets the CA bundle.
    pub fn with_ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }
}

/// The configuration after code, environment and profile were combined.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolvedConfig {
    /// The profile that was read (it may not exist when not chosen explicitly).
    pub profile: String,
    /// The region, if any source gave one.
    pub region: Option<String>,
    /// The custom endpoint, if any.
    pub endpoint_url: Option<String>,
    /// FIPS endpoint.
    pub use_fips: bool,
    /// Dual-stack endpoint.
    pub use_dual_stack: bool,
    /// Attempts in all, if configured.
    pub max_attempts: Option<u32>,
    /// Retry mode, if configured.
    pub retry_mode: Option<RetryMode>,
    /// The application id of the `User-Agent`, if configured (as given:
    /// [`crate::app_id_token`] is what is sent).
    pub app_id: Option<String>,
    /// The CA bundle to trust instead of the default roots, if configured
    /// (`~` expanded).
    pub ca_bundle: Option<PathBuf>,
}

/// Reads client configuration in two steps: which files, then resolution.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigLoader;

impl ConfigLoader {
    /// The files [`resolve`](Self::resolve) wants read: the config file and
    /// the credentials file (each only if a path is known).
    pub fn files_needed(env: &Environment) -> Vec<PathBuf> {
        [env.config_file(), env.credentials_file()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// Reads [`files_needed`](Self::files_needed) with `read` (the
    /// transport's IO, e.g. `|p| std::fs::read(p)`) into the map
    /// [`resolve`](Self::resolve) takes.
    pub fn read_files(
        env: &Environment,
        mut read: impl FnMut(&Path) -> std::io::Result<Vec<u8>>,
    ) -> HashMap<PathBuf, Result<Vec<u8>, FileError>> {
        Self::files_needed(env)
            .into_iter()
            .map(|p| {
                let r = read(&p).map_err(FileError::from);
                (p, r)
            })
            .collect()
    }

    /// Resolves the configuration. `files` holds what reading
    /// [`files_needed`](Self::files_needed) gave; a file missing from the map
    /// or `NotFound` is treated as absent, any other read error or a
    /// malformed file is an [`Error::Config`].
    pub fn resolve(
        env: &Environment,
        files: &HashMap<PathBuf, Result<Vec<u8>, FileError>>,
        overrides: &ConfigOverrides,
    ) -> Result<ResolvedConfig, Error> {
        let text = |p: Option<PathBuf>| -> Result<Option<(PathBuf, String)>, Error> {
            let Some(p) = p else { return Ok(None) };
            match files.get(&p) {
                None => Ok(None),
                Some(Err(e)) if e.is_not_found() => Ok(None),
                Some(Err(e)) => Err(Error::Config(format!("cannot read {}: {e}", p.display()))),
                Some(Ok(b)) => match String::from_utf8(b.clone()) {
                    Ok(t) => Ok(Some((p, t))),
                    Err(_) => Err(Error::Config(format!("{} is not valid UTF-8", p.display()))),
                },
            }
        };
        let config = text(env.config_file())?;
        let creds = text(env.credentials_file())?;
        let set = ProfileSet::parse(
            config.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
            creds.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        let (name, explicit) = env.profile_name(overrides.profile.as_deref());
        let profile = set.profile(&name);
        if profile.is_none() && explicit {
            return Err(Error::Config(format!(
                "profile `{name}` not found in the shared config files"
            )));
        }
        let from_profile = |k: &str| profile.and_then(|p| p.get(k));
        let cfg = |m: String| Error::Config(m);

        let region = overrides
            .region
            .clone()
            .or_else(|| env.get("AWS_REGION").map(str::to_string))
            .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
            .or_else(|| from_profile("region").map(str::to_string));

        let boolean = |code: Option<bool>, var: &str, key: &str| -> Result<bool, Error> {
            if let Some(b) = code {
                return Ok(b);
            }
            if let Some(b) = env.get_bool(var).map_err(cfg)? {
                return Ok(b);
            }
            match from_profile(key) {
                Some(v) => parse_bool(&format!("profile `{name}` {key}"), v).map_err(cfg),
                None => Ok(false),
            }
        };
        let use_fips = boolean(
            overrides.use_fips,
            "AWS_USE_FIPS_ENDPOINT",
            "use_fips_endpoint",
        )?;
        let use_dual_stack = boolean(
            overrides.use_dual_stack,
            "AWS_USE_DUALSTACK_ENDPOINT",
            "use_dualstack_endpoint",
        )?;

        let max_attempts = match overrides.max_attempts {
            Some(0) => return Err(cfg("max_attempts must be at least 1".into())),
            Some(n) => Some(n),
            None => match env
                .get("AWS_MAX_ATTEMPTS")
                .map(|v| ("AWS_MAX_ATTEMPTS".to_string(), v))
                .or_else(|| {
                    from_profile("max_attempts")
                        .map(|v| (format!("profile `{name}` max_attempts"), v))
                }) {
                None => None,
                Some((what, v)) => {
                    Some(v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        cfg(format!(
                            "{what}: `{}` is not a whole number of at least 1",
                            shorten(v, 20)
                        ))
                    })?)
                }
            },
        };

        let retry_mode = match overrides.retry_mode {
            Some(m) => Some(m),
            None => match env
                .get("AWS_RETRY_MODE")
                .map(|v| ("AWS_RETRY_MODE".to_string(), v))
                .or_else(|| {
                    from_profile("retry_mode").map(|v| (format!("profile `{name}` retry_mode"), v))
                }) {
                None => None,
                Some((what, v)) => Some(v.parse::<RetryMode>().map_err(|e| {
                    cfg(format!(
                        "{what}: {}",
                        match e {
                            Error::Config(m) => m,
                            other => other.to_string(),
                        }
                    ))
                })?),
            },
        };

        let endpoint_url = match overrides
            .endpoint_url
            .clone()
            .filter(|u| !u.trim().is_empty())
        {
            Some(u) => Some(u),
            None => configured_endpoint(env, Some(&set), profile, SERVICE_ENV_SUFFIX, SERVICE_KEY)
                .map_err(cfg)?,
        };

        let non_blank = |v: &str| Some(v.to_string()).filter(|v| !v.trim().is_empty());
        let app_id = overrides
            .app_id
            .as_deref()
            .and_then(non_blank)
            .or_else(|| env.get(APP_ID_ENV).and_then(non_blank))
            .or_else(|| from_profile(APP_ID_PROFILE_KEY).and_then(non_blank));
        let ca_bundle = overrides.ca_bundle.clone().or_else(|| {
            env.get("AWS_CA_BUNDLE")
                .or_else(|| from_profile("ca_bundle"))
                .map(|p| env.expand_home(p))
        });

        Ok(ResolvedConfig {
            ca_bundle,
            profile: name,
            region,
            endpoint_url,
            use_fips,
            use_dual_stack,
            max_attempts,
            retry_mode,
            app_id,
        })
    }
}

impl ResolvedConfig {
    /// The client configuration: the endpoint resolved with
    /// [`personalize_events_core::endpoint::resolve`], retry settings applied, default timeouts.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no region is configured (requests are signed
    /// for a region, even with a custom endpoint); [`Error::Endpoint`] when
    /// the endpoint cannot be resolved (e.g. FIPS with a custom endpoint).
    pub fn into_client_config(self) -> Result<ClientConfig, Error> {
        let region = self.region.ok_or_else(|| {
            Error::Config(format!(
                "no region configured: set it in code, AWS_REGION, AWS_DEFAULT_REGION or `region` in profile `{}`",
                self.profile
            ))
        })?;
        let endpoint = endpoint::resolve(&EndpointParams {
            region: Some(region.clone()),
            use_fips: self.use_fips,
            use_dual_stack: self.use_dual_stack,
            endpoint: self.endpoint_url,
        })?;
        let mut config = ClientConfig::new(region, endpoint);
        let mut retry = RetryConfig::default();
        if let Some(n) = self.max_attempts {
            retry = retry.with_max_attempts(n);
        }
        if let Some(m) = self.retry_mode {
            retry = retry.with_mode(m);
        }
        config.retry = retry;
        config.user_agent_suffix = suffix_with_app_id(self.app_id.as_deref(), None);
        Ok(config)
    }
}

/// The endpoint configured for a service outside code (the AWS SDKs'
/// "service-specific endpoints"): `AWS_ENDPOINT_URL_<env_suffix>`,
/// `AWS_ENDPOINT_URL`, the profile's `services` section
/// `<service_key> = endpoint_url = ..`, the profile's `endpoint_url`; none
/// when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` / the profile's
/// `ignore_configured_endpoint_urls` is true.
pub(crate) fn configured_endpoint(
    env: &Environment,
    set: Option<&ProfileSet>,
    profile: Option<&Profile>,
    env_suffix: &str,
    service_key: &str,
) -> Result<Option<String>, String> {
    let ignore = match env.get_bool("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")? {
        Some(b) => b,
        None => match profile.and_then(|p| p.get("ignore_configured_endpoint_urls")) {
            Some(v) => parse_bool("ignore_configured_endpoint_urls", v)?,
            None => false,
        },
    };
    if ignore {
        return Ok(None);
    }
    if let Some(u) = env
        .get(&format!("AWS_ENDPOINT_URL_{env_suffix}"))
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
    {
        return Ok(Some(u.to_string()));
    }
    let Some(profile) = profile else {
        return Ok(None);
    };
    if let Some(set) = set {
        if let Some(u) = set.service_setting(profile, service_key, "endpoint_url")? {
            return Ok(Some(u));
        }
    }
    Ok(profile.get("endpoint_url").map(str::to_string))
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
