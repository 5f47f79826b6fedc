//! The five operations as one trait, so the [`Call`](crate::Call) machine and
//! the transports are written once for all of them.

use crate::encode::Encode;
use crate::model::*;
use crate::validate::Validate;
use crate::Error;

mod sealed {
    pub trait Sealed {}
}

/// One of the service's five operations, identified by its input type.
///
/// This trait is sealed: the service has exactly these operations.
pub trait Operation: Validate + Encode + sealed::Sealed + Send + 'static {
    /// The operation's output.
    type Output: Send + std::fmt::Debug + 'static;
    /// The operation name, e.g. `PutEvents`.
    const NAME: &'static str;
    /// The request path, e.g. `/events`.
    const PATH: &'static str;
    /// The output for a successful response with this request id.
    fn output(request_id: Option<String>) -> Self::Output;
    /// Gives every event (or action interaction) without an `eventId` one,
    /// derived from `seed`, so that retries never count it twice.
    fn fill_event_ids(&mut self, seed: u128) {
        let _ = seed;
    }
    /// The number of records in the input.
    fn record_count(&self) -> usize;
}

/// A random-looking UUID (version 4 layout) derived from `seed` and an index.
pub fn uuid_from_seed(seed: u128, index: u64) -> String {
    let b = uuid_bytes(seed, index);
    // Only ASCII hex digits and dashes are written.
    String::from_utf8_lossy(&b).into_owned()
}

/// [`uuid_from_seed`] into a stack buffer.
pub(crate) fn uuid_bytes(seed: u128, index: u64) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut r = fastrand::Rng::with_seed((seed as u64) ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut a = r.u64(..) ^ ((seed >> 64) as u64);
    let mut b = r.u64(..);
    a = (a & !0xF000) | 0x4000; // version 4
    b = (b & !(0xC000 << 48)) | (0x8000 << 48); // variant 10
    let v = ((a as u128) << 64) | b as u128;
    let mut out = [b'-'; 36];
    let mut nibble = 0;
    for (i, o) in out.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        *o = HEX[((v >> (124 - 4 * nibble)) & 0xf) as usize];
        nibble += 1;
    }
    out
}

macro_rules! operation {
    ($input:ty, $output:ident, $name:literal, $path:literal, $list:ident $(, fill: $fill:ident)?) => {
        impl sealed::Sealed for $input {}
        impl Operation for $input {
            type Output = $output;
            const NAME: &'static str = $name;
            const PATH: &'static str = $path;
            fn output(request_id: Option<String>) -> $output {
                $output { request_id }
            }
            $(
                fn fill_event_ids(&mut self, seed: u128) {
                    for (i, r) in self.$fill.iter_mut().enumerate() {
                        if r.event_id.is_none() {
                            r.event_id = Some(uuid_from_seed(seed, i as u64));
                        }
                    }
                }
            )?
            fn record_count(&self) -> usize {
                self.$list.len()
            }
        }
    };
}

operation!(PutEventsInput, PutEventsOutput, "PutEvents", "/events", event_list, fill: event_list);
operation!(PutItemsInput, PutItemsOutput, "PutItems", "/items", items);
operation!(PutUsersInput, PutUsersOutput, "PutUsers", "/users", users);
operation!(
    PutActionsInput,
    PutActionsOutput,
    "PutActions",
    "/actions",
    actions
);
operation!(
    PutActionInteractionsInput,
    PutActionInteractionsOutput,
    "PutActionInteractions",
    "/action-interactions",
    action_interactions,
    fill: action_interactions
);

/// Any of the five inputs, chosen by operation name or request path at run
/// time: for tools that read records for an operation named on the command
/// line, and for servers that decode request bodies with the same rules as
/// the client.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyInput {
    /// `PutEvents`.
    PutEvents(PutEventsInput),
    /// `PutItems`.
    PutItems(PutItemsInput),
    /// `PutUsers`.
    PutUsers(PutUsersInput),
    /// `PutActions`.
    PutActions(PutActionsInput),
    /// `PutActionInteractions`.
    PutActionInteractions(PutActionInteractionsInput),
}

/// The five operations: name and request path.
pub const OPERATIONS: [(&str, &str); 5] = [
    ("PutEvents", "/events"),
    ("PutItems", "/items"),
    ("PutUsers", "/users"),
    ("PutActions", "/actions"),
    ("PutActionInteractions", "/action-interactions"),
];

macro_rules! any_dispatch {
    ($self:ident, $v:ident => $e:expr) => {
        match $self {
            AnyInput::PutEvents($v) => $e,
            AnyInput::PutItems($v) => $e,
            AnyInput::PutUsers($v) => $e,
            AnyInput::PutActions($v) => $e,
            AnyInput::PutActionInteractions($v) => $e,
        }
    };
}

impl AnyInput {
    /// Decodes a JSON body for the operation named `operation` (its name,
    /// like `PutEvents`, or its path, like `/events`). Malformed JSON, a
    /// missing required member, a member the shape does not have, a value
    /// of the wrong type or a timestamp that cannot be meant gives
    /// `Error::Validation` with the path of the value
    /// (`eventList[0].eventValue`; `(body)` for the body as a whole); an
    /// unknown operation gives `Error::Config`. The result is not yet
    /// validated.
    pub fn from_json(operation: &str, body: &[u8]) -> Result<AnyInput, Error> {
        fn de<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
            let mut d = serde_json::Deserializer::from_slice(body);
            let value = serde_path_to_error::deserialize(&mut d)
                .map_err(|e| decode_error(&e.path().to_string(), e.inner()))?;
            d.end().map_err(|e| decode_error(".", &e))?;
            Ok(value)
        }
        Ok(match operation {
            "PutEvents" | "/events" => AnyInput::PutEvents(de(body)?),
            "PutItems" | "/items" => AnyInput::PutItems(de(body)?),
            "PutUsers" | "/users" => AnyInput::PutUsers(de(body)?),
            "PutActions" | "/actions" => AnyInput::PutActions(de(body)?),
            "PutActionInteractions" | "/action-interactions" => {
                AnyInput::PutActionInteractions(de(body)?)
            }
            other => {
                return Err(Error::Config(format!(
                    "`{}` is not an operation of this service",
                    other.chars().take(64).collect::<String>()
                )))
            }
        })
    }

    /// The operation name.
    pub fn operation_name(&self) -> &'static str {
        fn name<T: Operation>(_: &T) -> &'static str {
            T::NAME
        }
        any_dispatch!(self, v => name(v))
    }

    /// Checks every constraint of the model.
    pub fn validate(&self) -> Result<(), Error> {
        any_dispatch!(self, v => v.validate())
    }

    /// Every violated constraint, in the service's wording and paths
    /// (`Value at 'eventList.1.member.itemId' failed to satisfy constraint:
    /// ...`), in model order; empty when the input is valid. For servers
    /// that answer like the service (the emulator counts them into
    /// `N validation errors detected: ...`).
    pub fn service_violations(&self) -> Vec<String> {
        any_dispatch!(self, v => crate::validate::service_violations(v))
    }

    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        any_dispatch!(self, v => v.encode())
    }

    /// The number of records.
    pub fn record_count(&self) -> usize {
        any_dispatch!(self, v => v.record_count())
    }

    /// Gives every event or action interaction without an `eventId` one
    /// derived from `seed` (see [`Operation::fill_event_ids`]).
    pub fn fill_event_ids(&mut self, seed: u128) {
        any_dispatch!(self, v => v.fill_event_ids(seed))
    }
}

/// A decoding error at `path` (the body itself when the path is `.`).
///
/// A path into `properties` stops there: its keys are the record's data.
fn decode_error(path: &str, e: &serde_json::Error) -> Error {
    let path = match path
        .find("properties.")
        .or_else(|| path.find("properties["))
    {
        Some(i) => &path[..i + "properties".len()],
        None => path,
    };
    Error::Validation {
        // An unknown member whose name is empty has an empty path: the
        // problem names it, the path is the body's.
        path: if path == "." || path.is_empty() {
            "(body)".into()
        } else {
            path.into()
        },
        problem: without_values(&e.to_string()),
    }
}

/// serde's messages quote the value that did not fit (`invalid type: string
/// "…", expected f32`). Records are sensitive: keep the kind of value (and
/// the member names, the line and column), drop the value itself.
fn without_values(msg: &str) -> String {
    const MARKERS: [(&str, char); 4] = [
        ("string \"", '"'),
        ("integer `", '`'),
        ("floating point `", '`'),
        ("character `", '`'),
    ];
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    loop {
        let next = MARKERS
            .iter()
            .filter_map(|&(m, close)| rest.find(m).map(|i| (i, m, close)))
            .min_by_key(|&(i, ..)| i);
        let Some((i, marker, close)) = next else {
            out.push_str(rest);
            return out;
        };
        // Keep the kind (`string`), drop the space, the quotes and the value.
        out.push_str(&rest[..i + marker.len() - 2]);
        let value = &rest[i + marker.len()..];
        let mut escaped = false;
        let end = value.char_indices().find_map(|(j, c)| {
            if escaped {
                escaped = false;
            } else if c == '\\' && close == '"' {
                escaped = true;
            } else if c == close {
                return Some(j);
            }
            None
        });
        match end {
            Some(j) => rest = &value[j + 1..],
            None => return out,
        }
    }
}

/// The output of any of the five operations, for callers that hold an
/// [`AnyInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyOutput {
    /// Of `PutEvents`.
    PutEvents(PutEventsOutput),
    /// Of `PutItems`.
    PutItems(PutItemsOutput),
    /// Of `PutUsers`.
    PutUsers(PutUsersOutput),
    /// Of `PutActions`.
    PutActions(PutActionsOutput),
    /// Of `PutActionInteractions`.
    PutActionInteractions(PutActionInteractionsOutput),
}

impl AnyOutput {
    /// The request id of the response.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            AnyOutput::PutEvents(o) => o.request_id.as_deref(),
            AnyOutput::PutItems(o) => o.request_id.as_deref(),
            AnyOutput::PutUsers(o) => o.request_id.as_deref(),
            AnyOutput::PutActions(o) => o.request_id.as_deref(),
            AnyOutput::PutActionInteractions(o) => o.request_id.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_errors_name_the_path() {
        let e = |op: &str, body: &str| AnyInput::from_json(op, body.as_bytes()).unwrap_err();
        let err = e(
            "PutEvents",
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"c","sentAt":1,"eventValue":"high"}]}"#,
        );
        assert!(
            matches!(&err, Error::Validation { path, .. } if path == "eventList[0].eventValue"),
            "{err}"
        );
        assert!(!err.to_string().contains("high"), "{err}");
        let err = e(
            "PutEvents",
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"c","sentAt":1,"eventID":"x"}]}"#,
        );
        assert!(err.to_string().contains("eventList[0]"), "{err}");
        assert!(err.to_string().contains("unknown field `eventID`"), "{err}");
        let err = e(
            "PutEvents",
            r#"{"trackingId":"t","sessionId":"s","eventList":[{"eventType":"c","sentAt":1700000000123}]}"#,
        );
        assert!(
            err.to_string().starts_with("eventList[0].sentAt: "),
            "{err}"
        );
        assert!(err.to_string().contains("milliseconds"), "{err}");
        let err = e("PutItems", r#"{"":1,"datasetArn":"a","items":[]}"#);
        assert!(
            err.to_string().starts_with("(body): unknown field ``"),
            "{err}"
        );
        let err = e("PutItems", r#"{"datasetArn":"a","items":[]} x"#);
        assert!(
            err.to_string().starts_with("(body): trailing characters"),
            "{err}"
        );
        let deep = format!(
            r#"{{"datasetArn":"a","items":[{{"itemId":"i","properties":{{"secretKey":{}1{}}}}}]}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let err = e("PutItems", &deep);
        assert!(
            err.to_string().starts_with("items[0].properties: "),
            "{err}"
        );
        assert!(!err.to_string().contains("secretKey"), "{err}");
        let err = e("PutItems", r#"{"datasetArn":"a","itemz":[]}"#);
        assert!(err.to_string().contains("unknown field `itemz`"), "{err}");
    }

    #[test]
    fn uuids_are_v4_shaped_and_distinct() {
        let a = uuid_from_seed(1, 0);
        let b = uuid_from_seed(1, 1);
        let c = uuid_from_seed(2, 0);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
