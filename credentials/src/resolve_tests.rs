//! Unit tests of `resolve.rs`: settings from code, environment and profile.

use super::*;

fn env(vars: &[(&str, &str)]) -> Environment {
    let mut all = vec![("HOME".to_string(), "/h".to_string())];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Environment::from_vars(all)
}

fn files(config: &str, creds: &str) -> HashMap<PathBuf, Result<Vec<u8>, FileError>> {
    let mut m = HashMap::new();
    m.insert(
        PathBuf::from("/h/.aws/config"),
        Ok(config.as_bytes().to_vec()),
    );
    m.insert(
        PathBuf::from("/h/.aws/credentials"),
        Ok(creds.as_bytes().to_vec()),
    );
    m
}

fn resolve(
    vars: &[(&str, &str)],
    config: &str,
    o: &ConfigOverrides,
) -> Result<ResolvedConfig, Error> {
    ConfigLoader::resolve(&env(vars), &files(config, ""), o)
}

#[test]
fn files_needed_follow_env() {
    assert_eq!(
        ConfigLoader::files_needed(&env(&[])),
        vec![
            PathBuf::from("/h/.aws/config"),
            PathBuf::from("/h/.aws/credentials")
        ]
    );
    let e = Environment::from_vars([("AWS_CONFIG_FILE", "/c")]);
    assert_eq!(ConfigLoader::files_needed(&e), vec![PathBuf::from("/c")]);
}

#[test]
fn region_precedence() {
    let cfg = "[default]\nregion = from-profile\n[profile p]\nregion = p-region\n";
    let none = ConfigOverrides::default();
    assert_eq!(
        resolve(&[], cfg, &none).unwrap().region.as_deref(),
        Some("from-profile")
    );
    assert_eq!(
        resolve(&[("AWS_DEFAULT_REGION", "d")], cfg, &none)
            .unwrap()
            .region
            .as_deref(),
        Some("d")
    );
    assert_eq!(
        resolve(
            &[("AWS_DEFAULT_REGION", "d"), ("AWS_REGION", "r")],
            cfg,
            &none
        )
        .unwrap()
        .region
        .as_deref(),
        Some("r")
    );
    let code = ConfigOverrides::default().with_region("c");
    assert_eq!(
        resolve(&[("AWS_REGION", "r")], cfg, &code)
            .unwrap()
            .region
            .as_deref(),
        Some("c")
    );
    assert_eq!(
        resolve(&[("AWS_PROFILE", "p")], cfg, &none)
            .unwrap()
            .region
            .as_deref(),
        Some("p-region")
    );
    let r = resolve(
        &[("AWS_PROFILE", "p")],
        cfg,
        &ConfigOverrides::default().with_profile("default"),
    );
    assert_eq!(r.unwrap().region.as_deref(), Some("from-profile"));
    assert_eq!(resolve(&[], "", &none).unwrap().region, None);
}

#[test]
fn endpoint_precedence_and_ignore() {
    let cfg = "[default]\nendpoint_url = http://profile-global\nservices = s\n\
               [services s]\npersonalize_events =\n  endpoint_url = http://profile-service\n";
    let none = ConfigOverrides::default();
    let ep = |vars: &[(&str, &str)], cfg: &str, o: &ConfigOverrides| {
        resolve(vars, cfg, o).unwrap().endpoint_url
    };
    assert_eq!(
        ep(&[], cfg, &none).as_deref(),
        Some("http://profile-service")
    );
    assert_eq!(
        ep(
            &[],
            "[default]\nendpoint_url = http://profile-global\n",
            &none
        )
        .as_deref(),
        Some("http://profile-global")
    );
    assert_eq!(
        ep(&[("AWS_ENDPOINT_URL", "http://env-global")], cfg, &none).as_deref(),
        Some("http://env-global")
    );
    assert_eq!(
        ep(
            &[
                ("AWS_ENDPOINT_URL", "http://env-global"),
                ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", "http://env-svc")
            ],
            cfg,
            &none
        )
        .as_deref(),
        Some("http://env-svc")
    );
    let code = ConfigOverrides::default().with_endpoint_url("http://code");
    assert_eq!(
        ep(&[("AWS_ENDPOINT_URL", "http://env-global")], cfg, &code).as_deref(),
        Some("http://code")
    );
    let ignore = [
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ("AWS_ENDPOINT_URL", "http://x"),
    ];
    assert_eq!(ep(&ignore, cfg, &none), None);
    assert_eq!(ep(&ignore, cfg, &code).as_deref(), Some("http://code"));
    let cfg_ignore = format!("{cfg}\n[default]\nignore_configured_endpoint_urls = true\n");
    assert_eq!(ep(&[], &cfg_ignore, &none), None);
}

#[test]
fn fips_dualstack_attempts_mode() {
    let none = ConfigOverrides::default();
    let cfg = "[default]\nuse_fips_endpoint = true\nmax_attempts = 7\nretry_mode = adaptive\n";
    let r = resolve(&[], cfg, &none).unwrap();
    assert!(r.use_fips && !r.use_dual_stack);
    assert_eq!(
        (r.max_attempts, r.retry_mode),
        (Some(7), Some(RetryMode::Adaptive))
    );
    let r = resolve(
        &[
            ("AWS_USE_FIPS_ENDPOINT", "false"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE"),
            ("AWS_MAX_ATTEMPTS", "2"),
            ("AWS_RETRY_MODE", "standard"),
        ],
        cfg,
        &none,
    )
    .unwrap();
    assert!(!r.use_fips && r.use_dual_stack);
    assert_eq!(
        (r.max_attempts, r.retry_mode),
        (Some(2), Some(RetryMode::Standard))
    );
    let r = resolve(
        &[],
        cfg,
        &ConfigOverrides::default()
            .with_fips(false)
            .with_max_attempts(1)
            .with_retry_mode(RetryMode::Standard),
    )
    .unwrap();
    assert!(!r.use_fips);
    assert_eq!(
        (r.max_attempts, r.retry_mode),
        (Some(1), Some(RetryMode::Standard))
    );
}

#[test]
fn bad_values_are_config_errors() {
    let none = ConfigOverrides::default();
    for (vars, cfg, want) in [
        (
            &[("AWS_USE_FIPS_ENDPOINT", "yes")][..],
            "",
            "AWS_USE_FIPS_ENDPOINT: `yes` is not true or false",
        ),
        (
            &[],
            "[default]\nuse_dualstack_endpoint = 1\n",
            "use_dualstack_endpoint: `1`",
        ),
        (
            &[("AWS_MAX_ATTEMPTS", "0")],
            "",
            "AWS_MAX_ATTEMPTS: `0` is not a whole number",
        ),
        (
            &[],
            "[default]\nmax_attempts = many\n",
            "profile `default` max_attempts: `many`",
        ),
        (
            &[("AWS_RETRY_MODE", "turbo")],
            "",
            "AWS_RETRY_MODE: retry mode `turbo`",
        ),
        (&[("AWS_PROFILE", "nope")], "", "profile `nope` not found"),
        (&[], "[default]\nbroken line\n", "/h/.aws/config line 2"),
    ] {
        let e = resolve(vars, cfg, &none).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(e.to_string().contains(want), "{e} / {want}");
    }
    let mut f = files("", "");
    f.insert(
        PathBuf::from("/h/.aws/config"),
        Err(FileError {
            kind: std::io::ErrorKind::PermissionDenied,
            message: "denied".into(),
        }),
    );
    let e = ConfigLoader::resolve(&env(&[]), &f, &none).unwrap_err();
    assert_eq!(
        e.to_string(),
        "configuration: cannot read /h/.aws/config: denied"
    );
    f.insert(PathBuf::from("/h/.aws/config"), Err(FileError::not_found()));
    assert!(ConfigLoader::resolve(&env(&[]), &f, &none).is_ok());
    assert!(ConfigLoader::resolve(&env(&[]), &HashMap::new(), &none).is_ok());
}

#[test]
fn into_client_config_resolves_endpoint_and_retry() {
    let cfg = "[default]\nregion = eu-west-1\nmax_attempts = 5\nretry_mode = adaptive\n";
    let c = resolve(&[], cfg, &ConfigOverrides::default())
        .unwrap()
        .into_client_config()
        .unwrap();
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(
        c.endpoint.url(),
        "https://personalize-events.eu-west-1.amazonaws.com"
    );
    assert_eq!(c.retry.max_attempts, 5);
    assert_eq!(c.retry.mode, RetryMode::Adaptive);
    let c = resolve(
        &[("AWS_USE_FIPS_ENDPOINT", "true")],
        cfg,
        &ConfigOverrides::default(),
    )
    .unwrap()
    .into_client_config()
    .unwrap();
    assert_eq!(
        c.endpoint.url(),
        "https://personalize-events-fips.eu-west-1.amazonaws.com"
    );
    let c = resolve(
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:8080")],
        cfg,
        &ConfigOverrides::default(),
    )
    .unwrap()
    .into_client_config()
    .unwrap();
    assert_eq!(c.endpoint.authority(), "127.0.0.1:8080");
    assert_eq!(
        c.retry,
        RetryConfig::default()
            .with_max_attempts(5)
            .with_mode(RetryMode::Adaptive)
    );
    let e = resolve(
        &[
            ("AWS_ENDPOINT_URL", "http://h"),
            ("AWS_USE_FIPS_ENDPOINT", "true"),
        ],
        cfg,
        &ConfigOverrides::default(),
    )
    .unwrap()
    .into_client_config()
    .unwrap_err();
    assert!(matches!(e, Error::Endpoint(_)), "{e:?}");
    let e = resolve(&[], "", &ConfigOverrides::default())
        .unwrap()
        .into_client_config()
        .unwrap_err();
    assert!(e.to_string().contains("no region configured"), "{e}");
}

#[test]
fn ca_bundle_precedence() {
    let cfg = "[default]\nca_bundle = ~/corp.pem\n";
    let none = ConfigOverrides::default();
    let got = |vars: &[(&str, &str)], o: &ConfigOverrides| resolve(vars, cfg, o).unwrap().ca_bundle;
    assert_eq!(got(&[], &none), Some(PathBuf::from("/h/corp.pem")));
    let env = [("AWS_CA_BUNDLE", "/env.pem")];
    assert_eq!(got(&env, &none), Some(PathBuf::from("/env.pem")));
    let code = ConfigOverrides::default().with_ca_bundle("/code.pem");
    assert_eq!(got(&env, &code), Some(PathBuf::from("/code.pem")));
    assert_eq!(resolve(&[], "", &none).unwrap().ca_bundle, None);
}
