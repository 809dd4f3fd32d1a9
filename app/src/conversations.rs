//! Server functions for conversations, shared by the customer's pages and
//! the staff inbox. Each one checks who is asking before anything else; the
//! rules themselves (ownership, roles, lifecycle) live in
//! `backend::conversations`.

use crate::error::AppError;
use leptos::prelude::*;
use parley::model::{
    AuditEntry, ConversationPage, ConversationSummary, CustomerProfile, HistoryPage, Message, PersonRef,
    ReadMarker, ThreadView,
};
use parley::{ConversationId, ConversationStatus, Seq};

#[cfg(feature = "ssr")]
use crate::error::ErrorKind;

/// An optional form field: absent and empty are both "not given".
#[cfg(feature = "ssr")]
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(feature = "ssr")]
fn parse_cursor(before: Option<String>) -> Result<Option<parley::model::InboxCursor>, AppError> {
    match given(before) {
        None => Ok(None),
        Some(raw) => parley::model::InboxCursor::from_param(&raw)
            .map(Some)
            .ok_or_else(|| {
                crate::ssr::fail(AppError::new(ErrorKind::Invalid, "That page link is not valid."))
            }),
    }
}

/// The signed-in customer's conversations, newest first.
#[server(endpoint = "conversations/mine")]
pub async fn my_conversations(before: Option<String>) -> Result<ConversationPage, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    let before = parse_cursor(before)?;
    respond(backend::conversations::list_for_customer(&backend()?.db, &me, before).await)
}

/// A customer starts a conversation; the browser goes to it.
#[server(endpoint = "conversations/start")]
pub async fn start_conversation(subject: String, body: String) -> Result<ConversationId, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    let (id, _) = respond(backend::conversations::start(&backend()?, &me, &subject, &body, None).await)?;
    leptos_axum::redirect(&format!("/messages/{id}"));
    Ok(id)
}

/// The shared inbox (staff only).
#[server(endpoint = "inbox")]
pub async fn inbox_page(
    tab: Option<String>,
    status: Option<String>,
    unanswered: Option<String>,
    before: Option<String>,
) -> Result<ConversationPage, AppError> {
    use crate::ssr::{backend, fail, require_staff, respond};
    use parley::model::{InboxFilter, InboxTab};
    let me = require_staff().await?;
    let tab = match given(tab) {
        None => InboxTab::All,
        Some(raw) => InboxTab::parse(&raw).ok_or_else(|| {
            fail(AppError::new(
                ErrorKind::Invalid,
                format!("There is no inbox tab {raw:?}."),
            ))
        })?,
    };
    let status = match given(status) {
        None => None,
        Some(raw) => Some(raw.parse::<ConversationStatus>().map_err(|_| {
            fail(AppError::new(
                ErrorKind::Invalid,
                format!("There is no status {raw:?}."),
            ))
        })?),
    };
    let unanswered = given(unanswered).is_some_and(|v| v != "0" && v != "false");
    let filter = InboxFilter {
        tab,
        status,
        unanswered,
    };
    let before = parse_cursor(before)?;
    respond(backend::conversations::inbox(&backend()?.db, &me, filter, before).await)
}

/// Opens a thread: its row, its newest messages, read markers. Marks it read.
#[server(endpoint = "conversations/thread")]
pub async fn open_thread(id: ConversationId) -> Result<ThreadView, AppError> {
    use crate::ssr::{backend, require_user, respond, session, take_draft};
    let me = require_user().await?;
    let mut view = respond(backend::conversations::open_thread(&backend()?, &me, id).await)?;
    view.draft = take_draft(&session().await?, id).await;
    Ok(view)
}

/// One conversation's list row, with the caller's unread count: what a
/// page refetches after its socket may have missed changes (a reconnect,
/// another tab reading it). Customers get only their own.
#[server(endpoint = "conversations/summary")]
pub async fn list_row(id: ConversationId) -> Result<ConversationSummary, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    respond(backend::conversations::summary_for(&backend()?.db, &me, id).await)
}

/// How far the others have read a conversation ("Seen"): what a thread
/// refetches after its socket may have missed `read` frames.
#[server(endpoint = "conversations/read_markers")]
pub async fn load_read_markers(id: ConversationId) -> Result<Vec<ReadMarker>, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    respond(backend::conversations::read_markers(&backend()?.db, &me, id).await)
}

/// Older messages, before `before`.
#[server(endpoint = "conversations/history")]
pub async fn load_history(id: ConversationId, before: Seq) -> Result<HistoryPage, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    respond(backend::conversations::history(&backend()?.db, &me, id, Some(before)).await)
}

/// Writes a message (or, for staff, a private note). The same `client_id`
/// twice stores one message. Also the composer's plain-form fallback.
#[server(endpoint = "conversations/send")]
pub async fn post_message(
    conversation_id: ConversationId,
    body: String,
    client_id: Option<String>,
    note: Option<String>,
) -> Result<Message, AppError> {
    use crate::ssr::{backend, fail, is_form_navigation, keep_draft, require_user, respond, session};
    let me = require_user().await?;
    let client_id = match given(client_id) {
        Some(raw) => Some(respond(parley::ClientId::parse(&raw).map_err(Into::into))?),
        None => None,
    };
    let note = given(note).is_some_and(|v| v != "0" && v != "false");
    match backend::conversations::send(&backend()?, &me, conversation_id, &body, client_id.as_ref(), note)
        .await
    {
        Ok(sent) => Ok(sent.message),
        Err(e) => {
            // A plain form post gets a redirect back to the thread: the
            // text waits there in the composer (too long, too fast: not lost).
            if is_form_navigation() && !body.trim().is_empty() {
                keep_draft(&session().await?, conversation_id, &body).await;
            }
            Err(fail(e))
        }
    }
}

/// Resolve, reopen or close (staff; close is for admins).
#[server(endpoint = "conversations/status")]
pub async fn set_status(
    conversation_id: ConversationId,
    status: String,
) -> Result<ConversationStatus, AppError> {
    use crate::ssr::{backend, fail, require_staff, respond};
    let me = require_staff().await?;
    let to: ConversationStatus = status.parse().map_err(|_| {
        fail(AppError::new(
            ErrorKind::Invalid,
            format!("There is no status {status:?}."),
        ))
    })?;
    respond(backend::conversations::change_status(&backend()?, &me, conversation_id, to).await)
}

/// Assigns to a staff member: `assignee` is a user id, `me`, or empty for nobody.
#[server(endpoint = "conversations/assign")]
pub async fn assign_conversation(
    conversation_id: ConversationId,
    assignee: Option<String>,
) -> Result<Option<PersonRef>, AppError> {
    use crate::ssr::{backend, fail, require_staff, respond};
    let me = require_staff().await?;
    let assignee = match given(assignee).as_deref() {
        None => None,
        Some("me") => Some(me.id),
        Some(raw) => Some(raw.parse::<parley::UserId>().map_err(|_| {
            fail(AppError::new(
                ErrorKind::Invalid,
                "Choose someone from the support team.",
            ))
        })?),
    };
    respond(backend::conversations::assign(&backend()?, &me, conversation_id, assignee).await)
}

/// Marks the conversation read up to `up_to`.
#[server(endpoint = "conversations/read")]
pub async fn mark_read(conversation_id: ConversationId, up_to: Seq) -> Result<Option<Seq>, AppError> {
    use crate::ssr::{backend, require_user, respond};
    let me = require_user().await?;
    respond(backend::conversations::mark_read(&backend()?, &me, conversation_id, up_to).await)
}

/// The customer behind a conversation (staff only).
#[server(endpoint = "conversations/customer")]
pub async fn get_customer_profile(conversation_id: ConversationId) -> Result<CustomerProfile, AppError> {
    use crate::ssr::{backend, require_staff, respond};
    let me = require_staff().await?;
    respond(backend::conversations::customer_profile(&backend()?.db, &me, conversation_id).await)
}

/// Who did what to a conversation (admins only).
#[server(endpoint = "conversations/audit")]
pub async fn audit_trail(conversation_id: ConversationId) -> Result<Vec<AuditEntry>, AppError> {
    use crate::ssr::{backend, require_admin, respond};
    let me = require_admin().await?;
    respond(backend::conversations::audit_trail(&backend()?.db, &me, conversation_id).await)
}

/// The number on the navigation badge: unread messages (customers) or
/// conversations waiting for an answer (staff). Zero for guests.
#[server(endpoint = "badge")]
pub async fn badge_count() -> Result<i64, AppError> {
    use crate::ssr::{backend, current_user, respond};
    match current_user().await? {
        Some(me) => respond(backend::conversations::badge_count(&backend()?.db, &me).await),
        None => Ok(0),
    }
}

/// Everyone a conversation can be assigned to (staff only).
#[server(endpoint = "staff")]
pub async fn list_staff() -> Result<Vec<PersonRef>, AppError> {
    use crate::ssr::{backend, require_staff, respond};
    let me = require_staff().await?;
    respond(backend::conversations::staff_members(&backend()?.db, &me).await)
}
