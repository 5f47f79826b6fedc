//! Grouping single records into calls of at most 10, the way the API needs
//! them: events by tracking id, session id and user id; action interactions
//! by tracking id; items, users and actions by dataset.
//!
//! [`Grouper`] is sans-IO: time enters as an argument, so the blocking batch
//! helper and the async batcher share it.
//!
//! ```
//! use std::time::{Duration, Instant, UNIX_EPOCH};
//! use personalize_events_core::{batch::{Grouper, Record}, Event};
//!
//! let mut g = Grouper::new(Duration::from_millis(5));
//! let now = Instant::now();
//! let mut full = Vec::new();
//! for i in 0..25 {
//!     let ev = Event::new("click", UNIX_EPOCH).item_id(format!("item-{i}"));
//!     full.extend(g.push(Record::event("tracking", "session", Some("user".into()), ev), now));
//! }
//! assert_eq!(full.len(), 2); // two calls of 10 ready at once
//! let rest = g.drain();
//! assert_eq!(rest[0].record_count(), 5);
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::model::*;
use crate::operation::AnyInput;
use crate::Error;

/// Most records one call may carry.
pub const MAX_RECORDS_PER_CALL: usize = 10;

/// One record with what it must be grouped by. `Debug` redacts what the
/// model marks sensitive (the user id and the records' contents).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// An event of a session (of a user).
    Event {
        /// The event tracker.
        tracking_id: String,
        /// The session.
        session_id: String,
        /// The user, if known.
        user_id: Option<String>,
        /// The event.
        event: Event,
    },
    /// An item for an Items dataset.
    Item {
        /// The dataset.
        dataset_arn: String,
        /// The item.
        item: Item,
    },
    /// A user for a Users dataset.
    User {
        /// The dataset.
        dataset_arn: String,
        /// The user.
        user: User,
    },
    /// An action for an Actions dataset.
    Action {
        /// The dataset.
        dataset_arn: String,
        /// The action.
        action: Action,
    },
    /// An action interaction.
    ActionInteraction {
        /// The action interaction event tracker.
        tracking_id: String,
        /// The interaction.
        interaction: ActionInteraction,
    },
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Event {
                tracking_id,
                session_id,
                user_id,
                event,
            } => f
                .debug_struct("Event")
                .field("tracking_id", tracking_id)
                .field("session_id", session_id)
                .field(
                    "user_id",
                    &user_id.as_ref().map(|_| "*** Sensitive Data Redacted ***"),
                )
                .field("event", event)
                .finish(),
            Record::Item { dataset_arn, item } => f
                .debug_struct("Item")
                .field("dataset_arn", dataset_arn)
                .field("item", item)
                .finish(),
            Record::User { dataset_arn, user } => f
                .debug_struct("User")
                .field("dataset_arn", dataset_arn)
                .field("user", user)
                .finish(),
            Record::Action {
                dataset_arn,
                action,
            } => f
                .debug_struct("Action")
                .field("dataset_arn", dataset_arn)
                .field("action", action)
                .finish(),
            Record::ActionInteraction {
                tracking_id,
                interaction,
            } => f
                .debug_struct("ActionInteraction")
                .field("tracking_id", tracking_id)
                .field("interaction", interaction)
                .finish(),
        }
    }
}

impl Record {
    /// An event record.
    pub fn event(
        tracking_id: impl Into<String>,
        session_id: impl Into<String>,
        user_id: Option<String>,
        event: Event,
    ) -> Self {
        Record::Event {
            tracking_id: tracking_id.into(),
            session_id: session_id.into(),
            user_id,
            event,
        }
    }
    /// An item record.
    pub fn item(dataset_arn: impl Into<String>, item: Item) -> Self {
        Record::Item {
            dataset_arn: dataset_arn.into(),
            item,
        }
    }
    /// A user record.
    pub fn user(dataset_arn: impl Into<String>, user: User) -> Self {
        Record::User {
            dataset_arn: dataset_arn.into(),
            user,
        }
    }
    /// An action record.
    pub fn action(dataset_arn: impl Into<String>, action: Action) -> Self {
        Record::Action {
            dataset_arn: dataset_arn.into(),
            action,
        }
    }
    /// An action interaction record.
    pub fn action_interaction(
        tracking_id: impl Into<String>,
        interaction: ActionInteraction,
    ) -> Self {
        Record::ActionInteraction {
            tracking_id: tracking_id.into(),
            interaction,
        }
    }

    fn key(&self) -> GroupKey {
        match self {
            Record::Event {
                tracking_id,
                session_id,
                user_id,
                ..
            } => GroupKey::Events(tracking_id.clone(), session_id.clone(), user_id.clone()),
            Record::Item { dataset_arn, .. } => GroupKey::Items(dataset_arn.clone()),
            Record::User { dataset_arn, .. } => GroupKey::Users(dataset_arn.clone()),
            Record::Action { dataset_arn, .. } => GroupKey::Actions(dataset_arn.clone()),
            Record::ActionInteraction { tracking_id, .. } => {
                GroupKey::ActionInteractions(tracking_id.clone())
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum GroupKey {
    Events(String, String, Option<String>),
    Items(String),
    Users(String),
    Actions(String),
    ActionInteractions(String),
}

impl GroupKey {
    fn into_input(self, records: Vec<Record>) -> AnyInput {
        macro_rules! take {
            ($variant:ident, $field:ident) => {
                records
                    .into_iter()
                    .filter_map(|r| match r {
                        Record::$variant { $field, .. } => Some($field),
                        _ => None,
                    })
                    .collect()
            };
        }
        match self {
            GroupKey::Events(tracking_id, session_id, user_id) => {
                AnyInput::PutEvents(PutEventsInput {
                    tracking_id,
                    user_id,
                    session_id,
                    event_list: take!(Event, event),
                })
            }
            GroupKey::Items(dataset_arn) => AnyInput::PutItems(PutItemsInput {
                dataset_arn,
                items: take!(Item, item),
            }),
            GroupKey::Users(dataset_arn) => AnyInput::PutUsers(PutUsersInput {
                dataset_arn,
                users: take!(User, user),
            }),
            GroupKey::Actions(dataset_arn) => AnyInput::PutActions(PutActionsInput {
                dataset_arn,
                actions: take!(Action, action),
            }),
            GroupKey::ActionInteractions(tracking_id) => {
                AnyInput::PutActionInteractions(PutActionInteractionsInput {
                    tracking_id,
                    action_interactions: take!(ActionInteraction, interaction),
                })
            }
        }
    }
}

impl AnyInput {
    /// The records of this input, each with its grouping keys, so a failed
    /// call can be reported (or written out) record by record.
    pub fn into_records(self) -> Vec<Record> {
        match self {
            AnyInput::PutEvents(i) => {
                let (t, s, u) = (i.tracking_id, i.session_id, i.user_id);
                i.event_list
                    .into_iter()
                    .map(|event| Record::event(t.clone(), s.clone(), u.clone(), event))
                    .collect()
            }
            AnyInput::PutItems(i) => {
                let d = i.dataset_arn;
                i.items
                    .into_iter()
                    .map(|r| Record::item(d.clone(), r))
                    .collect()
            }
            AnyInput::PutUsers(i) => {
                let d = i.dataset_arn;
                i.users
                    .into_iter()
                    .map(|r| Record::user(d.clone(), r))
                    .collect()
            }
            AnyInput::PutActions(i) => {
                let d = i.dataset_arn;
                i.actions
                    .into_iter()
                    .map(|r| Record::action(d.clone(), r))
                    .collect()
            }
            AnyInput::PutActionInteractions(i) => {
                let t = i.tracking_id;
                i.action_interactions
                    .into_iter()
                    .map(|r| Record::action_interaction(t.clone(), r))
                    .collect()
            }
        }
    }
}

#[derive(Debug)]
struct Group {
    records: Vec<Record>,
    since: Option<Instant>,
}

/// Collects records into groups and hands out calls: at once when a group
/// reaches 10 records, after `linger` otherwise, or all on [`drain`](Self::drain).
#[derive(Debug)]
pub struct Grouper {
    groups: HashMap<GroupKey, Group>,
    linger: Duration,
    pending: usize,
}

impl Grouper {
    /// A grouper whose partial groups wait at most `linger`.
    pub fn new(linger: Duration) -> Self {
        Grouper {
            groups: HashMap::new(),
            linger,
            pending: 0,
        }
    }

    /// Records held, not yet handed out.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Adds a record; returns a full call when its group reached 10.
    pub fn push(&mut self, record: Record, now: Instant) -> Option<AnyInput> {
        self.push_at(record, Some(now))
    }

    fn push_at(&mut self, record: Record, now: Option<Instant>) -> Option<AnyInput> {
        let key = record.key();
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group {
            records: Vec::with_capacity(MAX_RECORDS_PER_CALL),
            since: now,
        });
        group.records.push(record);
        self.pending += 1;
        if group.records.len() >= MAX_RECORDS_PER_CALL {
            let g = self.groups.remove(&key)?;
            self.pending -= g.records.len();
            return Some(key.into_input(g.records));
        }
        None
    }

    /// When the oldest partial group's linger runs out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.groups
            .values()
            .filter_map(|g| g.since.and_then(|s| s.checked_add(self.linger)))
            .min()
    }

    /// Hands out every group that has waited `linger` or longer.
    pub fn expired(&mut self, now: Instant) -> Vec<AnyInput> {
        let linger = self.linger;
        let keys: Vec<GroupKey> = self
            .groups
            .iter()
            .filter(|(_, g)| {
                g.since
                    .is_some_and(|s| s.checked_add(linger).is_some_and(|d| now >= d))
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter().filter_map(|k| self.take(k)).collect()
    }

    /// Hands out every group, full or not.
    pub fn drain(&mut self) -> Vec<AnyInput> {
        let keys: Vec<GroupKey> = self.groups.keys().cloned().collect();
        keys.into_iter().filter_map(|k| self.take(k)).collect()
    }

    fn take(&mut self, k: GroupKey) -> Option<AnyInput> {
        let g = self.groups.remove(&k)?;
        self.pending -= g.records.len();
        Some(k.into_input(g.records))
    }
}

/// Groups all `records` into calls of at most 10, keeping each group's
/// records in their order.
pub fn group_all(records: impl IntoIterator<Item = Record>) -> Vec<AnyInput> {
    let mut g = Grouper::new(Duration::MAX);
    let mut out = Vec::new();
    for r in records {
        out.extend(g.push_at(r, None));
    }
    out.extend(g.drain());
    out
}

/// A record that could not be sent, and why: what both clients' batch
/// reports hold, so that nothing handed to them is lost (`Debug` as the
/// record's, which redacts what is sensitive).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FailedRecord {
    /// The record, with the event id it was sent with (when ids are filled
    /// in), so sending it again cannot count an event twice.
    pub record: Record,
    /// What went wrong: its call's error (the last attempt's), or the
    /// record's own validation error.
    pub error: Error,
}

impl FailedRecord {
    /// A record and its error.
    pub fn new(record: Record, error: Error) -> Self {
        FailedRecord { record, error }
    }
}

/// What a batch of records came to, in both clients (the blocking
/// client's `put_all`, the async client's batcher): how many records went
/// through, in how many calls, and every record that did not, with its
/// error.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Records the service accepted.
    pub records_sent: u64,
    /// Calls made, failed ones included.
    pub calls_made: u64,
    /// Calls that failed.
    pub calls_failed: u64,
    /// Every record that was not sent, with its error, in the order the
    /// calls were formed.
    pub failed: Vec<FailedRecord>,
}

impl BatchReport {
    /// True when every record was sent.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
    }

    /// How many records were not sent.
    pub fn records_failed(&self) -> usize {
        self.failed.len()
    }

    /// The records that were not sent, to write out or send again.
    pub fn into_failed_records(self) -> Vec<Record> {
        self.failed.into_iter().map(|f| f.record).collect()
    }

    /// Adds `other`'s counts and failed records to this report.
    pub fn merge(&mut self, other: BatchReport) {
        self.records_sent += other.records_sent;
        self.calls_made += other.calls_made;
        self.calls_failed += other.calls_failed;
        self.failed.extend(other.failed);
    }
}

/// A call's input checked before it is sent: unchanged when it is valid;
/// else its records that fail on their own are refused (each with its
/// error) and the others regrouped into valid calls. What both clients'
/// batches do, so that one bad record never takes good ones down with it.
pub fn checked(input: AnyInput) -> (Vec<AnyInput>, Vec<FailedRecord>) {
    if input.validate().is_ok() {
        return (vec![input], Vec::new());
    }
    let mut good = Vec::new();
    let mut failed = Vec::new();
    for record in input.into_records() {
        let single = group_all([record.clone()]);
        match single.iter().try_for_each(|i| i.validate()) {
            Ok(()) => good.push(record),
            Err(error) => failed.push(FailedRecord::new(record, error)),
        }
    }
    (group_all(good), failed)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests need a real Instant to start from
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn ev(i: usize) -> Event {
        Event::new("click", UNIX_EPOCH).event_id(format!("e{i}"))
    }

    #[test]
    fn groups_by_session_and_user_in_calls_of_ten() {
        let mut recs = Vec::new();
        for i in 0..95 {
            let session = format!("s{}", i % 3);
            let user = if i % 2 == 0 {
                Some("u".to_string())
            } else {
                None
            };
            recs.push(Record::event("t", session, user, ev(i)));
        }
        let calls = group_all(recs);
        let mut total = 0;
        for c in &calls {
            let AnyInput::PutEvents(p) = c else { panic!() };
            assert!(p.event_list.len() <= 10);
            total += p.event_list.len();
        }
        assert_eq!(total, 95);
        // 6 groups (3 sessions x with/without user)
        let groups: std::collections::HashSet<_> = calls
            .iter()
            .map(|c| match c {
                AnyInput::PutEvents(p) => (p.session_id.clone(), p.user_id.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(groups.len(), 6);
    }

    #[test]
    fn linger_hands_out_partial_groups() {
        let mut g = Grouper::new(Duration::from_millis(5));
        let t0 = Instant::now();
        assert!(g.push(Record::item("arn", Item::new("i1")), t0).is_none());
        assert_eq!(g.next_deadline(), Some(t0 + Duration::from_millis(5)));
        assert!(g.expired(t0 + Duration::from_millis(4)).is_empty());
        let out = g.expired(t0 + Duration::from_millis(5));
        assert_eq!(out.len(), 1);
        assert_eq!(g.pending(), 0);
        let recs = out.into_iter().next().unwrap().into_records();
        assert_eq!(recs, vec![Record::item("arn", Item::new("i1"))]);
    }

    #[test]
    fn invalid_records_are_split_out() {
        let good = |i: usize| {
            Record::event(
                "t",
                "s",
                None,
                Event::new("click", std::time::UNIX_EPOCH).event_id(format!("e{i}")),
            )
        };
        let bad = Record::event(
            "t",
            "s",
            None,
            Event::new("", std::time::UNIX_EPOCH).event_id("bad"),
        );
        let mut records: Vec<Record> = (0..4).map(good).collect();
        records.insert(2, bad.clone());
        let input = group_all(records).pop().unwrap();
        assert!(input.validate().is_err());
        let (calls, failed) = checked(input);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].record_count(), 4);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].record, bad);
        assert!(matches!(failed[0].error, Error::Validation { .. }));
        // An item input is split the same way.
        let items = group_all([
            Record::item("arn:aws:personalize:us-east-1:1:dataset/x", Item::new("")),
            Record::item("arn:aws:personalize:us-east-1:1:dataset/x", Item::new("ok")),
        ])
        .pop()
        .unwrap();
        let (calls, failed) = checked(items);
        assert_eq!(calls[0].record_count(), 1);
        assert_eq!(failed.len(), 1);
    }
}
