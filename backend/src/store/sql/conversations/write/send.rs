//! Writing a message or a private note, idempotently per `client_id`.
//!
//! A resend (after a dropped socket, a reload) carries the `client_id` of
//! the first attempt: it is answered with the message stored then, and
//! spends no send allowance. Two attempts can also race — both look, find
//! nothing, and queue for the writer; the second then hits the unique index
//! on `(sender_id, client_id)` and is answered like a resend.

use super::super::super::Db;
use super::super::rows::{message_select, MessageRow};
use super::{write, Change};
use crate::constraints::Unique;
use crate::conversations::{person, Audience, AuditAction, Sent};
use crate::error::ServiceResult;
use crate::{Backend, ServiceError};
use parley::model::{CurrentUser, Message, MessageKind};
use parley::validate::MessageBody;
use parley::{ClientId, ConversationId, ValidationError};

/// Writes a message (or, for staff, a private note). Idempotent per
/// `client_id`: a resend returns the stored message instead of a second one.
/// Committed before it returns; announced after.
pub(crate) async fn send(
    db: &Db,
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
        if let Some(existing) = find_by_client_id(db, sender, client_id).await? {
            return resent(existing, conversation);
        }
    }
    // A resend of a stored message is free; a new message spends allowance.
    backend.send_limit.check(sender.id).await?;
    let kind = if note {
        MessageKind::Note
    } else {
        MessageKind::Text
    };
    let me = person(sender);

    let author = sender.clone();
    let owned_client_id = client_id.cloned();
    let written = write(db, backend, Some(conversation), &me, move |tx| {
        Box::pin(async move {
            let sender = &author;
            let client_id = owned_client_id.as_ref();
            // Lock and number in one statement; a refusal below rolls both back.
            let (state, numbers) = tx.lock_for_message(conversation, kind).await?;
            state.authorize(sender)?;
            let next_status = state.status.after_message(sender.role, note)?;
            let committed = tx
                .insert_numbered(conversation, kind, body.as_str(), client_id, numbers)
                .await?;
            let message = committed
                .seen_by(Audience::of(sender))
                .ok_or_else(|| ServiceError::Internal("a sender cannot see their own message".into()))?;
            let mut change = Change::of(conversation, &state);
            change.messages.push(committed);
            if let Some(to) = next_status {
                change.audit.push(AuditAction::Status {
                    from: state.status,
                    to,
                });
                change.status = to;
                let text = if sender.role.is_staff() {
                    // An agent's first reply to an open conversation: it becomes
                    // active and, if nobody has it, theirs.
                    if change.assignee.is_none() {
                        change.assignee = Some(sender.id);
                        change.audit.push(AuditAction::Assignee {
                            from: None,
                            to: Some(sender.name.clone()),
                        });
                        format!("{} replied and took the conversation.", sender.name)
                    } else {
                        format!("{} replied; the conversation is active.", sender.name)
                    }
                } else {
                    format!("{} wrote again, so the conversation is open again.", sender.name)
                };
                change
                    .messages
                    .push(tx.system_message(conversation, &text).await?);
            }
            if let Some(last) = change.messages.last() {
                tx.mark_read_by_actor(conversation, last.message.seq).await?;
            }
            Ok((change, message))
        })
    })
    .await;

    match (written, client_id) {
        (Ok(message), _) => Ok(Sent {
            message,
            duplicate: false,
        }),
        (Err(e), Some(client_id)) if e.violates(Unique::MessageClientId) => {
            // The same client_id raced in through another connection and
            // won; this transaction was rolled back.
            let existing = find_by_client_id(db, sender, client_id)
                .await?
                .ok_or(ServiceError::Internal("duplicate client id without a row".into()))?;
            resent(existing, conversation)
        }
        (Err(e), _) => Err(e),
    }
}

/// The message `sender` already stored under `client_id`, if any, as they see it.
async fn find_by_client_id(
    db: &Db,
    sender: &CurrentUser,
    client_id: &ClientId,
) -> ServiceResult<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "{} WHERE m.sender_id = $1 AND m.client_id = $2",
        message_select(Audience::of(sender))
    ))
    .bind(sender.id)
    .bind(client_id)
    .fetch_optional(&db.read)
    .await?;
    Ok(row.map(Message::from))
}

/// The answer to a resend: the stored message, if it was for this conversation.
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
