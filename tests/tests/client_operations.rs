//! Both clients send all five operations with the right path and body,
//! signed so that the server's SigV4 verification accepts them, over
//! pooled connections shared by their clones; event ids are filled in
//! unless asked not to, given ones are kept; session tokens are sent and
//! signed. What only one client has (`send_any` over threads, a
//! `User-Agent` suffix) is explicit at the end.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use personalize_events_core::{
    Action, ActionInteraction, AnyInput, AnyOutput, Credentials, Event, Item,
    PutActionInteractionsInput, PutActionsInput, PutEventsInput, PutItemsInput, PutUsersInput,
    User,
};
use personalize_events_tests::client_tests;
use personalize_events_tests::clients::{AnyClient, Kind, Settings};
use personalize_events_tests::fake_service::{self, FakeService, RecordedRequest};

const DATASET: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";

fn client(kind: Kind, server: &FakeService) -> AnyClient {
    Settings::for_server(server).build(kind, server)
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn check_common(r: &RecordedRequest, path: &str, host: &str) {
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, path);
    let v = r
        .signature
        .as_ref()
        .unwrap_or_else(|e| panic!("{}: {e}", r.path));
    assert_eq!(v.access_key_id, "AKIDEXAMPLE");
    assert_eq!(v.region, "us-east-1");
    assert_eq!(v.service, "personalize");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let ua = r.header("user-agent").unwrap();
    assert!(ua.starts_with("personalize-events-rs/"), "{ua}");
    assert!(!ua.contains("ureq"), "{ua}");
    assert!(!ua.contains("hyper"), "{ua}");
    assert_eq!(r.header("amz-sdk-request"), Some("attempt=1; max=3"));
    assert_eq!(r.header("host"), Some(host));
    assert_eq!(r.headers.get_all("host").iter().count(), 1);
    assert_eq!(
        r.header("content-length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(r.body.len())
    );
    assert!(r.json.is_some(), "{} sent JSON", r.path);
}

client_tests!([blocking, async]:
    all_five_operations_succeed_and_are_signed,
    sequential_calls_reuse_a_pooled_connection,
);

// Encoding and signing happen in core: `Call` too.
client_tests!([blocking, async, call]:
    event_ids_can_be_left_out_and_given_ones_are_kept,
    session_tokens_are_sent_and_signed,
);

fn all_five_operations_succeed_and_are_signed(kind: Kind) {
    let server = FakeService::script(vec![]);
    let c = client(kind, &server);

    let out = c
        .put_events(
            PutEventsInput::new("tracking-1", "session-1")
                .user_id("user-7")
                .event(
                    Event::new("click", at(1_795_953_540))
                        .item_id("item-42")
                        .event_value(1.5)
                        .properties(r#"{"discount":"yes"}"#),
                ),
        )
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-0"));

    let out = c
        .put_items(
            PutItemsInput::new(DATASET).item(Item::new("item-1").properties(r#"{"price":"3"}"#)),
        )
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-1"));

    let users_arn = DATASET.replace("ITEMS", "USERS");
    let out = c
        .put_users(PutUsersInput::new(&users_arn).user(User::new("user-1")))
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-2"));

    let actions_arn = DATASET.replace("ITEMS", "ACTIONS");
    let out = c
        .put_actions(PutActionsInput::new(&actions_arn).action(Action::new("action-1")))
        .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-3"));

    // The last one from a clone, elsewhere (a thread, a task): clones share
    // the pool.
    let input = PutActionInteractionsInput::new("tracking-2").action_interaction(
        ActionInteraction::new("action-1", "session-9", at(1_795_953_600), "Taken")
            .user_id("user-7"),
    );
    let out = match &c {
        AnyClient::Blocking(b) => {
            let clone = b.clone();
            std::thread::spawn(move || clone.put_action_interactions(input))
                .join()
                .unwrap()
        }
        AnyClient::Async(a, rt) => {
            let clone = a.clone();
            rt.block_on(async move {
                tokio::spawn(async move { clone.put_action_interactions(input).await })
                    .await
                    .unwrap()
            })
        }
        AnyClient::Call(_) => unreachable!("a transport's pool"),
    }
    .unwrap();
    assert_eq!(out.request_id.as_deref(), Some("req-4"));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    for (r, path) in reqs.iter().zip([
        "/events",
        "/items",
        "/users",
        "/actions",
        "/action-interactions",
    ]) {
        check_common(r, path, &server.addr().to_string());
    }

    let ev = reqs[0].json.as_ref().unwrap();
    assert_eq!(ev["trackingId"], "tracking-1");
    assert_eq!(ev["sessionId"], "session-1");
    assert_eq!(ev["userId"], "user-7");
    let e0 = &ev["eventList"][0];
    assert_eq!(e0["eventType"], "click");
    assert_eq!(e0["itemId"], "item-42");
    assert_eq!(e0["eventValue"], 1.5);
    assert_eq!(e0["sentAt"], 1_795_953_540);
    assert_eq!(e0["properties"], r#"{"discount":"yes"}"#);
    assert_eq!(
        e0["eventId"].as_str().unwrap().len(),
        36,
        "event id filled in"
    );

    let it = reqs[1].json.as_ref().unwrap();
    assert_eq!(it["datasetArn"], DATASET);
    assert_eq!(it["items"][0]["itemId"], "item-1");
    assert_eq!(it["items"][0]["properties"], r#"{"price":"3"}"#);
    assert_eq!(
        reqs[2].json.as_ref().unwrap()["users"][0]["userId"],
        "user-1"
    );
    assert_eq!(
        reqs[3].json.as_ref().unwrap()["actions"][0]["actionId"],
        "action-1"
    );
    let ai = reqs[4].json.as_ref().unwrap();
    assert_eq!(ai["trackingId"], "tracking-2");
    let a0 = &ai["actionInteractions"][0];
    assert_eq!(a0["actionId"], "action-1");
    assert_eq!(a0["eventType"], "Taken");
    assert_eq!(a0["timestamp"], 1_795_953_600);
    assert_eq!(a0["eventId"].as_str().unwrap().len(), 36);

    // Keep-alive. The blocking client reads each answer in full before it
    // returns, so its five calls share one connection; hyper gives a
    // connection back to its pool on a task of its own, so the next call
    // may race it (see `sequential_calls_reuse_a_pooled_connection`).
    if kind == Kind::Blocking {
        assert!(reqs.iter().all(|r| r.connection == 0));
        assert_eq!(server.connections(), 1);
    }
}

fn sequential_calls_reuse_a_pooled_connection(kind: Kind) {
    let server = FakeService::script(vec![]);
    let c = client(kind, &server);
    for i in 0..5 {
        c.put_users(PutUsersInput::new(DATASET).user(User::new(format!("user-{i}"))))
            .unwrap();
        // Give the connection time to go back to the pool (hyper does that
        // on a spawned task; without the pause a call may race it).
        std::thread::sleep(Duration::from_millis(20));
    }
    let reqs = server.requests();
    let on_first = reqs
        .iter()
        .filter(|r| r.connection == reqs[0].connection)
        .count();
    assert!(on_first >= 2, "connections: {}", server.connections());
    assert!(server.connections() < 5);
}

fn event_ids_can_be_left_out_and_given_ones_are_kept(kind: Kind) {
    let server = FakeService::script(vec![]);
    Settings::for_server(&server)
        .fill_event_ids(false)
        .build(kind, &server)
        .put_events(
            PutEventsInput::new("t", "s")
                .event(Event::new("click", at(1_795_953_540)))
                .event(Event::new("view", at(1_795_953_541)).event_id("mine")),
        )
        .unwrap();
    let body = server.requests()[0].json.clone().unwrap();
    assert!(body["eventList"][0].get("eventId").is_none(), "{body}");
    assert_eq!(body["eventList"][1]["eventId"], "mine");
}

fn session_tokens_are_sent_and_signed(kind: Kind) {
    let server = FakeService::script(vec![]);
    let c = Settings::for_server(&server)
        .credentials(Credentials::new(
            fake_service::ACCESS_KEY_ID,
            fake_service::SECRET_ACCESS_KEY,
            Some("session-token".into()),
        ))
        .build(kind, &server);
    // The server's credentials have no token, so verification notices the
    // token; what matters here is that it was sent and signed.
    let _ = c.put_items(PutItemsInput::new(DATASET).item(Item::new("i")));
    let r = &server.requests()[0];
    assert_eq!(r.header("x-amz-security-token"), Some("session-token"));
    let auth = r.header("authorization").unwrap();
    assert!(auth.contains("x-amz-security-token"), "{auth}");
}

// The blocking client only: `send_any`'s output across threads, and a
// `User-Agent` suffix (the async client's builder has no such option).

#[test]
fn send_any_and_clones_share_the_pool_across_threads() {
    let server = FakeService::script(vec![]);
    let client = Settings::for_server(&server)
        .blocking_builder()
        .build()
        .unwrap();
    let input = AnyInput::from_json(
        "PutItems",
        format!(r#"{{"datasetArn":"{DATASET}","items":[{{"itemId":"a"}}]}}"#).as_bytes(),
    )
    .unwrap();
    let out = client.send_any(input).unwrap();
    assert_eq!(out.request_id(), Some("req-0"));
    assert!(matches!(out, AnyOutput::PutItems(_)));

    let clone = client.clone();
    std::thread::spawn(move || {
        clone
            .put_users(PutUsersInput::new(DATASET.replace("ITEMS", "USERS")).user(User::new("u")))
            .unwrap()
    })
    .join()
    .unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(RecordedRequest::signature_ok));
    assert_eq!(
        server.connections(),
        1,
        "the clone reused the pooled connection"
    );
}

#[test]
fn the_user_agent_suffix_is_sent() {
    let server = FakeService::script(vec![]);
    let client = Settings::for_server(&server)
        .blocking_builder()
        .user_agent_suffix("my-tool/1.2")
        .build()
        .unwrap();
    client
        .put_items(PutItemsInput::new(DATASET).item(Item::new("i")))
        .unwrap();
    let r = &server.requests()[0];
    assert!(r.header("user-agent").unwrap().ends_with(" my-tool/1.2"));
}
