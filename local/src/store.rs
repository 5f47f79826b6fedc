//! What the emulator keeps: accepted records, duplicate detection by
//! `eventId`, the optional JSON-lines log, and the statistics.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::time::SystemTime;

use personalize_events_core::batch::Record;
use personalize_events_core::AnyInput;
use serde_json::{Map, Value};

use crate::fault::FaultKind;

/// One accepted record, as the emulator kept it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredRecord {
    /// The number of the request that carried it (from 1, in arrival order).
    pub request_seq: u64,
    /// The `x-amzn-RequestId` of that request's answer.
    pub request_id: String,
    /// The operation, e.g. `PutEvents`.
    pub operation: &'static str,
    /// The record with its grouping keys (tracking id, session, dataset).
    pub record: Record,
    /// The record's member exactly as it came on the wire (one element of
    /// `eventList`, `items`, `users`, `actions` or `actionInteractions`).
    pub json: Value,
    /// True when an earlier accepted record of the same tracking id had the
    /// same `eventId` (events and action interactions only).
    pub duplicate: bool,
    /// When the request was accepted (the server's clock).
    pub received_at: SystemTime,
}

impl StoredRecord {
    /// The tracking id, for events and action interactions.
    pub fn tracking_id(&self) -> Option<&str> {
        match &self.record {
            Record::Event { tracking_id, .. } | Record::ActionInteraction { tracking_id, .. } => {
                Some(tracking_id)
            }
            _ => None,
        }
    }

    /// The dataset ARN, for items, users and actions.
    pub fn dataset_arn(&self) -> Option<&str> {
        match &self.record {
            Record::Item { dataset_arn, .. }
            | Record::User { dataset_arn, .. }
            | Record::Action { dataset_arn, .. } => Some(dataset_arn),
            _ => None,
        }
    }

    /// The `eventId`, for events and action interactions that carry one.
    pub fn event_id(&self) -> Option<&str> {
        match &self.record {
            Record::Event { event, .. } => event.event_id.as_deref(),
            Record::ActionInteraction { interaction, .. } => interaction.event_id.as_deref(),
            _ => None,
        }
    }

    /// The record as one line of the JSON-lines log (without the newline):
    /// `requestSeq`, `requestId`, `operation`, `receivedAt`, the grouping
    /// keys (`trackingId`, `sessionId`, `userId` or `datasetArn`),
    /// `duplicate`, and `record` (the member as received).
    pub fn to_json_line(&self) -> String {
        let mut m = Map::new();
        m.insert("requestSeq".into(), self.request_seq.into());
        m.insert("requestId".into(), self.request_id.clone().into());
        m.insert("operation".into(), self.operation.into());
        m.insert(
            "receivedAt".into(),
            crate::time::rfc3339(self.received_at).into(),
        );
        match &self.record {
            Record::Event {
                tracking_id,
                session_id,
                user_id,
                ..
            } => {
                m.insert("trackingId".into(), tracking_id.clone().into());
                m.insert("sessionId".into(), session_id.clone().into());
                if let Some(u) = user_id {
                    m.insert("userId".into(), u.clone().into());
                }
            }
            Record::ActionInteraction { tracking_id, .. } => {
                m.insert("trackingId".into(), tracking_id.clone().into());
            }
            other => {
                if let Some(arn) = dataset_arn_of(other) {
                    m.insert("datasetArn".into(), arn.to_owned().into());
                }
            }
        }
        m.insert("duplicate".into(), self.duplicate.into());
        m.insert("record".into(), self.json.clone());
        Value::Object(m).to_string()
    }
}

fn dataset_arn_of(r: &Record) -> Option<&str> {
    match r {
        Record::Item { dataset_arn, .. }
        | Record::User { dataset_arn, .. }
        | Record::Action { dataset_arn, .. } => Some(dataset_arn),
        _ => None,
    }
}

/// What the emulator has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests received (answered or not), not counting those refused
    /// because the server was stopping.
    pub requests: u64,
    /// Requests whose records were kept.
    pub accepted_requests: u64,
    /// Records kept, duplicates included.
    pub accepted_records: u64,
    /// Records kept whose `eventId` had been seen before for the same
    /// tracking id (events and action interactions).
    pub duplicates: u64,
    /// Refused requests by error code (`InvalidSignatureException`,
    /// `InvalidInputException`, ...).
    pub rejected: BTreeMap<String, u64>,
    /// Injected faults by [`FaultKind::name`].
    pub faults: BTreeMap<String, u64>,
}

impl Stats {
    /// All refused requests.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Refused requests with this error code.
    pub fn rejected_with(&self, code: &str) -> u64 {
        self.rejected.get(code).copied().unwrap_or(0)
    }

    /// All injected faults.
    pub fn faults_total(&self) -> u64 {
        self.faults.values().sum()
    }

    /// Injected faults of this kind.
    pub fn faults_of(&self, kind: FaultKind) -> u64 {
        self.faults.get(kind.name()).copied().unwrap_or(0)
    }
}

fn fmt_counts(f: &mut fmt::Formatter<'_>, m: &BTreeMap<String, u64>) -> fmt::Result {
    if m.is_empty() {
        return Ok(());
    }
    f.write_str(" (")?;
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k}: {v}")?;
    }
    f.write_str(")")
}

/// The summary the binary prints on exit, one line per figure.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "requests: {}", self.requests)?;
        writeln!(
            f,
            "accepted: {} requests, {} records",
            self.accepted_requests, self.accepted_records
        )?;
        writeln!(f, "duplicates by eventId: {}", self.duplicates)?;
        write!(f, "rejected: {}", self.rejected_total())?;
        fmt_counts(f, &self.rejected)?;
        writeln!(f)?;
        write!(f, "faults injected: {}", self.faults_total())?;
        fmt_counts(f, &self.faults)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Events,
    ActionInteractions,
}

/// The mutable state behind one lock.
#[derive(Debug, Default)]
pub(crate) struct Store {
    records: Vec<StoredRecord>,
    seen: HashSet<(Family, String, String)>,
    pub stats: Stats,
    log: Option<File>,
    log_failed: bool,
}

/// The list member of each operation's body.
fn list_member(op: &str) -> &'static str {
    match op {
        "PutEvents" => "eventList",
        "PutItems" => "items",
        "PutUsers" => "users",
        "PutActions" => "actions",
        _ => "actionInteractions",
    }
}

impl Store {
    pub fn with_log(log: Option<File>, expected_records: usize) -> Self {
        Store {
            log,
            seen: HashSet::with_capacity(expected_records),
            ..Store::default()
        }
    }

    pub fn records(&self) -> Vec<StoredRecord> {
        self.records.clone()
    }

    pub fn take_records(&mut self) -> Vec<StoredRecord> {
        std::mem::take(&mut self.records)
    }

    pub fn reject(&mut self, code: &str) {
        *self.stats.rejected.entry(code.to_owned()).or_default() += 1;
    }

    pub fn fault(&mut self, kind: FaultKind) {
        *self.stats.faults.entry(kind.name().to_owned()).or_default() += 1;
    }

    /// Keeps the records of a validated input; `body` is the parsed request
    /// body, for the records' wire form.
    pub fn accept(&mut self, input: AnyInput, body: &Value, request_seq: u64, request_id: &str) {
        let operation = input.operation_name();
        let members: Vec<Value> = body
            .get(list_member(operation))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let received_at = SystemTime::now();
        let mut lines = String::new();
        self.stats.accepted_requests += 1;
        for (i, record) in input.into_records().into_iter().enumerate() {
            let mut stored = StoredRecord {
                request_seq,
                request_id: request_id.to_owned(),
                operation,
                record,
                json: members.get(i).cloned().unwrap_or(Value::Null),
                duplicate: false,
                received_at,
            };
            let family = match &stored.record {
                Record::Event { .. } => Some(Family::Events),
                Record::ActionInteraction { .. } => Some(Family::ActionInteractions),
                _ => None,
            };
            if let (Some(family), Some(t), Some(e)) =
                (family, stored.tracking_id(), stored.event_id())
            {
                if !self.seen.insert((family, t.to_owned(), e.to_owned())) {
                    stored.duplicate = true;
                    self.stats.duplicates += 1;
                }
            }
            self.stats.accepted_records += 1;
            if self.log.is_some() {
                lines.push_str(&stored.to_json_line());
                lines.push('\n');
            }
            self.records.push(stored);
        }
        if let Some(f) = &mut self.log {
            // One write per request, so lines are never interleaved.
            if let Err(e) = f.write_all(lines.as_bytes()) {
                if !self.log_failed {
                    self.log_failed = true;
                    eprintln!("personalize-events-local: cannot write the log file: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(body: &str) -> (AnyInput, Value) {
        let input = AnyInput::from_json("PutEvents", body.as_bytes()).unwrap();
        (input, serde_json::from_str(body).unwrap())
    }

    #[test]
    fn keeps_records_and_counts_duplicates_per_tracking_id() {
        let mut s = Store::default();
        let body = r#"{"trackingId":"t","sessionId":"s","userId":"u","eventList":[
            {"eventId":"e1","eventType":"click","sentAt":1},
            {"eventId":"e2","eventType":"click","sentAt":2},
            {"eventType":"click","sentAt":3}]}"#;
        let (i, v) = events(body);
        s.accept(i, &v, 1, "r1");
        let (i, v) = events(body);
        s.accept(i, &v, 2, "r2");
        let other = body.replace(r#""trackingId":"t""#, r#""trackingId":"t2""#);
        let (i, v) = events(&other);
        s.accept(i, &v, 3, "r3");
        assert_eq!(s.stats.accepted_requests, 3);
        assert_eq!(s.stats.accepted_records, 9);
        assert_eq!(s.stats.duplicates, 2, "e1 and e2 again for t; none for t2");
        let recs = s.records();
        assert_eq!(recs[0].tracking_id(), Some("t"));
        assert_eq!(recs[0].event_id(), Some("e1"));
        assert_eq!(recs[0].json["sentAt"], 1);
        assert!(recs[3].duplicate && recs[4].duplicate && !recs[5].duplicate);
        let line: Value = serde_json::from_str(&recs[3].to_json_line()).unwrap();
        assert_eq!(line["requestSeq"], 2);
        assert_eq!(line["requestId"], "r2");
        assert_eq!(line["operation"], "PutEvents");
        assert_eq!(line["userId"], "u");
        assert_eq!(line["duplicate"], true);
        assert_eq!(line["record"]["eventId"], "e1");
    }

    #[test]
    fn stats_summary() {
        let mut s = Store::default();
        s.reject("InvalidInputException");
        s.reject("InvalidInputException");
        s.fault(FaultKind::Throttling);
        s.stats.requests = 3;
        let text = s.stats.to_string();
        assert!(
            text.contains("rejected: 2 (InvalidInputException: 2)"),
            "{text}"
        );
        assert!(text.contains("faults injected: 1 (429: 1)"), "{text}");
        assert_eq!(s.stats.rejected_with("InvalidInputException"), 2);
        assert_eq!(s.stats.faults_of(FaultKind::Throttling), 1);
    }

    #[test]
    fn dataset_records_carry_their_arn() {
        let mut s = Store::default();
        let body = r#"{"datasetArn":"arn:aws:personalize:us-east-1:1:dataset/d","items":[{"itemId":"i"}]}"#;
        let input = AnyInput::from_json("PutItems", body.as_bytes()).unwrap();
        s.accept(input, &serde_json::from_str(body).unwrap(), 1, "r");
        let r = &s.records()[0];
        assert_eq!(
            r.dataset_arn(),
            Some("arn:aws:personalize:us-east-1:1:dataset/d")
        );
        assert_eq!(r.tracking_id(), None);
        let line: Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(
            line["datasetArn"],
            "arn:aws:personalize:us-east-1:1:dataset/d"
        );
        assert_eq!(line["record"]["itemId"], "i");
    }
}
