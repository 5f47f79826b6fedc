//! The default credentials chain as a sans-IO state machine.
//!
//! Sources, in order (the AWS SDKs' default chain):
//!
//! 1. **environment**: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`;
//! 2. **web identity** (EKS IRSA): `AWS_WEB_IDENTITY_TOKEN_FILE`,
//!    `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`, exchanged with STS
//!    `AssumeRoleWithWebIdentity`;
//! 3. **profile** (`AWS_PROFILE` or `default`) of the shared files:
//!    `role_arn` with `web_identity_token_file`, `source_profile` (chains of
//!    STS `AssumeRole`, signed) or `credential_source` (`Environment`,
//!    `Ec2InstanceMetadata`, `EcsContainer`); then IAM Identity Center (SSO:
//!    `sso_session` or legacy `sso_start_url`, see `sso.rs`); then static
//!    keys; then `credential_process`;
//! 4. **container** (ECS, EKS Pod Identity):
//!    `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI` with
//!    `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`;
//! 5. **IMDSv2** (EC2): token, role name, role credentials.
//!
//! A source that is not configured is skipped; a configured source that
//! fails ends the chain with its error, except that an unreachable container
//! endpoint or instance metadata service moves on, and the chain ends with
//! "no credentials found" listing what was tried. When the profile is chosen
//! in code (`profile_override`), the environment and web identity variables
//! are skipped, as boto3's `Session(profile_name=...)` and the CLI's
//! `--profile` do.
//!
//! Errors name the source, and no error, `Debug` output or step ever shows a
//! secret key, session token or token file content.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Response, StatusCode};

use crate::profile::{Profile, ProfileSet};
use crate::sso::{SsoPoll, SsoSource};
use crate::wire::{self, form_encode, parse_sts_error, STS_VERSION};
use crate::{cred_err, scrub, shorten, Environment, FileError};
use personalize_events_core::{Credentials, Error, TransportErrorKind};

const ECS_HOST: &str = "http://169.254.170.2";
const IMDS_V4: &str = "http://169.254.169.254";
const IMDS_V6: &str = "http://[fd00:ec2::254]";
const IMDS_TOKEN_TTL: &str = "21600";
const SRC_ENV: &str = "environment";
const SRC_WEB_ID: &str = "web identity (environment)";
const SRC_FILES: &str = "shared config files";
const SRC_CONTAINER: &str = "container credentials";
const SRC_IMDS: &str = "IMDSv2";

/// Regions whose STS calls go to the global endpoint when
/// `sts_regional_endpoints = legacy`.
const STS_LEGACY_GLOBAL: &[&str] = &[
    "ap-northeast-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "aws-global",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// How long the transport may spend on each kind of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainTimeouts {
    /// Each instance metadata request (default 1 s, so that the chain gives
    /// up quickly off EC2).
    pub imds: Duration,
    /// The container credentials request (default 5 s).
    pub container: Duration,
    /// Each STS request (default 10 s).
    pub sts: Duration,
    /// A `credential_process`, from start to exit (default 60 s); the
    /// transport kills it when the time is up.
    pub process: Duration,
}

impl Default for ChainTimeouts {
    fn default() -> Self {
        ChainTimeouts {
            imds: Duration::from_secs(1),
            container: Duration::from_secs(5),
            sts: Duration::from_secs(10),
            process: Duration::from_secs(60),
        }
    }
}

impl ChainTimeouts {
    /// Sets the IMDS timeout.
    pub fn with_imds(mut self, d: Duration) -> Self {
        self.imds = d;
        self
    }
    /// Sets the container endpoint timeout.
    pub fn with_container(mut self, d: Duration) -> Self {
        self.container = d;
        self
    }
    /// Sets the STS timeout.
    pub fn with_sts(mut self, d: Duration) -> Self {
        self.sts = d;
        self
    }
    /// Sets the `credential_process` timeout.
    pub fn with_process(mut self, d: Duration) -> Self {
        self.process = d;
        self
    }
}

/// What the transport must do next for a [`CredentialsChain`].
pub enum ChainStep {
    /// Read this file whole and report it with
    /// [`CredentialsChain::handle_file`] (a missing file is
    /// `Err(FileError)` with kind `NotFound`, not a failure of the transport).
    ReadFile(PathBuf),
    /// Send this request (absolute URI, `Host` set) and report the response,
    /// whatever its status, or the transport error with
    /// [`CredentialsChain::handle_http`]. `timeout` bounds the whole exchange.
    Http {
        /// The request.
        request: Request<Vec<u8>>,
        /// Connect, send and receive, all included.
        timeout: Duration,
    },
    /// Run `command` through the shell (`sh -c` on Unix, `cmd /C` on
    /// Windows), stdin inherited, stdout and stderr captured, and report it
    /// with [`CredentialsChain::handle_process`]. Past `timeout`, kill it
    /// and report `Error::transport(TransportErrorKind::Timeout, ..)`.
    RunProcess {
        /// The command line, as written in the profile.
        command: String,
        /// How long it may run.
        timeout: Duration,
    },
    /// Write `contents` to this file, replacing it (the SSO token cache,
    /// after a refresh), and report it with
    /// [`CredentialsChain::handle_write`]. A failed write is not fatal.
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Its new contents (they hold tokens: never log them).
        contents: Vec<u8>,
    },
    /// The chain is over.
    Done(Result<Credentials, Error>),
}

impl fmt::Debug for ChainStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainStep::ReadFile(p) => f.debug_tuple("ReadFile").field(p).finish(),
            ChainStep::Http { request, timeout } => f
                .debug_struct("Http")
                .field("method", request.method())
                .field("uri", request.uri())
                // Names only: Authorization and token headers are secrets.
                .field(
                    "headers",
                    &request
                        .headers()
                        .keys()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>(),
                )
                .field("body_len", &request.body().len())
                .field("timeout", timeout)
                .finish(),
            ChainStep::RunProcess { command, timeout } => f
                .debug_struct("RunProcess")
                .field("command", command)
                .field("timeout", timeout)
                .finish(),
            ChainStep::WriteFile { path, contents } => f
                .debug_struct("WriteFile")
                .field("path", path)
                .field("len", &contents.len())
                .finish(),
            ChainStep::Done(r) => f.debug_tuple("Done").field(r).finish(),
        }
    }
}

/// What a `credential_process` did.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProcessOutput {
    /// The exit code; `None` when killed by a signal.
    pub status: Option<i32>,
    /// What it printed on stdout (the credentials JSON).
    pub stdout: Vec<u8>,
    /// What it printed on stderr.
    pub stderr: Vec<u8>,
}

impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("status", &self.status)
            .field("stdout_len", &self.stdout.len())
            .field("stderr_len", &self.stderr.len())
            .finish()
    }
}

/// The default credentials chain, one step at a time.
///
/// Create one per resolution (it reads the files again, so edits to
/// `~/.aws/credentials` are seen at the next refresh), then loop: `poll`,
/// perform the step, report its result with the matching `handle_*`, until
/// [`ChainStep::Done`]. Reporting a result the chain did not ask for, or
/// polling before reporting, ends the chain with an [`Error::Config`].
pub struct CredentialsChain {
    env: Environment,
    profile: String,
    profile_explicit: bool,
    profile_from_code: bool,
    region: Option<String>,
    timeouts: ChainTimeouts,
    stage: Stage,
    files: Vec<FileSlot>,
    profiles: Option<Result<ProfileSet, Error>>,
    job: Option<Job>,
    tried: Vec<String>,
    secrets: Vec<String>,
    awaiting: Awaiting,
    input: Option<Input>,
    result: Option<Result<Credentials, Error>>,
}

impl fmt::Debug for CredentialsChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsChain")
            .field("profile", &self.profile)
            .field("stage", &self.stage)
            .field("source", &self.job.as_ref().map(|j| &j.source))
            .field("awaiting", &self.awaiting)
            .field("tried", &self.tried)
            .finish()
    }
}

/// A file to read and, once read, what reading it gave.
type FileSlot = (PathBuf, Option<Result<Vec<u8>, FileError>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Env,
    Files,
    WebIdentity,
    Profile,
    Container,
    Imds,
    Exhausted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    File(PathBuf),
    Write(PathBuf),
    Http,
    Process,
}

pub(super) enum Input {
    File(PathBuf, Result<Vec<u8>, FileError>),
    /// A file was written, or not: the SSO cache is best effort.
    Written,
    Http(Result<Response<Vec<u8>>, Error>),
    Process(Result<ProcessOutput, Error>),
}

impl CredentialsChain {
    /// A chain over the environment snapshot `env`, for the profile
    /// `profile_override` (from code) or else `AWS_PROFILE` or `default`.
    pub fn new(env: &Environment, profile_override: Option<&str>) -> Self {
        let (profile, profile_explicit) = env.profile_name(profile_override);
        let files = [env.config_file(), env.credentials_file()]
            .into_iter()
            .flatten()
            .map(|p| (p, None))
            .collect();
        CredentialsChain {
            env: env.clone(),
            profile,
            profile_explicit,
            profile_from_code: profile_override.is_some_and(|p| !p.trim().is_empty()),
            region: None,
            timeouts: ChainTimeouts::default(),
            stage: Stage::Env,
            files,
            profiles: None,
            job: None,
            tried: Vec::new(),
            secrets: Vec::new(),
            awaiting: Awaiting::Nothing,
            input: None,
            result: None,
        }
    }

    /// The region for STS calls when set in code (else `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, the profile's `region`, or the global endpoint).
    pub fn with_region(mut self, region: Option<&str>) -> Self {
        self.region = region.map(str::to_string).filter(|r| !r.is_empty());
        self
    }

    /// Other timeouts than [`ChainTimeouts::default`].
    pub fn with_timeouts(mut self, timeouts: ChainTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The profile this chain reads.
    pub fn profile_name(&self) -> &str {
        &self.profile
    }

    /// The sources tried and passed over so far, with the reason.
    pub fn tried(&self) -> &[String] {
        &self.tried
    }

    /// What to do next. `now` is the wall clock (session names, expiry checks
    /// and STS request signing use it).
    pub fn poll(&mut self, now: SystemTime) -> ChainStep {
        if let Some(r) = &self.result {
            return ChainStep::Done(r.clone());
        }
        let next = if self.awaiting != Awaiting::Nothing {
            Err(Error::Config(format!(
                "credentials chain: polled before the result of the previous step ({:?}) was reported",
                self.awaiting
            )))
        } else {
            self.advance(now)
        };
        match next {
            Ok(step) => {
                self.awaiting = match &step {
                    ChainStep::ReadFile(p) => Awaiting::File(p.clone()),
                    ChainStep::Http { .. } => Awaiting::Http,
                    ChainStep::RunProcess { .. } => Awaiting::Process,
                    ChainStep::WriteFile { path, .. } => Awaiting::Write(path.clone()),
                    ChainStep::Done(_) => Awaiting::Nothing,
                };
                step
            }
            Err(e) => self.finish(Err(e)),
        }
    }

    /// Reports the result of [`ChainStep::ReadFile`].
    pub fn handle_file(&mut self, path: &Path, result: Result<Vec<u8>, FileError>) {
        if matches!(&self.awaiting, Awaiting::File(p) if p == path) {
            self.awaiting = Awaiting::Nothing;
            self.input = Some(Input::File(path.to_path_buf(), result));
        } else {
            self.unexpected(&format!("the file {}", path.display()));
        }
    }

    /// Reports the result of [`ChainStep::WriteFile`].
    pub fn handle_write(&mut self, path: &Path, result: Result<(), FileError>) {
        if matches!(&self.awaiting, Awaiting::Write(p) if p == path) {
            self.awaiting = Awaiting::Nothing;
            // A cache that cannot be written costs a refresh next time.
            let _ = result;
            self.input = Some(Input::Written);
        } else {
            self.unexpected(&format!("the write of {}", path.display()));
        }
    }

    /// Reports the result of [`ChainStep::Http`].
    pub fn handle_http(&mut self, result: Result<Response<Vec<u8>>, Error>) {
        if self.awaiting == Awaiting::Http {
            self.awaiting = Awaiting::Nothing;
            self.input = Some(Input::Http(result));
        } else {
            self.unexpected("an HTTP response");
        }
    }

    /// Reports the result of [`ChainStep::RunProcess`].
    pub fn handle_process(&mut self, result: Result<ProcessOutput, Error>) {
        if self.awaiting == Awaiting::Process {
            self.awaiting = Awaiting::Nothing;
            self.input = Some(Input::Process(result));
        } else {
            self.unexpected("a process result");
        }
    }

    fn unexpected(&mut self, what: &str) {
        if self.result.is_none() {
            let msg = format!(
                "credentials chain: got {what} while waiting for {:?}",
                self.awaiting
            );
            self.awaiting = Awaiting::Nothing;
            self.finish(Err(Error::Config(msg)));
        }
    }

    fn finish(&mut self, r: Result<Credentials, Error>) -> ChainStep {
        let r = r.map_err(|e| match e {
            Error::Credentials {
                source_name,
                message,
            } => Error::Credentials {
                source_name,
                message: scrub(&message, &self.secrets),
            },
            Error::Config(m) => Error::Config(scrub(&m, &self.secrets)),
            other => other,
        });
        self.result = Some(r.clone());
        self.awaiting = Awaiting::Nothing;
        ChainStep::Done(r)
    }

    /// Runs the chain until it needs IO or is over.
    fn advance(&mut self, now: SystemTime) -> Result<ChainStep, Error> {
        loop {
            if let Some(job) = self.job.as_mut() {
                match job.poll(self.input.take(), now, &self.timeouts, &mut self.secrets) {
                    JobPoll::Io(step) => return Ok(step),
                    JobPoll::Done(c) => return Ok(self.finish(Ok(c))),
                    JobPoll::Fail(e) => return Err(e),
                    JobPoll::Continue => continue,
                    JobPoll::Skip(reason) => {
                        self.tried.push(format!("{} ({reason})", job.source));
                        self.job = None;
                        continue;
                    }
                }
            }
            match self.stage {
                Stage::Env => {
                    self.stage = Stage::Files;
                    if self.profile_from_code {
                        self.tried
                            .push(format!("{SRC_ENV} (skipped: profile chosen in code)"));
                    } else if let Some(c) = env_credentials(&self.env)? {
                        return Ok(self.finish(Ok(c)));
                    } else {
                        self.tried
                            .push(format!("{SRC_ENV} (AWS_ACCESS_KEY_ID not set)"));
                    }
                }
                Stage::Files => {
                    if let Some(Input::File(path, r)) = self.input.take() {
                        if let Some(slot) = self
                            .files
                            .iter_mut()
                            .find(|(p, r)| r.is_none() && *p == path)
                        {
                            slot.1 = Some(r);
                        }
                    }
                    if let Some((p, _)) = self.files.iter().find(|(_, r)| r.is_none()) {
                        return Ok(ChainStep::ReadFile(p.clone()));
                    }
                    self.profiles = Some(self.parse_files());
                    self.stage = Stage::WebIdentity;
                }
                Stage::WebIdentity => {
                    self.stage = Stage::Profile;
                    self.job = self.web_identity_env_job()?;
                }
                Stage::Profile => {
                    self.stage = Stage::Container;
                    self.job = self.profile_job()?;
                }
                Stage::Container => {
                    self.stage = Stage::Imds;
                    match container_base(&self.env).map_err(|m| cred_err(SRC_CONTAINER, m))? {
                        Some(base) => self.job = Some(Job::new(SRC_CONTAINER, true, base)),
                        None => self.tried.push(format!(
                            "{SRC_CONTAINER} (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set)"
                        )),
                    }
                }
                Stage::Imds => {
                    self.stage = Stage::Exhausted;
                    let profile = self.selected_profile();
                    match imds_base(&self.env, profile).map_err(|m| cred_err(SRC_IMDS, m))? {
                        Some(base) => self.job = Some(Job::new(SRC_IMDS, true, base)),
                        None => self.tried.push(format!(
                            "{SRC_IMDS} (disabled by AWS_EC2_METADATA_DISABLED)"
                        )),
                    }
                }
                Stage::Exhausted => {
                    return Err(cred_err(
                        "default chain",
                        format!("no credentials found; tried: {}", self.tried.join("; ")),
                    ))
                }
            }
        }
    }

    fn parse_files(&self) -> Result<ProfileSet, Error> {
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

    fn files_description(&self) -> String {
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

    fn profile_set(&self) -> Option<&ProfileSet> {
        self.profiles.as_ref().and_then(|r| r.as_ref().ok())
    }

    fn selected_profile(&self) -> Option<&Profile> {
        self.profile_set().and_then(|s| s.profile(&self.profile))
    }

    /// Region for STS: code, `AWS_REGION`, `AWS_DEFAULT_REGION`, profile.
    fn region(&self) -> Option<String> {
        self.region
            .clone()
            .or_else(|| self.env.get("AWS_REGION").map(str::to_string))
            .or_else(|| self.env.get("AWS_DEFAULT_REGION").map(str::to_string))
            .or_else(|| self.selected_profile()?.get("region").map(str::to_string))
    }

    /// Where STS calls go, and the region they are signed for.
    fn sts(&self) -> Result<Sts, String> {
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

    fn web_identity_env_job(&mut self) -> Result<Option<Job>, Error> {
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

    fn profile_job(&mut self) -> Result<Option<Job>, Error> {
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

    fn named_source(&self, name: &str, profile: &Profile) -> Result<Base, String> {
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

fn env_credentials(env: &Environment) -> Result<Option<Credentials>, Error> {
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

fn static_from_profile(p: &Profile) -> Result<Credentials, String> {
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

/// The container credentials endpoint, if configured.
fn container_base(env: &Environment) -> Result<Option<Base>, String> {
    let url = if let Some(rel) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        let sep = if rel.starts_with('/') { "" } else { "/" };
        format!("{ECS_HOST}{sep}{rel}")
    } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        check_full_uri(full)?;
        full.to_string()
    } else {
        return Ok(None);
    };
    http::Uri::try_from(url.as_str())
        .map_err(|_| "the container credentials URI is not a valid URI".to_string())?;
    let auth = if let Some(f) = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        ContainerAuth::File(env.expand_home(f))
    } else if let Some(t) = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
        ContainerAuth::Token(t.to_string())
    } else {
        ContainerAuth::None
    };
    Ok(Some(Base::Container { url, auth }))
}

/// `AWS_CONTAINER_CREDENTIALS_FULL_URI` must be https, or http to a
/// loopback address or one of the ECS / EKS Pod Identity agent addresses.
fn check_full_uri(full: &str) -> Result<(), String> {
    let uri = http::Uri::try_from(full)
        .map_err(|_| "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a valid URI".to_string())?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let allowed = host.eq_ignore_ascii_case("localhost")
                || match bare.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(a)) => {
                        a.is_loopback()
                            || a == std::net::Ipv4Addr::new(169, 254, 170, 2)
                            || a == std::net::Ipv4Addr::new(169, 254, 170, 23)
                    }
                    Ok(std::net::IpAddr::V6(a)) => {
                        a.is_loopback()
                            || a == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)
                    }
                    Err(_) => false,
                };
            if allowed {
                Ok(())
            } else {
                Err(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI host `{}` is not allowed over http \
                     (only loopback, 169.254.170.2, 169.254.170.23, [fd00:ec2::23]; use https)",
                    shorten(host, 60)
                ))
            }
        }
        _ => Err("AWS_CONTAINER_CREDENTIALS_FULL_URI must be an http or https URI".into()),
    }
}

/// The instance metadata endpoint, unless disabled.
fn imds_base(env: &Environment, profile: Option<&Profile>) -> Result<Option<Base>, String> {
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

// ---------------------------------------------------------------------------
// One source's work: a base provider, then zero or more roles to assume.
// ---------------------------------------------------------------------------

struct Sts {
    url: String,
    signing_region: String,
}

enum ContainerAuth {
    None,
    Token(String),
    File(PathBuf),
}

enum Base {
    Static(Credentials),
    Process {
        command: String,
    },
    WebIdentity {
        role_arn: String,
        token_file: PathBuf,
        session_name: Option<String>,
    },
    Container {
        url: String,
        auth: ContainerAuth,
    },
    Imds {
        endpoint: String,
    },
    Sso(Box<SsoSource>),
}

struct Role {
    arn: String,
    profile: String,
    session_name: Option<String>,
    external_id: Option<String>,
    duration_seconds: Option<u32>,
}

impl Role {
    fn from_profile(p: &Profile, arn: &str) -> Result<Role, String> {
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

enum JobState {
    Start,
    Sso,
    WebToken,
    WebSts,
    ContainerToken,
    ContainerGet,
    ImdsToken {
        role: Option<String>,
        refreshed: bool,
    },
    ImdsRole {
        token: String,
        refreshed: bool,
    },
    ImdsCreds {
        role: String,
        refreshed: bool,
    },
    Process,
    Roles(usize),
    AssumeRole(usize),
    Over,
}

enum JobPoll {
    Io(ChainStep),
    Done(Credentials),
    /// Not available here (unreachable endpoint): try the next source.
    Skip(String),
    Fail(Error),
    /// The state changed without IO: run the loop again.
    Continue,
}

struct Job {
    source: String,
    /// Whether an unreachable endpoint moves on to the next source.
    skippable: bool,
    base: Base,
    roles: Vec<Role>,
    sts: Option<Sts>,
    state: JobState,
    current: Option<Credentials>,
}

fn default_session_name(now: SystemTime) -> String {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("personalize-events-rs-{ms}")
}

pub(super) fn build_request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Request<Vec<u8>>, String> {
    let uri = http::Uri::try_from(url)
        .map_err(|_| format!("`{}` is not a valid URL", shorten(url, 80)))?;
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .ok_or_else(|| format!("`{}` has no host", shorten(url, 80)))?;
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .map_err(|e| format!("cannot build request: {e}"))?;
    let h = req.headers_mut();
    h.insert(
        HOST,
        HeaderValue::from_str(&authority).map_err(|_| "bad host".to_string())?,
    );
    h.insert(
        USER_AGENT,
        HeaderValue::from_static(personalize_events_core::USER_AGENT_VALUE),
    );
    for (k, v) in headers {
        let name = http::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("bad header name {k}"))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| format!("the value of header {k} is not a valid header value"))?;
        h.insert(name, value);
    }
    Ok(req)
}

fn sts_request(sts: &Sts, pairs: &[(&str, &str)]) -> Result<Request<Vec<u8>>, String> {
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

fn sts_answer(r: Result<Response<Vec<u8>>, Error>, what: &str) -> Result<Credentials, String> {
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

fn http_step(
    req: Result<Request<Vec<u8>>, String>,
    timeout: Duration,
) -> Result<ChainStep, String> {
    req.map(|request| ChainStep::Http { request, timeout })
}

fn status_summary(resp: &Response<Vec<u8>>) -> String {
    match wire::json_error_summary(resp.body()) {
        Some(s) => format!("HTTP {} ({})", resp.status().as_u16(), shorten(&s, 300)),
        None => format!("HTTP {}", resp.status().as_u16()),
    }
}

fn read_token(r: Result<Vec<u8>, FileError>, what: &str, path: &Path) -> Result<String, String> {
    let bytes = match r {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            return Err(format!("{what} {} does not exist", path.display()))
        }
        Err(e) => return Err(format!("cannot read {what} {}: {e}", path.display())),
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{what} {} is not valid UTF-8", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(token.to_string())
}

impl Job {
    fn new(source: &str, skippable: bool, base: Base) -> Job {
        Job {
            source: source.to_string(),
            skippable,
            base,
            roles: Vec::new(),
            sts: None,
            state: JobState::Start,
            current: None,
        }
    }

    fn fail(&mut self, message: impl Into<String>) -> JobPoll {
        self.state = JobState::Over;
        JobPoll::Fail(cred_err(&self.source, message))
    }

    fn unavailable(&mut self, message: String) -> JobPoll {
        if self.skippable {
            self.state = JobState::Over;
            JobPoll::Skip(message)
        } else {
            self.fail(message)
        }
    }

    fn io(&mut self, next: JobState, step: Result<ChainStep, String>) -> JobPoll {
        match step {
            Ok(step) => {
                self.state = next;
                JobPoll::Io(step)
            }
            Err(m) => self.fail(m),
        }
    }

    fn imds_url(&self, path: &str) -> String {
        match &self.base {
            Base::Imds { endpoint } => format!("{endpoint}{path}"),
            _ => path.to_string(),
        }
    }

    fn imds_token_step(&self, t: &ChainTimeouts) -> Result<ChainStep, String> {
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

    fn imds_get_step(
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

    fn container_step(&self, token: Option<&str>, t: &ChainTimeouts) -> Result<ChainStep, String> {
        let Base::Container { url, .. } = &self.base else {
            return Err("not a container source".into());
        };
        let mut headers = vec![("accept", "application/json")];
        if let Some(tok) = token {
            if tok.contains(['\r', '\n']) {
                return Err("the container authorization token contains a line break".into());
            }
            headers.push((AUTHORIZATION.as_str(), tok));
        }
        http_step(
            build_request(Method::GET, url, &headers, Vec::new()),
            t.container,
        )
    }

    fn got_base(&mut self, c: Credentials) -> JobPoll {
        self.current = Some(c);
        self.state = JobState::Roles(0);
        JobPoll::Continue
    }

    /// Advances this source with `input` (the result of its last step).
    fn poll(
        &mut self,
        input: Option<Input>,
        now: SystemTime,
        t: &ChainTimeouts,
        secrets: &mut Vec<String>,
    ) -> JobPoll {
        let mut input = input;
        loop {
            let state = std::mem::replace(&mut self.state, JobState::Over);
            let outcome = match (state, input.take()) {
                (JobState::Start, None) => match &self.base {
                    Base::Static(c) => {
                        let c = c.clone();
                        self.got_base(c)
                    }
                    Base::Process { command } => {
                        let step = ChainStep::RunProcess {
                            command: command.clone(),
                            timeout: t.process,
                        };
                        self.io(JobState::Process, Ok(step))
                    }
                    Base::WebIdentity { token_file, .. } => {
                        let step = ChainStep::ReadFile(token_file.clone());
                        self.io(JobState::WebToken, Ok(step))
                    }
                    Base::Container { auth, .. } => match auth {
                        ContainerAuth::File(p) => {
                            let step = ChainStep::ReadFile(p.clone());
                            self.io(JobState::ContainerToken, Ok(step))
                        }
                        ContainerAuth::Token(tok) => {
                            secrets.push(tok.clone());
                            let step = self.container_step(Some(tok), t);
                            self.io(JobState::ContainerGet, step)
                        }
                        ContainerAuth::None => {
                            let step = self.container_step(None, t);
                            self.io(JobState::ContainerGet, step)
                        }
                    },
                    Base::Sso(_) => {
                        self.state = JobState::Sso;
                        JobPoll::Continue
                    }
                    Base::Imds { .. } => {
                        let step = self.imds_token_step(t);
                        self.io(
                            JobState::ImdsToken {
                                role: None,
                                refreshed: false,
                            },
                            step,
                        )
                    }
                },

                (JobState::Sso, input) => {
                    let Base::Sso(sso) = &mut self.base else {
                        return self.fail("SSO state without an SSO source");
                    };
                    match sso.poll(input, now, secrets) {
                        SsoPoll::Io(step) => self.io(JobState::Sso, Ok(step)),
                        SsoPoll::Done(c) => self.got_base(c),
                        SsoPoll::Fail(m) => self.fail(m),
                    }
                }
                (JobState::WebToken, Some(Input::File(path, r))) => {
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
                (JobState::WebSts, Some(Input::Http(r))) => {
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

                (JobState::ContainerToken, Some(Input::File(path, r))) => {
                    match read_token(r, "container authorization token file", &path) {
                        Err(m) => self.fail(m),
                        Ok(token) => {
                            secrets.push(token.clone());
                            let step = self.container_step(Some(&token), t);
                            self.io(JobState::ContainerGet, step)
                        }
                    }
                }
                (JobState::ContainerGet, Some(Input::Http(r))) => {
                    let url = match &self.base {
                        Base::Container { url, .. } => url.clone(),
                        _ => String::new(),
                    };
                    match r {
                        Err(e) => self.unavailable(format!("{url} not reachable: {e}")),
                        Ok(resp) if resp.status().is_success() => {
                            match wire::parse_container_credentials(resp.body()) {
                                Ok(c) => self.got_base(c),
                                Err(m) => self.fail(format!("{url}: {m}")),
                            }
                        }
                        Ok(resp) => {
                            let s = status_summary(&resp);
                            self.fail(format!("{url} answered {s}"))
                        }
                    }
                }

                (JobState::ImdsToken { role, refreshed }, Some(Input::Http(r))) => {
                    let ep = self.imds_url("");
                    match r {
                        Err(e) if !refreshed => {
                            self.unavailable(format!("not reachable at {ep}: {e}"))
                        }
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
                (JobState::ImdsRole { token, refreshed }, Some(Input::Http(r))) => match r {
                    Err(e) => self.fail(format!("role name request failed: {e}")),
                    Ok(resp) if resp.status() == StatusCode::OK => {
                        let text = String::from_utf8_lossy(resp.body()).into_owned();
                        let role = text.lines().map(str::trim).find(|l| !l.is_empty());
                        match role {
                            None => {
                                self.unavailable("no IAM role is attached to this instance".into())
                            }
                            Some(role)
                                if !role.chars().all(|c| {
                                    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
                                }) =>
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
                    Ok(resp) if resp.status() == StatusCode::NOT_FOUND => self
                        .unavailable("no IAM role is attached to this instance (HTTP 404)".into()),
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
                    Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => self.fail(
                        "HTTP 401 again with a fresh token: the IMDSv2 token is missing or expired",
                    ),
                    Ok(resp) => self.fail(format!(
                        "role name request answered HTTP {}",
                        resp.status().as_u16()
                    )),
                },
                (JobState::ImdsCreds { role, refreshed }, Some(Input::Http(r))) => match r {
                    Err(e) => {
                        self.fail(format!("credentials request for role `{role}` failed: {e}"))
                    }
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
                    Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => self.fail(
                        "HTTP 401 again with a fresh token: the IMDSv2 token is missing or expired",
                    ),
                    Ok(resp) => self.fail(format!(
                        "credentials request for role `{role}` answered HTTP {}",
                        resp.status().as_u16()
                    )),
                },

                (JobState::Process, Some(Input::Process(r))) => match r {
                    Err(Error::Transport {
                        kind: TransportErrorKind::Timeout,
                        ..
                    }) => self.fail(format!(
                        "credential_process did not finish within {} s and was stopped",
                        t.process.as_secs_f64()
                    )),
                    Err(e) => self.fail(format!("credential_process could not be run: {e}")),
                    Ok(out) if out.status != Some(0) => {
                        let status = match out.status {
                            Some(c) => format!("exit status {c}"),
                            None => "a signal".into(),
                        };
                        let stderr = String::from_utf8_lossy(&out.stderr);
                        let stderr = if stderr.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", shorten(&stderr, 300))
                        };
                        self.fail(format!("credential_process failed with {status}{stderr}"))
                    }
                    Ok(out) => match wire::parse_credential_process_output(&out.stdout) {
                        Ok(c) => self.got_base(c),
                        Err(m) => self.fail(format!("credential_process output: {m}")),
                    },
                },

                (JobState::Roles(i), None) => {
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
                            return self.fail(format!(
                                "{what} expired at {}",
                                personalize_events_core::time::rfc3339(at)
                            ));
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
                (JobState::AssumeRole(i), Some(Input::Http(r))) => {
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
                (_, None) => {
                    return JobPoll::Fail(Error::Config(
                        "credentials chain: a step result is missing".into(),
                    ))
                }
                (_, Some(_)) => {
                    return JobPoll::Fail(Error::Config(
                        "credentials chain: got a result of the wrong kind for this step".into(),
                    ))
                }
            };
            if let JobPoll::Continue = outcome {
                continue;
            }
            return outcome;
        }
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
