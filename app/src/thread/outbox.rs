//! The thread's outbox: messages written here that the server has not
//! confirmed, in the order they were written, and the rules for sending
//! them so that the server stores them in that order.
//!
//! - Everything waiting goes out in order; a message on its way (sent on
//!   the current connection, not yet answered) is not sent again until the
//!   connection changes ([`ThreadState::connection_reset`]).
//! - When the send limit refuses a message, it stays in its place and the
//!   whole queue waits until the server said it may accept again, under one
//!   timer (a timer per message let the refused tail go out shuffled). Until
//!   the outbox is empty, messages then go one at a time: a later message
//!   must not overtake one that was refused.
//! - A message refused for any other reason is marked failed and waits for
//!   the user's "Retry"; the rest go on.
//! - What waits is kept in the browser's local storage per user and
//!   conversation ([`stored`] / [`merged`]), so a reload does not lose it;
//!   its `client_id` keeps a resend from being stored twice. Tabs of one
//!   conversation share the key and keep each other's messages; signing
//!   out forgets them all ([`storage_prefix`]).
//!
//! No browser or socket here: `follow` does the sending, these rules are
//! tested natively.

use super::state::{Pending, ThreadState};
use leptos::prelude::*;
use parley::{ConversationId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// How the outbox is flowing: what is on its way, and whether the send
/// limit holds it back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flow {
    /// `client_id`s sent on the current connection and not yet answered.
    in_flight: Vec<String>,
    /// The send limit refused a message: nothing goes out before this
    /// (epoch millis).
    paused_until: i64,
    /// Since a refusal by the send limit, one message at a time (until the
    /// outbox is empty).
    one_at_a_time: bool,
    /// Whether the queue's one retry timer is set.
    timer_set: bool,
}

impl ThreadState {
    /// Adds a message written here to the end of the outbox, shown as "sending".
    pub(super) fn queue(&self, pending: Pending) {
        self.pending.update(|list| list.push(pending));
    }

    /// Puts messages kept in local storage (by an earlier visit, or another
    /// tab) in front of anything written since (they were written first);
    /// ones already waiting here, or already stored and shown, are skipped.
    pub(super) fn restore(&self, kept: Vec<Pending>) {
        let Some(fresh) = self.pending.try_with_untracked(|list| {
            self.messages.with_untracked(|shown| {
                kept.into_iter()
                    .filter(|k| !list.iter().any(|p| p.client_id == k.client_id))
                    .filter(|k| {
                        !shown
                            .iter()
                            .any(|m| m.client_id.as_deref() == Some(k.client_id.as_str()))
                    })
                    .collect::<Vec<Pending>>()
            })
        }) else {
            return;
        };
        if !fresh.is_empty() {
            self.pending.update(|list| {
                list.splice(0..0, fresh);
            });
        }
    }

    /// What is waiting to go out (not refused), in the order written.
    #[cfg(test)]
    pub(super) fn unsent(&self) -> Vec<Pending> {
        self.pending
            .with_untracked(|list| list.iter().filter(|p| p.failed.is_none()).cloned().collect())
    }

    /// Whether `client_id` is one of this thread's waiting messages.
    pub(super) fn holds(&self, client_id: &str) -> bool {
        self.pending
            .try_with_untracked(|list| list.iter().any(|p| p.client_id == client_id))
            .unwrap_or(false)
    }

    /// What may be sent now (epoch millis `now`), in order; nothing while
    /// the send limit holds the queue back or the thread is gone.
    pub(super) fn next_to_send(&self, now: i64) -> Vec<Pending> {
        self.select(now, false)
    }

    /// The one message that may be sent now if only one may be on its way
    /// at a time (separate HTTP requests could be stored in any order).
    pub(super) fn next_alone(&self, now: i64) -> Option<Pending> {
        self.select(now, true).into_iter().next()
    }

    fn select(&self, now: i64, alone: bool) -> Vec<Pending> {
        let unsent = self.pending.try_with_untracked(|list| {
            list.iter()
                .filter(|p| p.failed.is_none())
                .cloned()
                .collect::<Vec<_>>()
        });
        let Some(unsent) = unsent else {
            return Vec::new();
        };
        self.flow
            .try_update_value(|flow| {
                // Confirmed messages are no longer on their way.
                flow.in_flight
                    .retain(|id| unsent.iter().any(|p| &p.client_id == id));
                if unsent.is_empty() {
                    flow.one_at_a_time = false;
                }
                if now < flow.paused_until {
                    return Vec::new();
                }
                let waiting = unsent
                    .into_iter()
                    .filter(|p| !flow.in_flight.contains(&p.client_id));
                if alone || flow.one_at_a_time {
                    if flow.in_flight.is_empty() {
                        waiting.take(1).collect()
                    } else {
                        Vec::new()
                    }
                } else {
                    waiting.collect()
                }
            })
            .unwrap_or_default()
    }

    /// The message `client_id` went out on the current connection.
    pub(super) fn mark_sent(&self, client_id: &str) {
        self.flow.try_update_value(|flow| {
            if !flow.in_flight.iter().any(|id| id == client_id) {
                flow.in_flight.push(client_id.to_owned());
            }
        });
    }

    /// The connection changed: whatever was on its way may not have
    /// arrived, and is sent again (its `client_id` keeps it single).
    pub(super) fn connection_reset(&self) {
        self.flow.try_update_value(|flow| flow.in_flight.clear());
    }

    /// The send limit refused `client_id` at `now`: it stays in its place,
    /// and the queue waits `retry_after_ms`.
    pub(super) fn held_back(&self, client_id: &str, now: i64, retry_after_ms: u64) {
        let resume = now.saturating_add(i64::try_from(retry_after_ms).unwrap_or(i64::MAX));
        self.flow.try_update_value(|flow| {
            flow.in_flight.retain(|id| id != client_id);
            flow.paused_until = flow.paused_until.max(resume);
            flow.one_at_a_time = true;
        });
    }

    /// If the queue is held back and its timer is not set: sets it, and
    /// answers how long it must wait (millis from `now`).
    pub(super) fn set_timer(&self, now: i64) -> Option<u64> {
        self.flow
            .try_update_value(|flow| {
                if flow.timer_set || now >= flow.paused_until {
                    return None;
                }
                flow.timer_set = true;
                u64::try_from(flow.paused_until - now).ok()
            })
            .flatten()
    }

    /// The queue's timer fired.
    pub(super) fn timer_fired(&self) {
        self.flow.try_update_value(|flow| flow.timer_set = false);
    }

    /// Marks the message `client_id` refused with `reason`; the message, if
    /// it is still waiting here.
    pub(super) fn mark_failed(&self, client_id: &str, reason: String) -> Option<Pending> {
        self.flow
            .try_update_value(|flow| flow.in_flight.retain(|id| id != client_id));
        let pending = self
            .pending
            .try_with_untracked(|list| list.iter().find(|p| p.client_id == client_id).cloned())
            .flatten()?;
        self.pending.update(|list| {
            if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
                p.failed = Some(reason);
            }
        });
        Some(pending)
    }

    /// Shows the message `client_id` as "sending" again, in its place.
    pub(super) fn clear_failure(&self, client_id: &str) {
        self.pending.try_update(|list| {
            if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
                p.failed = None;
            }
        });
    }
}

/// A waiting message as kept in local storage.
#[derive(Serialize, Deserialize)]
struct Kept {
    client_id: String,
    body: String,
    note: bool,
}

/// The start of every local-storage key that holds `me`'s outboxes.
pub fn storage_prefix(me: UserId) -> String {
    format!("parley.outbox.{}.", me.0)
}

/// The local-storage key of the outbox of `me` in `conversation`.
pub(super) fn storage_key(me: UserId, conversation: ConversationId) -> String {
    format!("{}{}", storage_prefix(me), conversation.0)
}

/// What to keep of `pending`: the messages still waiting (a refused one is
/// shown until the page goes, not resent forever). `None`: nothing to keep.
#[cfg(test)]
pub(super) fn to_store(pending: &[Pending]) -> Option<String> {
    merged(None, pending, &HashSet::new())
}

/// What to keep when this tab's outbox is `pending` and local storage holds
/// `stored`: two tabs of one conversation share the key. Messages this tab
/// has held (`known`) are kept while they still wait here (and dropped once
/// confirmed or refused); messages it never held are another tab's and stay
/// where they are. A tab that restores them sends them too: their
/// `client_id` keeps each stored once.
pub(super) fn merged(stored: Option<&str>, pending: &[Pending], known: &HashSet<String>) -> Option<String> {
    let waiting = |p: &&Pending| p.failed.is_none();
    let mine = |id: &str| pending.iter().filter(waiting).find(|p| p.client_id == id);
    let mut kept: Vec<Kept> = Vec::new();
    for other in stored.map(kept_in).unwrap_or_default() {
        if !known.contains(&other.client_id) {
            kept.push(other);
        } else if let Some(p) = mine(&other.client_id) {
            kept.push(Kept::from(p));
        }
    }
    for p in pending.iter().filter(waiting) {
        if !kept.iter().any(|k| k.client_id == p.client_id) {
            kept.push(Kept::from(p));
        }
    }
    if kept.is_empty() {
        return None;
    }
    serde_json::to_string(&kept).ok()
}

impl From<&Pending> for Kept {
    fn from(p: &Pending) -> Kept {
        Kept {
            client_id: p.client_id.clone(),
            body: p.body.clone(),
            note: p.note,
        }
    }
}

fn kept_in(stored: &str) -> Vec<Kept> {
    serde_json::from_str::<Vec<Kept>>(stored).unwrap_or_default()
}

/// The messages kept by [`to_store`]; nothing if `stored` is not readable.
pub(super) fn stored(stored: &str) -> Vec<Pending> {
    kept_in(stored)
        .into_iter()
        .map(|k| Pending {
            client_id: k.client_id,
            body: k.body,
            note: k.note,
            failed: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thread::state::tests::{message, pending, thread, ME};

    fn ids(list: Vec<Pending>) -> Vec<String> {
        list.into_iter().map(|p| p.client_id).collect()
    }

    #[test]
    fn everything_waiting_goes_out_in_order_once_per_connection() {
        let state = thread(Vec::new());
        for id in ["c-1", "c-2", "c-3"] {
            state.queue(pending(id));
        }
        assert_eq!(ids(state.next_to_send(0)), ["c-1", "c-2", "c-3"]);
        state.mark_sent("c-1");
        state.mark_sent("c-2");
        assert_eq!(ids(state.next_to_send(0)), ["c-3"]);
        state.mark_sent("c-3");
        assert!(state.next_to_send(0).is_empty());
        // a new connection: whatever was unanswered goes again, in order
        state.connection_reset();
        assert_eq!(ids(state.next_to_send(0)), ["c-1", "c-2", "c-3"]);
        // over HTTP: one request at a time
        state.connection_reset();
        assert_eq!(state.next_alone(0).map(|p| p.client_id), Some("c-1".to_owned()));
        state.mark_sent("c-1");
        assert_eq!(state.next_alone(0), None);
        assert!(state.holds("c-2") && !state.holds("c-9"));
    }

    #[test]
    fn a_burst_over_the_send_limit_is_retried_in_order_under_one_timer() {
        let state = thread(Vec::new());
        for id in ["c-61", "c-62", "c-63", "c-64"] {
            state.queue(pending(id));
            state.mark_sent(id);
        }
        // the refusals come back, each with its own wait
        state.held_back("c-61", 1_000, 1_000);
        state.held_back("c-62", 1_001, 999);
        state.held_back("c-63", 1_002, 1_500);
        state.held_back("c-64", 1_003, 997);
        assert!(state.next_to_send(1_500).is_empty(), "held back");
        // one timer for the queue, until the longest wait is over
        assert_eq!(state.set_timer(1_003), Some(1_499));
        assert_eq!(state.set_timer(1_004), None);
        state.timer_fired();
        // then one at a time, in the order written
        assert_eq!(ids(state.next_to_send(2_502)), ["c-61"]);
        state.mark_sent("c-61");
        assert!(state.next_to_send(2_503).is_empty(), "c-61 is on its way");
        state.add([message_for("c-61", 70)]);
        assert_eq!(ids(state.next_to_send(2_510)), ["c-62"]);
        state.mark_sent("c-62");
        // refused again: c-62 keeps its place ahead of c-63
        state.held_back("c-62", 2_520, 1_000);
        assert!(state.next_to_send(3_000).is_empty());
        assert_eq!(state.set_timer(3_000), Some(520));
        state.timer_fired();
        assert_eq!(ids(state.next_to_send(3_520)), ["c-62"]);
        state.mark_sent("c-62");
        for (id, seq) in [("c-62", 71), ("c-63", 72)] {
            state.add([message_for(id, seq)]);
            let next = state.next_to_send(4_000);
            assert_eq!(next.len(), 1);
            state.mark_sent(&next[0].client_id);
        }
        state.add([message_for("c-64", 73)]);
        assert!(state.unsent().is_empty());
        // the outbox ran dry: the next burst flows freely again
        assert!(state.next_to_send(4_000).is_empty());
        state.queue(pending("c-65"));
        state.queue(pending("c-66"));
        assert_eq!(ids(state.next_to_send(4_000)), ["c-65", "c-66"]);
    }

    /// My message `client_id`, as the server stored it at `seq`.
    fn message_for(client_id: &str, seq: i64) -> parley::model::Message {
        message(seq, ME, Some(client_id))
    }

    #[test]
    fn a_refused_message_waits_for_its_retry_and_the_rest_go_on() {
        let state = thread(Vec::new());
        state.queue(pending("c-a"));
        state.queue(pending("c-b"));
        state.mark_sent("c-a");
        assert_eq!(
            state.mark_failed("c-a", "too long".to_owned()),
            Some(pending("c-a"))
        );
        assert_eq!(ids(state.next_to_send(0)), ["c-b"]);
        assert_eq!(state.mark_failed("c-unknown", "no".to_owned()), None);
        state.clear_failure("c-a");
        assert_eq!(ids(state.unsent()), ["c-a", "c-b"]);
        assert_eq!(ids(state.next_to_send(0)), ["c-a", "c-b"]);
    }

    #[test]
    fn waiting_messages_survive_storage_and_come_back_first() {
        let mut refused = pending("c-refused");
        refused.failed = Some("closed".to_owned());
        let mut note = pending("c-2");
        note.note = true;
        let kept = to_store(&[pending("c-1"), refused, note.clone()]).expect("something to keep");
        assert_eq!(stored(&kept), vec![pending("c-1"), note]);
        assert_eq!(to_store(&[]), None);
        assert!(stored("not json").is_empty());

        let state = thread(Vec::new());
        state.queue(pending("c-3"));
        state.restore(stored(&kept));
        state.restore(stored(&kept));
        assert_eq!(ids(state.unsent()), ["c-1", "c-2", "c-3"]);
        // one kept by another tab and already stored (shown here) is not sent again
        state.add([message_for("c-9", 5)]);
        let elsewhere = to_store(&[pending("c-9"), pending("c-10")]).expect("kept");
        state.restore(stored(&elsewhere));
        assert_eq!(ids(state.unsent()), ["c-10", "c-1", "c-2", "c-3"]);
        assert_eq!(storage_key(UserId(4), ConversationId(9)), "parley.outbox.4.9");
        assert!(storage_key(UserId(4), ConversationId(9)).starts_with(&storage_prefix(UserId(4))));
        assert!(!storage_key(UserId(41), ConversationId(9)).starts_with(&storage_prefix(UserId(4))));
    }

    #[test]
    fn two_tabs_sharing_a_key_keep_each_others_messages() {
        let known = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<HashSet<_>>();
        // tab A keeps a-1; tab B, which never held a-1, adds b-1 beside it
        let a = merged(None, &[pending("a-1")], &known(&["a-1"])).expect("kept");
        let both = merged(Some(&a), &[pending("b-1")], &known(&["b-1"])).expect("kept");
        assert_eq!(ids(stored(&both)), ["a-1", "b-1"]);
        // A's a-1 is confirmed: A drops it, B's stays
        let after_a = merged(Some(&both), &[], &known(&["a-1"])).expect("kept");
        assert_eq!(ids(stored(&after_a)), ["b-1"]);
        // B's is confirmed too: nothing left to keep
        assert_eq!(merged(Some(&after_a), &[], &known(&["b-1"])), None);
        // a message refused here is not kept; unreadable storage is ignored
        let mut refused = pending("b-2");
        refused.failed = Some("too long".to_owned());
        assert_eq!(merged(Some("not json"), &[refused], &known(&["b-2"])), None);
    }
}
