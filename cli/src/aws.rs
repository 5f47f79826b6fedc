//! Region, endpoint, retry settings and credentials found where the AWS CLI
//! finds them, with `--region`, `--profile`, `--endpoint-url`,
//! `--ca-bundle` and `--max-attempts` on top.
//!
//! All of it is the blocking client's builder: `with_env()` reads the
//! environment and the shared config files, and its default credentials
//! chain (environment, web identity, profile with `source_profile`/
//! `role_arn`, `credential_process`, container, IMDSv2) does the IO and
//! caches and refreshes temporary credentials. This module only passes the
//! flags on, and resolves the credentials once, up front.

use personalize_events_blocking::{Client, ClientBuilder, Error};

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
    /// `--ca-bundle`.
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// A client configured from flags, environment and profile. Credentials
/// are resolved once here, so that a missing or broken source is reported
/// before any input is read.
pub fn client(opts: &AwsOptions, user_agent: &str) -> Result<Client, Error> {
    let builder = || -> ClientBuilder {
        let mut b = Client::builder().with_env().user_agent_suffix(user_agent);
        if let Some(p) = &opts.profile {
            b = b.profile(p);
        }
        if let Some(r) = &opts.region {
            b = b.region(r);
        }
        if let Some(u) = &opts.endpoint_url {
            b = b.endpoint_url(u);
        }
        if let Some(f) = &opts.ca_bundle {
            b = b.ca_bundle(f);
        }
        b
    };
    let mut client = builder().build().map_err(cli_wording)?;
    if let Some(n) = opts.max_attempts {
        // `retry_config` replaces the whole retry configuration: start from
        // the one resolved from environment and profile, so that
        // `AWS_RETRY_MODE` / `retry_mode` still apply with `--max-attempts`.
        let retry = client.core().config().retry.clone().with_max_attempts(n);
        client = builder().retry_config(retry).build().map_err(cli_wording)?;
    }
    client.resolve_credentials()?;
    Ok(client)
}

/// The builder's "no region" message names its own method; a user of the
/// command line has the flag.
fn cli_wording(e: Error) -> Error {
    match e {
        Error::Config(m) if m.starts_with("no region") => {
            Error::Config(m.replace("ClientBuilder::region", "--region"))
        }
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_region_names_the_flag() {
        let e = cli_wording(Error::Config(
            "no region: set one with ClientBuilder::region, AWS_REGION, AWS_DEFAULT_REGION \
             or `region` in profile `default`"
                .into(),
        ));
        let m = e.to_string();
        assert!(
            m.contains("--region") && !m.contains("ClientBuilder"),
            "{m}"
        );
        let e = cli_wording(Error::Config("timeouts must be above zero".into()));
        assert!(e.to_string().contains("above zero"), "{e}");
    }
}
