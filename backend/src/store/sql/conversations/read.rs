//! Reading conversations: lists, threads, history, replay, the customer
//! panel, the audit trail, badges.

use super::super::{Db, Engine, BYTE_ORDER, WAITING_INDEX_HINT};
use super::mark_read;
use super::rows::{
    fetch_page, joined_person, message_select, page_by_activity, read_state, summary_query,
    summary_query_from, AnnouncedRow, MessageRow, SummaryRow,
};
use crate::conversations::{public_seq_at, require_staff, Audience, HISTORY_PAGE, NOT_FOUND};
use crate::error::ServiceResult;
use crate::{Backend, ServiceError};
use parley::model::{
    AuditEntry, ConversationLink, ConversationPage, ConversationSummary, CurrentUser, CustomerProfile,
    HistoryPage, InboxCursor, InboxFilter, InboxTab, Message, PersonRef, ReadMarker, ThreadView,
    UserListItem,
};
use parley::{ConversationId, Role, Seq, Timestamp, UserId};

/// The list rows for staff and for the customer of each of `ids` (without
/// unread counts), for the announcement of a batch of changes: one query
/// however many there are (both sides' rows, told apart by
/// [`AnnouncedRow::for_customer`]). Rows come in no particular order; a
/// conversation that does not exist has none.
pub(crate) async fn summaries_of(
    db: &Db,
    ids: &[ConversationId],
) -> ServiceResult<Vec<(ConversationSummary, ConversationSummary)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let push_ids = |q: &mut sqlx::QueryBuilder<'_, Engine>| {
        q.push("WHERE c.id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
    };
    let mut q = summary_query(Audience::Staff, None);
    push_ids(&mut q);
    q.push(" UNION ALL ");
    // Without a viewer the query has no binds of its own: its text is all of it.
    q.push(summary_query(Audience::Customer, None).sql());
    push_ids(&mut q);
    let rows: Vec<AnnouncedRow> = q.build_query_as().fetch_all(&db.read).await?;
    let (customer, staff): (Vec<AnnouncedRow>, Vec<AnnouncedRow>) =
        rows.into_iter().partition(|r| r.for_customer == 1);
    let mut customer: std::collections::HashMap<ConversationId, SummaryRow> =
        customer.into_iter().map(|r| (r.row.id(), r.row)).collect();
    Ok(staff
        .into_iter()
        .filter_map(|s| customer.remove(&s.row.id()).map(|c| (s.row.into(), c.into())))
        .collect())
}

/// A customer's own conversations, newest (visible) activity first.
pub(crate) async fn list_for_customer(
    db: &Db,
    customer: &CurrentUser,
    before: Option<InboxCursor>,
) -> ServiceResult<ConversationPage> {
    if customer.role.is_staff() {
        return Err(ServiceError::Forbidden(
            "The team's conversations are in the inbox.",
        ));
    }
    let mut q = summary_query(Audience::Customer, Some(customer.id));
    q.push("WHERE c.customer_id = ");
    q.push_bind(customer.id);
    page_by_activity(&mut q, "c.last_public_at", before);
    fetch_page(&mut q, db).await
}

/// The shared inbox (staff only), newest activity first.
pub(crate) async fn inbox(
    db: &Db,
    staff: &CurrentUser,
    filter: InboxFilter,
    before: Option<InboxCursor>,
) -> ServiceResult<ConversationPage> {
    require_staff(staff)?;
    // The partial index holds only waiting conversations, in order; an
    // engine whose planner will not pick it by itself names it.
    let from = if filter.unanswered {
        format!("conversations c {WAITING_INDEX_HINT}")
    } else {
        "conversations c".to_owned()
    };
    let mut q = summary_query_from(Audience::Staff, Some(staff.id), &from);
    q.push("WHERE 1 = 1");
    match filter.tab {
        InboxTab::All => {}
        InboxTab::Mine => {
            q.push(" AND c.assignee_id = ");
            q.push_bind(staff.id);
        }
        InboxTab::Unassigned => {
            q.push(" AND c.assignee_id IS NULL");
        }
    }
    if let Some(status) = filter.status {
        q.push(" AND c.status = ");
        q.push_bind(status);
    }
    if filter.unanswered {
        // Spelled like the partial index's predicate (SQLite's `INDEXED BY` needs that).
        q.push(" AND c.awaiting_reply = 1 AND c.status IN ('open', 'active')");
    }
    page_by_activity(&mut q, "c.last_activity_at", before);
    fetch_page(&mut q, db).await
}

/// One list row for `viewer`, with their unread count.
pub(crate) async fn summary_for(
    db: &Db,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ConversationSummary> {
    let mut q = summary_query(Audience::of(viewer), Some(viewer.id));
    q.push("WHERE c.id = ");
    q.push_bind(id);
    let row: SummaryRow = q
        .build_query_as()
        .fetch_optional(&db.read)
        .await?
        .ok_or(NOT_FOUND)?;
    let summary = ConversationSummary::from(row);
    if !viewer.role.is_staff() && summary.customer.id != viewer.id {
        return Err(NOT_FOUND);
    }
    Ok(summary)
}

/// Messages before `before` (exclusive), newest page first, returned oldest
/// first. Seqs are the viewer's: a customer's skip no number (notes are
/// not theirs to count).
pub(crate) async fn history(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
    before: Option<Seq>,
) -> ServiceResult<HistoryPage> {
    read_state(db, conversation).await?.authorize(viewer)?;
    let audience = Audience::of(viewer);
    let seq = audience.seq_column("m");
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "{} WHERE m.conversation_id = $1 AND {seq} < $2 AND {} ORDER BY {seq} DESC LIMIT $3",
        message_select(audience),
        audience.visible("m")
    ))
    .bind(conversation)
    .bind(before.unwrap_or(Seq(i64::MAX)))
    .bind(HISTORY_PAGE + 1)
    .fetch_all(&db.read)
    .await?;
    let has_older = rows.len() as i64 > HISTORY_PAGE;
    let mut messages: Vec<Message> = rows
        .into_iter()
        .take(HISTORY_PAGE as usize)
        .map(Message::from)
        .collect();
    messages.reverse();
    Ok(HistoryPage { messages, has_older })
}

/// Messages after `after` (exclusive), oldest first, at most `limit`: what a
/// client missed. `after` and the seqs returned are `audience`'s. The
/// caller checks access (see [`authorize_view`]).
pub(crate) async fn replay(
    db: &Db,
    audience: Audience,
    conversation: ConversationId,
    after: Seq,
    limit: i64,
) -> ServiceResult<Vec<Message>> {
    let seq = audience.seq_column("m");
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "{} WHERE m.conversation_id = $1 AND {seq} > $2 AND {} ORDER BY {seq} LIMIT $3",
        message_select(audience),
        audience.visible("m")
    ))
    .bind(conversation)
    .bind(after)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.into_iter().map(Message::from).collect())
}

/// Whether `viewer` may see the conversation; its customer's id if so.
pub(crate) async fn authorize_view(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<UserId> {
    let state = read_state(db, conversation).await?;
    state.authorize(viewer)?;
    Ok(state.customer_id)
}

/// Everything a thread page needs, in the viewer's sequence; opening it marks it read.
pub(crate) async fn open_thread(
    db: &Db,
    backend: &Backend,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ThreadView> {
    let history = history(db, viewer, id, None).await?;
    let last_seq = history.messages.last().map(|m| m.seq).unwrap_or_default();
    mark_read(db, backend, viewer, id, last_seq).await?;
    let summary = summary_for(db, viewer, id).await?;
    let read_markers = markers(db, viewer, id).await?;
    Ok(ThreadView {
        summary,
        history,
        last_seq,
        read_markers,
        draft: None,
    })
}

/// How far everyone else has read the conversation, in `viewer`'s seqs:
/// what "Seen" shows. A page refetches them after its socket may have
/// missed `read` frames.
pub(crate) async fn read_markers(
    db: &Db,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<Vec<ReadMarker>> {
    read_state(db, id).await?.authorize(viewer)?;
    markers(db, viewer, id).await
}

/// [`read_markers`] once access is checked.
async fn markers(db: &Db, viewer: &CurrentUser, id: ConversationId) -> ServiceResult<Vec<ReadMarker>> {
    // Markers are kept in staff seqs; a customer reads each as the newest
    // message they may see at or before it.
    let marker_seq = match Audience::of(viewer) {
        Audience::Staff => "r.last_read_seq".to_owned(),
        Audience::Customer => public_seq_at("r.conversation_id", "r.last_read_seq"),
    };
    Ok(sqlx::query_as(&format!(
        "SELECT r.user_id, u.role, {marker_seq} AS seq FROM read_markers r \
         JOIN users u ON u.id = r.user_id WHERE r.conversation_id = $1 AND r.user_id <> $2"
    ))
    .bind(id)
    .bind(viewer.id)
    .fetch_all(&db.read)
    .await?)
}

/// The customer behind a conversation and their other conversations (staff only).
pub(crate) async fn customer_profile(
    db: &Db,
    staff: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<CustomerProfile> {
    require_staff(staff)?;
    let state = read_state(db, conversation).await?;
    let customer: UserListItem =
        sqlx::query_as("SELECT id, name, email, role, created_at, deactivated_at FROM users WHERE id = $1")
            .bind(state.customer_id)
            .fetch_one(&db.read)
            .await?;
    let other_conversations: Vec<ConversationLink> = sqlx::query_as(
        "SELECT id, title, status, last_activity_at FROM conversations \
         WHERE customer_id = $1 AND id <> $2 ORDER BY last_activity_at DESC, id DESC LIMIT 20",
    )
    .bind(state.customer_id)
    .bind(conversation)
    .fetch_all(&db.read)
    .await?;
    Ok(CustomerProfile {
        id: customer.id,
        name: customer.name,
        email: customer.email,
        member_since: customer.created_at,
        other_conversations,
    })
}

/// Who did what to a conversation, oldest first (admins only).
pub(crate) async fn audit_trail(
    db: &Db,
    admin: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<Vec<AuditEntry>> {
    if !admin.role.is_admin() {
        return Err(ServiceError::Forbidden("Only admins can see the audit trail."));
    }
    read_state(db, conversation).await?;
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT e.actor_id, u.name AS actor_name, u.role AS actor_role, e.action, e.from_value, \
         e.to_value, e.created_at FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id \
         WHERE e.conversation_id = $1 ORDER BY e.id",
    )
    .bind(conversation)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            actor: joined_person(row.actor_id, row.actor_name, row.actor_role),
            action: row.action,
            from_value: row.from_value,
            to_value: row.to_value,
            at: row.created_at,
        })
        .collect())
}

/// An audit row with its actor (gone if the account was deleted).
#[derive(sqlx::FromRow)]
struct AuditRow {
    actor_id: Option<UserId>,
    actor_name: Option<String>,
    actor_role: Option<Role>,
    action: String,
    from_value: Option<String>,
    to_value: Option<String>,
    created_at: Timestamp,
}

/// The badge count: for a customer, unread messages across their
/// conversations; for staff, conversations waiting for an answer.
pub(crate) async fn badge_count(db: &Db, viewer: &CurrentUser) -> ServiceResult<i64> {
    let count: i64 = if viewer.role.is_staff() {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM conversations c WHERE c.awaiting_reply = 1 AND c.status IN ('open', 'active')",
        )
        .fetch_one(&db.read)
        .await?
    } else {
        // Tallies, not a count over messages (migration 0005); the CAST
        // because PostgreSQL's SUM of BIGINTs is a NUMERIC.
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(c.public_tally - COALESCE(rm.public_tally, 0)), 0) AS BIGINT) \
             FROM conversations c \
             LEFT JOIN read_markers rm ON rm.conversation_id = c.id AND rm.user_id = $1 \
             WHERE c.customer_id = $1",
        )
        .bind(viewer.id)
        .fetch_one(&db.read)
        .await?
    };
    Ok(count)
}

/// Everyone who can be assigned a conversation (not deactivated accounts).
pub(crate) async fn staff_members(db: &Db, viewer: &CurrentUser) -> ServiceResult<Vec<PersonRef>> {
    require_staff(viewer)?;
    Ok(sqlx::query_as(&format!(
        "SELECT id, name, role FROM users \
         WHERE role IN ('agent', 'admin') AND deactivated_at IS NULL ORDER BY name {BYTE_ORDER}, id"
    ))
    .fetch_all(&db.read)
    .await?)
}
