//! Region, credentials and endpoint from a profile of the shared config
//! files, chosen with `--profile`, as the AWS CLI does; flags override.

mod common;

use common::*;
use personalize_events_local::{LocalServer, DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY};

#[test]
fn profile_gives_region_credentials_and_endpoint() {
    let dir = TempDir::new("profile");
    let server = LocalServer::builder()
        .region("eu-central-1")
        .start_blocking()
        .unwrap();
    let config = dir.write(
        "config",
        &format!(
            "[default]\nregion = us-west-2\n\n[profile demo]\nregion = eu-central-1\n\
             endpoint_url = {}\n",
            server.endpoint_url()
        ),
    );
    let credentials = dir.write(
        "credentials",
        &format!(
            "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = wrong\n\n\
             [demo]\naws_access_key_id = {DEFAULT_ACCESS_KEY_ID}\naws_secret_access_key = {DEFAULT_SECRET_ACCESS_KEY}\n"
        ),
    );
    let input = dir.write("events.jsonl", &events(4, 1));
    let with_files = |c: &mut std::process::Command| {
        c.env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            // Skipped when a profile is chosen on the command line.
            .env("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
            .env("AWS_SECRET_ACCESS_KEY", "from-env");
    };
    let mut cmd = bin(&dir);
    with_files(&mut cmd);
    let out = run(cmd
        .args(["put-events", "--profile", "demo", "--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 4);

    // --region overrides the profile's: the emulator wants eu-central-1, so
    // the call is refused; a signature problem stops sending at once.
    let mut cmd = bin(&dir);
    with_files(&mut cmd);
    let out = run(cmd
        .args([
            "put-events",
            "--profile",
            "demo",
            "--region",
            "us-east-1",
            "--tracking-id",
            "t",
        ])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("InvalidSignatureException"),
        "{}",
        out.stderr
    );

    // Credentials from a `credential_process`, run through the shell.
    let script = dir.write(
        "creds.sh",
        &format!(
            "printf '%s' '{{\"Version\":1,\"AccessKeyId\":\"{DEFAULT_ACCESS_KEY_ID}\",\"SecretAccessKey\":\"{DEFAULT_SECRET_ACCESS_KEY}\"}}'\n"
        ),
    );
    let process_config = dir.write(
        "config-process",
        &format!(
            "[profile proc]\nregion = eu-central-1\ncredential_process = sh {}\n",
            script.display()
        ),
    );
    let out = run(bin(&dir)
        .env("AWS_CONFIG_FILE", &process_config)
        .args(["put-events", "--profile", "proc", "--tracking-id", "t"])
        .arg("--endpoint-url")
        .arg(server.endpoint_url())
        .arg(&input));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(server.records().len(), 8);

    // An unknown profile is a configuration error.
    let mut cmd = bin(&dir);
    with_files(&mut cmd);
    let out = run(cmd
        .args(["put-events", "--profile", "nope", "--tracking-id", "t"])
        .arg(&input));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("profile `nope`"), "{}", out.stderr);
}
