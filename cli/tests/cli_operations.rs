//! All five subcommands against the emulator: every record arrives, grouped
//! by the right keys, with event ids filled in.

mod common;

use common::*;
use personalize_events_local::LocalServer;

const ITEMS_ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS";
const USERS_ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/USERS";
const ACTIONS_ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/d/ACTIONS";

#[test]
fn every_subcommand_delivers_its_records() {
    let dir = TempDir::new("ops");
    let server = LocalServer::builder().start_blocking().unwrap();
    let input = |name: &str, text: String| dir.write(name, &text);

    // put-events: 25 events of 3 sessions.
    let f = input("events.jsonl", events(25, 3));
    let out = run(bin_for(&dir, &server, "put-events")
        .args(["--tracking-id", "tid", "--output", "json"])
        .arg(&f));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["sent"], 25);

    // put-items, put-users, put-actions: 12 records each.
    for (cmd, member, arn, file) in [
        ("put-items", "itemId", ITEMS_ARN, "items.jsonl"),
        ("put-users", "userId", USERS_ARN, "users.jsonl"),
        ("put-actions", "actionId", ACTIONS_ARN, "actions.jsonl"),
    ] {
        let text: String = (0..12)
            .map(|i| {
                format!("{{\"{member}\":\"{member}-{i}\",\"properties\":{{\"n\":\"{i}\"}}}}\n")
            })
            .collect();
        let f = input(file, text);
        let out = run(bin_for(&dir, &server, cmd)
            .args(["--dataset-arn", arn])
            .arg(&f));
        assert_eq!(out.code, 0, "{cmd}: {out:?}");
    }

    // put-action-interactions: session and user from flags.
    let text: String = (0..7)
        .map(|i| {
            format!("{{\"actionId\":\"a{i}\",\"timestamp\":1795953540,\"eventType\":\"Viewed\"}}\n")
        })
        .collect();
    let f = input("interactions.jsonl", text);
    let out = run(bin_for(&dir, &server, "put-action-interactions")
        .args([
            "--tracking-id",
            "atid",
            "--session-id",
            "sess",
            "--user-id",
            "usr",
        ])
        .arg(&f));
    assert_eq!(out.code, 0, "{out:?}");

    let records = server.records();
    let count = |op: &str| records.iter().filter(|r| r.operation == op).count();
    assert_eq!(count("PutEvents"), 25);
    assert_eq!(count("PutItems"), 12);
    assert_eq!(count("PutUsers"), 12);
    assert_eq!(count("PutActions"), 12);
    assert_eq!(count("PutActionInteractions"), 7);
    for r in &records {
        match r.operation {
            "PutEvents" => {
                assert_eq!(r.tracking_id(), Some("tid"));
                assert!(r.event_id().is_some());
            }
            "PutActionInteractions" => {
                assert_eq!(r.tracking_id(), Some("atid"));
                assert_eq!(r.json["sessionId"], "sess");
                assert_eq!(r.json["userId"], "usr");
                assert!(r.event_id().is_some());
            }
            "PutItems" => assert_eq!(r.dataset_arn(), Some(ITEMS_ARN)),
            "PutUsers" => assert_eq!(r.dataset_arn(), Some(USERS_ARN)),
            _ => assert_eq!(r.dataset_arn(), Some(ACTIONS_ARN)),
        }
    }
    // Calls of at most 10, one session (and user) each.
    let stats = server.stats();
    assert_eq!(stats.duplicates, 0);
    // 25 events of 3 sessions (9, 8, 8) → 3 calls; 12 records of one
    // dataset → 2 calls each; 7 interactions → 1 call.
    assert_eq!(stats.accepted_requests, 3 + 2 * 3 + 1, "{stats:?}");
    assert!(!dir.join("events.jsonl.failed.jsonl").exists());
}
