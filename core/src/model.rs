//! The service's shapes: inputs, records and outputs of the five operations.
//!
//! Member names follow the API (in snake case); required members are the
//! constructor's arguments and optional ones are set with chained methods:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use personalize_events_core::{Event, PutEventsInput, Properties};
//!
//! let sent_at = UNIX_EPOCH + Duration::from_secs(1_795_953_540);
//! let input = PutEventsInput::new("tracking-id", "session-1")
//!     .user_id("user-7")
//!     .event(
//!         Event::new("click", sent_at)
//!             .item_id("item-42")
//!             .event_value(1.5)
//!             .properties(Properties::from_json_text(r#"{"discount":"yes"}"#)),
//!     );
//! assert_eq!(input.event_list.len(), 1);
//! ```
//!
//! Every type also deserializes from the API's own camelCase JSON, so records
//! can be read from JSON lines; timestamps may be epoch seconds or RFC 3339
//! text, and `properties` a JSON string (kept verbatim) or a JSON object
//! (serialized once for you). A member the shape does not have is refused
//! (a misspelt `eventID` would otherwise be dropped, and the event sent
//! again under a new id), and so is a number that cannot be meant as epoch
//! seconds (negative, or so large that it is surely milliseconds).

use std::fmt;
use std::time::SystemTime;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

const REDACTED: &str = "*** Sensitive Data Redacted ***";

/// The `properties` member of a record: a JSON object, carried on the wire
/// as a string of JSON text.
///
/// Build it from JSON text (kept byte for byte, as the API takes it) or from
/// any serializable map (serialized once). Validation checks that the text
/// is a JSON object within the member's length limit, so nothing is
/// double-encoded by mistake.
///
/// ```
/// use personalize_events_core::Properties;
/// let a = Properties::from_json_text(r#"{"numberOfRatings":"12"}"#);
/// let b = Properties::from_serialize(&serde_json::json!({"numberOfRatings": "12"})).unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Properties(String);

impl Properties {
    /// Properties given as JSON text, exactly as the API takes them.
    pub fn from_json_text(text: impl Into<String>) -> Self {
        Properties(text.into())
    }

    /// Serializes a map (a `serde_json::Value` object, a `HashMap`, a struct)
    /// into compact JSON text.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, crate::Error> {
        serde_json::to_string(value).map(Properties).map_err(|e| {
            crate::Error::validation("properties", format!("cannot be serialized: {e}"))
        })
    }

    /// The JSON text sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Gives back the JSON text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Properties {
    fn from(s: String) -> Self {
        Properties(s)
    }
}

impl From<&str> for Properties {
    fn from(s: &str) -> Self {
        Properties(s.to_owned())
    }
}

/// On the wire `properties` is a string holding the JSON text.
impl Serialize for Properties {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Ok(Properties(s)),
            serde_json::Value::Object(_) => serde_json::to_string(&v)
                .map(Properties)
                .map_err(de::Error::custom),
            other => Err(de::Error::custom(format!(
                "properties must be a JSON object or a string holding one, not {}",
                json_kind(&other)
            ))),
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Serde helpers for timestamps: epoch seconds (a number, fractions allowed)
/// or RFC 3339 text. A number that cannot be meant as epoch seconds is
/// refused: a negative one, and one past [`timestamp::MAX_EPOCH_SECONDS`]
/// (the year 2286), which is surely in milliseconds, microseconds or
/// nanoseconds; the message says which unit it looks like. RFC 3339 text
/// outside the same range is refused too (it is sent as epoch seconds, which
/// must decode back). The value itself is not quoted (records are
/// sensitive).
mod timestamp {
    use super::*;

    /// Epoch seconds from here on (2286-11-20) are taken for a finer unit.
    pub(super) const MAX_EPOCH_SECONDS: f64 = 1e10;

    /// Why `v` epoch seconds cannot be meant, if it cannot.
    pub(super) fn implausible(v: f64) -> Option<String> {
        if v < 0.0 {
            return Some(
                "a negative timestamp (before 1970) cannot be meant: give epoch seconds \
                 or RFC 3339 text (like 2026-11-29T11:59:00Z)"
                    .to_owned(),
            );
        }
        if v < MAX_EPOCH_SECONDS {
            return None;
        }
        let (unit, factor) = if v < 1e13 {
            ("milliseconds", "1000")
        } else if v < 1e16 {
            ("microseconds", "1000000")
        } else {
            ("nanoseconds", "1000000000")
        };
        Some(format!(
            "the timestamp looks like {unit} since 1970, not seconds (as seconds it is after \
             the year 2286): divide it by {factor}, or give RFC 3339 text"
        ))
    }

    struct V;
    impl de::Visitor<'_> for V {
        type Value = SystemTime;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("epoch seconds or an RFC 3339 timestamp")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<SystemTime, E> {
            if let Some(why) = implausible(v as f64) {
                return Err(E::custom(why));
            }
            crate::time::from_epoch(v, 0).ok_or_else(|| E::custom("timestamp out of range"))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<SystemTime, E> {
            if let Some(why) = implausible(v as f64) {
                return Err(E::custom(why));
            }
            i64::try_from(v)
                .ok()
                .and_then(|v| crate::time::from_epoch(v, 0))
                .ok_or_else(|| E::custom("timestamp out of range"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<SystemTime, E> {
            if let Some(why) = implausible(v) {
                return Err(E::custom(why));
            }
            crate::time::from_epoch_f64(v).ok_or_else(|| E::custom("timestamp out of range"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<SystemTime, E> {
            let t = crate::time::parse_rfc3339(v).ok_or_else(|| {
                E::custom(format!(
                    "`{}` is not an RFC 3339 timestamp (like 2026-11-29T11:59:00Z) or epoch seconds",
                    v.chars().take(40).collect::<String>()
                ))
            })?;
            // The same range as numbers: it is sent as epoch seconds, which
            // must read back.
            match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) if d.as_secs_f64() < MAX_EPOCH_SECONDS => Ok(t),
                _ => Err(E::custom(
                    "a timestamp before 1970 or after the year 2286 cannot be meant",
                )),
            }
        }
    }

    pub(super) use crate::encode::epoch_seconds as serialize;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        d.deserialize_any(V)
    }
}

/// Debug that shows an optional sensitive value as redacted (or `None`).
struct Sensitive<'a, T>(&'a Option<T>);
impl<T> fmt::Debug for Sensitive<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str(REDACTED),
            None => f.write_str("None"),
        }
    }
}

/// Contains information about a metric attribution associated with an event.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricAttribution {
    /// The source of the event, such as a third party (required; printable
    /// ASCII with at least one non-space, at most 1024).
    pub event_attribution_source: String,
}

impl MetricAttribution {
    /// A metric attribution naming the event's source.
    pub fn new(event_attribution_source: impl Into<String>) -> Self {
        MetricAttribution {
            event_attribution_source: event_attribution_source.into(),
        }
    }
}

/// One item interaction event (the `Event` shape). The whole shape is
/// sensitive: `Debug` shows nothing of it, as in the official SDKs.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Event {
    /// An id that lets the service drop duplicates. The client fills one in
    /// before the first attempt when it is missing (see the client's
    /// configuration), so retries never count an event twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The type of event, such as `click` or `purchase` (required).
    pub event_type: String,
    /// The event value (the `EVENT_VALUE` field of the schema); finite.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::encode::event_value"
    )]
    pub event_value: Option<f32>,
    /// The item id, for interactions with an item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Event-specific data, a JSON object of at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
    /// When the event happened, on the client (required).
    #[serde(with = "timestamp")]
    pub sent_at: SystemTime,
    /// The recommendation id that led to the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_id: Option<String>,
    /// The item ids shown to the user (1 to 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impression: Option<Vec<String>>,
    /// Attribution of the event to a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_attribution: Option<MetricAttribution>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Event {
    /// An event of `event_type` that happened at `sent_at`.
    pub fn new(event_type: impl Into<String>, sent_at: SystemTime) -> Self {
        Event {
            event_id: None,
            event_type: event_type.into(),
            event_value: None,
            item_id: None,
            properties: None,
            sent_at,
            recommendation_id: None,
            impression: None,
            metric_attribution: None,
        }
    }
    /// Sets `eventId`.
    pub fn event_id(mut self, v: impl Into<String>) -> Self {
        self.event_id = Some(v.into());
        self
    }
    /// Sets `eventValue`.
    pub fn event_value(mut self, v: f32) -> Self {
        self.event_value = Some(v);
        self
    }
    /// Sets `itemId`.
    pub fn item_id(mut self, v: impl Into<String>) -> Self {
        self.item_id = Some(v.into());
        self
    }
    /// Sets `properties`.
    pub fn properties(mut self, v: impl Into<Properties>) -> Self {
        self.properties = Some(v.into());
        self
    }
    /// Sets `recommendationId`.
    pub fn recommendation_id(mut self, v: impl Into<String>) -> Self {
        self.recommendation_id = Some(v.into());
        self
    }
    /// Sets `impression`, the item ids shown.
    pub fn impression<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.impression = Some(ids.into_iter().map(Into::into).collect());
        self
    }
    /// Sets `metricAttribution`.
    pub fn metric_attribution(mut self, v: MetricAttribution) -> Self {
        self.metric_attribution = Some(v);
        self
    }
}

/// Input of `PutEvents`: up to 10 events of one session.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct PutEventsInput {
    /// The tracking id of the event tracker (required).
    pub tracking_id: String,
    /// The user the events belong to (sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The session id (required).
    pub session_id: String,
    /// The events, 1 to 10.
    pub event_list: Vec<Event>,
}

impl fmt::Debug for PutEventsInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutEventsInput")
            .field("tracking_id", &self.tracking_id)
            .field("user_id", &Sensitive(&self.user_id))
            .field("session_id", &self.session_id)
            .field("event_list", &self.event_list)
            .finish()
    }
}

impl PutEventsInput {
    /// Events of `session_id` for the tracker `tracking_id`; add events with
    /// [`event`](Self::event) or [`events`](Self::events).
    pub fn new(tracking_id: impl Into<String>, session_id: impl Into<String>) -> Self {
        PutEventsInput {
            tracking_id: tracking_id.into(),
            user_id: None,
            session_id: session_id.into(),
            event_list: Vec::new(),
        }
    }
    /// Sets `userId`.
    pub fn user_id(mut self, v: impl Into<String>) -> Self {
        self.user_id = Some(v.into());
        self
    }
    /// Adds one event.
    pub fn event(mut self, e: Event) -> Self {
        self.event_list.push(e);
        self
    }
    /// Adds events.
    pub fn events(mut self, e: impl IntoIterator<Item = Event>) -> Self {
        self.event_list.extend(e);
        self
    }
}

macro_rules! dataset_record {
    ($(#[$doc:meta])* $name:ident, $id:ident, $id_json:literal, $id_doc:literal, $max:literal, $id_sensitive:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            #[doc = $id_doc]
            #[serde(rename = $id_json)]
            pub $id: String,
            #[doc = concat!("Metadata, a JSON object of at most ", stringify!($max), " characters (sensitive).")]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub properties: Option<Properties>,
        }

        impl $name {
            #[doc = concat!("A record with the given `", $id_json, "`.")]
            pub fn new($id: impl Into<String>) -> Self {
                $name { $id: $id.into(), properties: None }
            }
            /// Sets `properties`.
            pub fn properties(mut self, v: impl Into<Properties>) -> Self {
                self.properties = Some(v.into());
                self
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut s = f.debug_struct(stringify!($name));
                if $id_sensitive {
                    s.field(stringify!($id), &REDACTED);
                } else {
                    s.field(stringify!($id), &self.$id);
                }
                s.field("properties", &Sensitive(&self.properties)).finish()
            }
        }
    };
}

dataset_record!(
    /// An item to add to an Items dataset.
    Item, item_id, "itemId", "The item id (required, 1 to 256).", 32000, false
);
dataset_record!(
    /// A user to add to a Users dataset.
    User, user_id, "userId", "The user id (required, 1 to 256).", 24000, false
);
dataset_record!(
    /// An action to add to an Actions dataset.
    Action, action_id, "actionId", "The action id (required, 1 to 256).", 32000, false
);

macro_rules! dataset_input {
    ($(#[$doc:meta])* $name:ident, $list:ident, $list_json:literal, $rec:ident, $one:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Debug, Deserialize, Serialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            /// The ARN of the dataset (required).
            pub dataset_arn: String,
            #[doc = concat!("The records, 1 to 10 (`", $list_json, "`).")]
            #[serde(rename = $list_json)]
            pub $list: Vec<$rec>,
        }

        impl $name {
            /// Records for the dataset `dataset_arn`; add them with the methods below.
            pub fn new(dataset_arn: impl Into<String>) -> Self {
                $name { dataset_arn: dataset_arn.into(), $list: Vec::new() }
            }
            /// Adds one record.
            pub fn $one(mut self, r: $rec) -> Self {
                self.$list.push(r);
                self
            }
            /// Adds records.
            pub fn $list(mut self, r: impl IntoIterator<Item = $rec>) -> Self {
                self.$list.extend(r);
                self
            }
        }
    };
}

dataset_input!(
    /// Input of `PutItems`: up to 10 items for an Items dataset.
    PutItemsInput, items, "items", Item, item
);
dataset_input!(
    /// Input of `PutUsers`: up to 10 users for a Users dataset.
    PutUsersInput, users, "users", User, user
);
dataset_input!(
    /// Input of `PutActions`: up to 10 actions for an Actions dataset.
    PutActionsInput, actions, "actions", Action, action
);

/// An interaction of a user with an action (the `ActionInteraction` shape).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ActionInteraction {
    /// The action id (required, sensitive).
    pub action_id: String,
    /// The user id (sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The session id (required).
    pub session_id: String,
    /// When the interaction happened (required).
    #[serde(with = "timestamp")]
    pub timestamp: SystemTime,
    /// The type of interaction: `Taken`, `Not taken` or `Viewed` (required).
    pub event_type: String,
    /// An id that lets the service drop duplicates; filled in by the client
    /// when missing, like [`Event::event_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The recommendation id that led to the interaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_id: Option<String>,
    /// The action ids shown to the user (1 to 25, sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impression: Option<Vec<String>>,
    /// Interaction-specific data, a JSON object of at most 1024 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
}

impl fmt::Debug for ActionInteraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionInteraction")
            .field("action_id", &REDACTED)
            .field("user_id", &Sensitive(&self.user_id))
            .field("session_id", &self.session_id)
            .field("timestamp", &self.timestamp)
            .field("event_type", &self.event_type)
            .field("event_id", &self.event_id)
            .field("recommendation_id", &self.recommendation_id)
            .field("impression", &Sensitive(&self.impression))
            .field("properties", &Sensitive(&self.properties))
            .finish()
    }
}

impl ActionInteraction {
    /// An interaction of type `event_type` with `action_id` in `session_id` at `timestamp`.
    pub fn new(
        action_id: impl Into<String>,
        session_id: impl Into<String>,
        timestamp: SystemTime,
        event_type: impl Into<String>,
    ) -> Self {
        ActionInteraction {
            action_id: action_id.into(),
            user_id: None,
            session_id: session_id.into(),
            timestamp,
            event_type: event_type.into(),
            event_id: None,
            recommendation_id: None,
            impression: None,
            properties: None,
        }
    }
    /// Sets `userId`.
    pub fn user_id(mut self, v: impl Into<String>) -> Self {
        self.user_id = Some(v.into());
        self
    }
    /// Sets `eventId`.
    pub fn event_id(mut self, v: impl Into<String>) -> Self {
        self.event_id = Some(v.into());
        self
    }
    /// Sets `recommendationId`.
    pub fn recommendation_id(mut self, v: impl Into<String>) -> Self {
        self.recommendation_id = Some(v.into());
        self
    }
    /// Sets `impression`, the action ids shown.
    pub fn impression<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.impression = Some(ids.into_iter().map(Into::into).collect());
        self
    }
    /// Sets `properties`.
    pub fn properties(mut self, v: impl Into<Properties>) -> Self {
        self.properties = Some(v.into());
        self
    }
}

/// Input of `PutActionInteractions`: up to 10 action interactions.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct PutActionInteractionsInput {
    /// The tracking id of the action interaction event tracker (required).
    pub tracking_id: String,
    /// The interactions, 1 to 10.
    pub action_interactions: Vec<ActionInteraction>,
}

impl PutActionInteractionsInput {
    /// Interactions for the tracker `tracking_id`.
    pub fn new(tracking_id: impl Into<String>) -> Self {
        PutActionInteractionsInput {
            tracking_id: tracking_id.into(),
            action_interactions: Vec::new(),
        }
    }
    /// Adds one interaction.
    pub fn action_interaction(mut self, a: ActionInteraction) -> Self {
        self.action_interactions.push(a);
        self
    }
    /// Adds interactions.
    pub fn action_interactions(mut self, a: impl IntoIterator<Item = ActionInteraction>) -> Self {
        self.action_interactions.extend(a);
        self
    }
}

macro_rules! output {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Default)]
        #[non_exhaustive]
        pub struct $name {
            /// The `x-amzn-RequestId` of the response, for support cases.
            pub request_id: Option<String>,
        }
    };
}

output!(
    /// Output of `PutEvents` (the service answers with an empty body).
    PutEventsOutput
);
output!(
    /// Output of `PutItems`.
    PutItemsOutput
);
output!(
    /// Output of `PutUsers`.
    PutUsersOutput
);
output!(
    /// Output of `PutActions`.
    PutActionsOutput
);
output!(
    /// Output of `PutActionInteractions`.
    PutActionInteractionsOutput
);

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
