//! Validation in the service's own wording, for servers that stand in for
//! it (the emulator): every violation, counted, with Coral paths.
//!
//! The service answers a request breaking the model's constraints with HTTP
//! 400 `InvalidInputException` and a message such as
//! `1 validation error detected: Value at 'eventList.1.member.itemId' failed
//! to satisfy constraint: Member must have length less than or equal to 256`
//! (list entries numbered from 1 as `N.member`; several violations joined by
//! `; ` after `2 validation errors detected: `). A missing or `null` required
//! member reads `Value null at 'sessionId' failed to satisfy constraint:
//! Member must not be null`.

use serde_json::Value;

use crate::validate::{service_missing, Seg};

/// The members a shape requires, and the shapes of its nested members.
struct Shape {
    required: &'static [&'static str],
    /// Members holding a list of structures, and their element shape.
    lists: &'static [(&'static str, &'static Shape)],
    /// Members holding one structure.
    structs: &'static [(&'static str, &'static Shape)],
}

const METRIC_ATTRIBUTION: Shape = Shape {
    required: &["eventAttributionSource"],
    lists: &[],
    structs: &[],
};
const EVENT: Shape = Shape {
    required: &["eventType", "sentAt"],
    lists: &[],
    structs: &[("metricAttribution", &METRIC_ATTRIBUTION)],
};
const PUT_EVENTS: Shape = Shape {
    required: &["trackingId", "sessionId", "eventList"],
    lists: &[("eventList", &EVENT)],
    structs: &[],
};
const ITEM: Shape = Shape {
    required: &["itemId"],
    lists: &[],
    structs: &[],
};
const PUT_ITEMS: Shape = Shape {
    required: &["datasetArn", "items"],
    lists: &[("items", &ITEM)],
    structs: &[],
};
const USER: Shape = Shape {
    required: &["userId"],
    lists: &[],
    structs: &[],
};
const PUT_USERS: Shape = Shape {
    required: &["datasetArn", "users"],
    lists: &[("users", &USER)],
    structs: &[],
};
const ACTION: Shape = Shape {
    required: &["actionId"],
    lists: &[],
    structs: &[],
};
const PUT_ACTIONS: Shape = Shape {
    required: &["datasetArn", "actions"],
    lists: &[("actions", &ACTION)],
    structs: &[],
};
const ACTION_INTERACTION: Shape = Shape {
    required: &["actionId", "sessionId", "timestamp", "eventType"],
    lists: &[],
    structs: &[],
};
const PUT_ACTION_INTERACTIONS: Shape = Shape {
    required: &["trackingId", "actionInteractions"],
    lists: &[("actionInteractions", &ACTION_INTERACTION)],
    structs: &[],
};

fn walk(shape: &Shape, v: &Value, path: &mut Vec<Seg>, out: &mut Vec<String>) {
    let Value::Object(map) = v else { return };
    for name in shape.required {
        if map.get(*name).is_none_or(Value::is_null) {
            path.push(Seg::Field(name));
            out.push(service_missing(path));
            path.pop();
        }
    }
    for (name, element) in shape.lists {
        if let Some(Value::Array(entries)) = map.get(*name) {
            path.push(Seg::Field(name));
            for (i, e) in entries.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(element, e, path, out);
                path.pop();
            }
            path.pop();
        }
    }
    for (name, inner) in shape.structs {
        if let Some(s) = map.get(*name) {
            path.push(Seg::Field(name));
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
pub fn missing_required_members(operation: &str, body: &Value) -> Vec<String> {
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

/// The service's message for `violations` (as given by
/// [`missing_required_members`] or [`crate::AnyInput::service_violations`]):
/// `1 validation error detected: ...`, or `N validation errors detected: `
/// followed by the violations joined with `; `.
pub fn service_validation_message(violations: &[String]) -> String {
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    format!("{n} validation {noun} detected: {}", violations.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AnyInput, Event, PutEventsInput};
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
