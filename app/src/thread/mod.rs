//! The conversation thread, shared by customers and staff: history (older
//! pages load when scrolling up), live messages, "X is typing…", "Seen", and
//! the composer (Enter sends, Shift+Enter is a newline; staff can write
//! private notes and insert canned responses with `/`).
//!
//! The composer is a plain HTML form posting to the `post_message` server
//! function, so it works before the WASM loads. Once hydrated it sends over
//! the live socket with a `client_id`: the message shows at once as
//! "sending", becomes a normal message when the server acknowledges it (after
//! the commit), or "failed — retry" with the reason. Messages written while
//! the socket is down wait (in local storage too, so a reload keeps them),
//! and go out in order, with the same `client_id`s, as soon as it is back —
//! or with the server function if the socket cannot connect at all (a
//! resend never stores a message twice).
//!
//! # Layout
//! - [`state`]: [`ThreadState`], the thread's data in signals.
//! - `outbox`: the [`Pending`] messages and the rules for sending them in
//!   order (the send limit, reconnects), kept in local storage across reloads.
//! - `follow`: the live socket's side: subscribe and resubscribe, frames
//!   into state, read marking, the outbox kept across reloads.
//! - `send`: the outbox sent, over the socket or (while it cannot connect)
//!   with the server function; refusals and retries.
//! - `catch_up`: after a reconnect, a resync or a poll: the row again, and
//!   while polling the new messages.
//! - `message`: the message list, one message, "Sent" / "Seen", the typing line.
//! - `composer`: the form, the canned-response menu, typing announcements.

mod catch_up;
mod composer;
mod follow;
mod message;
mod outbox;
mod send;
pub mod state;

pub use outbox::storage_prefix as outbox_prefix;
pub use state::{Pending, ThreadState};

use crate::live::use_live;
use composer::{ClosedNotice, Composer};
use leptos::prelude::*;
use message::{MessageList, TypingLine};
use parley::model::{CannedResponse, CurrentUser};
use parley::ConversationStatus;

/// The thread: messages, typing indicator and composer, following the
/// conversation live for as long as it is shown.
#[component]
pub fn ThreadBody(
    state: ThreadState,
    me: CurrentUser,
    /// Staff get the note switch and canned responses.
    #[prop(optional)]
    canned: Option<Signal<Vec<CannedResponse>>>,
    /// A refused plain-form post's text, shown again in the composer.
    #[prop(default = None)]
    draft: Option<String>,
) -> impl IntoView {
    // Whether the reader sees the newest message: the list keeps it there,
    // and only then does the thread count as read.
    let at_bottom = RwSignal::new(true);
    follow::follow(state, use_live(), at_bottom);
    let staff = me.role.is_staff();
    let closed = Memo::new(move |_| state.status.get() == ConversationStatus::Closed);
    view! {
        <MessageList state=state me=me at_bottom=at_bottom />
        <TypingLine state=state />
        {move || {
            if closed.get() {
                view! { <ClosedNotice staff=staff /> }.into_any()
            } else {
                view! { <Composer state=state staff=staff canned=canned draft=draft.clone() /> }.into_any()
            }
        }}
    }
}
