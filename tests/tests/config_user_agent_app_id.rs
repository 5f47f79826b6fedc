//! `AWS_SDK_UA_APP_ID` and the profile's `sdk_ua_app_id` reach the
//! `User-Agent` of both clients as `app/<id>` (code wins over both), so that
//! a company's logs tell its programs apart.

use std::path::PathBuf;
use std::time::SystemTime;

use personalize_events_tests::fake_service::FakeService;

const BASE: &str = personalize_events_core::USER_AGENT_VALUE;

/// A config file of its own for this test, with `sdk_ua_app_id` set.
fn config_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pe-ua-app-id-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config");
    std::fs::write(
        &path,
        "[profile etl]\nregion = us-east-1\nsdk_ua_app_id = nightly export\n",
    )
    .unwrap();
    path
}

fn vars(
    server: &FakeService,
    config: &std::path::Path,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_PROFILE", "etl"),
        ("AWS_ENDPOINT_URL", &server.url()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

fn last_user_agent(server: &FakeService) -> String {
    let reqs = server.requests();
    let r = reqs.last().expect("a request");
    assert!(r.signature_ok(), "the request is signed");
    r.header("user-agent").unwrap().to_string()
}

#[test]
fn blocking_client_sends_the_app_id() {
    use personalize_events_blocking::{Client, Environment, Event, PutEventsInput};
    let server = FakeService::script(vec![]);
    let config = config_file("blocking");
    let send = |env: Vec<(String, String)>, app_id: Option<&str>| {
        let mut b = Client::builder().environment(Environment::from_vars(env));
        if let Some(id) = app_id {
            b = b.app_id(id);
        }
        b.build()
            .unwrap()
            .put_events(
                PutEventsInput::new("t", "s")
                    .event(Event::new("click", SystemTime::now()).item_id("i")),
            )
            .unwrap();
        last_user_agent(&server)
    };
    // The profile's, with the space made a `-`.
    assert_eq!(
        send(vars(&server, &config, &[]), None),
        format!("{BASE} app/nightly-export")
    );
    // The environment wins over the profile.
    assert_eq!(
        send(
            vars(&server, &config, &[("AWS_SDK_UA_APP_ID", "billing")]),
            None
        ),
        format!("{BASE} app/billing")
    );
    // Code wins over both.
    assert_eq!(
        send(
            vars(&server, &config, &[("AWS_SDK_UA_APP_ID", "billing")]),
            Some("from-code")
        ),
        format!("{BASE} app/from-code")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_sends_the_app_id() {
    use personalize_events_hyper::{Client, Environment, Event, PutEventsInput};
    let server = FakeService::script(vec![]);
    let config = config_file("async");
    for (extra, code, want) in [
        (&[][..], None, "app/nightly-export"),
        (&[("AWS_SDK_UA_APP_ID", "billing")][..], None, "app/billing"),
        (
            &[("AWS_SDK_UA_APP_ID", "billing")][..],
            Some("from-code"),
            "app/from-code",
        ),
    ] {
        let mut b =
            Client::builder().environment(Environment::from_vars(vars(&server, &config, extra)));
        if let Some(id) = code {
            b = b.app_id(id);
        }
        b.build()
            .unwrap()
            .put_events(
                PutEventsInput::new("t", "s")
                    .event(Event::new("click", SystemTime::now()).item_id("i")),
            )
            .await
            .unwrap();
        assert_eq!(last_user_agent(&server), format!("{BASE} {want}"));
    }
}
