//! Following one thread over the live socket, for as long as the thread is
//! on screen: subscribe from the cursor (again after every reconnect), turn
//! the frames that arrive into [`ThreadState`] changes, send what the
//! composer queued, retry what the send limit refused, and tell the server
//! what has been read while the reader is at the bottom of a visible page.
//!
//! Everything registered here is removed when the thread's component is
//! cleaned up (frame listeners, window listeners); the timers it starts check
//! that the thread still exists when they fire.

use super::state::{Pending, ThreadState};
use crate::browser;
use crate::live::{Live, LiveState};
use leptos::prelude::*;
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame, TYPING_TTL_MS};
use parley::ConversationStatus;

/// Follows the conversation of `state` until the calling component is
/// cleaned up. `at_bottom`: whether the reader sees the newest message.
pub(super) fn follow(state: ThreadState, live: Live, at_bottom: RwSignal<bool>) {
    let subscribe = move || {
        live.send(&ClientFrame::Subscribe {
            conversation_id: state.id,
            after: state.cursor(),
        });
    };
    if live.state.get_untracked() == LiveState::Open {
        subscribe();
    }
    let mark_read = move || {
        if !at_bottom.get_untracked() || !browser::page_visible() {
            return;
        }
        if let Some(newest) = state.unread_newest() {
            let sent = live.send(&ClientFrame::Read {
                conversation_id: state.id,
                up_to: newest,
            });
            if sent {
                state.read_sent(newest);
            }
        }
    };
    live.on_frame(move |frame| match frame {
        ServerFrame::Hello { .. } | ServerFrame::Resync => subscribe(),
        ServerFrame::Subscribed { conversation_id, .. } if *conversation_id == state.id => {
            // Caught up: send what was written meanwhile, in order.
            for pending in state.unsent() {
                transmit(live, &state, &pending);
            }
            mark_read();
        }
        ServerFrame::Message { message } if message.conversation_id == state.id => {
            state.advance_cursor(message.seq);
            state.add([message.clone()]);
            mark_read();
        }
        ServerFrame::Ack { message, .. } if message.conversation_id == state.id => {
            state.add([message.clone()])
        }
        ServerFrame::Error {
            client_id: Some(client_id),
            code,
            message,
            retry_after_ms,
            ..
        } => refused(state, live, client_id, *code, message, *retry_after_ms),
        ServerFrame::Typing {
            conversation_id,
            user,
        } if *conversation_id == state.id && user.id != state.me => {
            state.note_typing(user, browser::now().0 + TYPING_TTL_MS as i64);
            set_timeout(
                move || state.expire_typing(browser::now()),
                std::time::Duration::from_millis(TYPING_TTL_MS + 50),
            );
        }
        ServerFrame::Read {
            conversation_id,
            user_id,
            role,
            up_to,
        } if *conversation_id == state.id => state.note_read(*user_id, *role, *up_to),
        ServerFrame::Conversation { summary } => state.apply_summary(summary),
        _ => {}
    });
    // Reading resumes when the tab comes back to the front. Both listeners
    // go with the thread (`on_window_event`): after an in-app navigation they
    // would otherwise read this thread's disposed signals.
    browser::on_window_event(leptos::ev::focus, move |_| mark_read());
    browser::on_window_event(leptos::ev::visibilitychange, move |_| mark_read());
    Effect::new(move |_| {
        if at_bottom.get() {
            mark_read();
        }
    });
    on_cleanup(move || {
        live.send(&ClientFrame::Unsubscribe {
            conversation_id: state.id,
        });
    });
}

/// Sends one message of the outbox; `false` if the socket is down (it waits
/// for the next `subscribed`).
pub(super) fn transmit(live: Live, state: &ThreadState, pending: &Pending) -> bool {
    live.send(&ClientFrame::Send {
        conversation_id: state.id,
        client_id: pending.client_id.clone(),
        body: pending.body.clone(),
        note: pending.note,
    })
}

/// The server refused the message `client_id`: show why, and if it was the
/// send limit, try again when the server says it may be accepted.
fn refused(
    state: ThreadState,
    live: Live,
    client_id: &str,
    code: ErrorCode,
    reason: &str,
    retry_after_ms: Option<u64>,
) {
    let reason = match (code, retry_after_ms) {
        (ErrorCode::RateLimited, Some(ms)) => {
            format!("too many messages; retrying in {} s.", ms.div_ceil(1000))
        }
        _ => reason.to_owned(),
    };
    let Some(pending) = state.mark_failed(client_id, reason) else {
        return;
    };
    if code == ErrorCode::Closed {
        state.status.set(ConversationStatus::Closed);
    }
    if let (ErrorCode::RateLimited, Some(ms)) = (code, retry_after_ms) {
        set_timeout(
            move || retry(state, live, &pending),
            std::time::Duration::from_millis(ms),
        );
    }
}

/// Sends a refused message again (the retry button, or the send limit's
/// timer). If the thread was closed meanwhile the message still goes out:
/// its `client_id` keeps it from being stored twice.
pub(super) fn retry(state: ThreadState, live: Live, pending: &Pending) {
    state.clear_failure(&pending.client_id);
    transmit(live, &state, pending);
}
