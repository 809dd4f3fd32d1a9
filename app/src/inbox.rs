//! The staff side: the shared inbox (tabs All / Mine / Unassigned, status
//! and "unanswered" filters, keyset pages) and the staff thread with the
//! customer panel, assignment, status actions and, for admins, the audit trail.

use crate::auth::{Gate, GatedPage};
use crate::browser::now;
use crate::canned::list_canned;
use crate::conversations::{
    audit_trail, get_customer_profile, inbox_page, list_staff, AssignConversation, SetStatus,
};
use crate::error::AppError;
use crate::messages::{id_param, no_such_conversation, thread_resource, ConversationList};
use crate::parts::{assignee_line, StatusTag, ThreadStatus};
use crate::presence::TeamList;
use crate::thread::{ThreadBody, ThreadState};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use parley::model::{
    AuditEntry, CannedResponse, ConversationPage, CurrentUser, CustomerProfile, InboxFilter, InboxTab,
    PersonRef, ThreadView,
};
use parley::{ConversationId, ConversationStatus};

#[component]
pub fn InboxPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|v| !v.is_empty());
    let page = Resource::new(
        move || {
            (
                param("tab"),
                param("status"),
                param("unanswered"),
                param("before"),
            )
        },
        |(tab, status, unanswered, before)| inbox_page(tab, status, unanswered, before),
    );
    view! {
        <GatedPage
            gate=Gate::Staff
            data={move || page}
            page={|me, page| view! { <Inbox page=page me=me /> }}
        />
    }
}

#[component]
fn Inbox(page: ConversationPage, me: CurrentUser) -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).filter(|v| !v.is_empty());
    let tab = move || param("tab").and_then(|t| InboxTab::parse(&t)).unwrap_or_default();
    let tab_href = move |t: InboxTab| {
        let mut qs = vec![format!("tab={}", t.as_str())];
        if let Some(status) = param("status") {
            qs.push(format!("status={status}"));
        }
        if param("unanswered").is_some() {
            qs.push("unanswered=1".to_owned());
        }
        format!("/inbox?{}", qs.join("&"))
    };
    let filter = InboxFilter {
        tab: tab(),
        status: param("status").and_then(|s| s.parse().ok()),
        unanswered: param("unanswered").is_some(),
    };
    view! {
        <Title text="Inbox" />
        <div class="thread-layout with-panel">
            <section class="page" data-testid="inbox">
                <div class="page-head">
                    <h1>"Inbox"</h1>
                    <crate::alerts::EnableNotifications />
                </div>
                <nav class="tabs" aria-label="Inbox tabs">
                    {InboxTab::ALL
                        .into_iter()
                        .map(|t| {
                            view! {
                                <a
                                    href=move || tab_href(t)
                                    class:active=move || tab() == t
                                    aria-current=move || (tab() == t).then_some("page")
                                    data-testid=format!("tab-{}", t.as_str())
                                >
                                    {t.label()}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
                <Form method="GET" action="/inbox" attr:class="filters" attr:data-testid="inbox-filters">
                    <input type="hidden" name="tab" value=move || tab().as_str() />
                    <label>
                        "Status " <select name="status" aria-label="Status">
                            <option value="" selected=move || param("status").is_none()>
                                "Any"
                            </option>
                            {ConversationStatus::ALL
                                .into_iter()
                                .map(|s| {
                                    view! {
                                        <option
                                            value=s.as_str()
                                            selected=move || param("status").as_deref() == Some(s.as_str())
                                        >
                                            {s.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <label>
                        <input
                            type="checkbox"
                            name="unanswered"
                            value="1"
                            checked=move || param("unanswered").is_some()
                        />
                        " Unanswered only"
                    </label>
                    <button type="submit" class="secondary small">
                        "Apply"
                    </button>
                </Form>
                <ConversationList page=page me=me base="/inbox" filter=filter />
            </section>
            <aside class="side-panel" aria-label="Team">
                <TeamList />
            </aside>
        </div>
    }
}

#[component]
pub fn StaffThreadPage() -> impl IntoView {
    let id = id_param();
    let set_status = ServerAction::<SetStatus>::new();
    let assign = ServerAction::<AssignConversation>::new();
    // Status and assignee changes arrive live (and as system messages), so
    // the thread is not fetched again after an action.
    let thread = thread_resource();
    let profile = Resource::new(
        move || id.get(),
        |id| async move { get_customer_profile(id.ok_or_else(no_such_conversation)?).await },
    );
    let staff = Resource::new(|| (), |_| list_staff());
    let canned = Resource::new(|| (), |_| list_canned());
    let action_error = move || {
        let status = set_status.value().get().and_then(|r| r.err());
        let assign = assign.value().get().and_then(|r| r.err());
        status.or(assign).map(|e| e.message)
    };
    // Only the thread itself must load; the panels show their own errors.
    let data = move || async move {
        Ok::<_, AppError>(StaffThreadData {
            view: thread.await?,
            profile: profile.await,
            staff: staff.await.unwrap_or_default(),
            canned: canned.await.unwrap_or_default(),
        })
    };
    view! {
        <GatedPage
            gate=Gate::Staff
            data=data
            page={move |me, data: StaffThreadData| {
                view! {
                    <Title text=data.view.summary.title.clone() />
                    <p class="back">
                        <A href="/inbox">"← Inbox"</A>
                    </p>
                    {move || {
                        action_error()
                            .map(|e| {
                                view! {
                                    <p class="notice error" role="alert">
                                        {e}
                                    </p>
                                }
                            })
                    }}
                    <StaffThreadView
                        view=data.view
                        me=me
                        profile=data.profile
                        staff=data.staff
                        canned=Signal::stored(data.canned)
                        set_status=set_status
                        assign=assign
                    />
                }
            }}
        />
    }
}

/// What the staff thread page loads besides the user.
struct StaffThreadData {
    view: ThreadView,
    profile: Result<CustomerProfile, AppError>,
    staff: Vec<PersonRef>,
    canned: Vec<CannedResponse>,
}

#[component]
fn StaffThreadView(
    view: ThreadView,
    me: CurrentUser,
    profile: Result<CustomerProfile, AppError>,
    staff: Vec<PersonRef>,
    canned: Signal<Vec<CannedResponse>>,
    set_status: ServerAction<SetStatus>,
    assign: ServerAction<AssignConversation>,
) -> impl IntoView {
    let state = ThreadState::new(&view, me.id);
    let id = state.id;
    view! {
        <div class="thread-layout with-panel">
            <section class="thread" data-testid="thread">
                <header class="thread-head">
                    <h1>{view.summary.title.clone()}</h1>
                    <ThreadStatus status=state.status />
                    <span class="muted" data-testid="assignee">
                        {move || state.assignee.with(|a| assignee_line(a.as_ref()))}
                    </span>
                </header>
                <ThreadBody state=state me=me.clone() canned=canned draft=view.draft.clone() />
            </section>
            <aside class="side-panel" aria-label="Conversation details">
                <Actions state=state me=me.clone() staff=staff set_status=set_status assign=assign />
                <CustomerPanel profile=profile />
                {me.role.is_admin().then(|| view! { <AuditPanel id=id /> })}
            </aside>
        </div>
    }
}

/// Assign, resolve, reopen, close: kept in step with the live status.
#[component]
fn Actions(
    state: ThreadState,
    me: CurrentUser,
    staff: Vec<PersonRef>,
    set_status: ServerAction<SetStatus>,
    assign: ServerAction<AssignConversation>,
) -> impl IntoView {
    let id = state.id;
    let staff = StoredValue::new(staff);
    let is_admin = me.role.is_admin();
    let status_button = move |to: ConversationStatus, label: &'static str| {
        view! {
            <ActionForm action=set_status attr:class="inline">
                <input type="hidden" name="conversation_id" value=id.0 />
                <input type="hidden" name="status" value=to.as_str() />
                <button type="submit" class="secondary small" data-testid=format!("status-{}", to.as_str())>
                    {label}
                </button>
            </ActionForm>
        }
    };
    let body = move || {
        let status = state.status.get();
        let assignee = state.assignee.get().map(|a| a.id);
        if status == ConversationStatus::Closed {
            return view! { <p class="muted">"Closed for good: no more changes."</p> }.into_any();
        }
        view! {
            <div class="thread-actions">
                {(assignee != Some(me.id))
                    .then(|| {
                        view! {
                            <ActionForm action=assign attr:class="inline">
                                <input type="hidden" name="conversation_id" value=id.0 />
                                <input type="hidden" name="assignee" value="me" />
                                <button type="submit" class="small" data-testid="assign-me">
                                    "Assign to me"
                                </button>
                            </ActionForm>
                        }
                    })}
                {matches!(status, ConversationStatus::Open | ConversationStatus::Active)
                    .then(|| status_button(ConversationStatus::Resolved, "Resolve"))}
                {(status == ConversationStatus::Resolved)
                    .then(|| status_button(ConversationStatus::Active, "Reopen"))}
            </div>
            <ActionForm action=assign attr:class="form" attr:data-testid="assign-form">
                <input type="hidden" name="conversation_id" value=id.0 />
                <label>
                    "Assign to" <select name="assignee">
                        <option value="" selected=assignee.is_none()>
                            "Nobody"
                        </option>
                        {staff
                            .get_value()
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <option value=p.id.0 selected=assignee == Some(p.id)>
                                        {p.name.clone()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" class="secondary small">
                    "Assign"
                </button>
            </ActionForm>
            {is_admin
                .then(|| {
                    view! {
                        <details class="danger-zone" data-testid="close-details">
                            <summary>"Close for good…"</summary>
                            <p class="muted">
                                "A closed conversation takes no more messages; the customer will have to start a new one. This cannot be undone."
                            </p>
                            <ActionForm action=set_status attr:class="inline">
                                <input type="hidden" name="conversation_id" value=id.0 />
                                <input type="hidden" name="status" value="closed" />
                                <button type="submit" class="danger small" data-testid="confirm-close">
                                    "Yes, close it"
                                </button>
                            </ActionForm>
                        </details>
                    }
                })}
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="actions-heading" data-testid="actions">
            <h2 id="actions-heading">"Actions"</h2>
            {body}
        </section>
    }
}

#[component]
fn CustomerPanel(profile: Result<CustomerProfile, AppError>) -> impl IntoView {
    let now = now();
    let body = match profile {
        Ok(p) => view! {
            <dl>
                <dt>"Name"</dt>
                <dd>{p.name.clone()}</dd>
                <dt>"Email"</dt>
                <dd>{p.email.clone()}</dd>
                <dt>"Since"</dt>
                <dd>{p.member_since.month_year()}</dd>
            </dl>
            <h2 class="spaced">{format!("Earlier conversations ({})", p.other_conversations.len())}</h2>
            {if p.other_conversations.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <ul data-testid="other-conversations">
                        {p
                            .other_conversations
                            .into_iter()
                            .map(|c| {
                                view! {
                                    <li>
                                        <a href=format!("/inbox/{}", c.id)>{c.title.clone()}</a>
                                        " "
                                        <StatusTag status=c.status />
                                        " "
                                        <span class="muted">{c.last_activity_at.relative_to(now)}</span>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        }
        .into_any(),
        Err(e) => view! { <p class="notice error">{e.message}</p> }.into_any(),
    };
    view! {
        <section class="card" aria-labelledby="customer-heading" data-testid="customer-panel">
            <h2 id="customer-heading">"Customer"</h2>
            {body}
        </section>
    }
}

/// The audit trail, fetched when the admin opens it.
#[component]
fn AuditPanel(id: ConversationId) -> impl IntoView {
    let entries = RwSignal::new(None::<Result<Vec<AuditEntry>, AppError>>);
    let on_toggle = move |_| {
        if entries.get_untracked().is_none() {
            leptos::task::spawn_local(async move { entries.set(Some(audit_trail(id).await)) });
        }
    };
    view! {
        <details class="card" data-testid="audit" on:toggle=on_toggle>
            <summary>
                <strong>"Audit trail"</strong>
            </summary>
            {move || match entries.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="notice error">{e.message}</p> }.into_any(),
                Some(Ok(entries)) => {
                    view! {
                        <ul class="audit">
                            {entries
                                .into_iter()
                                .map(|e| {
                                    let who = e.actor.map(|a| a.name).unwrap_or_else(|| "System".to_owned());
                                    let change = match (e.from_value, e.to_value) {
                                        (Some(from), Some(to)) => format!("{from} → {to}"),
                                        (None, Some(to)) => format!("→ {to}"),
                                        (Some(from), None) => format!("{from} → nobody"),
                                        (None, None) => String::new(),
                                    };
                                    view! {
                                        <li>
                                            <strong>{who}</strong>
                                            " "
                                            {e.action}
                                            " "
                                            {change}
                                            <br />
                                            <span class="muted">{e.at.utc_string()}</span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            }}
        </details>
    }
}
