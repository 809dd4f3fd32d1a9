//! Following one thread for as long as it is on screen: subscribe from the
//! cursor (again after every reconnect), turn the frames that arrive into
//! [`ThreadState`] changes, send the outbox (see `send`), catch up on what
//! a reconnect may have missed (see `catch_up`), keep the outbox in local
//! storage across reloads, and tell the server what has been read while the
//! reader is at the bottom of a visible page.
//!
//! While the socket cannot connect (`LiveState::Polling`), every poll
//! fetches the row and the new messages, sends the outbox with the server
//! function, and marks read with it.
//!
//! Everything registered here is removed when the thread's component is
//! cleaned up (frame listeners, window listeners, effects); the timers and
//! requests it starts check that the thread still exists when they end.

use super::catch_up::{poll_messages, refresh_markers, refresh_summary};
use super::outbox;
pub(super) use super::send::retry;
use super::send::{refused, send_outbox};
use super::state::{Stream, ThreadState};
use crate::browser;
use crate::conversations::mark_read;
use crate::live::{Live, LiveState};
use leptos::prelude::*;
use parley::protocol::{ClientFrame, ServerFrame, TYPING_TTL_MS};
use std::collections::HashSet;

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
        if !at_bottom.get_untracked() || !browser::page_visible() || state.is_gone() {
            return;
        }
        let Some(newest) = state.unread_newest() else {
            return;
        };
        if live.send(&ClientFrame::Read {
            conversation_id: state.id,
            up_to: newest,
        }) {
            state.read_sent(newest);
        } else if live.state.get_untracked() == LiveState::Polling {
            state.read_sent(newest);
            leptos::task::spawn_local(async move {
                let _ = mark_read(state.id, newest).await;
            });
        }
    };
    live.on_frame(move |frame| match frame {
        ServerFrame::Hello { .. } | ServerFrame::Resync => {
            // What was on its way may be lost with the old socket (or its
            // ack dropped): it goes again after `subscribed`.
            state.connection_reset();
            subscribe();
        }
        ServerFrame::Subscribed { conversation_id, .. } if *conversation_id == state.id => {
            // Caught up: send what was written meanwhile, in order.
            send_outbox(live, state);
            mark_read();
        }
        ServerFrame::Message { message } if message.conversation_id == state.id => {
            if state.on_stream(message.seq) == Stream::Resubscribe {
                subscribe();
                return;
            }
            state.advance_cursor(message.seq);
            state.add([message.clone()]);
            mark_read();
        }
        ServerFrame::Ack { message, .. } if message.conversation_id == state.id => {
            state.add([message.clone()]);
            send_outbox(live, state);
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
    // A new socket, a resync or a poll: the row and the read markers may
    // have changed unheard (a resubscribe replays messages only); while
    // polling, messages, the outbox and read marking go over HTTP.
    live.on_stale(move || {
        leptos::task::spawn_local(async move {
            refresh_summary(state).await;
            refresh_markers(state).await;
            if live.state.get_untracked() == LiveState::Polling {
                poll_messages(state).await;
                mark_read();
                send_outbox(live, state);
            }
        });
    });
    // Entering polling: what went out on the socket may never have arrived.
    Effect::new(move |was_polling: Option<bool>| {
        let polling = live.polling();
        if polling && was_polling == Some(false) {
            state.connection_reset();
            send_outbox(live, state);
        }
        polling
    });
    keep_outbox(state, live);
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

/// Puts the messages a reload interrupted back into the outbox (once, in
/// the browser, after hydration) and keeps local storage in step with it
/// from then on. Two tabs writing in the same conversation while offline
/// share one key and keep each other's messages.
fn keep_outbox(state: ThreadState, live: Live) {
    let key = outbox::storage_key(state.me, state.id);
    // The effect's value: the `client_id`s this tab has held (see `merged`).
    Effect::new(move |known: Option<HashSet<String>>| {
        let first = known.is_none();
        let mut known = known.unwrap_or_default();
        if first {
            if let Some(kept) = browser::local_storage_get(&key) {
                state.restore(outbox::stored(&kept));
                send_outbox(live, state);
            }
        }
        state
            .pending
            .with(|pending| known.extend(pending.iter().map(|p| p.client_id.clone())));
        let stored = browser::local_storage_get(&key);
        match state
            .pending
            .with(|pending| outbox::merged(stored.as_deref(), pending, &known))
        {
            Some(json) => {
                browser::local_storage_set(&key, &json);
            }
            None => browser::local_storage_remove(&key),
        }
        known
    });
}
