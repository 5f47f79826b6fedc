//! Credentials and configuration found where the AWS CLI and SDKs find them,
//! for the Amazon Personalize Events clients (`personalize-events-hyper`,
//! `personalize-events-blocking`), split out of the protocol core.
//!
//! Everything here is sans-IO: the environment comes in as an
//! [`Environment`] snapshot, file contents, HTTP responses and process output
//! come in as bytes, and time as an argument. A transport performs the IO the
//! state machines ask for. The one piece of that IO both transports do the
//! same blocking way is here too, apart from the state machines:
//! [`run_process`], which runs a `credential_process` with `std::process`.
//!
//! * [`CredentialsChain`] — the default credentials chain (environment, web
//!   identity, shared files with `credential_process`, assume-role chains
//!   and IAM Identity Center (SSO) profiles, ECS/EKS container credentials, EC2 IMDSv2), one
//!   [`ChainStep`] at a time.
//! * [`CredentialsCache`] — the current credentials, when to refresh them,
//!   and a [`RefreshTicket`] so that concurrent callers refresh only once.
//! * [`ConfigLoader`] / [`ResolvedConfig`] — region, endpoint, FIPS,
//!   dual-stack, `max_attempts` and `retry_mode` from code, environment and
//!   profile, turned into a core `ClientConfig`; the application id of
//!   the `User-Agent` likewise ([`APP_ID_ENV`]).
//! * [`profile`] — the parser of `~/.aws/config` and `~/.aws/credentials`.
//! * [`ClientSettings`] / [`ChainSettings`] — what a transport's
//!   `ClientBuilder` and `DefaultCredentialsChain` collect, resolved here so
//!   that each transport only reads files and drives the chain's IO.
//! * [`ProxySettings`] / [`TrustSettings`] — the proxies and the TLS trust
//!   both clients and the chain's own requests use.
//! * [`failure`] — the one table that turns both transports' IO and TLS
//!   failures into a core `TransportErrorKind` (retried or not).
//! * [`call_span!`] / [`attempt_span!`] — the tracing spans both clients
//!   open, with [`record_call`] and [`record_attempt`].
//!
//! # Driving the chain
//!
//! A transport loops over the chain's steps, doing the IO each one asks for;
//! keys in the environment need none:
//!
//! ```
//! use std::time::SystemTime;
//! use personalize_events_credentials::{ChainStep, CredentialsChain, Environment, FileError};
//!
//! let env = Environment::from_vars([
//!     ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
//!     ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//! ]);
//! let mut chain = CredentialsChain::new(&env, None);
//! let credentials = loop {
//!     match chain.poll(SystemTime::now()) {
//!         ChainStep::ReadFile(p) => {
//!             let r = std::fs::read(&p).map_err(FileError::from);
//!             chain.handle_file(&p, r)
//!         }
//!         ChainStep::Http { .. } => unreachable!("keys in the environment need no HTTP"),
//!         ChainStep::RunProcess { .. } => unreachable!("nor a process"),
//!         ChainStep::WriteFile { .. } => unreachable!("nor a write"),
//!         ChainStep::Done(result) => break result?,
//!     }
//! };
//! assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
//! # Ok::<(), personalize_events_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

mod builder;
mod cache;
mod chain;
mod chain_settings;
mod driver;
pub mod failure;
mod network;
mod process_run;
pub mod profile;
mod resolve;
mod rfc3339;
mod settings;
mod spans;
mod sso;
mod ua;
mod wire;

/// Core, for the paths [`client_builder_setters!`] expands to.
#[doc(hidden)]
pub use personalize_events_core as __core;

pub use cache::{
    CacheLookup, CredentialsCache, RefreshOutcome, RefreshTicket, REFRESH_MARGIN,
    RETRY_AFTER_FAILURE,
};
pub use chain::{ChainStep, ChainTimeouts, CredentialsChain, ProcessOutput};
pub use chain_settings::{
    chain_steps_exhausted, refresh_wait_expired, ChainSettings, PreparedChain, MAX_CHAIN_STEPS,
};
pub use driver::{log_resolved, ChainClients};
pub use network::{
    display_url, is_local_endpoint, load_trust_roots, parse_ca_bundle, ProxySettings, TrustRoots,
    TrustSettings,
};
pub use process_run::run_process;
pub use resolve::{ConfigLoader, ConfigOverrides, ResolvedConfig, SERVICE_ENV_SUFFIX, SERVICE_KEY};
pub use settings::{BuildMessages, BuiltClient, ClientSettings, ConfigFiles, CredentialsSource};
pub use spans::{record_attempt, record_call};
pub use sso::sso_cache_file;
pub use ua::{app_id_token, APP_ID_ENV, APP_ID_MAX_LEN, APP_ID_PROFILE_KEY};
pub use wire::{
    parse_container_credentials, parse_credential_process_output, parse_imds_credentials,
    parse_sts_credentials,
};

/// The largest answer a transport reads for the chain: from a credentials
/// endpoint, STS, the SSO portal, or a `credential_process`'s output (64 KiB).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A snapshot of the process environment: variables and the home directory.
///
/// The transport builds it once with
/// `Environment::from_vars(std::env::vars())`; tests build it from a list.
/// `Debug` shows variable names only, never values (they hold secrets).
/// Clones share the variables (a client's settings, its chain and each
/// chain run hold the same snapshot).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: std::sync::Arc<HashMap<String, String>>,
    home: Option<PathBuf>,
}

impl Environment {
    /// A snapshot of `vars`. The home directory is taken from `HOME`, else
    /// `USERPROFILE`, else `HOMEDRIVE` + `HOMEPATH` (as the AWS SDKs do).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let nonempty = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let home = nonempty("HOME")
            .or_else(|| nonempty("USERPROFILE"))
            .or_else(|| {
                Some(format!(
                    "{}{}",
                    nonempty("HOMEDRIVE")?,
                    nonempty("HOMEPATH")?
                ))
            })
            .map(PathBuf::from);
        Environment {
            vars: std::sync::Arc::new(vars),
            home,
        }
    }

    /// A snapshot of variables as `std::env::vars_os()` gives them; those
    /// whose name or value is not UTF-8 are left out.
    pub fn from_os_vars<I>(vars: I) -> Self
    where
        I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
    {
        // Collected first, so that the map is made at its size at once.
        let utf8: Vec<(String, String)> = (vars.into_iter())
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Environment::from_vars(utf8)
    }

    /// The same snapshot with another home directory (`None`: no home, so no
    /// default `~/.aws` files).
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    /// The value of `name`, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The home directory, if known.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// `path` with a leading `~` replaced by the home directory.
    pub fn expand_home(&self, path: &str) -> PathBuf {
        let rest = if path == "~" {
            Some("")
        } else {
            path.strip_prefix("~/").or_else(|| path.strip_prefix("~\\"))
        };
        match (rest, &self.home) {
            (Some(""), Some(home)) => home.clone(),
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        }
    }

    /// The shared config file: `AWS_CONFIG_FILE`, else `~/.aws/config`.
    pub fn config_file(&self) -> Option<PathBuf> {
        match self.get("AWS_CONFIG_FILE") {
            Some(p) => Some(self.expand_home(p)),
            None => self.home.as_ref().map(|h| h.join(".aws").join("config")),
        }
    }

    /// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`.
    pub fn credentials_file(&self) -> Option<PathBuf> {
        match self.get("AWS_SHARED_CREDENTIALS_FILE") {
            Some(p) => Some(self.expand_home(p)),
            None => self
                .home
                .as_ref()
                .map(|h| h.join(".aws").join("credentials")),
        }
    }

    /// The profile to use: `profile_override` (from code), else
    /// `AWS_PROFILE`, else `default`; and whether it was chosen explicitly.
    pub fn profile_name(&self, profile_override: Option<&str>) -> (String, bool) {
        match profile_override
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .or_else(|| self.get("AWS_PROFILE"))
        {
            Some(p) => (p.to_string(), true),
            None => ("default".to_string(), false),
        }
    }

    /// A boolean variable: `true`/`false` in any case.
    pub(crate) fn get_bool(&self, name: &str) -> Result<Option<bool>, String> {
        self.get(name).map(|v| parse_bool(name, v)).transpose()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Environment")
            .field("vars", &names)
            .field("home", &self.home)
            .finish()
    }
}

pub(crate) fn parse_bool(what: &str, v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("{what}: `{}` is not true or false", shorten(v, 40)))
    }
}

/// Why a file could not be read, as the transport reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The kind of failure; `NotFound` means the file does not exist.
    pub kind: std::io::ErrorKind,
    /// A description.
    pub message: String,
}

impl FileError {
    /// A missing file.
    pub fn not_found() -> Self {
        FileError {
            kind: std::io::ErrorKind::NotFound,
            message: "file not found".into(),
        }
    }

    /// Whether the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == std::io::ErrorKind::NotFound
    }
}

impl From<std::io::Error> for FileError {
    fn from(e: std::io::Error) -> Self {
        FileError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// At most `max` characters of `s`, with `…` when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `message` with every occurrence of a secret replaced.
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if m.contains(s.as_str()) {
            m = m.replace(s.as_str(), "** redacted **");
        }
    }
    m
}

pub(crate) fn cred_err(
    source_name: impl Into<String>,
    message: impl Into<String>,
) -> personalize_events_core::Error {
    personalize_events_core::Error::Credentials {
        source_name: source_name.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn config_env_home_and_files() {
        let e = env(&[("HOME", "/h"), ("AWS_PROFILE", " dev ")]);
        assert_eq!(e.home(), Some(Path::new("/h")));
        assert_eq!(e.config_file().unwrap(), PathBuf::from("/h/.aws/config"));
        assert_eq!(
            e.credentials_file().unwrap(),
            PathBuf::from("/h/.aws/credentials")
        );
        assert_eq!(e.profile_name(None), ("dev".into(), true));
        assert_eq!(e.profile_name(Some("x")), ("x".into(), true));
        let e = env(&[
            ("USERPROFILE", "C:\\Users\\a"),
            ("AWS_CONFIG_FILE", "~/cfg"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/abs/creds"),
            ("AWS_PROFILE", ""),
        ]);
        assert_eq!(e.home(), Some(Path::new("C:\\Users\\a")));
        assert_eq!(
            e.config_file().unwrap(),
            Path::new("C:\\Users\\a").join("cfg")
        );
        assert_eq!(e.credentials_file().unwrap(), PathBuf::from("/abs/creds"));
        assert_eq!(e.profile_name(None), ("default".into(), false));
        let e = env(&[("HOMEDRIVE", "D:"), ("HOMEPATH", "\\u")]);
        assert_eq!(e.home(), Some(Path::new("D:\\u")));
        assert_eq!(env(&[]).config_file(), None);
        assert_eq!(env(&[("HOME", "/h")]).expand_home("~"), PathBuf::from("/h"));
        assert_eq!(env(&[]).expand_home("~/x"), PathBuf::from("~/x"));
    }

    #[test]
    fn config_env_debug_hides_values() {
        let e = env(&[("AWS_SECRET_ACCESS_KEY", "topsecretvalue")]);
        let d = format!("{e:?}");
        assert!(d.contains("AWS_SECRET_ACCESS_KEY"), "{d}");
        assert!(!d.contains("topsecretvalue"), "{d}");
    }

    #[test]
    fn config_bools_and_scrub() {
        let e = env(&[("A", "TRUE"), ("B", "false"), ("C", "yes")]);
        assert_eq!(e.get_bool("A"), Ok(Some(true)));
        assert_eq!(e.get_bool("B"), Ok(Some(false)));
        assert_eq!(e.get_bool("D"), Ok(None));
        assert!(e.get_bool("C").unwrap_err().contains("`yes`"));
        assert_eq!(
            scrub(
                "token abcdef leaked abcdef",
                &["abcdef".into(), "ab".into()]
            ),
            "token ** redacted ** leaked ** redacted **"
        );
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
