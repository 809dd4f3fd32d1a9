//! Every change to a conversation: one transaction each, on the single
//! writer, announced on the bus after it commits.

use super::rows::{lock_state, MessageRow, MESSAGE_SELECT};
use super::{person, require_staff, summaries, NOT_FOUND};
use crate::bus::Event;
use crate::constraints::{OnConstraint, Unique};
use crate::error::ServiceResult;
use crate::{clock, Backend, Db, ServiceError};
use parley::model::{CurrentUser, Message, MessageKind, PersonRef};
use parley::validate::{preview, MessageBody, Subject};
use parley::{
    ClientId, ConversationId, ConversationStatus, LifecycleError, MessageId, Seq, Timestamp, UserId,
    ValidationError,
};
use sqlx::{Connection, Sqlite, SqliteConnection};

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
    let seq: Seq = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation)
    .fetch_one(&mut *conn)
    .await?;
    let id: MessageId = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, client_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(conversation)
    .bind(seq)
    .bind(sender.map(|s| s.id))
    .bind(kind)
    .bind(body)
    .bind(client_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Message {
        id,
        conversation_id: conversation,
        seq,
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
    assignee: Option<UserId>,
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
    .bind(change.status)
    .bind(change.assignee)
    .bind(newest.map(|m| m.id))
    .bind(change.now)
    .bind(newest_public.map(|m| m.id))
    // Notes move only the staff side's clock: a customer's list must not
    // even hint that the team wrote something private.
    .bind(
        change
            .messages
            .iter()
            .any(|m| m.kind.visible_to_customer())
            .then_some(change.now),
    )
    .bind(awaiting)
    .bind(id)
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
    .bind(conversation)
    .bind(actor.id)
    .bind(action)
    .bind(from)
    .bind(to)
    .bind(now)
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
    .bind(conversation)
    .bind(user)
    .bind(seq)
    .bind(now)
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
    let id: ConversationId = sqlx::query_scalar(
        "INSERT INTO conversations (customer_id, subject, title, status, last_seq, \
         last_activity_at, last_public_at, awaiting_reply, created_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5, 1, $5) RETURNING id",
    )
    .bind(customer.id)
    .bind(subject.as_ref().map(Subject::as_str))
    .bind(&title)
    .bind(ConversationStatus::Open)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
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
    .on_constraint(Unique::MessageClientId, || {
        ValidationError::new("client_id", "This message id was already used.").into()
    })?;
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
    .bind(sender)
    .bind(client_id)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(Message::from))
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
    let status = state.status;
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
        Err(e) if client_id.is_some() && Unique::MessageClientId.violated_by(&e) => {
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
                assignee = Some(sender.id);
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
    announce(backend, writer, conversation, state.customer_id, messages).await;
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
    let from = state.status;
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
    announce(backend, writer, conversation, state.customer_id, messages).await;
    Ok(to)
}

/// A member of the team, for assignment: `None` if there is no such staff member.
async fn staff_member(db: &Db, id: UserId) -> ServiceResult<Option<PersonRef>> {
    let person: Option<PersonRef> = sqlx::query_as("SELECT id, name, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.read)
        .await?;
    Ok(person.filter(|p| p.role.is_staff()))
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
    let status = state.status;
    if status == ConversationStatus::Closed {
        return Err(LifecycleError::Closed.into());
    }
    let new_assignee = target.as_ref().map(|t| t.id);
    if state.assignee_id == new_assignee {
        return Err(ServiceError::Conflict(match &target {
            Some(t) => format!("The conversation is already assigned to {}.", t.name),
            None => "The conversation is already unassigned.".to_owned(),
        }));
    }
    let previous = match state.assignee_id {
        Some(id) => staff_member(&backend.db, id).await?.map(|p| p.name),
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
    announce(backend, writer, conversation, state.customer_id, messages).await;
    Ok(target)
}

/// Whose conversation it is and how far it goes: what a read marker is checked against.
#[derive(sqlx::FromRow)]
struct ReadTarget {
    customer_id: UserId,
    last_seq: Seq,
}

/// Marks the conversation read by `viewer` up to `up_to` (clamped to the
/// newest message). Returns the new marker if it moved forward.
pub async fn mark_read(
    backend: &Backend,
    viewer: &CurrentUser,
    conversation: ConversationId,
    up_to: Seq,
) -> ServiceResult<Option<Seq>> {
    let target: ReadTarget = sqlx::query_as("SELECT customer_id, last_seq FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_optional(&backend.db.read)
        .await?
        .ok_or(NOT_FOUND)?;
    if !viewer.role.is_staff() && target.customer_id != viewer.id {
        return Err(NOT_FOUND);
    }
    let seq = up_to.min(target.last_seq);
    if seq.0 <= 0 {
        return Ok(None);
    }
    let mut conn = backend.db.write.acquire().await?;
    let moved = advance_marker(&mut conn, conversation, viewer.id, seq, clock::now()).await?;
    drop(conn);
    if moved {
        backend.bus.publish(Event::Read {
            conversation_id: conversation,
            customer_id: target.customer_id,
            user_id: viewer.id,
            role: viewer.role,
            up_to: seq,
        });
    }
    Ok(moved.then_some(seq))
}
