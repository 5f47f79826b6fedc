//! Walks every constraint in the service model file (`service-2.json`):
//! required members, string lengths, list sizes, patterns and the reserved
//! property keys (the walk is `personalize_events_tests::model_walk`). For
//! each one an input at the edge is accepted and one past it is refused
//! before any IO, naming the field path and the constraint. A constraint the
//! code forgot fails this test.

use personalize_events_core::AnyInput;
use personalize_events_tests::model_walk::{constraint_cases, maximal_inputs, Kind};

fn check(op: &str, doc: &serde_json::Value) -> Result<(), String> {
    let body = serde_json::to_vec(doc).unwrap();
    let input = AnyInput::from_json(op, &body).map_err(|e| e.to_string())?;
    input.validate().map_err(|e| e.to_string())?;
    // What passes validation also encodes to JSON that reads back the same.
    let again = AnyInput::from_json(op, &input.encode()).unwrap();
    assert_eq!(again, input);
    Ok(())
}

#[test]
fn every_model_constraint_is_enforced_at_its_edge() {
    for (op, doc) in maximal_inputs() {
        check(&op, &doc).unwrap_or_else(|e| panic!("{op}: maximal valid input refused: {e}"));
    }
    let mut counted = std::collections::BTreeMap::<&str, usize>::new();
    for c in constraint_cases() {
        let what = format!("{} {} {:?}", c.op, c.path, c.kind);
        if let Some(edge) = &c.edge {
            check(&c.op, edge).unwrap_or_else(|e| panic!("{what}: edge value refused: {e}"));
        }
        let err = check(&c.op, &c.past)
            .err()
            .unwrap_or_else(|| panic!("{what}: violation accepted"));
        assert!(
            err.contains(&c.want),
            "{what}:\n got: {err}\nwant: {}",
            c.want
        );
        *counted.entry(c.kind.label()).or_default() += 1;
    }
    eprintln!("constraints checked: {counted:?}");
    // The model has (at the time of writing) this many constraints; fewer
    // means the walk missed some.
    let total: usize = counted.values().sum();
    assert!(total >= 90, "only {total} constraints walked: {counted:?}");
    assert_eq!(counted.get(Kind::Pattern.label()), Some(&4));
    assert_eq!(counted.get("reserved key"), Some(&12));
}

#[test]
fn public_invalid_vectors_are_refused_before_sending() {
    for (id, v) in personalize_events_tests::conformance_vectors("invalid") {
        let op = v["input"]["operation"].as_str().unwrap();
        let body = serde_json::to_vec(&v["input"]["params"]).unwrap();
        let err = match AnyInput::from_json(op, &body) {
            Err(e) => e.to_string(),
            Ok(input) => input.validate().expect_err(&id).to_string(),
        };
        let want = match v["expect"]["constraint"].as_str().unwrap() {
            "required" => "missing field",
            "min_items" => "below the minimum",
            "max_items" => "above the maximum",
            "max_length" => "above the maximum",
            "min_length" => "below the minimum",
            "pattern" => "does not match the pattern",
            other => panic!("{id}: constraint {other} not known to this test"),
        };
        assert!(err.contains(want), "{id}: {err}");
        // The path the service names (eventList.1.member.properties) is ours
        // with 0-based indexes (eventList[0].properties).
        let server_path = v["expect"]["server_path"].as_str().unwrap();
        let leaf = server_path.rsplit('.').next().unwrap();
        assert!(err.contains(leaf), "{id}: {err} does not name {leaf}");
    }
}
