//! Configuration resolved the way AWS users already have it, identically in
//! both transports: region, endpoint (`AWS_ENDPOINT_URL_PERSONALIZE_EVENTS`,
//! `AWS_ENDPOINT_URL`, the profile's `services` section and `endpoint_url`,
//! `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`), FIPS / dual-stack, `max_attempts`
//! and `retry_mode` from environment snapshots and real profile files, with
//! `.profile(..)` and values given in code winning.

use personalize_events_core::{Error, RetryConfig, RetryMode};
use personalize_events_credentials::Environment;
use personalize_events_tests::fake_aws::TempHome;

const CONFIG: &str = "\
[default]
region = eu-west-1
services = local
max_attempts = 6
retry_mode = adaptive

[services local]
personalize_events =
  endpoint_url = http://127.0.0.1:4566

[profile fips]
region = us-west-2
use_fips_endpoint = true
use_dualstack_endpoint = true

[profile global]
region = ap-northeast-1
endpoint_url = http://127.0.0.1:4567
";

/// What a built client ended up with.
#[derive(Debug, PartialEq)]
struct Resolved {
    region: String,
    endpoint: String,
    max_attempts: u32,
    mode: RetryMode,
}

/// Settings a test gives in code, applied to either builder.
#[derive(Default, Clone)]
struct Code {
    profile: Option<&'static str>,
    region: Option<&'static str>,
    endpoint: Option<&'static str>,
    fips: Option<bool>,
    retry: Option<RetryConfig>,
}

fn blocking(env: &Environment, code: &Code) -> Result<Resolved, Error> {
    let mut b = personalize_events_blocking::Client::builder().environment(env.clone());
    if let Some(p) = code.profile {
        b = b.profile(p);
    }
    if let Some(r) = code.region {
        b = b.region(r);
    }
    if let Some(u) = code.endpoint {
        b = b.endpoint_url(u);
    }
    if let Some(f) = code.fips {
        b = b.use_fips(f);
    }
    if let Some(r) = &code.retry {
        b = b.retry_config(r.clone());
    }
    let c = b.build()?;
    let cfg = c.core().config();
    Ok(Resolved {
        region: cfg.region.clone(),
        endpoint: cfg.endpoint.url().to_string(),
        max_attempts: cfg.retry.max_attempts,
        mode: cfg.retry.mode,
    })
}

fn hyper(env: &Environment, code: &Code) -> Result<Resolved, Error> {
    let mut b = personalize_events_hyper::ClientBuilder::new().environment(env.clone());
    if let Some(p) = code.profile {
        b = b.profile(p);
    }
    if let Some(r) = code.region {
        b = b.region(r);
    }
    if let Some(u) = code.endpoint {
        b = b.endpoint_url(u);
    }
    if let Some(f) = code.fips {
        b = b.use_fips(f);
    }
    if let Some(r) = &code.retry {
        b = b.retry_config(r.clone());
    }
    let c = b.build()?;
    let cfg = c.core().config();
    Ok(Resolved {
        region: cfg.region.clone(),
        endpoint: cfg.endpoint.url().to_string(),
        max_attempts: cfg.retry.max_attempts,
        mode: cfg.retry.mode,
    })
}

fn want(region: &str, endpoint: &str, max_attempts: u32, mode: RetryMode) -> Resolved {
    Resolved {
        region: region.into(),
        endpoint: endpoint.into(),
        max_attempts,
        mode,
    }
}

/// A case: its name, the environment variables, the settings in code and
/// what both clients must end up with.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Code, Resolved);

/// Runs every case through both builders.
fn check(home: &TempHome, cases: Vec<Case<'_>>) {
    for (name, vars, code, expected) in cases {
        let env = home.env(&vars);
        let b = blocking(&env, &code).unwrap_or_else(|e| panic!("{name} (blocking): {e}"));
        assert_eq!(b, expected, "{name} (blocking)");
        let h = hyper(&env, &code).unwrap_or_else(|e| panic!("{name} (hyper): {e}"));
        assert_eq!(h, expected, "{name} (hyper)");
    }
}

#[test]
fn profile_environment_and_code_resolve_alike_in_both_transports() {
    use RetryMode::{Adaptive, Standard};
    let home = TempHome::new("config");
    home.write(".aws/config", CONFIG);
    let code = Code::default();
    check(
        &home,
        vec![
            (
                "default profile: region, services endpoint, retries",
                vec![],
                code.clone(),
                want("eu-west-1", "http://127.0.0.1:4566", 6, Adaptive),
            ),
            (
                "AWS_ENDPOINT_URL beats the profile",
                vec![("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")],
                code.clone(),
                want("eu-west-1", "http://127.0.0.1:5000", 6, Adaptive),
            ),
            (
                "the service's variable beats AWS_ENDPOINT_URL",
                vec![
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                    (
                        "AWS_ENDPOINT_URL_PERSONALIZE_EVENTS",
                        "http://127.0.0.1:5001",
                    ),
                ],
                code.clone(),
                want("eu-west-1", "http://127.0.0.1:5001", 6, Adaptive),
            ),
            (
                "configured endpoints ignored",
                vec![
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
                ],
                code.clone(),
                want(
                    "eu-west-1",
                    "https://personalize-events.eu-west-1.amazonaws.com",
                    6,
                    Adaptive,
                ),
            ),
            (
                "environment region and retries beat the profile",
                vec![
                    ("AWS_REGION", "eu-north-1"),
                    ("AWS_MAX_ATTEMPTS", "2"),
                    ("AWS_RETRY_MODE", "standard"),
                ],
                code.clone(),
                want("eu-north-1", "http://127.0.0.1:4566", 2, Standard),
            ),
            (
                "AWS_PROFILE with FIPS and dual-stack",
                vec![("AWS_PROFILE", "fips")],
                code.clone(),
                want(
                    "us-west-2",
                    "https://personalize-events-fips.us-west-2.api.aws",
                    3,
                    Standard,
                ),
            ),
            (
                "profile chosen in code beats AWS_PROFILE; its endpoint_url",
                vec![("AWS_PROFILE", "fips")],
                Code {
                    profile: Some("global"),
                    ..Code::default()
                },
                want("ap-northeast-1", "http://127.0.0.1:4567", 3, Standard),
            ),
            (
                "FIPS turned off in code",
                vec![("AWS_PROFILE", "fips")],
                Code {
                    fips: Some(false),
                    ..Code::default()
                },
                want(
                    "us-west-2",
                    "https://personalize-events.us-west-2.api.aws",
                    3,
                    Standard,
                ),
            ),
            (
                "code beats environment and profile",
                vec![
                    ("AWS_REGION", "eu-north-1"),
                    ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                    ("AWS_MAX_ATTEMPTS", "2"),
                ],
                Code {
                    region: Some("ca-central-1"),
                    endpoint: Some("http://127.0.0.1:6000"),
                    retry: Some(RetryConfig::default().with_max_attempts(1)),
                    ..Code::default()
                },
                want("ca-central-1", "http://127.0.0.1:6000", 1, Standard),
            ),
        ],
    );
}

#[test]
fn bad_configuration_fails_at_build_naming_the_place() {
    let home = TempHome::new("config-bad");
    home.write(
        ".aws/config",
        "[default]\nregion = eu-west-1\nthis is not a setting\n",
    );
    for r in [
        blocking(&home.env(&[]), &Code::default()),
        hyper(&home.env(&[]), &Code::default()),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(
            e.to_string()
                .contains(&format!("{} line 3", home.path(".aws/config"))),
            "{e}"
        );
    }

    home.write(".aws/config", "[default]\nregion = eu-west-1\n");
    let missing = Code {
        profile: Some("nope"),
        ..Code::default()
    };
    for r in [
        blocking(&home.env(&[]), &missing),
        hyper(&home.env(&[]), &missing),
    ] {
        let e = r.unwrap_err();
        assert!(e.to_string().contains("profile `nope` not found"), "{e}");
    }

    for r in [
        blocking(&home.env(&[("AWS_MAX_ATTEMPTS", "lots")]), &Code::default()),
        hyper(&home.env(&[("AWS_MAX_ATTEMPTS", "lots")]), &Code::default()),
    ] {
        let e = r.unwrap_err();
        assert!(e.to_string().contains("AWS_MAX_ATTEMPTS: `lots`"), "{e}");
    }

    home.write(".aws/config", "[default]\noutput = json\n");
    for r in [
        blocking(&home.env(&[]), &Code::default()),
        hyper(&home.env(&[]), &Code::default()),
    ] {
        let e = r.unwrap_err();
        assert!(
            e.to_string().contains("no region") && e.to_string().contains("profile `default`"),
            "{e}"
        );
    }
}
