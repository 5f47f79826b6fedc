//! The credentials chain and config loader on this machine's own sources,
//! driven for real: shared config and credentials files in a temp home
//! (profile selection, files named by variables, a malformed file named by
//! file and line without its secret), a `credential_process` that is a
//! small `sh` script (succeeding, failing, hanging past its timeout,
//! printing garbage), and the config loader reading real files.
//!
//! No process environment variables are read or set: every test builds its
//! own `Environment` snapshot. Every process is bounded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use personalize_events_credentials::{
    ChainTimeouts, ConfigLoader, ConfigOverrides, CredentialsChain, FileError,
};

mod chain_support;
use chain_support::*;

#[test]
fn shared_files_static_keys_and_profile_selection() {
    let home = TempDir::new("files");
    home.write(
        ".aws/config",
        "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\n",
    );
    home.write(
        ".aws/credentials",
        "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s3cr3t\n\
         [dev]\naws_access_key_id = AKDEV\naws_secret_access_key = s3cr3t\naws_session_token = t0ken\n",
    );
    let c = drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "AKDEFAULT");
    let c = drive(CredentialsChain::new(
        &env(&home, &[("AWS_PROFILE", "dev".into())]),
        None,
    ))
    .unwrap();
    assert_eq!(
        (c.access_key_id(), c.session_token()),
        ("AKDEV", Some("t0ken"))
    );
    // Files elsewhere, named by variables.
    let other = TempDir::new("files-elsewhere");
    let creds = other.write(
        "my-creds",
        "[default]\naws_access_key_id = AKOTHER\naws_secret_access_key = s\n",
    );
    let c = drive(CredentialsChain::new(
        &env(
            &home,
            &[("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string())],
        ),
        None,
    ))
    .unwrap();
    assert_eq!(c.access_key_id(), "AKOTHER");
}

#[test]
fn malformed_profile_file_names_file_and_line() {
    let home = TempDir::new("malformed");
    home.write(
        ".aws/credentials",
        "[default]\naws_secret_access_key s3cr3t\n",
    );
    let (src, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap_err());
    assert_eq!(src, "shared config files");
    assert!(msg.starts_with(&home.path(".aws/credentials")), "{msg}");
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!msg.contains("s3cr3t"), "{msg}");
}

#[cfg(unix)]
#[test]
fn credential_process_real_script() {
    let home = TempDir::new("process");
    let script = home.write(
        "creds.sh",
        &format!(
            "#!/bin/sh\necho 'starting' >&2\nprintf '%s' '{{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \
             \"SecretAccessKey\": \"s3cr3t\", \"SessionToken\": \"t0ken\", \"Expiration\": \"{EXP}\"}}'\n"
        ),
    );
    home.write(
        ".aws/config",
        &format!("[default]\ncredential_process = sh {}\n", script.display()),
    );
    let c = drive(CredentialsChain::new(&env(&home, &[]), None)).unwrap();
    assert_eq!(c.access_key_id(), "AKPROC");
    assert_eq!(c.session_token(), Some("t0ken"));
    assert_eq!(
        c.expires_at(),
        personalize_events_tests::time::parse_rfc3339(EXP)
    );
}

#[cfg(unix)]
#[test]
fn credential_process_failing_and_hanging() {
    let home = TempDir::new("process-fail");
    home.write(
        ".aws/config",
        "[profile fails]\ncredential_process = echo 'token expired, run login' >&2; exit 2\n\
         [profile hangs]\ncredential_process = sleep 30\n\
         [profile garbage]\ncredential_process = echo not-json\n",
    );
    let e = drive(CredentialsChain::new(&env(&home, &[]), Some("fails"))).unwrap_err();
    let (src, msg) = cred_message(e);
    assert_eq!(src, "profile `fails`");
    assert_eq!(
        msg,
        "credential_process failed with exit status 2: token expired, run login"
    );

    let chain = CredentialsChain::new(&env(&home, &[]), Some("hangs"))
        .with_timeouts(ChainTimeouts::default().with_process(Duration::from_millis(300)));
    let (_, msg) = cred_message(drive(chain).unwrap_err());
    assert!(
        msg.starts_with("credential_process did not finish within 0.3 s"),
        "{msg}"
    );

    let (_, msg) =
        cred_message(drive(CredentialsChain::new(&env(&home, &[]), Some("garbage"))).unwrap_err());
    assert!(
        msg.starts_with("credential_process output: answer is not valid JSON"),
        "{msg}"
    );
}

#[test]
fn config_loader_reads_real_files() {
    let home = TempDir::new("loader");
    home.write(
        ".aws/config",
        "[profile app]\nregion = ap-southeast-2\nmax_attempts = 6\nretry_mode = adaptive\n\
         services = local\n[services local]\npersonalize_events =\n  endpoint_url = http://127.0.0.1:4566\n",
    );
    let environment = env(&home, &[("AWS_PROFILE", "app".into())]);
    let files: HashMap<PathBuf, Result<Vec<u8>, FileError>> =
        ConfigLoader::files_needed(&environment)
            .into_iter()
            .map(|p: PathBuf| {
                let r = std::fs::read(&p).map_err(FileError::from);
                (p, r)
            })
            .collect();
    assert_eq!(files.len(), 2);
    assert!(files[Path::new(&home.path(".aws/credentials"))]
        .as_ref()
        .is_err_and(FileError::is_not_found));
    let resolved =
        ConfigLoader::resolve(&environment, &files, &ConfigOverrides::default()).unwrap();
    assert_eq!(resolved.region.as_deref(), Some("ap-southeast-2"));
    let config = resolved.into_client_config().unwrap();
    assert_eq!(config.endpoint.url(), "http://127.0.0.1:4566");
    assert_eq!(config.retry.max_attempts, 6);
    assert_eq!(
        config.retry.mode,
        personalize_events_core::RetryMode::Adaptive
    );
    // Code wins.
    let config = ConfigLoader::resolve(
        &environment,
        &files,
        &ConfigOverrides::default()
            .with_region("us-east-1")
            .with_endpoint_url("http://127.0.0.1:9"),
    )
    .unwrap()
    .into_client_config()
    .unwrap();
    assert_eq!(
        (config.region.as_str(), config.endpoint.url()),
        ("us-east-1", "http://127.0.0.1:9")
    );
}
