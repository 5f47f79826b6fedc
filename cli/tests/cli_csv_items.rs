//! CSV items: the ITEM_ID column is the id, the others become camelCase
//! properties; quoted fields with commas, line breaks and escaped quotes are
//! read whole; bad rows go to a CSV failed file, with the header and each
//! row as it was, that a re-run accepts once fixed.

mod common;

use common::*;
use personalize_events_local::LocalServer;

const ARN: &str = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS";

#[test]
fn csv_items_arrive_with_camel_case_properties() {
    let dir = TempDir::new("csv");
    let server = LocalServer::builder().start_blocking().unwrap();
    let long = "y".repeat(300);
    let csv = format!(
        "ITEM_ID,TITLE,NUMBER_OF_RATINGS,GENRES\n\
         i1,\"Hats, Scarves & Gloves\",12,Outdoor|Winter\n\
         i2,\"The \"\"best\"\" kettle\never\",,Kitchen\n\
         {long},Too long,1,X\n\
         i4,Plain,3,Toys\n"
    );
    let input = dir.write("items.csv", &csv);
    let out = run(bin_for(&dir, &server, "put-items")
        .args(["--dataset-arn", ARN, "--output", "json"])
        .arg(&input));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("line 5: items[0].itemId: length 300 is above the maximum 256"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["sent"], 3);
    assert!(out.stderr.contains("as CSV"), "{}", out.stderr);

    let records = server.records();
    let props = |id: &str| -> serde_json::Value {
        let r = records.iter().find(|r| r.json["itemId"] == id).unwrap();
        assert_eq!(r.dataset_arn(), Some(ARN));
        serde_json::from_str(r.json["properties"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        props("i1"),
        serde_json::json!({"title": "Hats, Scarves & Gloves", "numberOfRatings": "12", "genres": "Outdoor|Winter"})
    );
    assert_eq!(
        props("i2"),
        serde_json::json!({"title": "The \"best\" kettle\never", "genres": "Kitchen"}),
        "an empty cell is left out"
    );
    assert_eq!(props("i4")["numberOfRatings"], "3");

    // The bad row is in a CSV file with the header, as it was; fixed, it
    // goes through with the same command.
    let failed_path = dir.join("items.csv.failed.csv");
    let failed = std::fs::read_to_string(&failed_path).unwrap();
    assert_eq!(
        failed,
        format!("ITEM_ID,TITLE,NUMBER_OF_RATINGS,GENRES\n{long},Too long,1,X\n")
    );
    let fixed_path = dir.write("fixed.csv", &failed.replace(&long, "i3"));
    let out = run(bin_for(&dir, &server, "put-items")
        .args(["--dataset-arn", ARN])
        .arg(&fixed_path));
    assert_eq!(out.code, 0, "{out:?}");
    let records = server.records();
    assert_eq!(records.len(), 4);
    assert!(records.iter().any(|r| r.json["itemId"] == "i3"));
}

#[test]
fn the_sample_catalogue_is_read_whole() {
    let dir = TempDir::new("csv-sample");
    let server = LocalServer::builder().start_blocking().unwrap();
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/items.csv");
    let out = run(bin_for(&dir, &server, "put-items")
        .args(["--dataset-arn", ARN, "--output", "json", "--failed-out"])
        .arg(dir.join("failed.jsonl"))
        .arg(&sample));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["sent"], 200);
    let records = server.records();
    assert_eq!(records.len(), 200);
    assert!(records.iter().all(|r| {
        let p: serde_json::Value =
            serde_json::from_str(r.json["properties"].as_str().unwrap()).unwrap();
        p.get("title").is_some() && p.get("creationTimestamp").is_some()
    }));
}
