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

mod container;
mod env;
mod imds;
mod job;
mod process;
mod profile;
mod sts;

use container::container_base;
use env::{env_credentials, static_from_profile};
use imds::imds_base;
pub(crate) use job::build_request;
use job::{
    http_step, read_token, status_summary, Base, ContainerAuth, Job, JobPoll, JobState, Sts,
};
use sts::Role;

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
                step.trace();
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
}

#[cfg(test)]
mod tests;
