//! How a thread looks: the scrolling list of messages (older pages load
//! when the reader scrolls up; the newest stays in view while they are at
//! the bottom), each message with its sender, time and "Sent" / "Seen",
//! the messages still on their way or refused, and "X is typing…".
//!
//! For screen readers the list is a log named "Messages" (new messages are
//! announced), focusable so it scrolls from the keyboard, and each message
//! an article named for who wrote it ("You", "Avery · Support",
//! "Private note from Avery").

use super::follow::retry;
use super::state::{Pending, ThreadState};
use crate::browser;
use crate::live::{use_live, LiveState};
use leptos::html;
use leptos::prelude::*;
use parley::model::{CurrentUser, Message, MessageKind};
use parley::{Seq, Timestamp};

/// The messages of the thread, oldest first, in a scrolling box.
/// `at_bottom` follows whether the reader is at the newest message.
#[component]
pub(super) fn MessageList(state: ThreadState, me: CurrentUser, at_bottom: RwSignal<bool>) -> impl IntoView {
    let scroller = NodeRef::<html::Div>::new();
    let loading_older = RwSignal::new(false);
    let older_error = RwSignal::new(None::<String>);
    let now = browser::now();
    let me_staff = me.role.is_staff();
    let seen = Memo::new(move |_| state.seen_seq(me_staff));
    let newest_mine = Memo::new(move |_| state.newest_mine());

    // Keep the newest message in view while the reader is at the bottom.
    Effect::new(move |_| {
        state.messages.track();
        state.pending.track();
        state.typing.track();
        if at_bottom.get_untracked() {
            browser::scroll_to_bottom(scroller);
        }
    });

    let load_older = move || {
        if loading_older.get_untracked() || !state.has_older.get_untracked() {
            return;
        }
        let Some(first) = state.messages.with_untracked(|m| m.first().map(|m| m.seq)) else {
            return;
        };
        loading_older.set(true);
        let height_before = scroller
            .get_untracked()
            .map(|el| el.scroll_height())
            .unwrap_or_default();
        // Only writes after the await (writing a disposed signal does
        // nothing): the reader may have left the thread meanwhile.
        leptos::task::spawn_local(async move {
            match crate::conversations::load_history(state.id, first).await {
                Ok(page) => {
                    older_error.set(None);
                    state.has_older.set(page.has_older);
                    state.add(page.messages);
                    browser::keep_scroll_position(scroller, height_before);
                }
                Err(e) => older_error.set(Some(e.message)),
            }
            loading_older.set(false);
        });
    };

    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let distance = el.scroll_height() - el.scroll_top() - el.client_height();
            at_bottom.set(distance < 60);
            if el.scroll_top() < 80 {
                load_older();
            }
        }
    };

    view! {
        <div
            class="messages"
            role="log"
            aria-label="Messages"
            tabindex="0"
            node_ref=scroller
            on:scroll=on_scroll
            data-testid="messages"
        >
            {move || {
                state
                    .has_older
                    .get()
                    .then(|| {
                        view! {
                            <div class="load-more">
                                <button
                                    class="secondary small"
                                    on:click=move |_| load_older()
                                    disabled=move || loading_older.get()
                                >
                                    {move || {
                                        if loading_older.get() { "Loading…" } else { "Load older messages" }
                                    }}
                                </button>
                            </div>
                        }
                    })
            }}
            {move || older_error.get().map(|e| view! { <p class="notice error">{e}</p> })}
            <For
                each=move || state.messages.get()
                key=|m| (m.id, m.body.len())
                children=move |m| {
                    view! {
                        <MessageItem message=m me=me.clone() now=now seen=seen newest_mine=newest_mine />
                    }
                }
            />
            <For
                each=move || state.pending.get()
                key=|p| (p.client_id.clone(), p.failed.clone())
                children=move |p| view! { <PendingItem pending=p state=state /> }
            />
        </div>
    }
}

/// One message in the thread.
#[component]
fn MessageItem(
    message: Message,
    me: CurrentUser,
    now: Timestamp,
    seen: Memo<Option<Seq>>,
    newest_mine: Memo<Option<Seq>>,
) -> impl IntoView {
    let mine = message.sender.as_ref().is_some_and(|s| s.id == me.id);
    let kind = message.kind;
    let seq = message.seq;
    let class = match kind {
        MessageKind::System => "msg system".to_owned(),
        MessageKind::Note => format!("msg note {}", if mine { "mine" } else { "theirs" }),
        MessageKind::Text if mine => "msg mine".to_owned(),
        MessageKind::Text => "msg theirs".to_owned(),
    };
    let who = match (&message.sender, kind) {
        (_, MessageKind::System) | (None, _) => None,
        (Some(_), _) if mine => (kind == MessageKind::Note).then(|| "You".to_owned()),
        (Some(sender), _) if sender.role.is_staff() && !me.role.is_staff() => {
            Some(format!("{} · Support", sender.name))
        }
        (Some(sender), _) => Some(sender.name.clone()),
    };
    let label = article_name(
        kind,
        mine,
        message.sender.as_ref().map(|s| s.name.as_str()),
        who.as_deref(),
    );
    let at = message.created_at;
    view! {
        <article class=class aria-label=label data-seq=seq.0 data-kind=kind.as_str() data-testid="message">
            <div class="bubble">{message.body}</div>
            <div class="meta">
                {who.map(|w| view! { <span class="sender">{w}</span> })}
                <time title=at.utc_string()>{at.relative_to(now)}</time>
                {move || {
                    if seen.get() == Some(seq) {
                        Some(
                            view! {
                                <span class="seen" data-testid="seen">
                                    "· Seen"
                                </span>
                            }
                                .into_any(),
                        )
                    } else if newest_mine.get() == Some(seq) {
                        Some(
                            view! {
                                <span class="seen" data-testid="sent">
                                    "· Sent"
                                </span>
                            }
                                .into_any(),
                        )
                    } else {
                        None
                    }
                }}
            </div>
        </article>
    }
}

/// What a screen reader calls a message: who wrote it, and whether it is
/// a private note or an update from Parley itself. `shown` is the sender as
/// the message's line shows it ("Avery · Support" for customers).
fn article_name(kind: MessageKind, mine: bool, sender: Option<&str>, shown: Option<&str>) -> String {
    match (kind, mine) {
        (MessageKind::System, _) => "Update".to_owned(),
        (MessageKind::Note, true) => "Your private note".to_owned(),
        (MessageKind::Note, false) => format!("Private note from {}", sender.unwrap_or("the team")),
        (MessageKind::Text, true) => "You".to_owned(),
        (MessageKind::Text, false) => shown.or(sender).unwrap_or("Someone").to_owned(),
    }
}

/// A message on its way, or one that failed (with a retry).
#[component]
fn PendingItem(pending: Pending, state: ThreadState) -> impl IntoView {
    let live = use_live();
    let failed = pending.failed.clone();
    let class = if failed.is_some() {
        "msg mine failed"
    } else {
        "msg mine pending"
    };
    let body = pending.body.clone();
    let retry_click = move |_| retry(state, live, &pending);
    let label = if failed.is_some() {
        "You, not sent"
    } else {
        "You, sending"
    };
    view! {
        <article class=class aria-label=label data-testid="pending">
            <div class="bubble">{body}</div>
            {match failed {
                Some(reason) => {
                    view! {
                        <div class="state failed" role="alert">
                            {format!("Failed — {reason} ")}
                            <button class="link-button" on:click=retry_click>
                                "Retry"
                            </button>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <div class="state">
                            {move || {
                                if live.state.get() == LiveState::Open || live.polling() {
                                    "Sending…"
                                } else {
                                    "Waiting for the connection…"
                                }
                            }}
                        </div>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}

/// "Avery is typing…" under the messages (announced politely to screen readers).
#[component]
pub(super) fn TypingLine(state: ThreadState) -> impl IntoView {
    let line = move || {
        let names: Vec<String> = state.typing.get().into_iter().map(|(who, _)| who.name).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            many => format!("{} are typing…", many.join(", ")),
        }
    };
    view! {
        <div class="typing" data-testid="typing" aria-live="polite">
            {line}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_named_for_who_wrote_it() {
        assert_eq!(article_name(MessageKind::Text, true, Some("Kim"), None), "You");
        assert_eq!(
            article_name(MessageKind::Text, false, Some("Avery"), Some("Avery · Support")),
            "Avery · Support"
        );
        assert_eq!(article_name(MessageKind::Text, false, Some("Kim"), None), "Kim");
        assert_eq!(
            article_name(MessageKind::Note, false, Some("Avery"), Some("Avery")),
            "Private note from Avery"
        );
        assert_eq!(
            article_name(MessageKind::Note, true, Some("Avery"), None),
            "Your private note"
        );
        assert_eq!(article_name(MessageKind::System, false, None, None), "Update");
    }
}
