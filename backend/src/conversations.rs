//! Conversations: starting them, listing them, reading them, writing into
//! them, moving them through their lifecycle, assigning them, and read
//! markers.
//!
//! Every function takes the acting user and checks, here and not in the
//! caller, that they may do it: a customer touching a conversation that is
//! not theirs gets `NotFound` (no hint that it exists), a customer calling a
//! staff operation gets `Forbidden`. Every change is one transaction, and is
//! announced on the [`Bus`](crate::Bus) only after it commits.

use crate::bus::Event;
use crate::error::{is_unique_violation, ServiceResult};
use crate::{clock, Backend, Db, ServiceError};
use parley::model::{
    AuditEntry, ConversationLink, ConversationPage, ConversationSummary, CurrentUser, CustomerProfile,
    HistoryPage, InboxCursor, InboxFilter, InboxTab, Message, MessageKind, MessagePreview, PersonRef,
    ReadMarker, ThreadView,
};
use parley::validate::{preview, MessageBody, Subject};
use parley::{
    ClientId, ConversationId, ConversationStatus, LifecycleError, MessageId, Role, Seq, Timestamp, UserId,
    ValidationError,
};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

/// Rows per list page.
pub const LIST_PAGE: i64 = 30;
/// Messages per history page.
pub const HISTORY_PAGE: i64 = 50;
/// Characters of a message shown in list previews.
const PREVIEW_CHARS: usize = 120;

const NOT_FOUND: ServiceError = ServiceError::NotFound("Conversation");

/// Whose list a summary is for: staff see notes, customers never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Customer,
}

impl Audience {
    pub fn of(user: &CurrentUser) -> Audience {
        if user.role.is_staff() {
            Audience::Staff
        } else {
            Audience::Customer
        }
    }

    /// SQL for "a message this audience sees"; `m` is the messages alias.
    fn visible(self, m: &str) -> String {
        match self {
            Audience::Staff => "1 = 1".to_owned(),
            Audience::Customer => format!("{m}.kind <> 'note'"),
        }
    }

    /// SQL list of the kinds that count as unread for this audience.
    fn unread_kinds(self) -> &'static str {
        match self {
            Audience::Staff => "'text', 'note'",
            Audience::Customer => "'text'",
        }
    }
}

fn require_staff(user: &CurrentUser) -> ServiceResult<()> {
    if user.role.is_staff() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("This is for the support team."))
    }
}

fn parse_status(raw: &str) -> ServiceResult<ConversationStatus> {
    raw.parse()
        .map_err(|_| ServiceError::Internal(format!("unknown conversation status {raw:?} in the database")))
}

fn parse_role(raw: &str) -> ServiceResult<Role> {
    raw.parse()
        .map_err(|_| ServiceError::Internal(format!("unknown role {raw:?} in the database")))
}

fn parse_kind(raw: &str) -> ServiceResult<MessageKind> {
    MessageKind::parse(raw).ok_or_else(|| ServiceError::Internal(format!("unknown message kind {raw:?}")))
}

fn person(user: &CurrentUser) -> PersonRef {
    PersonRef {
        id: user.id,
        name: user.name.clone(),
        role: user.role,
    }
}

// ---------------------------------------------------------------- rows

/// One list row as the summary query returns it.
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    title: String,
    subject: Option<String>,
    status: String,
    created_at: i64,
    activity_at: i64,
    awaiting_reply: i64,
    customer_id: i64,
    customer_name: String,
    customer_role: String,
    assignee_id: Option<i64>,
    assignee_name: Option<String>,
    assignee_role: Option<String>,
    lm_kind: Option<String>,
    lm_sender_id: Option<i64>,
    lm_sender_name: Option<String>,
    lm_body: Option<String>,
    lm_at: Option<i64>,
    unread: i64,
}

impl SummaryRow {
    fn into_summary(self) -> ServiceResult<ConversationSummary> {
        let assignee = match (self.assignee_id, self.assignee_name, self.assignee_role) {
            (Some(id), Some(name), Some(role)) => Some(PersonRef {
                id: UserId(id),
                name,
                role: parse_role(&role)?,
            }),
            _ => None,
        };
        let last_message = match (self.lm_kind, self.lm_body, self.lm_at) {
            (Some(kind), Some(body), Some(at)) => Some(MessagePreview {
                kind: parse_kind(&kind)?,
                sender_id: self.lm_sender_id.map(UserId),
                sender_name: self.lm_sender_name,
                body: preview(&body, PREVIEW_CHARS),
                at: Timestamp(at),
            }),
            _ => None,
        };
        Ok(ConversationSummary {
            id: ConversationId(self.id),
            title: self.title,
            subject: self.subject,
            status: parse_status(&self.status)?,
            customer: PersonRef {
                id: UserId(self.customer_id),
                name: self.customer_name,
                role: parse_role(&self.customer_role)?,
            },
            assignee,
            last_message,
            last_activity_at: Timestamp(self.activity_at),
            unread: self.unread,
            unanswered: self.awaiting_reply != 0,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// Starts the one query that builds list rows: the conversation, its
/// customer and assignee, its newest visible message and, for a viewer, the
/// unread count — one statement for a whole page, never a query per row.
/// Callers append `WHERE …`; `c` is the conversations alias.
fn summary_query<'a>(audience: Audience, viewer: Option<UserId>) -> QueryBuilder<'a, Sqlite> {
    let (last_id, activity) = match audience {
        Audience::Staff => ("c.last_message_id", "c.last_activity_at"),
        Audience::Customer => ("c.last_public_message_id", "c.last_public_at"),
    };
    let mut q = QueryBuilder::new(format!(
        "SELECT c.id, c.title, c.subject, c.status, c.created_at, {activity} AS activity_at, \
         c.awaiting_reply, cu.id AS customer_id, cu.name AS customer_name, cu.role AS customer_role, \
         a.id AS assignee_id, a.name AS assignee_name, a.role AS assignee_role, \
         m.kind AS lm_kind, m.sender_id AS lm_sender_id, s.name AS lm_sender_name, \
         substr(m.body, 1, 400) AS lm_body, m.created_at AS lm_at, "
    ));
    match viewer {
        Some(viewer) => {
            q.push(format!(
                "(SELECT COUNT(*) FROM messages um WHERE um.conversation_id = c.id \
                 AND um.seq > COALESCE(rm.last_read_seq, 0) AND um.kind IN ({}) AND um.sender_id <> ",
                audience.unread_kinds()
            ));
            q.push_bind(viewer.0);
            q.push(") AS unread ");
        }
        None => {
            q.push("0 AS unread ");
        }
    }
    q.push(format!(
        "FROM conversations c \
         JOIN users cu ON cu.id = c.customer_id \
         LEFT JOIN users a ON a.id = c.assignee_id \
         LEFT JOIN messages m ON m.id = {last_id} \
         LEFT JOIN users s ON s.id = m.sender_id "
    ));
    if let Some(viewer) = viewer {
        q.push("LEFT JOIN read_markers rm ON rm.conversation_id = c.id AND rm.user_id = ");
        q.push_bind(viewer.0);
        q.push(" ");
    } else {
        q.push("LEFT JOIN read_markers rm ON 1 = 0 ");
    }
    q
}

/// Appends keyset paging and ordering for lists sorted by `activity`.
fn page_by_activity(q: &mut QueryBuilder<'_, Sqlite>, activity: &str, before: Option<InboxCursor>) {
    if let Some(cursor) = before {
        q.push(format!(" AND ({activity}, c.id) < ("));
        q.push_bind(cursor.at.0);
        q.push(", ");
        q.push_bind(cursor.id.0);
        q.push(")");
    }
    q.push(format!(" ORDER BY {activity} DESC, c.id DESC LIMIT "));
    q.push_bind(LIST_PAGE + 1);
}

async fn fetch_page(q: &mut QueryBuilder<'_, Sqlite>, db: &Db) -> ServiceResult<ConversationPage> {
    let rows: Vec<SummaryRow> = q.build_query_as().fetch_all(&db.read).await?;
    let has_more = rows.len() as i64 > LIST_PAGE;
    let mut summaries = rows
        .into_iter()
        .take(LIST_PAGE as usize)
        .map(SummaryRow::into_summary)
        .collect::<ServiceResult<Vec<_>>>()?;
    let next = if has_more {
        summaries.last().map(|s| InboxCursor {
            at: s.last_activity_at,
            id: s.id,
        })
    } else {
        None
    };
    summaries.shrink_to_fit();
    Ok(ConversationPage {
        rows: summaries,
        next,
    })
}

/// A message with its sender, as the history queries return it.
#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    conversation_id: i64,
    seq: i64,
    kind: String,
    sender_id: Option<i64>,
    sender_name: Option<String>,
    sender_role: Option<String>,
    body: String,
    client_id: Option<String>,
    created_at: i64,
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.seq, m.kind, m.sender_id, \
     u.name AS sender_name, u.role AS sender_role, m.body, m.client_id, m.created_at \
     FROM messages m LEFT JOIN users u ON u.id = m.sender_id";

impl MessageRow {
    fn into_message(self) -> ServiceResult<Message> {
        let sender = match (self.sender_id, self.sender_name, self.sender_role) {
            (Some(id), Some(name), Some(role)) => Some(PersonRef {
                id: UserId(id),
                name,
                role: parse_role(&role)?,
            }),
            _ => None,
        };
        Ok(Message {
            id: MessageId(self.id),
            conversation_id: ConversationId(self.conversation_id),
            seq: Seq(self.seq),
            kind: parse_kind(&self.kind)?,
            sender,
            body: self.body,
            client_id: self.client_id,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// The parts of a conversation that decide who may do what.
#[derive(sqlx::FromRow, Clone)]
struct ConversationState {
    customer_id: i64,
    status: String,
    assignee_id: Option<i64>,
}

impl ConversationState {
    fn status(&self) -> ServiceResult<ConversationStatus> {
        parse_status(&self.status)
    }

    /// Staff see every conversation; a customer only their own.
    fn authorize(&self, viewer: &CurrentUser) -> ServiceResult<()> {
        if viewer.role.is_staff() || self.customer_id == viewer.id.0 {
            Ok(())
        } else {
            Err(NOT_FOUND)
        }
    }
}

const STATE_COLUMNS: &str = "customer_id, status, assignee_id";

async fn read_state(db: &Db, id: ConversationId) -> ServiceResult<ConversationState> {
    sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM conversations WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&db.read)
    .await?
    .ok_or(NOT_FOUND)
}

/// The first statement of every write transaction on a conversation: an
/// UPDATE, so it takes the write lock (SQLite) or the row lock (Postgres)
/// before anything is read, and concurrent writers to one conversation queue.
async fn lock_state(conn: &mut SqliteConnection, id: ConversationId) -> ServiceResult<ConversationState> {
    sqlx::query_as(&format!(
        "UPDATE conversations SET last_seq = last_seq WHERE id = $1 RETURNING {STATE_COLUMNS}"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(NOT_FOUND)
}

// ---------------------------------------------------------------- writing

/// Inserts one message, taking the conversation's next seq.
async fn insert_message(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    kind: MessageKind,
    sender: Option<&PersonRef>,
    body: &str,
    client_id: Option<&ClientId>,
    now: Timestamp,
) -> Result<Message, sqlx::Error> {
    let (seq,): (i64,) =
        sqlx::query_as("UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
            .bind(conversation.0)
            .fetch_one(&mut *conn)
            .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, client_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(conversation.0)
    .bind(seq)
    .bind(sender.map(|s| s.id.0))
    .bind(kind.as_str())
    .bind(body)
    .bind(client_id.map(ClientId::as_str))
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Message {
        id: MessageId(id),
        conversation_id: conversation,
        seq: Seq(seq),
        kind,
        sender: sender.cloned(),
        body: body.to_owned(),
        client_id: client_id.map(|c| c.as_str().to_owned()),
        created_at: now,
    })
}

/// What a write transaction changes on the conversation row besides the seq.
struct RowChange<'a> {
    status: ConversationStatus,
    assignee: Option<i64>,
    /// The messages just inserted, in seq order.
    messages: &'a [Message],
    now: Timestamp,
}

/// Points the conversation at its newest messages and applies status and assignee.
async fn update_row(
    conn: &mut SqliteConnection,
    id: ConversationId,
    change: RowChange<'_>,
) -> ServiceResult<()> {
    // List previews show what people wrote: staff see the newest text or
    // note, customers the newest text. System messages only move the
    // activity time (the status tag already tells what they say).
    let newest = change
        .messages
        .iter()
        .rev()
        .find(|m| m.kind != MessageKind::System);
    let newest_public = change.messages.iter().rev().find(|m| m.kind == MessageKind::Text);
    let awaiting = change
        .messages
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Text)
        .map(|m| i64::from(!m.sender.as_ref().is_some_and(|s| s.role.is_staff())));
    sqlx::query(
        "UPDATE conversations SET status = $1, assignee_id = $2, \
         last_message_id = COALESCE($3, last_message_id), \
         last_activity_at = $4, \
         last_public_message_id = COALESCE($5, last_public_message_id), \
         last_public_at = COALESCE($6, last_public_at), \
         awaiting_reply = COALESCE($7, awaiting_reply) \
         WHERE id = $8",
    )
    .bind(change.status.as_str())
    .bind(change.assignee)
    .bind(newest.map(|m| m.id.0))
    .bind(change.now.0)
    .bind(newest_public.map(|m| m.id.0))
    // Notes move only the staff side's clock: a customer's list must not
    // even hint that the team wrote something private.
    .bind(
        change
            .messages
            .iter()
            .any(|m| m.kind.visible_to_customer())
            .then_some(change.now.0),
    )
    .bind(awaiting)
    .bind(id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn audit(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    actor: &PersonRef,
    action: &str,
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> ServiceResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (conversation_id, actor_id, action, from_value, to_value, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(conversation.0)
    .bind(actor.id.0)
    .bind(action)
    .bind(from)
    .bind(to)
    .bind(now.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves `user`'s read marker forward to `seq` (never back). Returns whether it moved.
async fn advance_marker(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    user: UserId,
    seq: Seq,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO read_markers (conversation_id, user_id, last_read_seq, updated_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE \
         SET last_read_seq = excluded.last_read_seq, updated_at = excluded.updated_at \
         WHERE excluded.last_read_seq > read_markers.last_read_seq",
    )
    .bind(conversation.0)
    .bind(user.0)
    .bind(seq.0)
    .bind(now.0)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// The sentence a system message shows for a status change.
fn status_text(actor: &PersonRef, to: ConversationStatus) -> String {
    match to {
        ConversationStatus::Open => format!("{} reopened the conversation.", actor.name),
        ConversationStatus::Active => format!("{} reopened the conversation.", actor.name),
        ConversationStatus::Resolved => format!("{} marked the conversation as resolved.", actor.name),
        ConversationStatus::Closed => format!("{} closed the conversation for good.", actor.name),
    }
}

fn assignment_text(actor: &PersonRef, assignee: Option<&PersonRef>) -> String {
    match assignee {
        Some(a) if a.id == actor.id => format!("{} took the conversation.", actor.name),
        Some(a) => format!("{} assigned the conversation to {}.", actor.name, a.name),
        None => format!("{} unassigned the conversation.", actor.name),
    }
}

/// After a commit: tells the live hubs about the messages, then the new list rows.
///
/// `writer` is the single write connection, still held: the messages are
/// published before the next transaction can commit, so the bus carries
/// every conversation's messages in commit (seq) order and a client may
/// resume from the last seq it received. The list rows are read and
/// published after letting go of it; each row carries its activity time, so
/// a client keeps the newest if two arrive out of order.
async fn announce(
    backend: &Backend,
    writer: sqlx::pool::PoolConnection<Sqlite>,
    conversation: ConversationId,
    customer_id: UserId,
    messages: Vec<Message>,
) {
    if !messages.is_empty() {
        backend.bus.publish(Event::Messages {
            conversation_id: conversation,
            customer_id,
            messages,
        });
    }
    drop(writer);
    match summaries(&backend.db, conversation).await {
        Ok((staff, customer)) => backend.bus.publish(Event::Conversation {
            customer_id,
            staff: Box::new(staff),
            customer: Box::new(customer),
        }),
        // The change is committed; a missed list update heals on the next fetch.
        Err(e) => tracing::warn!(error = %e, %conversation, "could not build the list row to announce"),
    }
}

/// A conversation's list rows for staff and for its customer, without unread counts.
pub async fn summaries(
    db: &Db,
    id: ConversationId,
) -> ServiceResult<(ConversationSummary, ConversationSummary)> {
    let mut staff = summary_query(Audience::Staff, None);
    staff.push("WHERE c.id = ");
    staff.push_bind(id.0);
    let staff: SummaryRow = staff
        .build_query_as()
        .fetch_optional(&db.read)
        .await?
        .ok_or(NOT_FOUND)?;
    let mut customer = summary_query(Audience::Customer, None);
    customer.push("WHERE c.id = ");
    customer.push_bind(id.0);
    let customer: SummaryRow = customer
        .build_query_as()
        .fetch_optional(&db.read)
        .await?
        .ok_or(NOT_FOUND)?;
    Ok((staff.into_summary()?, customer.into_summary()?))
}

/// A customer starts a conversation with its first message.
pub async fn start(
    backend: &Backend,
    customer: &CurrentUser,
    subject: &str,
    body: &str,
    client_id: Option<&ClientId>,
) -> ServiceResult<(ConversationId, Message)> {
    if customer.role.is_staff() {
        return Err(ServiceError::Forbidden(
            "Conversations are started by customers; the team answers them from the inbox.",
        ));
    }
    let subject = Subject::parse_optional(subject)?;
    let body = MessageBody::parse(body)?;
    backend.send_limit.check(customer.id)?;
    let title = subject
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| preview(body.as_str(), 80));
    let now = clock::now();
    let sender = person(customer);

    let mut writer = backend.db.write.acquire().await?;
    let mut tx = writer.begin().await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO conversations (customer_id, subject, title, status, last_seq, \
         last_activity_at, last_public_at, awaiting_reply, created_at) \
         VALUES ($1, $2, $3, 'open', 0, $4, $4, 1, $4) RETURNING id",
    )
    .bind(customer.id.0)
    .bind(subject.as_ref().map(Subject::as_str))
    .bind(&title)
    .bind(now.0)
    .fetch_one(&mut *tx)
    .await?;
    let id = ConversationId(id);
    let message = insert_message(
        &mut tx,
        id,
        MessageKind::Text,
        Some(&sender),
        body.as_str(),
        client_id,
        now,
    )
    .await
    .map_err(|e| duplicate_client_id(e, client_id))?;
    update_row(
        &mut tx,
        id,
        RowChange {
            status: ConversationStatus::Open,
            assignee: None,
            messages: std::slice::from_ref(&message),
            now,
        },
    )
    .await?;
    advance_marker(&mut tx, id, customer.id, message.seq, now).await?;
    audit(&mut tx, id, &sender, "created", None, Some("open"), now).await?;
    tx.commit().await?;
    announce(backend, writer, id, customer.id, vec![message.clone()]).await;
    Ok((id, message))
}

fn duplicate_client_id(err: sqlx::Error, client_id: Option<&ClientId>) -> ServiceError {
    if client_id.is_some() && is_unique_violation(&err) {
        ValidationError::new("client_id", "This message id was already used.").into()
    } else {
        err.into()
    }
}

/// A message that was written, or found already written under its `client_id`.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message: Message,
    /// The `client_id` had been used for this very message before: nothing new was stored.
    pub duplicate: bool,
}

/// The message `sender` already stored under `client_id`, if any.
async fn find_by_client_id(db: &Db, sender: UserId, client_id: &ClientId) -> ServiceResult<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.sender_id = $1 AND m.client_id = $2"
    ))
    .bind(sender.0)
    .bind(client_id.as_str())
    .fetch_optional(&db.read)
    .await?;
    row.map(MessageRow::into_message).transpose()
}

fn resent(existing: Message, conversation: ConversationId) -> ServiceResult<Sent> {
    if existing.conversation_id == conversation {
        Ok(Sent {
            message: existing,
            duplicate: true,
        })
    } else {
        Err(ValidationError::new(
            "client_id",
            "This message id was already used in another conversation.",
        )
        .into())
    }
}

/// Writes a message (or, for staff, a private note). Idempotent per
/// `client_id`: a resend returns the stored message instead of a second one.
/// Committed before it returns; announced after.
pub async fn send(
    backend: &Backend,
    sender: &CurrentUser,
    conversation: ConversationId,
    body: &str,
    client_id: Option<&ClientId>,
    note: bool,
) -> ServiceResult<Sent> {
    if note && !sender.role.is_staff() {
        return Err(ServiceError::Forbidden(
            "Only the support team can write private notes.",
        ));
    }
    let body = MessageBody::parse(body)?;
    if let Some(client_id) = client_id {
        if let Some(existing) = find_by_client_id(&backend.db, sender.id, client_id).await? {
            return resent(existing, conversation);
        }
    }
    // A resend of a stored message is free; a new message spends allowance.
    backend.send_limit.check(sender.id)?;
    let now = clock::now();
    let me = person(sender);
    let kind = if note {
        MessageKind::Note
    } else {
        MessageKind::Text
    };

    let mut writer = backend.db.write.acquire().await?;
    let mut tx = writer.begin().await?;
    let state = lock_state(&mut tx, conversation).await?;
    state.authorize(sender)?;
    let status = state.status()?;
    let next_status = status.after_message(sender.role, note)?;

    let message = match insert_message(
        &mut tx,
        conversation,
        kind,
        Some(&me),
        body.as_str(),
        client_id,
        now,
    )
    .await
    {
        Ok(message) => message,
        Err(e) if client_id.is_some() && is_unique_violation(&e) => {
            // The same client_id raced in through another connection and won.
            drop(tx);
            let client_id = client_id.ok_or(ServiceError::Internal("client id vanished".into()))?;
            let existing = find_by_client_id(&backend.db, sender.id, client_id)
                .await?
                .ok_or(ServiceError::Internal("duplicate client id without a row".into()))?;
            return resent(existing, conversation);
        }
        Err(e) => return Err(e.into()),
    };
    let mut messages = vec![message.clone()];
    let mut assignee = state.assignee_id;
    let mut new_status = status;
    if let Some(to) = next_status {
        new_status = to;
        audit(
            &mut tx,
            conversation,
            &me,
            "status",
            Some(status.as_str()),
            Some(to.as_str()),
            now,
        )
        .await?;
        let text = if sender.role.is_staff() {
            // An agent's first reply to an open conversation: it becomes
            // active and, if nobody has it, theirs.
            if assignee.is_none() {
                assignee = Some(sender.id.0);
                audit(
                    &mut tx,
                    conversation,
                    &me,
                    "assignee",
                    None,
                    Some(&sender.name),
                    now,
                )
                .await?;
                format!("{} replied and took the conversation.", sender.name)
            } else {
                format!("{} replied; the conversation is active.", sender.name)
            }
        } else {
            format!("{} wrote again, so the conversation is open again.", sender.name)
        };
        let system = insert_message(
            &mut tx,
            conversation,
            MessageKind::System,
            Some(&me),
            &text,
            None,
            now,
        )
        .await?;
        messages.push(system);
    }
    update_row(
        &mut tx,
        conversation,
        RowChange {
            status: new_status,
            assignee,
            messages: &messages,
            now,
        },
    )
    .await?;
    if let Some(last) = messages.last() {
        advance_marker(&mut tx, conversation, sender.id, last.seq, now).await?;
    }
    tx.commit().await?;
    announce(backend, writer, conversation, UserId(state.customer_id), messages).await;
    Ok(Sent {
        message,
        duplicate: false,
    })
}

/// A staff member changes the status (resolve, reopen, close — close for admins only).
pub async fn change_status(
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    to: ConversationStatus,
) -> ServiceResult<ConversationStatus> {
    require_staff(actor)?;
    let now = clock::now();
    let me = person(actor);
    let mut writer = backend.db.write.acquire().await?;
    let mut tx = writer.begin().await?;
    let state = lock_state(&mut tx, conversation).await?;
    let from = state.status()?;
    let to = from.transition(to, actor.role)?;
    let system = insert_message(
        &mut tx,
        conversation,
        MessageKind::System,
        Some(&me),
        &status_text(&me, to),
        None,
        now,
    )
    .await?;
    audit(
        &mut tx,
        conversation,
        &me,
        "status",
        Some(from.as_str()),
        Some(to.as_str()),
        now,
    )
    .await?;
    let messages = vec![system];
    update_row(
        &mut tx,
        conversation,
        RowChange {
            status: to,
            assignee: state.assignee_id,
            messages: &messages,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    announce(backend, writer, conversation, UserId(state.customer_id), messages).await;
    Ok(to)
}

/// A member of the team, for assignment: `None` if there is no such staff member.
async fn staff_member(db: &Db, id: UserId) -> ServiceResult<Option<PersonRef>> {
    let row: Option<(i64, String, String)> = sqlx::query_as("SELECT id, name, role FROM users WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&db.read)
        .await?;
    match row {
        Some((id, name, role)) => {
            let role = parse_role(&role)?;
            Ok(role.is_staff().then_some(PersonRef {
                id: UserId(id),
                name,
                role,
            }))
        }
        None => Ok(None),
    }
}

/// Assigns the conversation to a staff member (`None`: to nobody). Assigning
/// an open conversation makes it active.
pub async fn assign(
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    assignee: Option<UserId>,
) -> ServiceResult<Option<PersonRef>> {
    require_staff(actor)?;
    let target = match assignee {
        Some(id) => Some(
            staff_member(&backend.db, id)
                .await?
                .ok_or_else(|| ValidationError::new("assignee", "Choose someone from the support team."))?,
        ),
        None => None,
    };
    let now = clock::now();
    let me = person(actor);
    let mut writer = backend.db.write.acquire().await?;
    let mut tx = writer.begin().await?;
    let state = lock_state(&mut tx, conversation).await?;
    let status = state.status()?;
    if status == ConversationStatus::Closed {
        return Err(LifecycleError::Closed.into());
    }
    let new_assignee = target.as_ref().map(|t| t.id.0);
    if state.assignee_id == new_assignee {
        return Err(ServiceError::Conflict(match &target {
            Some(t) => format!("The conversation is already assigned to {}.", t.name),
            None => "The conversation is already unassigned.".to_owned(),
        }));
    }
    let previous = match state.assignee_id {
        Some(id) => staff_member(&backend.db, UserId(id)).await?.map(|p| p.name),
        None => None,
    };
    let mut messages = Vec::new();
    messages.push(
        insert_message(
            &mut tx,
            conversation,
            MessageKind::System,
            Some(&me),
            &assignment_text(&me, target.as_ref()),
            None,
            now,
        )
        .await?,
    );
    audit(
        &mut tx,
        conversation,
        &me,
        "assignee",
        previous.as_deref(),
        target.as_ref().map(|t| t.name.as_str()),
        now,
    )
    .await?;
    let mut new_status = status;
    if status == ConversationStatus::Open && target.is_some() {
        new_status = status.transition(ConversationStatus::Active, actor.role)?;
        audit(
            &mut tx,
            conversation,
            &me,
            "status",
            Some(status.as_str()),
            Some(new_status.as_str()),
            now,
        )
        .await?;
    }
    update_row(
        &mut tx,
        conversation,
        RowChange {
            status: new_status,
            assignee: new_assignee,
            messages: &messages,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    announce(backend, writer, conversation, UserId(state.customer_id), messages).await;
    Ok(target)
}

/// Marks the conversation read by `viewer` up to `up_to` (clamped to the
/// newest message). Returns the new marker if it moved forward.
pub async fn mark_read(
    backend: &Backend,
    viewer: &CurrentUser,
    conversation: ConversationId,
    up_to: Seq,
) -> ServiceResult<Option<Seq>> {
    let (customer_id, last_seq): (i64, i64) =
        sqlx::query_as("SELECT customer_id, last_seq FROM conversations WHERE id = $1")
            .bind(conversation.0)
            .fetch_optional(&backend.db.read)
            .await?
            .ok_or(NOT_FOUND)?;
    if !viewer.role.is_staff() && customer_id != viewer.id.0 {
        return Err(NOT_FOUND);
    }
    let seq = Seq(up_to.0.min(last_seq));
    if seq.0 <= 0 {
        return Ok(None);
    }
    let mut conn = backend.db.write.acquire().await?;
    let moved = advance_marker(&mut conn, conversation, viewer.id, seq, clock::now()).await?;
    drop(conn);
    if moved {
        backend.bus.publish(Event::Read {
            conversation_id: conversation,
            customer_id: UserId(customer_id),
            user_id: viewer.id,
            role: viewer.role,
            up_to: seq,
        });
    }
    Ok(moved.then_some(seq))
}

// ---------------------------------------------------------------- reading

/// A customer's own conversations, newest (visible) activity first.
pub async fn list_for_customer(
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
    q.push_bind(customer.id.0);
    page_by_activity(&mut q, "c.last_public_at", before);
    fetch_page(&mut q, db).await
}

/// The shared inbox (staff only), newest activity first.
pub async fn inbox(
    db: &Db,
    staff: &CurrentUser,
    filter: InboxFilter,
    before: Option<InboxCursor>,
) -> ServiceResult<ConversationPage> {
    require_staff(staff)?;
    let mut q = summary_query(Audience::Staff, Some(staff.id));
    q.push("WHERE 1 = 1");
    match filter.tab {
        InboxTab::All => {}
        InboxTab::Mine => {
            q.push(" AND c.assignee_id = ");
            q.push_bind(staff.id.0);
        }
        InboxTab::Unassigned => {
            q.push(" AND c.assignee_id IS NULL");
        }
    }
    if let Some(status) = filter.status {
        q.push(" AND c.status = ");
        q.push_bind(status.as_str());
    }
    if filter.unanswered {
        // Spelled like the partial index's predicate so the planner uses it.
        q.push(" AND c.awaiting_reply = 1 AND c.status IN ('open', 'active')");
    }
    page_by_activity(&mut q, "c.last_activity_at", before);
    fetch_page(&mut q, db).await
}

/// One list row for `viewer`, with their unread count.
pub async fn summary_for(
    db: &Db,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ConversationSummary> {
    let mut q = summary_query(Audience::of(viewer), Some(viewer.id));
    q.push("WHERE c.id = ");
    q.push_bind(id.0);
    let row: SummaryRow = q
        .build_query_as()
        .fetch_optional(&db.read)
        .await?
        .ok_or(NOT_FOUND)?;
    let summary = row.into_summary()?;
    if !viewer.role.is_staff() && summary.customer.id != viewer.id {
        return Err(NOT_FOUND);
    }
    Ok(summary)
}

/// Messages before `before` (exclusive), newest page first, returned oldest first.
pub async fn history(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
    before: Option<Seq>,
) -> ServiceResult<HistoryPage> {
    read_state(db, conversation).await?.authorize(viewer)?;
    let audience = Audience::of(viewer);
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.seq < $2 AND {} \
         ORDER BY m.seq DESC LIMIT $3",
        audience.visible("m")
    ))
    .bind(conversation.0)
    .bind(before.map_or(i64::MAX, |s| s.0))
    .bind(HISTORY_PAGE + 1)
    .fetch_all(&db.read)
    .await?;
    let has_older = rows.len() as i64 > HISTORY_PAGE;
    let mut messages = rows
        .into_iter()
        .take(HISTORY_PAGE as usize)
        .map(MessageRow::into_message)
        .collect::<ServiceResult<Vec<_>>>()?;
    messages.reverse();
    Ok(HistoryPage { messages, has_older })
}

/// Messages after `after` (exclusive), oldest first, at most `limit`: what a
/// client missed. The caller checks access (see [`authorize_view`]).
pub async fn replay(
    db: &Db,
    audience: Audience,
    conversation: ConversationId,
    after: Seq,
    limit: i64,
) -> ServiceResult<Vec<Message>> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.conversation_id = $1 AND m.seq > $2 AND {} ORDER BY m.seq LIMIT $3",
        audience.visible("m")
    ))
    .bind(conversation.0)
    .bind(after.0)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    rows.into_iter().map(MessageRow::into_message).collect()
}

/// Whether `viewer` may see the conversation; its customer's id if so.
pub async fn authorize_view(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<UserId> {
    let state = read_state(db, conversation).await?;
    state.authorize(viewer)?;
    Ok(UserId(state.customer_id))
}

/// Everything a thread page needs; opening it marks it read.
pub async fn open_thread(
    backend: &Backend,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ThreadView> {
    let history = history(&backend.db, viewer, id, None).await?;
    let last_seq = history.messages.last().map(|m| m.seq).unwrap_or_default();
    mark_read(backend, viewer, id, last_seq).await?;
    let summary = summary_for(&backend.db, viewer, id).await?;
    let markers: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT r.user_id, u.role, r.last_read_seq FROM read_markers r JOIN users u ON u.id = r.user_id \
         WHERE r.conversation_id = $1 AND r.user_id <> $2",
    )
    .bind(id.0)
    .bind(viewer.id.0)
    .fetch_all(&backend.db.read)
    .await?;
    let read_markers = markers
        .into_iter()
        .map(|(user, role, seq)| {
            Ok(ReadMarker {
                user_id: UserId(user),
                role: parse_role(&role)?,
                seq: Seq(seq),
            })
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(ThreadView {
        summary,
        history,
        last_seq,
        read_markers,
    })
}

/// The customer behind a conversation and their other conversations (staff only).
pub async fn customer_profile(
    db: &Db,
    staff: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<CustomerProfile> {
    require_staff(staff)?;
    let state = read_state(db, conversation).await?;
    let (id, name, email, created_at): (i64, String, String, i64) =
        sqlx::query_as("SELECT id, name, email, created_at FROM users WHERE id = $1")
            .bind(state.customer_id)
            .fetch_one(&db.read)
            .await?;
    let others: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT id, title, status, last_activity_at FROM conversations \
         WHERE customer_id = $1 AND id <> $2 ORDER BY last_activity_at DESC, id DESC LIMIT 20",
    )
    .bind(state.customer_id)
    .bind(conversation.0)
    .fetch_all(&db.read)
    .await?;
    Ok(CustomerProfile {
        id: UserId(id),
        name,
        email,
        member_since: Timestamp(created_at),
        other_conversations: others
            .into_iter()
            .map(|(id, title, status, at)| {
                Ok(ConversationLink {
                    id: ConversationId(id),
                    title,
                    status: parse_status(&status)?,
                    last_activity_at: Timestamp(at),
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?,
    })
}

/// Who did what to a conversation, oldest first (admins only).
pub async fn audit_trail(
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
    .bind(conversation.0)
    .fetch_all(&db.read)
    .await?;
    rows.into_iter()
        .map(|row| {
            let actor = match (row.actor_id, row.actor_name, row.actor_role) {
                (Some(id), Some(name), Some(role)) => Some(PersonRef {
                    id: UserId(id),
                    name,
                    role: parse_role(&role)?,
                }),
                _ => None,
            };
            Ok(AuditEntry {
                actor,
                action: row.action,
                from_value: row.from_value,
                to_value: row.to_value,
                at: Timestamp(row.created_at),
            })
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    actor_id: Option<i64>,
    actor_name: Option<String>,
    actor_role: Option<String>,
    action: String,
    from_value: Option<String>,
    to_value: Option<String>,
    created_at: i64,
}

/// The badge count: for a customer, unread messages across their
/// conversations; for staff, conversations waiting for an answer.
pub async fn badge_count(db: &Db, viewer: &CurrentUser) -> ServiceResult<i64> {
    let (count,): (i64,) = if viewer.role.is_staff() {
        sqlx::query_as(
            "SELECT COUNT(*) FROM conversations c WHERE c.awaiting_reply = 1 AND c.status IN ('open', 'active')",
        )
        .fetch_one(&db.read)
        .await?
    } else {
        sqlx::query_as(
            "SELECT COUNT(*) FROM conversations c \
             LEFT JOIN read_markers rm ON rm.conversation_id = c.id AND rm.user_id = $1 \
             JOIN messages m ON m.conversation_id = c.id AND m.seq > COALESCE(rm.last_read_seq, 0) \
             WHERE c.customer_id = $1 AND m.kind = 'text' AND m.sender_id <> $1",
        )
        .bind(viewer.id.0)
        .fetch_one(&db.read)
        .await?
    };
    Ok(count)
}

/// Everyone who can be assigned a conversation.
pub async fn staff_members(db: &Db, viewer: &CurrentUser) -> ServiceResult<Vec<PersonRef>> {
    require_staff(viewer)?;
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, name, role FROM users WHERE role IN ('agent', 'admin') ORDER BY name, id")
            .fetch_all(&db.read)
            .await?;
    rows.into_iter()
        .map(|(id, name, role)| {
            Ok(PersonRef {
                id: UserId(id),
                name,
                role: parse_role(&role)?,
            })
        })
        .collect()
}
