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
//! the socket is down wait, and go out in order, with the same `client_id`s,
//! as soon as it is back (a resend never stores a message twice).

use crate::browser::{self, new_client_id, now, page_visible};
use crate::live::{use_live, Live, LiveState};
use leptos::html;
use leptos::prelude::*;
use parley::model::{
    CannedResponse, ConversationSummary, CurrentUser, Message, MessageKind, PersonRef, ReadMarker, ThreadView,
};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame, TYPING_THROTTLE_MS, TYPING_TTL_MS};
use parley::validate::MessageBody;
use parley::{ConversationId, ConversationStatus, Seq, Timestamp, UserId};

/// A message the server has not confirmed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub client_id: String,
    pub body: String,
    pub note: bool,
    /// `Some(reason)` once the server refused it.
    pub failed: Option<String>,
}

/// The live state of one open thread.
#[derive(Clone, Copy)]
pub struct ThreadState {
    pub id: ConversationId,
    pub me: UserId,
    pub messages: RwSignal<Vec<Message>>,
    pub has_older: RwSignal<bool>,
    pub pending: RwSignal<Vec<Pending>>,
    pub status: RwSignal<ConversationStatus>,
    pub assignee: RwSignal<Option<PersonRef>>,
    /// Other people's read markers, for "Seen".
    pub markers: RwSignal<Vec<ReadMarker>>,
    /// Who is typing, until when (epoch millis).
    pub typing: RwSignal<Vec<(PersonRef, i64)>>,
    /// The highest seq received in the server's message stream: where to
    /// resume after a reconnect. Acks do not move it (an ack can overtake
    /// messages still queued for this socket).
    cursor: RwSignal<Seq>,
    /// The highest seq this tab has told the server it has read.
    read_sent: RwSignal<Seq>,
}

impl ThreadState {
    pub fn new(view: &ThreadView, me: UserId) -> ThreadState {
        ThreadState {
            id: view.summary.id,
            me,
            messages: RwSignal::new(view.history.messages.clone()),
            has_older: RwSignal::new(view.history.has_older),
            pending: RwSignal::new(Vec::new()),
            status: RwSignal::new(view.summary.status),
            assignee: RwSignal::new(view.summary.assignee.clone()),
            markers: RwSignal::new(view.read_markers.clone()),
            typing: RwSignal::new(Vec::new()),
            cursor: RwSignal::new(view.last_seq),
            // Opening the thread marked it read up to here.
            read_sent: RwSignal::new(view.last_seq),
        }
    }

    /// Adds messages (live, replayed or just acknowledged): each seq once,
    /// in order; a confirmed message replaces its pending copy.
    pub fn add(&self, incoming: impl IntoIterator<Item = Message>) {
        let incoming: Vec<Message> = incoming
            .into_iter()
            .filter(|m| m.conversation_id == self.id)
            .collect();
        if incoming.is_empty() {
            return;
        }
        self.pending.update(|pending| {
            pending.retain(|p| {
                !incoming
                    .iter()
                    .any(|m| m.client_id.as_deref() == Some(p.client_id.as_str()))
            })
        });
        self.typing.update(|typing| {
            typing.retain(|(who, _)| {
                !incoming
                    .iter()
                    .any(|m| m.sender.as_ref().is_some_and(|s| s.id == who.id))
            })
        });
        self.messages.update(|messages| {
            for message in incoming {
                if let Err(at) = messages.binary_search_by_key(&message.seq, |m| m.seq) {
                    messages.insert(at, message);
                }
            }
        });
    }

    /// Applies a changed list row of this conversation (status, assignee).
    pub fn apply_summary(&self, summary: &ConversationSummary) {
        if summary.id != self.id {
            return;
        }
        // Only real changes notify: every new message brings a row, and the
        // composer must not be rebuilt under someone's fingers.
        if self.status.get_untracked() != summary.status {
            self.status.set(summary.status);
        }
        if self.assignee.with_untracked(|a| a.as_ref().map(|a| a.id))
            != summary.assignee.as_ref().map(|a| a.id)
        {
            self.assignee.set(summary.assignee.clone());
        }
    }

    fn newest_seq(&self) -> Seq {
        self.messages
            .with_untracked(|m| m.last().map(|m| m.seq).unwrap_or_default())
    }

    /// The seq of my newest text message that the other side has read.
    fn seen_seq(&self, me_staff: bool) -> Option<Seq> {
        let read_up_to = self.markers.with(|markers| {
            markers
                .iter()
                .filter(|m| m.user_id != self.me && m.role.is_staff() != me_staff)
                .map(|m| m.seq)
                .max()
        })?;
        self.messages.with(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| {
                    m.kind == MessageKind::Text
                        && m.sender.as_ref().is_some_and(|s| s.id == self.me)
                        && m.seq <= read_up_to
                })
                .map(|m| m.seq)
        })
    }
}

/// Follows the conversation over the live socket for as long as the
/// calling component lives: (re)subscribes from the cursor on every
/// connect, applies what arrives, resends what is waiting.
fn follow(state: ThreadState, live: Live, at_bottom: RwSignal<bool>) {
    let subscribe = move || {
        live.send(&ClientFrame::Subscribe {
            conversation_id: state.id,
            after: state.cursor.get_untracked(),
        });
    };
    if live.state.get_untracked() == LiveState::Open {
        subscribe();
    }
    let mark_read = move || {
        let newest = state.newest_seq();
        if at_bottom.get_untracked() && page_visible() && newest > state.read_sent.get_untracked() {
            let sent = live.send(&ClientFrame::Read {
                conversation_id: state.id,
                up_to: newest,
            });
            if sent {
                state.read_sent.set(newest);
            }
        }
    };
    live.on_frame(move |frame| match frame {
        ServerFrame::Hello { .. } | ServerFrame::Resync => subscribe(),
        ServerFrame::Subscribed { conversation_id, .. } if *conversation_id == state.id => {
            // Caught up: send what was written meanwhile, in order.
            for pending in state.pending.get_untracked() {
                if pending.failed.is_none() {
                    transmit(live, state.id, &pending);
                }
            }
            mark_read();
        }
        ServerFrame::Message { message } if message.conversation_id == state.id => {
            state.cursor.update(|c| *c = (*c).max(message.seq));
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
        } => fail_pending(state, live, client_id, *code, message, *retry_after_ms),
        ServerFrame::Typing {
            conversation_id,
            user,
        } if *conversation_id == state.id && user.id != state.me => {
            let until = now().0 + TYPING_TTL_MS as i64;
            state.typing.update(|typing| {
                typing.retain(|(who, _)| who.id != user.id);
                typing.push((user.clone(), until));
            });
            expire_typing_later(state);
        }
        ServerFrame::Read {
            conversation_id,
            user_id,
            role,
            up_to,
        } if *conversation_id == state.id => {
            state.markers.update(
                |markers| match markers.iter_mut().find(|m| m.user_id == *user_id) {
                    Some(marker) => marker.seq = marker.seq.max(*up_to),
                    None => markers.push(ReadMarker {
                        user_id: *user_id,
                        role: *role,
                        seq: *up_to,
                    }),
                },
            );
        }
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

/// Sends one pending message; `false` if the socket is down (it waits).
fn transmit(live: Live, conversation: ConversationId, pending: &Pending) -> bool {
    live.send(&ClientFrame::Send {
        conversation_id: conversation,
        client_id: pending.client_id.clone(),
        body: pending.body.clone(),
        note: pending.note,
    })
}

fn fail_pending(
    state: ThreadState,
    live: Live,
    client_id: &str,
    code: ErrorCode,
    reason: &str,
    retry_after_ms: Option<u64>,
) {
    let Some(pending) = state
        .pending
        .with_untracked(|list| list.iter().find(|p| p.client_id == client_id).cloned())
    else {
        return;
    };
    if code == ErrorCode::Closed {
        state.status.set(ConversationStatus::Closed);
    }
    let reason = match (code, retry_after_ms) {
        (ErrorCode::RateLimited, Some(ms)) => {
            format!("too many messages; retrying in {} s.", ms.div_ceil(1000))
        }
        _ => reason.to_owned(),
    };
    state.pending.update(|list| {
        if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
            p.failed = Some(reason);
        }
    });
    if let (ErrorCode::RateLimited, Some(ms)) = (code, retry_after_ms) {
        set_timeout(
            move || retry(state, live, pending),
            std::time::Duration::from_millis(ms),
        );
    }
}

/// Sends a refused message again (the retry button, or the send limit's
/// timer, which may fire after the thread was closed: then its state is gone,
/// `try_update` does nothing, and the message still goes out once).
fn retry(state: ThreadState, live: Live, pending: Pending) {
    state.pending.try_update(|list| {
        if let Some(p) = list.iter_mut().find(|p| p.client_id == pending.client_id) {
            p.failed = None;
        }
    });
    transmit(live, state.id, &pending);
}

fn expire_typing_later(state: ThreadState) {
    set_timeout(
        move || {
            // The thread may be gone by now: `try_update` then does nothing.
            let now = now().0;
            state
                .typing
                .try_update(|typing| typing.retain(|(_, until)| *until > now));
        },
        std::time::Duration::from_millis(TYPING_TTL_MS + 50),
    );
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
    let at = message.created_at;
    view! {
        <div class=class data-seq=seq.0 data-kind=kind.as_str() data-testid="message">
            <div class="bubble">{message.body}</div>
            <div class="meta">
                {who.map(|w| view! { <span class="sender">{w}</span> })}
                <time title=at.utc_string()>{at.relative_to(now)}</time>
                {move || {
                    if seen.get() == Some(seq) {
                        Some(view! { <span class="seen" data-testid="seen">"· Seen"</span> }.into_any())
                    } else if newest_mine.get() == Some(seq) {
                        Some(view! { <span class="seen" data-testid="sent">"· Sent"</span> }.into_any())
                    } else {
                        None
                    }
                }}
            </div>
        </div>
    }
}

/// The thread: messages, typing indicator and composer.
#[component]
pub fn ThreadBody(
    state: ThreadState,
    me: CurrentUser,
    /// Staff get the note switch and canned responses.
    #[prop(optional)]
    canned: Option<Signal<Vec<CannedResponse>>>,
) -> impl IntoView {
    let live = use_live();
    let scroller = NodeRef::<html::Div>::new();
    let loading_older = RwSignal::new(false);
    let older_error = RwSignal::new(None::<String>);
    let at_bottom = RwSignal::new(true);
    let now = now();
    let me_staff = me.role.is_staff();
    let seen = Memo::new(move |_| state.seen_seq(me_staff));
    let newest_mine = Memo::new(move |_| {
        state.messages.with(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.kind == MessageKind::Text && m.sender.as_ref().is_some_and(|s| s.id == state.me))
                .map(|m| m.seq)
        })
    });

    follow(state, live, at_bottom);

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

    let typing_line = move || {
        let names: Vec<String> = state.typing.get().into_iter().map(|(who, _)| who.name).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            many => format!("{} are typing…", many.join(", ")),
        }
    };

    let closed = Memo::new(move |_| state.status.get() == ConversationStatus::Closed);
    let me_for_list = me.clone();
    view! {
        <div class="messages" node_ref=scroller on:scroll=on_scroll data-testid="messages">
            {move || state.has_older.get().then(|| view! {
                <div class="load-more">
                    <button class="secondary small" on:click=move |_| load_older() disabled=move || loading_older.get()>
                        {move || if loading_older.get() { "Loading…" } else { "Load older messages" }}
                    </button>
                </div>
            })}
            {move || older_error.get().map(|e| view! { <p class="notice error">{e}</p> })}
            <For
                each=move || state.messages.get()
                key=|m| (m.id, m.body.len())
                children=move |m| view! { <MessageItem message=m me=me_for_list.clone() now=now seen=seen newest_mine=newest_mine/> }
            />
            <For
                each=move || state.pending.get()
                key=|p| (p.client_id.clone(), p.failed.clone())
                children=move |p| view! { <PendingItem pending=p state=state/> }
            />
        </div>
        <div class="typing" data-testid="typing" aria-live="polite">{typing_line}</div>
        {move || {
            if closed.get() {
                view! { <ClosedNotice staff=me.role.is_staff()/> }.into_any()
            } else {
                view! { <Composer state=state staff=me.role.is_staff() canned=canned/> }.into_any()
            }
        }}
    }
}

#[component]
fn ClosedNotice(staff: bool) -> impl IntoView {
    view! {
        <div class="composer-closed" data-testid="closed">
            <p>"This conversation is closed."</p>
            {(!staff).then(|| view! {
                <p><a class="button" href="/messages/new">"Start a new conversation"</a></p>
            })}
        </div>
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
    let retry_click = {
        let pending = pending.clone();
        move |_| retry(state, live, pending.clone())
    };
    view! {
        <div class=class data-testid="pending">
            <div class="bubble">{pending.body.clone()}</div>
            {match failed {
                Some(reason) => view! {
                    <div class="state failed" role="alert">
                        {format!("Failed — {reason} ")}
                        <button class="link-button" on:click=retry_click>"Retry"</button>
                    </div>
                }.into_any(),
                None => view! {
                    <div class="state">
                        {move || if live.state.get() == LiveState::Open { "Sending…" } else { "Waiting for the connection…" }}
                    </div>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Composer(state: ThreadState, staff: bool, canned: Option<Signal<Vec<CannedResponse>>>) -> impl IntoView {
    let live = use_live();
    let textarea = NodeRef::<html::Textarea>::new();
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let selected = RwSignal::new(0usize);
    let last_typing_sent = StoredValue::new(0i64);

    // `/word` at the start of the composer offers canned responses.
    let matches = Memo::new(move |_| {
        let Some(canned) = canned else { return Vec::new() };
        let text = text.get();
        let Some(query) = text.strip_prefix('/') else {
            return Vec::new();
        };
        if query.contains(char::is_whitespace) {
            return Vec::new();
        }
        let query = query.to_lowercase();
        canned
            .get()
            .into_iter()
            .filter(|c| c.shortcut.starts_with(&query) || c.title.to_lowercase().contains(&query))
            .take(8)
            .collect::<Vec<_>>()
    });

    let insert = move |response: CannedResponse| {
        if let Some(el) = textarea.get_untracked() {
            el.set_value(&response.body);
            let _ = el.focus();
        }
        text.set(response.body);
        selected.set(0);
    };

    let submit = move || {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let body = match MessageBody::parse(&el.value()) {
            Ok(body) => body,
            Err(e) => {
                error.set(Some(e.message));
                return;
            }
        };
        error.set(None);
        el.set_value("");
        text.set(String::new());
        let pending = Pending {
            client_id: new_client_id(),
            body: body.into_inner(),
            note: staff && note.get_untracked(),
            failed: None,
        };
        state.pending.update(|list| list.push(pending.clone()));
        // If the socket is down, it waits and goes out after the next `subscribed`.
        transmit(live, state.id, &pending);
    };

    // "typing" at most every 2 s, never while writing a private note (the
    // customer would see that someone is writing).
    let announce_typing = move || {
        if note.get_untracked() {
            return;
        }
        let now = now().0;
        if now - last_typing_sent.get_value() >= TYPING_THROTTLE_MS as i64 {
            last_typing_sent.set_value(now);
            live.send(&ClientFrame::Typing {
                conversation_id: state.id,
            });
        }
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let options = matches.get_untracked();
        if !options.is_empty() {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    selected.update(|i| *i = (*i + 1) % options.len());
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    selected.update(|i| *i = (*i + options.len() - 1) % options.len());
                    return;
                }
                "Enter" | "Tab" => {
                    ev.prevent_default();
                    let index = selected.get_untracked().min(options.len() - 1);
                    insert(options[index].clone());
                    return;
                }
                "Escape" => {
                    text.set(String::new());
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <form
            class="composer"
            class:note-mode=move || note.get()
            method="post"
            action="/api/conversations/send"
            on:submit=on_submit
            data-testid="composer"
        >
            {move || {
                let options = matches.get();
                (!options.is_empty()).then(|| view! {
                    <ul class="canned-menu" role="listbox" data-testid="canned-menu">
                        {options.into_iter().enumerate().map(|(i, response)| {
                            let chosen = response.clone();
                            view! {
                                <li
                                    role="option"
                                    class:selected=move || selected.get() == i
                                    on:mousedown=move |ev| { ev.prevent_default(); insert(chosen.clone()); }
                                >
                                    <span class="shortcut">{format!("/{}", response.shortcut)}</span>
                                    {response.title.clone()}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })
            }}
            <input type="hidden" name="conversation_id" value=state.id.0/>
            {staff.then(|| view! {
                <div class="mode">
                    <label>
                        <input type="checkbox" name="note" value="on" prop:checked=move || note.get()
                            on:change=move |ev| note.set(event_target_checked(&ev))/>
                        " Private note (only the team sees it)"
                    </label>
                    <span class="muted">"Type / for canned responses"</span>
                </div>
            })}
            <div class="composer-row">
                <textarea
                    name="body"
                    rows="2"
                    node_ref=textarea
                    placeholder=if staff { "Reply to the customer…" } else { "Write a message…" }
                    aria-label="Message"
                    on:keydown=on_keydown
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        announce_typing();
                    }
                ></textarea>
                <button type="submit">"Send"</button>
            </div>
            <p class="field-error" role="alert" data-testid="composer-error">{move || error.get()}</p>
        </form>
    }
}
