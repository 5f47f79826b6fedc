//! One input line (or CSV row) to one validated record, and a record back
//! to one line of the failed-records file.
//!
//! Every record is built, then validated with the core's rules as a
//! one-record input, so the messages are the core's own
//! (`eventList[0].itemId: length 300 is above the maximum 256`).

use personalize_events_blocking::{
    Action, ActionInteraction, AnyInput, Event, Item, PutActionInteractionsInput, PutActionsInput,
    PutEventsInput, PutItemsInput, PutUsersInput, Record, User,
};
use personalize_events_core::batch::group_all;
use serde_json::{Map, Value};

/// What a subcommand sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `put-events`.
    Events,
    /// `put-items`.
    Items,
    /// `put-users`.
    Users,
    /// `put-actions`.
    Actions,
    /// `put-action-interactions`.
    ActionInteractions,
}

impl Kind {
    /// The API operation, e.g. `PutEvents`.
    pub fn operation(self) -> &'static str {
        match self {
            Kind::Events => "PutEvents",
            Kind::Items => "PutItems",
            Kind::Users => "PutUsers",
            Kind::Actions => "PutActions",
            Kind::ActionInteractions => "PutActionInteractions",
        }
    }

    /// The id member of a dataset record (`itemId`, `userId`, `actionId`);
    /// `None` for events and action interactions.
    pub fn id_member(self) -> Option<&'static str> {
        match self {
            Kind::Items => Some("itemId"),
            Kind::Users => Some("userId"),
            Kind::Actions => Some("actionId"),
            Kind::Events | Kind::ActionInteractions => None,
        }
    }

    /// The members a line may carry besides the grouping keys.
    fn record_members(self) -> &'static [&'static str] {
        match self {
            Kind::Events => &[
                "eventId",
                "eventType",
                "eventValue",
                "itemId",
                "properties",
                "sentAt",
                "recommendationId",
                "impression",
                "metricAttribution",
            ],
            Kind::Items => &["itemId", "properties"],
            Kind::Users => &["userId", "properties"],
            Kind::Actions => &["actionId", "properties"],
            Kind::ActionInteractions => &[
                "actionId",
                "userId",
                "sessionId",
                "timestamp",
                "eventType",
                "eventId",
                "recommendationId",
                "impression",
                "properties",
            ],
        }
    }

    /// The grouping members a line may carry, with the flag that gives a
    /// default for them.
    fn key_members(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Events => &[
                ("trackingId", "--tracking-id"),
                ("sessionId", "--session-id"),
                ("userId", "--user-id"),
            ],
            Kind::ActionInteractions => &[("trackingId", "--tracking-id")],
            Kind::Items | Kind::Users | Kind::Actions => &[("datasetArn", "--dataset-arn")],
        }
    }
}

/// Values given by flags, for the lines that do not carry them.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `--tracking-id`.
    pub tracking_id: Option<String>,
    /// `--dataset-arn`.
    pub dataset_arn: Option<String>,
    /// `--session-id`.
    pub session_id: Option<String>,
    /// `--user-id`.
    pub user_id: Option<String>,
}

impl Defaults {
    fn get(&self, member: &str) -> Option<&str> {
        match member {
            "trackingId" => self.tracking_id.as_deref(),
            "datasetArn" => self.dataset_arn.as_deref(),
            "sessionId" => self.session_id.as_deref(),
            "userId" => self.user_id.as_deref(),
            _ => None,
        }
    }
}

/// Takes the string member `name` out of `map`: absent and `null` are
/// `None`; any other non-string is an error.
fn take_string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("{name} must be a string, not {}", kind_of(&other))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The line's value of `member`, or the flag's. A line that carries a value
/// different from the flag's is refused: flags fill in, they never override,
/// and a line is never silently sent elsewhere than it says.
fn merge(
    line: Option<String>,
    member: &str,
    flag: &str,
    defaults: &Defaults,
) -> Result<Option<String>, String> {
    match (line, defaults.get(member)) {
        (Some(l), Some(f)) if l != f => Err(format!(
            "{member} `{}` differs from {flag} `{}`",
            shorten(&l),
            shorten(f)
        )),
        (Some(l), _) => Ok(Some(l)),
        (None, f) => Ok(f.map(str::to_owned)),
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn required(v: Option<String>, member: &str, flag: &str) -> Result<String, String> {
    v.ok_or_else(|| format!("no {member}: give {flag} or a `{member}` member on the line"))
}

/// serde_json's message without its position in a one-line document
/// (`at line 1 column 17` becomes `at column 17`).
pub fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) if e.line() == 1 => format!("{} at column {}", &text[..i], e.column()),
        Some(i) => format!("{} at line {} column {}", &text[..i], e.line(), e.column()),
        None => text,
    }
}

/// Deserializes one record of the request's `list`; an error names the
/// path as validation does (`eventList[0].eventValue: invalid type ...`).
fn de<T: serde::de::DeserializeOwned>(object: Value, list: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            format!("{list}[0]")
        } else {
            format!("{list}[0].{path}")
        };
        format!("{at}: {}", json_error(e.inner()))
    })
}

/// Builds and validates the record of one JSON line.
pub fn from_json_line(kind: Kind, defaults: &Defaults, line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8: {e}"))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {}", json_error(&e)))?;
    let Value::Object(map) = value else {
        return Err(format!(
            "expected a JSON object for one record, not {}",
            kind_of(&value)
        ));
    };
    from_object(kind, defaults, map)
}

/// Builds and validates the record of one JSON object in the API's shape
/// (plus the grouping members).
pub fn from_object(
    kind: Kind,
    defaults: &Defaults,
    mut map: Map<String, Value>,
) -> Result<Record, String> {
    // Grouping members: line value or flag, never both different.
    let mut keys: Vec<Option<String>> = Vec::new();
    for (member, flag) in kind.key_members() {
        let line = take_string(&mut map, member)?;
        keys.push(merge(line, member, flag, defaults)?);
    }
    // Action interactions carry sessionId and userId in the record itself;
    // the flags fill them in too, with the same rule.
    if kind == Kind::ActionInteractions {
        for (member, flag) in [("sessionId", "--session-id"), ("userId", "--user-id")] {
            let line = take_string(&mut map, member)?;
            if let Some(v) = merge(line, member, flag, defaults)? {
                map.insert(member.to_owned(), Value::String(v));
            }
        }
    }
    // Anything else must be a member of the record: a misspelt member would
    // otherwise be dropped without a word.
    let allowed = kind.record_members();
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let mut members: Vec<&str> = kind.key_members().iter().map(|(m, _)| *m).collect();
        for m in allowed {
            if !members.contains(m) {
                members.push(m);
            }
        }
        return Err(format!(
            "unknown member `{}` (a line may hold {})",
            shorten(unknown),
            members.join(", ")
        ));
    }
    let object = Value::Object(map);
    let input = match kind {
        Kind::Events => {
            let mut keys = keys.into_iter();
            let tracking = required(keys.next().flatten(), "trackingId", "--tracking-id")?;
            let session = required(keys.next().flatten(), "sessionId", "--session-id")?;
            let user = keys.next().flatten();
            let event: Event = de(object, "eventList")?;
            let mut input = PutEventsInput::new(tracking, session).event(event);
            if let Some(u) = user {
                input = input.user_id(u);
            }
            AnyInput::PutEvents(input)
        }
        Kind::ActionInteractions => {
            let tracking = required(keys.pop().flatten(), "trackingId", "--tracking-id")?;
            let a: ActionInteraction = de(object, "actionInteractions")?;
            AnyInput::PutActionInteractions(
                PutActionInteractionsInput::new(tracking).action_interaction(a),
            )
        }
        Kind::Items | Kind::Users | Kind::Actions => {
            let arn = required(keys.pop().flatten(), "datasetArn", "--dataset-arn")?;
            match kind {
                Kind::Items => {
                    let r: Item = de(object, "items")?;
                    AnyInput::PutItems(PutItemsInput::new(arn).item(r))
                }
                Kind::Users => {
                    let r: User = de(object, "users")?;
                    AnyInput::PutUsers(PutUsersInput::new(arn).user(r))
                }
                _ => {
                    let r: Action = de(object, "actions")?;
                    AnyInput::PutActions(PutActionsInput::new(arn).action(r))
                }
            }
        }
    };
    input.validate().map_err(|e| e.to_string())?;
    input
        .into_records()
        .pop()
        .ok_or_else(|| "no record".to_owned())
}

/// A record as one JSON line of the API's shape with its grouping members
/// (`trackingId`, `sessionId`, `userId` or `datasetArn`), as the failed file
/// holds it: exactly what was sent, event ids included, so that sending the
/// line again is the same record (and the service drops it if it had
/// arrived). `properties` stays the JSON text it was sent as.
pub fn to_json_line(record: Record) -> String {
    let Some(input) = group_all([record]).pop() else {
        return String::new();
    };
    let (list, keys): (&str, Vec<(&str, Option<String>)>) = match &input {
        AnyInput::PutEvents(i) => (
            "eventList",
            vec![
                ("trackingId", Some(i.tracking_id.clone())),
                ("sessionId", Some(i.session_id.clone())),
                ("userId", i.user_id.clone()),
            ],
        ),
        AnyInput::PutItems(i) => ("items", vec![("datasetArn", Some(i.dataset_arn.clone()))]),
        AnyInput::PutUsers(i) => ("users", vec![("datasetArn", Some(i.dataset_arn.clone()))]),
        AnyInput::PutActions(i) => ("actions", vec![("datasetArn", Some(i.dataset_arn.clone()))]),
        AnyInput::PutActionInteractions(i) => (
            "actionInteractions",
            vec![("trackingId", Some(i.tracking_id.clone()))],
        ),
    };
    let body: Value = serde_json::from_slice(&input.encode()).unwrap_or(Value::Null);
    let mut out = Map::new();
    for (k, v) in keys {
        if let Some(v) = v {
            out.insert(k.to_owned(), Value::String(v));
        }
    }
    if let Some(Value::Object(member)) = body.get(list).and_then(|l| l.get(0)) {
        for (k, v) in member {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out).to_string()
}

/// A CSV header as the camelCase key Personalize expects:
/// `NUMBER_OF_RATINGS` → `numberOfRatings`, `item id` → `itemId`; a name
/// already in camelCase (no separators, not all capitals) keeps its case
/// but for the first letter (`ItemId` → `itemId`).
pub fn camel_case(header: &str) -> String {
    let header = header.trim().trim_start_matches('\u{feff}');
    let separated = header.contains(['_', '-', ' ', '.']);
    let has_lower = header.chars().any(char::is_lowercase);
    if !separated && has_lower {
        let mut c = header.chars();
        return match c.next() {
            Some(f) => f.to_lowercase().chain(c).collect(),
            None => String::new(),
        };
    }
    let mut out = String::with_capacity(header.len());
    for (i, part) in header
        .split(['_', '-', ' ', '.'])
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        // A part in capitals (or a single word) is lowered; a part in mixed
        // case keeps its inner capitals (`first_Name` → `firstName`).
        let lower = if part.chars().any(char::is_lowercase) {
            part.to_owned()
        } else {
            part.to_lowercase()
        };
        let mut c = lower.chars();
        if let Some(f) = c.next() {
            if i == 0 {
                out.extend(f.to_lowercase());
            } else {
                out.extend(f.to_uppercase());
            }
            out.extend(c);
        }
    }
    out
}

/// The record of a CSV row: `id` and its `properties` (header key, cell),
/// empty cells left out.
pub fn from_csv_row(
    kind: Kind,
    defaults: &Defaults,
    id: &str,
    properties: &[(&str, &str)],
) -> Result<Record, String> {
    let member = kind.id_member().unwrap_or("itemId");
    let mut object = Map::new();
    if let Some(arn) = &defaults.dataset_arn {
        object.insert("datasetArn".into(), Value::String(arn.clone()));
    }
    object.insert(member.into(), Value::String(id.to_owned()));
    let mut cells = properties.iter().filter(|(_, v)| !v.is_empty()).peekable();
    if cells.peek().is_some() {
        // The properties text in column order (serde_json's map would sort).
        let mut text = String::from("{");
        for (i, (k, v)) in cells.enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&Value::String((*k).to_owned()).to_string());
            text.push(':');
            text.push_str(&Value::String((*v).to_owned()).to_string());
        }
        text.push('}');
        object.insert("properties".into(), Value::String(text));
    }
    from_object(kind, defaults, object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Defaults {
        Defaults {
            tracking_id: Some("t".into()),
            session_id: None,
            user_id: None,
            dataset_arn: Some("arn:aws:personalize:us-east-1:1:dataset/d/ITEMS".into()),
        }
    }

    #[test]
    fn camel_case_conversions() {
        for (h, want) in [
            ("NUMBER_OF_RATINGS", "numberOfRatings"),
            ("ITEM_ID", "itemId"),
            ("itemId", "itemId"),
            ("ItemId", "itemId"),
            ("item_id", "itemId"),
            ("PRICE", "price"),
            ("genres", "genres"),
            ("\u{feff}ITEM_ID", "itemId"),
            ("release year", "releaseYear"),
            ("first_Name", "firstName"),
        ] {
            assert_eq!(camel_case(h), want, "{h}");
        }
    }

    #[test]
    fn events_take_keys_from_line_or_flags() {
        let r = from_json_line(
            Kind::Events,
            &d(),
            br#"{"sessionId":"s","userId":"u","eventType":"click","sentAt":"2026-11-29T11:59:00Z","itemId":"i","properties":{"a":"1"}}"#,
        )
        .unwrap();
        let line = to_json_line(r.clone());
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["trackingId"], "t");
        assert_eq!(v["sessionId"], "s");
        assert_eq!(v["userId"], "u");
        assert_eq!(v["properties"], r#"{"a":"1"}"#);
        // The line reads back as the same record.
        let back = from_json_line(Kind::Events, &Defaults::default(), line.as_bytes()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = |kind, line: &str| from_json_line(kind, &d(), line.as_bytes()).unwrap_err();
        let long = "x".repeat(300);
        assert_eq!(
            e(
                Kind::Events,
                &format!(r#"{{"sessionId":"s","eventType":"c","sentAt":1,"itemId":"{long}"}}"#)
            ),
            "eventList[0].itemId: length 300 is above the maximum 256"
        );
        assert!(e(Kind::Events, r#"{"eventType":"c","sentAt":1}"#).starts_with("no sessionId"));
        assert!(e(Kind::Events, r#"{"sessionId":"s","sentAt":1}"#).contains("eventType"));
        assert!(e(
            Kind::Events,
            r#"{"sessionId":"s","eventType":"c","sentAt":1,"itemid":"x"}"#
        )
        .starts_with("unknown member `itemid`"));
        assert!(e(
            Kind::Events,
            r#"{"trackingId":"other","sessionId":"s","eventType":"c","sentAt":1}"#
        )
        .contains("differs from --tracking-id"));
        assert!(e(Kind::Events, r#"{"sessionId":"s","#).starts_with("not valid JSON"));
        assert!(e(Kind::Events, "[1]").contains("not an array"));
        assert!(e(Kind::Items, r#"{"itemId":""}"#).starts_with("items[0].itemId"));
        assert!(e(Kind::Events, r#"{"sessionId":5}"#).contains("must be a string"));
        assert_eq!(
            e(
                Kind::Events,
                r#"{"sessionId":"s","eventType":"c","sentAt":1,"eventValue":"high"}"#
            ),
            "eventList[0].eventValue: invalid type: string \"high\", expected f32"
        );
        let unknown = e(
            Kind::Events,
            r#"{"sessionId":"s","eventType":"c","sentAt":1,"metricAttribution":{"source":"x"}}"#,
        );
        assert!(
            unknown.starts_with("eventList[0].metricAttribution.source: unknown field `source`"),
            "{unknown}"
        );
        let ms = e(
            Kind::Events,
            r#"{"sessionId":"s","eventType":"c","sentAt":1700000000123}"#,
        );
        assert!(ms.starts_with("eventList[0].sentAt: "), "{ms}");
        assert!(ms.contains("milliseconds"), "{ms}");
        assert!(e(
            Kind::Events,
            r#"{"sessionId":"s","eventType":"c","sentAt":-5}"#
        )
        .contains("negative"));
    }

    #[test]
    fn csv_rows_become_items_with_properties() {
        let r = from_csv_row(
            Kind::Items,
            &d(),
            "i1",
            &[("genres", "a|b"), ("price", ""), ("title", "Hats, \"big\"")],
        )
        .unwrap();
        let Record::Item { item, .. } = &r else {
            panic!()
        };
        assert_eq!(
            item.properties.as_ref().unwrap().as_str(),
            r#"{"genres":"a|b","title":"Hats, \"big\""}"#
        );
        let line = to_json_line(r.clone());
        assert_eq!(
            from_json_line(Kind::Items, &d(), line.as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn action_interactions_take_session_and_user_flags() {
        let defaults = Defaults {
            session_id: Some("s".into()),
            user_id: Some("u".into()),
            ..d()
        };
        let r = from_json_line(
            Kind::ActionInteractions,
            &defaults,
            br#"{"actionId":"a","timestamp":1700000000,"eventType":"Viewed"}"#,
        )
        .unwrap();
        let Record::ActionInteraction { interaction, .. } = r else {
            panic!()
        };
        assert_eq!(interaction.session_id, "s");
        assert_eq!(interaction.user_id.as_deref(), Some("u"));
    }
}
