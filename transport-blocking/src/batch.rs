//! Sending any number of records: grouped into calls of at most 10 with the
//! core's grouping rules, sent one call after another or from a few scoped
//! threads, with every record not sent handed back with its error.

use std::sync::Mutex;

use personalize_events_core::batch::{checked, group_all, BatchReport, FailedRecord, Record};
use personalize_events_core::{Action, ActionInteraction, AnyInput, Event, Item, User};

use crate::Client;

impl Client {
    /// Sends any number of records, grouped into calls of at most 10 (events
    /// by tracking id, session id and user id; action interactions by
    /// tracking id; items, users and actions by dataset), one call after
    /// another. Never fails as a whole: a record that fails validation is
    /// refused alone (the others are sent), and each failed call's records
    /// are reported with its error.
    ///
    /// ```
    /// # use personalize_events_blocking::*;
    /// # let client = Client::builder().region("us-east-1")
    /// #     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None)).build()?;
    /// // Bad records fail locally, before anything is sent.
    /// let report = client.put_all([Record::item("arn:aws:personalize:us-east-1:123456789012:dataset/d/ITEMS", Item::new(""))]);
    /// assert_eq!((report.calls_made, report.records_sent, report.records_failed()), (0, 0, 1));
    /// assert!(report.failed[0].error.is_local());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn put_all(&self, records: impl IntoIterator<Item = Record>) -> BatchReport {
        self.put_all_concurrently(records, 1)
    }

    /// [`put_all`](Self::put_all) with up to `concurrency` calls in flight,
    /// from scoped threads sharing this client's connection pool and retry
    /// quota. `0` counts as 1.
    pub fn put_all_concurrently(
        &self,
        records: impl IntoIterator<Item = Record>,
        concurrency: usize,
    ) -> BatchReport {
        let calls = group_all(records);
        let total = calls.len();
        let workers = concurrency.clamp(1, total.max(1));
        let mut results: Vec<(usize, BatchReport)> = if workers == 1 {
            calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| (i, self.put_group(c)))
                .collect()
        } else {
            let queue = Mutex::new(calls.into_iter().enumerate());
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        s.spawn(|| {
                            let mut done = Vec::new();
                            loop {
                                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                                let Some((i, call)) = next else { break };
                                done.push((i, self.put_group(call)));
                            }
                            done
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        results.sort_by_key(|(i, _)| *i);
        let mut report = BatchReport::default();
        for (_, r) in results {
            report.merge(r);
        }
        report
    }

    /// Events of one session (and user), in calls of at most 10.
    pub fn put_events_batched(
        &self,
        tracking_id: &str,
        session_id: &str,
        user_id: Option<&str>,
        events: impl IntoIterator<Item = Event>,
    ) -> BatchReport {
        let user = user_id.map(str::to_owned);
        self.put_all(
            events
                .into_iter()
                .map(|e| Record::event(tracking_id, session_id, user.clone(), e)),
        )
    }

    /// Items of one dataset, in calls of at most 10.
    pub fn put_items_batched(
        &self,
        dataset_arn: &str,
        items: impl IntoIterator<Item = Item>,
    ) -> BatchReport {
        self.put_all(items.into_iter().map(|r| Record::item(dataset_arn, r)))
    }

    /// Users of one dataset, in calls of at most 10.
    pub fn put_users_batched(
        &self,
        dataset_arn: &str,
        users: impl IntoIterator<Item = User>,
    ) -> BatchReport {
        self.put_all(users.into_iter().map(|r| Record::user(dataset_arn, r)))
    }

    /// Actions of one dataset, in calls of at most 10.
    pub fn put_actions_batched(
        &self,
        dataset_arn: &str,
        actions: impl IntoIterator<Item = Action>,
    ) -> BatchReport {
        self.put_all(actions.into_iter().map(|r| Record::action(dataset_arn, r)))
    }

    /// Action interactions of one tracker, in calls of at most 10.
    pub fn put_action_interactions_batched(
        &self,
        tracking_id: &str,
        interactions: impl IntoIterator<Item = ActionInteraction>,
    ) -> BatchReport {
        self.put_all(
            interactions
                .into_iter()
                .map(|r| Record::action_interaction(tracking_id, r)),
        )
    }

    /// Sends one group: its valid records in as many calls as they need,
    /// and every record not sent, with the event id it was sent with.
    fn put_group(&self, mut input: AnyInput) -> BatchReport {
        // Fill missing event ids here rather than in the core's copy, so that
        // a failed call's records carry the ids that were sent.
        if self.inner.core.config().fill_event_ids {
            input.fill_event_ids(fastrand::u128(..));
        }
        let (calls, refused) = checked(input);
        let mut report = BatchReport::default();
        report.failed = refused;
        for input in calls {
            let count = input.record_count();
            report.calls_made += 1;
            match self.send_any(input.clone()) {
                Ok(_) => report.records_sent += count as u64,
                Err(error) => {
                    report.calls_failed += 1;
                    let records = input.into_records().into_iter();
                    report
                        .failed
                        .extend(records.map(|r| FailedRecord::new(r, error.clone())));
                }
            }
        }
        report
    }
}
