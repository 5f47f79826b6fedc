//! The service's own checks that a typed client never trips: required
//! members missing (or `null`) in the JSON body, and the message that
//! counts violations, in the service's wording.
//!
//! The service answers such a request with HTTP 400 `InvalidInputException`
//! and a message such as `1 validation error detected: Value null at
//! 'sessionId' failed to satisfy constraint: Member must not be null` (list
//! entries numbered from 1 as `N.member`; several violations joined by `; `
//! after `2 validation errors detected: `). Model constraints in the same
//! wording come from core (`AnyInput::service_violations`).

use serde_json::Value;

/// The members a shape requires, and the shapes of its nested members.
struct Shape {
    required: &'static [&'static str],
    /// Members holding a list of structures, and their element shape.
    lists: &'static [(&'static str, &'static Shape)],
    /// Members holding one structure.
    structs: &'static [(&'static str, &'static Shape)],
}

/// A shape whose nested members are all scalars.
const fn flat(required: &'static [&'static str]) -> Shape {
    Shape {
        required,
        lists: &[],
        structs: &[],
    }
}

const METRIC_ATTRIBUTION: Shape = flat(&["eventAttributionSource"]);
const EVENT: Shape = Shape {
    required: &["eventType", "sentAt"],
    lists: &[],
    structs: &[("metricAttribution", &METRIC_ATTRIBUTION)],
};
const ITEM: Shape = flat(&["itemId"]);
const USER: Shape = flat(&["userId"]);
const ACTION: Shape = flat(&["actionId"]);
const ACTION_INTERACTION: Shape = flat(&["actionId", "sessionId", "timestamp", "eventType"]);

/// A request body's shape: its required members and one list of records.
const fn body(
    required: &'static [&'static str],
    list: &'static [(&'static str, &'static Shape)],
) -> Shape {
    Shape {
        required,
        lists: list,
        structs: &[],
    }
}

const PUT_EVENTS: Shape = body(
    &["trackingId", "sessionId", "eventList"],
    &[("eventList", &EVENT)],
);
const PUT_ITEMS: Shape = body(&["datasetArn", "items"], &[("items", &ITEM)]);
const PUT_USERS: Shape = body(&["datasetArn", "users"], &[("users", &USER)]);
const PUT_ACTIONS: Shape = body(&["datasetArn", "actions"], &[("actions", &ACTION)]);
const PUT_ACTION_INTERACTIONS: Shape = body(
    &["trackingId", "actionInteractions"],
    &[("actionInteractions", &ACTION_INTERACTION)],
);

/// One step of a path: a member, or a list entry (numbered from 0 here).
#[derive(Clone, Copy)]
enum Seg {
    Member(&'static str),
    Entry(usize),
}

/// The service's (Coral's) spelling of `path`: members joined by `.`, list
/// entries numbered from 1 as `N.member` (`eventList.2.member.eventType`).
/// Made only for a member that is missing, so good input allocates nothing.
fn coral(path: &[Seg]) -> String {
    let parts: Vec<String> = (path.iter())
        .map(|s| match s {
            Seg::Member(name) => (*name).to_owned(),
            Seg::Entry(i) => format!("{}.member", i + 1),
        })
        .collect();
    parts.join(".")
}

/// Walks `v` against `shape`; `path` leads to `v` (empty at the top).
fn walk(shape: &Shape, v: &Value, path: &mut Vec<Seg>, out: &mut Vec<String>) {
    let Value::Object(map) = v else { return };
    for name in shape.required {
        if map.get(*name).is_none_or(Value::is_null) {
            path.push(Seg::Member(name));
            out.push(format!(
                "Value null at '{}' failed to satisfy constraint: Member must not be null",
                coral(path)
            ));
            path.pop();
        }
    }
    for (name, element) in shape.lists {
        if let Some(Value::Array(entries)) = map.get(*name) {
            path.push(Seg::Member(name));
            for (i, e) in entries.iter().enumerate() {
                path.push(Seg::Entry(i));
                walk(element, e, path, out);
                path.pop();
            }
            path.pop();
        }
    }
    for (name, inner) in shape.structs {
        if let Some(s) = map.get(*name) {
            path.push(Seg::Member(name));
            walk(inner, s, path, out);
            path.pop();
        }
    }
}

/// The required members missing (or `null`) in a request body of
/// `operation` (its name, like `PutEvents`, or its path, like `/events`), in
/// the service's wording, outer members first; empty when none is missing
/// or the operation is unknown. Entries that are not objects are left to
/// decoding.
pub(super) fn missing_required_members(operation: &str, body: &Value) -> Vec<String> {
    let shape = match operation {
        "PutEvents" | "/events" => &PUT_EVENTS,
        "PutItems" | "/items" => &PUT_ITEMS,
        "PutUsers" | "/users" => &PUT_USERS,
        "PutActions" | "/actions" => &PUT_ACTIONS,
        "PutActionInteractions" | "/action-interactions" => &PUT_ACTION_INTERACTIONS,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    walk(shape, body, &mut Vec::new(), &mut out);
    out
}

/// The service's message for `violations`: `1 validation error detected:
/// ...`, or `N validation errors detected: ` followed by the violations
/// joined with `; `.
pub(super) fn service_validation_message(violations: &[String]) -> String {
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    format!("{n} validation {noun} detected: {}", violations.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use personalize_events_core::{AnyInput, Event, PutEventsInput};
    use std::time::UNIX_EPOCH;

    #[test]
    fn missing_members_at_every_depth() {
        let body = serde_json::json!({
            "trackingId": "t",
            "sessionId": null,
            "eventList": [
                {"eventType": "click", "sentAt": 1},
                {"sentAt": 1, "metricAttribution": {}},
                "not an object"
            ]
        });
        assert_eq!(
            missing_required_members("/events", &body),
            [
                "Value null at 'sessionId' failed to satisfy constraint: Member must not be null",
                "Value null at 'eventList.2.member.eventType' failed to satisfy constraint: Member must not be null",
                "Value null at 'eventList.2.member.metricAttribution.eventAttributionSource' failed to satisfy constraint: Member must not be null",
            ]
        );
        assert!(missing_required_members(
            "PutUsers",
            &serde_json::json!({"datasetArn": "a", "users": [{"userId": "u"}]})
        )
        .is_empty());
        assert!(missing_required_members("Nope", &body).is_empty());
    }

    #[test]
    fn every_violation_is_counted_in_model_order() {
        let input = PutEventsInput::new("t", "s")
            .user_id("u".repeat(257))
            .event(Event::new("", UNIX_EPOCH).item_id("i".repeat(300)))
            .event(Event::new("click", UNIX_EPOCH).impression(vec!["x".to_string(); 26]));
        let v = AnyInput::PutEvents(input).service_violations();
        assert_eq!(
            service_validation_message(&v),
            "4 validation errors detected: \
             Value at 'userId' failed to satisfy constraint: Member must have length less than or equal to 256; \
             Value at 'eventList.1.member.eventType' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value at 'eventList.1.member.itemId' failed to satisfy constraint: Member must have length less than or equal to 256; \
             Value at 'eventList.2.member.impression' failed to satisfy constraint: Member must have length less than or equal to 25"
        );
        assert_eq!(
            service_validation_message(&v[..1]),
            "1 validation error detected: Value at 'userId' failed to satisfy constraint: Member must have length less than or equal to 256"
        );
        let ok = AnyInput::PutEvents(
            PutEventsInput::new("t", "s").event(Event::new("click", UNIX_EPOCH)),
        );
        assert!(ok.service_violations().is_empty());
    }
}
