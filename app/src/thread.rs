//! The conversation thread, shared by customers and staff: history (older
//! pages load when scrolling up), the composer (Enter sends, Shift+Enter is
//! a newline; staff can write private notes and insert canned responses with
//! `/`), and the messages that are still on their way.
//!
//! The composer is a plain HTML form posting to the `post_message` server
//! function, so it works before the WASM loads; once hydrated it sends
//! without leaving the page and shows each message as "sending" until the
//! server has committed it, or "failed" with the reason and a retry.

use crate::conversations::post_message;
use crate::error::{AppError, ErrorKind};
use leptos::html;
use leptos::prelude::*;
use parley::model::{CannedResponse, ConversationSummary, CurrentUser, HistoryPage, Message, MessageKind};
use parley::validate::MessageBody;
use parley::{ConversationId, ConversationStatus, Seq, Timestamp};

/// The time now, from whichever clock this side has.
pub fn now() -> Timestamp {
    #[cfg(feature = "hydrate")]
    {
        Timestamp(js_sys::Date::now() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        Timestamp(millis)
    }
}

/// A random id for a message about to be sent (its idempotency key).
pub fn new_client_id() -> String {
    #[cfg(feature = "hydrate")]
    {
        let a = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let b = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        format!("c-{:x}-{a:08x}{b:08x}", js_sys::Date::now() as u64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// A message the server has not confirmed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub client_id: String,
    pub body: String,
    pub note: bool,
    /// `Some(reason)` once the server refused it or could not be reached.
    pub failed: Option<String>,
}

/// The live state of one open thread.
#[derive(Clone, Copy)]
pub struct ThreadState {
    pub id: ConversationId,
    pub messages: RwSignal<Vec<Message>>,
    pub has_older: RwSignal<bool>,
    pub pending: RwSignal<Vec<Pending>>,
    pub status: RwSignal<ConversationStatus>,
}

impl ThreadState {
    pub fn new(summary: &ConversationSummary, history: HistoryPage) -> ThreadState {
        ThreadState {
            id: summary.id,
            messages: RwSignal::new(history.messages),
            has_older: RwSignal::new(history.has_older),
            pending: RwSignal::new(Vec::new()),
            status: RwSignal::new(summary.status),
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
        self.messages.update(|messages| {
            for message in incoming {
                match messages.binary_search_by_key(&message.seq, |m| m.seq) {
                    Ok(_) => {}
                    Err(at) => messages.insert(at, message),
                }
            }
        });
    }

    /// The newest seq held.
    pub fn last_seq(&self) -> Seq {
        self.messages
            .with_untracked(|m| m.last().map(|m| m.seq).unwrap_or_default())
    }
}

/// CSS classes and the meta line for one message.
#[component]
fn MessageItem(message: Message, me: CurrentUser, now: Timestamp) -> impl IntoView {
    let mine = message.sender.as_ref().is_some_and(|s| s.id == me.id);
    let kind = message.kind;
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
        <div class=class data-seq=message.seq.0 data-kind=kind.as_str() data-testid="message">
            <div class="bubble">{message.body}</div>
            <div class="meta">
                {who.map(|w| view! { <span class="sender">{w}</span> })}
                <time title=at.utc_string()>{at.relative_to(now)}</time>
            </div>
        </div>
    }
}

/// The thread: messages and composer.
#[component]
pub fn ThreadBody(
    state: ThreadState,
    me: CurrentUser,
    /// Staff get the note switch and canned responses.
    #[prop(optional)]
    canned: Option<Signal<Vec<CannedResponse>>>,
) -> impl IntoView {
    let scroller = NodeRef::<html::Div>::new();
    let loading_older = RwSignal::new(false);
    let older_error = RwSignal::new(None::<String>);
    let stick_to_bottom = RwSignal::new(true);
    let now = now();

    // Keep the newest message in view while the reader is at the bottom.
    Effect::new(move |_| {
        state.messages.track();
        state.pending.track();
        if stick_to_bottom.get_untracked() {
            scroll_to_bottom(scroller);
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
                    keep_position(scroller, height_before);
                }
                Err(e) => older_error.set(Some(e.message)),
            }
            loading_older.set(false);
        });
    };

    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let distance = el.scroll_height() - el.scroll_top() - el.client_height();
            stick_to_bottom.set(distance < 60);
            if el.scroll_top() < 80 {
                load_older();
            }
        }
    };

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
                children=move |m| view! { <MessageItem message=m me=me_for_list.clone() now=now/> }
            />
            <For
                each=move || state.pending.get()
                key=|p| (p.client_id.clone(), p.failed.clone())
                children=move |p| view! { <PendingItem pending=p state=state/> }
            />
        </div>
        {move || {
            if state.status.get() == ConversationStatus::Closed {
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
    let failed = pending.failed.clone();
    let class = if failed.is_some() {
        "msg mine failed"
    } else {
        "msg mine pending"
    };
    let retry = {
        let pending = pending.clone();
        move |_| resend(state, pending.clone())
    };
    view! {
        <div class=class data-testid="pending">
            <div class="bubble">{pending.body.clone()}</div>
            {match failed {
                Some(reason) => view! {
                    <div class="state failed" role="alert">
                        {format!("Failed — {reason} ")}
                        <button class="link-button" on:click=retry>"Retry"</button>
                    </div>
                }.into_any(),
                None => view! { <div class="state">"Sending…"</div> }.into_any(),
            }}
        </div>
    }
}

/// Sends (or resends) a pending message and settles it.
pub fn resend(state: ThreadState, pending: Pending) {
    state.pending.update(|list| {
        if let Some(p) = list.iter_mut().find(|p| p.client_id == pending.client_id) {
            p.failed = None;
        }
    });
    leptos::task::spawn_local(async move {
        let result = post_message(
            state.id,
            pending.body.clone(),
            Some(pending.client_id.clone()),
            pending.note.then(|| "on".to_owned()),
        )
        .await;
        settle(state, &pending.client_id, result);
    });
}

/// Applies the server's answer to a pending message.
pub fn settle(state: ThreadState, client_id: &str, result: Result<Message, AppError>) {
    match result {
        Ok(message) => state.add([message]),
        Err(e) => {
            let reason = match e.kind {
                ErrorKind::Network => "not sent: no connection.".to_owned(),
                _ => e.message,
            };
            if e.kind == ErrorKind::Conflict {
                // e.g. the conversation was closed meanwhile
                state.status.set(ConversationStatus::Closed);
            }
            state.pending.update(|list| {
                if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
                    p.failed = Some(reason);
                }
            });
        }
    }
}

#[component]
fn Composer(state: ThreadState, staff: bool, canned: Option<Signal<Vec<CannedResponse>>>) -> impl IntoView {
    let textarea = NodeRef::<html::Textarea>::new();
    let form = NodeRef::<html::Form>::new();
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let selected = RwSignal::new(0usize);

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
        let raw = el.value();
        let body = match MessageBody::parse(&raw) {
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
        resend(state, pending);
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
            node_ref=form
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
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
                <button type="submit">"Send"</button>
            </div>
            <p class="field-error" role="alert" data-testid="composer-error">{move || error.get()}</p>
        </form>
    }
}

fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = scroller;
}

/// After older messages were put above, keeps the same message in view.
fn keep_position(scroller: NodeRef<html::Div>, height_before: i32) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(el.scroll_top() + el.scroll_height() - height_before);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (scroller, height_before);
}
