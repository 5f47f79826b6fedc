//! Region, endpoint, retry settings and credentials found where the AWS CLI
//! finds them, with `--region`, `--profile` and `--endpoint-url` on top.
//!
//! The blocking client's builder reads the environment (`with_env`) but not
//! yet the shared config files, so this module drives the core's sans-IO
//! machinery itself:
//!
//! * [`ConfigLoader`] resolves region, endpoint (`AWS_ENDPOINT_URL*`, the
//!   profile's `services` section and `endpoint_url`), FIPS, dual-stack,
//!   `max_attempts` and `retry_mode` from flags, environment and profile;
//! * [`CredentialsChain`] finds credentials the AWS CLI's way (environment,
//!   web identity, profile with `source_profile`/`role_arn`,
//!   `credential_process`, container, IMDSv2); this module performs the
//!   file reads, HTTP requests and processes it asks for, and a
//!   [`CredentialsCache`] refreshes temporary credentials before they
//!   expire.
//!
//! Everything is then handed to the client builder explicitly.
//!
//! TODO(config): once `ClientBuilder` offers `profile(..)` and uses the
//! chain itself, this module shrinks to
//! `Client::builder().with_env().profile(p).region(r).endpoint_url(u)`.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use personalize_events_blocking::{Client, Credentials, Error, RetryConfig};
use personalize_events_core::config::{
    CacheLookup, ChainStep, ConfigLoader, ConfigOverrides, CredentialsCache, CredentialsChain,
    Environment, FileError, ProcessOutput,
};
use personalize_events_core::TransportErrorKind;

/// What the command line says about where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
    /// `--max-attempts`.
    pub max_attempts: Option<u32>,
}

/// The environment as the core wants it (variables that are not UTF-8 are
/// left out rather than panicking).
pub fn environment() -> Environment {
    Environment::from_vars(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )
}

/// A client configured from flags, environment and profile. Credentials
/// are resolved once here, so that a missing or broken source is reported
/// before any input is read.
pub fn client(opts: &AwsOptions, user_agent: &str) -> Result<Client, Error> {
    let env = environment();
    let files: HashMap<PathBuf, Result<Vec<u8>, FileError>> = ConfigLoader::files_needed(&env)
        .into_iter()
        .map(|p| {
            let r = std::fs::read(&p).map_err(FileError::from);
            (p, r)
        })
        .collect();
    let mut overrides = ConfigOverrides::default();
    if let Some(p) = &opts.profile {
        overrides = overrides.with_profile(p);
    }
    if let Some(r) = &opts.region {
        overrides = overrides.with_region(r);
    }
    if let Some(u) = &opts.endpoint_url {
        overrides = overrides.with_endpoint_url(u);
    }
    if let Some(n) = opts.max_attempts {
        overrides = overrides.with_max_attempts(n);
    }
    let resolved = ConfigLoader::resolve(&env, &files, &overrides)?;
    let region = resolved.region.clone().ok_or_else(|| {
        Error::Config(format!(
            "no region: give --region, set AWS_REGION, or set `region` in profile `{}`",
            resolved.profile
        ))
    })?;
    let mut retry = RetryConfig::default();
    if let Some(n) = resolved.max_attempts {
        retry = retry.with_max_attempts(n);
    }
    if let Some(m) = resolved.retry_mode {
        retry = retry.with_mode(m);
    }

    let provider = ChainProvider {
        env,
        profile: opts.profile.clone(),
        region: Some(region.clone()),
        cache: CredentialsCache::new(),
    };
    provider.get()?;

    let mut builder = Client::builder()
        .region(region)
        .use_fips(resolved.use_fips)
        .use_dual_stack(resolved.use_dual_stack)
        .retry_config(retry)
        .user_agent_suffix(user_agent)
        .credentials_provider(move || provider.get());
    if let Some(u) = resolved.endpoint_url {
        builder = builder.endpoint_url(u);
    }
    builder.build()
}

/// Credentials from the default chain, cached and refreshed before expiry.
struct ChainProvider {
    env: Environment,
    profile: Option<String>,
    region: Option<String>,
    cache: CredentialsCache,
}

impl ChainProvider {
    fn get(&self) -> Result<Credentials, Error> {
        let give_up = Instant::now() + Duration::from_secs(120);
        loop {
            match self.cache.get(SystemTime::now()) {
                CacheLookup::Ready(c) => return Ok(c),
                CacheLookup::Refresh(ticket) => {
                    let result = self.resolve();
                    return ticket.complete(result, SystemTime::now());
                }
                CacheLookup::Wait if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                CacheLookup::Wait => {
                    return Err(Error::Credentials {
                        source_name: "default chain".into(),
                        message: "timed out waiting for another thread's refresh".into(),
                    })
                }
            }
        }
    }

    /// Runs the chain to its end, doing the IO it asks for.
    fn resolve(&self) -> Result<Credentials, Error> {
        let mut chain = CredentialsChain::new(&self.env, self.profile.as_deref())
            .with_region(self.region.as_deref());
        loop {
            match chain.poll(SystemTime::now()) {
                ChainStep::ReadFile(p) => {
                    let r = std::fs::read(&p).map_err(FileError::from);
                    chain.handle_file(&p, r);
                }
                ChainStep::Http { request, timeout } => chain.handle_http(http(request, timeout)),
                ChainStep::RunProcess { command, timeout } => {
                    chain.handle_process(run_process(&command, timeout))
                }
                ChainStep::Done(result) => return result,
            }
        }
    }
}

/// One HTTP exchange of the chain (STS, container, instance metadata).
fn http(
    request: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, Error> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let transport = |kind, e: &dyn std::fmt::Display| Error::transport(kind, e.to_string());
    let response = agent.run(request).map_err(|e| {
        let kind = match &e {
            ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                TransportErrorKind::Connect
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                TransportErrorKind::Connect
            }
            ureq::Error::Io(_) => TransportErrorKind::Io,
            _ => TransportErrorKind::Other,
        };
        transport(kind, &e)
    })?;
    let (parts, body) = response.into_parts();
    let mut bytes = Vec::new();
    body.into_reader()
        .take(1 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| transport(TransportErrorKind::Io, &e))?;
    Ok(http::Response::from_parts(parts, bytes))
}

/// Runs a `credential_process` through the shell, killed past `timeout`.
fn run_process(command: &str, timeout: Duration) -> Result<ProcessOutput, Error> {
    let mut cmd = if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command);
        c
    };
    let mut child = cmd
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::transport(TransportErrorKind::Other, e.to_string()))?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.by_ref().take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::transport(
                    TransportErrorKind::Timeout,
                    format!("credential_process ran longer than {timeout:?}"),
                ));
            }
            Err(e) => return Err(Error::transport(TransportErrorKind::Other, e.to_string())),
        }
    };
    Ok(ProcessOutput {
        status: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_output_and_timeout() {
        if cfg!(windows) {
            return;
        }
        let out = run_process("echo hi; echo oops >&2; exit 3", Duration::from_secs(10)).unwrap();
        assert_eq!(out.status, Some(3));
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"oops\n");
        let started = Instant::now();
        let e = run_process("sleep 5", Duration::from_millis(100)).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
