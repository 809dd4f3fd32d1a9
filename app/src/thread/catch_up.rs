//! Catching up after the thread may have missed something: after a new
//! socket (`hello`), a `resync`, and on every poll while the socket cannot
//! connect. Status and assignee come from the conversation's row and
//! "Seen" from the read markers (a resubscribe replays the messages, not
//! the row or the markers); while polling, the messages newer than the
//! cursor come from the history function too.

use super::state::ThreadState;
use crate::conversations::{list_row, load_history, load_read_markers};
use parley::model::Message;
use parley::Seq;

/// At most this many history pages per poll (50 messages each): a thread
/// further behind catches up over several polls.
const MAX_POLL_PAGES: usize = 10;

/// Fetches the conversation's row again and applies status and assignee.
pub(super) async fn refresh_summary(state: ThreadState) {
    if let Ok(summary) = list_row(state.id).await {
        if !state.is_gone() {
            state.apply_summary(&summary);
        }
    }
}

/// Fetches the others' read markers again: a `read` frame sent before this
/// socket subscribed (or while it was down) would otherwise leave "Seen"
/// missing until a reload.
pub(super) async fn refresh_markers(state: ThreadState) {
    if let Ok(markers) = load_read_markers(state.id).await {
        if !state.is_gone() {
            for marker in markers {
                state.note_read(marker.user_id, marker.role, marker.seq);
            }
        }
    }
}

/// Fetches the messages after the cursor, newest page first, going back
/// until the pages meet the cursor. The cursor moves only when they did:
/// otherwise the next poll looks again.
pub(super) async fn poll_messages(state: ThreadState) {
    if state.is_gone() {
        return;
    }
    let cursor = state.cursor();
    let mut before = Seq(i64::MAX);
    let mut newest = None;
    for _ in 0..MAX_POLL_PAGES {
        let Ok(page) = load_history(state.id, before).await else {
            return;
        };
        if state.is_gone() {
            return;
        }
        let oldest = page.messages.first().map(|m| m.seq);
        let newer: Vec<Message> = page.messages.into_iter().filter(|m| m.seq > cursor).collect();
        newest = newest.max(newer.last().map(|m| m.seq));
        state.add(newer);
        match oldest {
            Some(oldest) if page.has_older && oldest.0 > cursor.0 + 1 => before = oldest,
            _ => {
                if let Some(newest) = newest {
                    state.advance_cursor(newest);
                }
                return;
            }
        }
    }
}
