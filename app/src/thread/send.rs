//! Sending the thread's outbox: over the live socket while it is open, with
//! the `post_message` server function while the socket cannot connect
//! (`LiveState::Polling`), in either case in the order written and under
//! the rules of `outbox` (one retry timer for the queue when the send limit
//! refuses; a message refused for another reason waits for "Retry").
//!
//! Called whenever something may let a message go: a new message, a
//! `subscribed` (after every reconnect), an answer (ack or refusal), the
//! queue's timer, a poll, "Retry". The timer and the server function's
//! answer may come after the thread was closed: then the state answers
//! nothing and nothing is sent.

use super::outbox;
use super::state::{Pending, ThreadState};
use crate::browser;
use crate::conversations::post_message;
use crate::error::ErrorKind;
use crate::live::{Live, LiveState};
use leptos::prelude::*;
use parley::protocol::{ClientFrame, ErrorCode};
use parley::ConversationStatus;

/// How long the outbox waits after the server function refused a message
/// for the send limit (its answer carries no delay, unlike the socket's).
const HTTP_RATE_LIMIT_WAIT_MS: u64 = 2_000;

/// Sends what the outbox lets go now. What another tab of this conversation
/// kept (written there while offline) goes out from here too, first: its
/// `client_id` keeps it single, and whichever tab reconnects first sends
/// them in the order written.
pub(super) fn send_outbox(live: Live, state: ThreadState) {
    if state.is_gone() {
        return;
    }
    if let Some(kept) = browser::local_storage_get(&outbox::storage_key(state.me, state.id)) {
        state.restore(outbox::stored(&kept));
    }
    let now = browser::now().0;
    if live.state.get_untracked() == LiveState::Polling {
        post_next(live, state, now);
    } else {
        for pending in state.next_to_send(now) {
            if !transmit(live, &state, &pending) {
                // The socket is down: it waits for the next `subscribed`.
                break;
            }
            state.mark_sent(&pending.client_id);
        }
    }
    if let Some(wait_ms) = state.set_timer(now) {
        set_timeout(
            move || {
                state.timer_fired();
                send_outbox(live, state);
            },
            std::time::Duration::from_millis(wait_ms),
        );
    }
}

/// Sends one message over the socket; `false` if the socket is down.
fn transmit(live: Live, state: &ThreadState, pending: &Pending) -> bool {
    live.send(&ClientFrame::Send {
        conversation_id: state.id,
        client_id: pending.client_id.clone(),
        body: pending.body.clone(),
        note: pending.note,
    })
}

/// Posts the next message with the server function: one request at a time
/// (separate requests could be stored in any order), the next one when it
/// is answered. A network failure leaves it waiting for the next poll.
fn post_next(live: Live, state: ThreadState, now: i64) {
    let Some(pending) = state.next_alone(now) else {
        return;
    };
    state.mark_sent(&pending.client_id);
    leptos::task::spawn_local(async move {
        let note = pending.note.then(|| "on".to_owned());
        let answer = post_message(
            state.id,
            pending.body.clone(),
            Some(pending.client_id.clone()),
            note,
        )
        .await;
        let now = browser::now().0;
        match answer {
            Ok(message) => state.add([message]),
            Err(e) if e.kind == ErrorKind::Network => {
                state.connection_reset();
                return;
            }
            Err(e) if e.kind == ErrorKind::RateLimited => {
                state.held_back(&pending.client_id, now, HTTP_RATE_LIMIT_WAIT_MS)
            }
            Err(e) => failed(state, &pending.client_id, e.kind, e.message),
        }
        send_outbox(live, state);
    });
}

/// The server refused the message `client_id` on the socket: the send limit
/// holds the queue back until it may be accepted; anything else marks it
/// failed, with the reason.
pub(super) fn refused(
    state: ThreadState,
    live: Live,
    client_id: &str,
    code: ErrorCode,
    reason: &str,
    retry_after_ms: Option<u64>,
) {
    if !state.holds(client_id) {
        return;
    }
    match (code, retry_after_ms) {
        (ErrorCode::RateLimited, Some(ms)) => state.held_back(client_id, browser::now().0, ms),
        _ => failed(state, client_id, code, reason.to_owned()),
    }
    send_outbox(live, state);
}

fn failed(state: ThreadState, client_id: &str, code: ErrorCode, reason: String) {
    state.mark_failed(client_id, reason);
    if code == ErrorCode::Closed {
        state.status.set(ConversationStatus::Closed);
    }
}

/// Sends a refused message again, in its place (the "Retry" button).
pub(super) fn retry(state: ThreadState, live: Live, pending: &Pending) {
    state.clear_failure(&pending.client_id);
    send_outbox(live, state);
}
