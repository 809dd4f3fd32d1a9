//! The customer's side: their conversations with the support team, starting
//! a new one, and the thread.

use crate::auth::{no_data, Gate, GatedPage};
use crate::browser::now;
use crate::conversations::{inbox_page, list_row, my_conversations, open_thread, StartConversation};
use crate::error::{AppError, ErrorKind};
use crate::live::use_live;
use crate::parts::{assignee_line, failure, Field, FormError, StatusTag, ThreadStatus, VisuallyHidden};
use crate::presence::SupportStatus;
use crate::thread::{ThreadBody, ThreadState};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use parley::model::{
    ConversationPage, ConversationSummary, CurrentUser, InboxFilter, InboxTab, MessageKind, ThreadView,
};
use parley::protocol::ServerFrame;
use parley::ConversationStatus;
use parley::{ConversationId, Timestamp};

/// "You: …" or "Avery: …" before a list preview.
fn preview_line(summary: &ConversationSummary, me: &CurrentUser) -> String {
    match &summary.last_message {
        None => String::new(),
        Some(m) => {
            let who = match (&m.sender_id, &m.sender_name) {
                (Some(id), _) if *id == me.id => "You: ".to_owned(),
                (Some(_), Some(name)) if m.kind != parley::model::MessageKind::System => format!("{name}: "),
                _ => String::new(),
            };
            format!("{who}{}", m.body)
        }
    }
}

/// One row of a conversation list, for customers or staff.
#[component]
pub fn ConversationRow(
    summary: ConversationSummary,
    me: CurrentUser,
    href: String,
    now: Timestamp,
) -> impl IntoView {
    let staff = me.role.is_staff();
    let unread = summary.unread;
    let preview = preview_line(&summary, &me);
    let awaiting = staff && awaiting_answer(&summary);
    view! {
        <li class="conv-row" class:unread={unread > 0} data-testid="conversation-row" data-id=summary.id.0>
            <a href=href>
                <span class="conv-title">
                    {staff.then(|| format!("{} · ", summary.customer.name))} {summary.title.clone()}
                </span>
                <span class="conv-side">
                    <time title=summary
                        .last_activity_at
                        .utc_string()>{summary.last_activity_at.relative_to(now)}</time>
                    {(unread > 0)
                        .then(|| {
                            view! {
                                <span class="badge" data-testid="unread" aria-hidden="true">
                                    {unread}
                                </span>
                                <VisuallyHidden text=format!("{unread} unread") />
                            }
                        })}
                </span>
                <span class="conv-meta">
                    <StatusTag status=summary.status />
                    {awaiting
                        .then(|| {
                            view! {
                                <span class="unanswered" data-testid="unanswered">
                                    "● Unanswered"
                                </span>
                            }
                        })}
                    {staff.then(|| assignee_line(summary.assignee.as_ref()))}
                    <span class="conv-preview">{preview}</span>
                </span>
            </a>
        </li>
    }
}

/// Whether someone on the team should answer: the customer wrote last and
/// the conversation is still open.
fn awaiting_answer(summary: &ConversationSummary) -> bool {
    summary.unanswered
        && matches!(
            summary.status,
            ConversationStatus::Open | ConversationStatus::Active
        )
}

#[component]
pub fn MessagesPage() -> impl IntoView {
    let query = use_query_map();
    let conversations = Resource::new(move || query.read().get("before"), my_conversations);
    view! {
        <GatedPage
            gate=Gate::Customer
            data={move || conversations}
            page={|me, page| view! { <MyConversations page=page me=me /> }}
        />
    }
}

#[component]
fn MyConversations(page: ConversationPage, me: CurrentUser) -> impl IntoView {
    view! {
        <Title text="Messages" />
        <section class="page" data-testid="messages">
            <div class="page-head">
                <h1>"Messages"</h1>
                <SupportStatus />
                <A href="/messages/new" attr:class="button">
                    "New conversation"
                </A>
            </div>
            <ConversationList page=page me=me base="/messages" />
        </section>
    }
}

/// A page of rows, kept up to date by `conversation` frames, with the link
/// to the next (older) page.
#[component]
pub fn ConversationList(
    page: ConversationPage,
    me: CurrentUser,
    base: &'static str,
    /// The inbox's tab and filters (staff); customers see all of their own.
    #[prop(optional)]
    filter: Option<InboxFilter>,
) -> impl IntoView {
    let now = now();
    let query = use_query_map();
    let first_page = query.with_untracked(|q| q.get("before").is_none());
    let rows = RwSignal::new(page.rows);
    follow_rows(rows, me.clone(), filter, first_page);
    let next_href = page.next.map(|cursor| {
        let mut params: Vec<(String, String)> = query
            .get_untracked()
            .into_iter()
            .filter(|(k, _)| k != "before")
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        params.push(("before".to_owned(), cursor.to_param()));
        let qs = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        format!("{base}?{qs}")
    });
    let empty_text = if me.role.is_staff() {
        "No conversations here."
    } else {
        "No conversations yet. Start one and the support team will answer here."
    };
    view! {
        {move || {
            rows.with(Vec::is_empty)
                .then(|| {
                    view! {
                        <p class="empty card" data-testid="empty">
                            {empty_text}
                        </p>
                    }
                })
        }}
        <ul class="conv-list" data-testid="conversation-list">
            <For
                each=move || rows.get()
                key=|s| (s.id, s.last_activity_at, s.unread, s.status, s.assignee.as_ref().map(|a| a.id))
                children=move |summary| {
                    let href = format!("{base}/{}", summary.id);
                    view! { <ConversationRow summary=summary me=me.clone() href=href now=now /> }
                }
            />
        </ul>
        {next_href
            .map(|href| {
                view! {
                    <div class="load-more">
                        <a class="button secondary" href=href>
                            "Older conversations →"
                        </a>
                    </div>
                }
            })}
    }
}

/// Whether a row belongs in the list under `filter`.
fn belongs(summary: &ConversationSummary, me: &CurrentUser, filter: Option<InboxFilter>) -> bool {
    let Some(filter) = filter else { return true };
    let tab_ok = match filter.tab {
        InboxTab::All => true,
        InboxTab::Mine => summary.assignee.as_ref().is_some_and(|a| a.id == me.id),
        InboxTab::Unassigned => summary.assignee.is_none(),
    };
    let status_ok = filter.status.is_none_or(|s| s == summary.status);
    let unanswered_ok = !filter.unanswered || awaiting_answer(summary);
    tab_ok && status_ok && unanswered_ok
}

/// Whether the row's newest message counts as unread for me.
fn counts_as_unread(summary: &ConversationSummary, me: &CurrentUser) -> bool {
    summary.last_message.as_ref().is_some_and(|m| {
        m.sender_id != Some(me.id)
            && match m.kind {
                MessageKind::Text => true,
                MessageKind::Note => me.role.is_staff(),
                MessageKind::System => false,
            }
    })
}

/// Keeps the rows up to date: applies `conversation` frames, fetches a
/// row's unread count again when I read it in another tab (a `read` frame
/// with my id), and fetches the whole page again whenever it may have gone
/// stale (a new socket, a resync, a poll: see `Live::on_stale`).
fn follow_rows(
    rows: RwSignal<Vec<ConversationSummary>>,
    me: CurrentUser,
    filter: Option<InboxFilter>,
    first_page: bool,
) {
    let live = use_live();
    let reader = me.id;
    live.on_frame(move |frame| match frame {
        ServerFrame::Conversation { summary } => {
            rows.update(|rows| apply_row(rows, summary.clone(), &me, filter, first_page))
        }
        ServerFrame::Read {
            conversation_id,
            user_id,
            ..
        } if *user_id == reader => {
            let id = *conversation_id;
            let unread = rows.with_untracked(|rows| rows.iter().any(|r| r.id == id && r.unread > 0));
            if unread {
                leptos::task::spawn_local(async move {
                    if let Ok(fresh) = list_row(id).await {
                        rows.update(|rows| {
                            if let Some(row) = rows.iter_mut().find(|r| r.id == id) {
                                row.unread = fresh.unread;
                            }
                        });
                    }
                });
            }
        }
        _ => {}
    });
    let query = use_query_map();
    live.on_stale(move || {
        let query = query.get_untracked();
        leptos::task::spawn_local(async move {
            let param = |key: &str| query.get(key).filter(|v| !v.is_empty());
            let page = match filter {
                Some(_) => {
                    inbox_page(
                        param("tab"),
                        param("status"),
                        param("unanswered"),
                        param("before"),
                    )
                    .await
                }
                None => my_conversations(param("before")).await,
            };
            if let Ok(page) = page {
                rows.set(page.rows);
            }
        });
    });
}

/// Applies one `conversation` frame: the row is updated in place and moved
/// to the top, a new one inserted (first page only), one that no longer
/// matches the filter removed. Unread counts grow with each new message
/// from someone else; a row older than the one held is ignored (rows can
/// arrive out of order).
fn apply_row(
    rows: &mut Vec<ConversationSummary>,
    mut incoming: ConversationSummary,
    me: &CurrentUser,
    filter: Option<InboxFilter>,
    first_page: bool,
) {
    let held = rows.iter().position(|r| r.id == incoming.id);
    match held {
        Some(i) => {
            let old = &rows[i];
            if incoming.last_activity_at < old.last_activity_at {
                return;
            }
            let newer_message =
                incoming.last_message.as_ref().map(|m| m.at) > old.last_message.as_ref().map(|m| m.at);
            incoming.unread = old.unread + i64::from(newer_message && counts_as_unread(&incoming, me));
            rows.remove(i);
        }
        None if first_page => incoming.unread = i64::from(counts_as_unread(&incoming, me)),
        None => return,
    }
    if belongs(&incoming, me, filter) {
        let at = rows
            .iter()
            .position(|r| (r.last_activity_at, r.id) < (incoming.last_activity_at, incoming.id))
            .unwrap_or(rows.len());
        rows.insert(at, incoming);
    }
}

#[component]
pub fn NewConversationPage() -> impl IntoView {
    let action = ServerAction::<StartConversation>::new();
    view! {
        <GatedPage
            gate=Gate::Customer
            data=no_data
            page={move |_, ()| view! { <NewConversationForm action=action /> }}
        />
    }
}

#[component]
fn NewConversationForm(action: ServerAction<StartConversation>) -> impl IntoView {
    let error = failure(action);
    view! {
        <Title text="New conversation" />
        <section class="card narrow roomy">
            <h1>"New conversation"</h1>
            <p class="muted">"Tell us what you need; the support team answers here."</p>
            <ActionForm
                action=action
                attr:class="form"
                attr:novalidate=true
                attr:data-testid="new-conversation"
            >
                <FormError error=error />
                <Field
                    label="Subject"
                    label_note="(optional)"
                    name="subject"
                    maxlength=200
                    placeholder="e.g. Where is my order?"
                    error=error
                />
                <Field label="Message" name="body" rows=5 placeholder="How can we help?" error=error />
                <div class="actions">
                    <button type="submit" disabled=move || action.pending().get()>
                        "Start conversation"
                    </button>
                    <A href="/messages" attr:class="button secondary">
                        "Cancel"
                    </A>
                </div>
            </ActionForm>
        </section>
    }
}

/// The id in the URL, if it is a number.
pub fn id_param() -> Memo<Option<ConversationId>> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").and_then(|id| id.parse().ok()))
}

/// What a URL whose id is not a number names: no conversation.
pub fn no_such_conversation() -> AppError {
    AppError::new(ErrorKind::NotFound, "Conversation not found.")
}

/// The thread named in the URL.
pub fn thread_resource() -> Resource<Result<ThreadView, AppError>> {
    let id = id_param();
    Resource::new(
        move || id.get(),
        |id| async move { open_thread(id.ok_or_else(no_such_conversation)?).await },
    )
}

#[component]
pub fn CustomerThreadPage() -> impl IntoView {
    let thread = thread_resource();
    view! {
        <GatedPage
            gate=Gate::Customer
            data={move || thread}
            page={|me, view| view! { <CustomerThreadView view=view me=me /> }}
        />
    }
}

#[component]
fn CustomerThreadView(view: ThreadView, me: CurrentUser) -> impl IntoView {
    let state = ThreadState::new(&view, me.id);
    view! {
        <Title text=view.summary.title.clone() />
        <p class="back">
            <A href="/messages">"← All conversations"</A>
        </p>
        <section class="thread" data-testid="thread">
            <header class="thread-head">
                <h1>{view.summary.title.clone()}</h1>
                <SupportStatus />
                <ThreadStatus status=state.status />
            </header>
            <ThreadBody state=state me=me draft=view.draft.clone() />
        </section>
    }
}
