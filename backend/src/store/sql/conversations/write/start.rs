//! A customer starts a conversation with its first message.

use super::super::super::Db;
use super::{write, Change};
use crate::constraints::{OnConstraint, Unique};
use crate::conversations::{person, Audience, AuditAction};
use crate::error::ServiceResult;
use crate::{Backend, ServiceError};
use parley::model::{CurrentUser, Message, MessageKind};
use parley::validate::{preview, MessageBody, Subject};
use parley::{ClientId, ConversationId, ConversationStatus, ValidationError};

/// A customer starts a conversation with its first message (which spends
/// one message of their send allowance).
pub(crate) async fn start(
    db: &Db,
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
    backend.send_limit.check(customer.id).await?;
    let title = subject
        .as_ref()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| preview(body.as_str(), 80));
    let me = person(customer);
    let customer_id = customer.id;
    let client_id = client_id.cloned();

    write(db, backend, None, &me, move |tx| {
        Box::pin(async move {
            let now = tx.now();
            let id: ConversationId = sqlx::query_scalar(
                "INSERT INTO conversations (customer_id, subject, title, status, last_seq, \
             last_activity_at, last_public_at, awaiting_reply, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5, 1, $5) RETURNING id",
            )
            .bind(customer_id)
            .bind(subject.as_ref().map(Subject::as_str))
            .bind(&title)
            .bind(ConversationStatus::Open)
            .bind(now)
            .fetch_one(tx.conn())
            .await?;
            let committed = tx
                .insert_message(id, MessageKind::Text, body.as_str(), client_id.as_ref())
                .await
                .on_constraint(Unique::MessageClientId, || {
                    ValidationError::new("client_id", "This message id was already used.").into()
                })?;
            tx.mark_read_by_actor(id, committed.message.seq).await?;
            // The customer's own view (the first message is 1 in both sequences).
            let message = committed
                .seen_by(Audience::Customer)
                .ok_or_else(|| ServiceError::Internal("a customer cannot see their first message".into()))?;
            let change = Change {
                conversation: id,
                customer_id,
                status: ConversationStatus::Open,
                assignee: None,
                messages: vec![committed],
                audit: vec![AuditAction::Created],
            };
            Ok((change, (id, message)))
        })
    })
    .await
}
