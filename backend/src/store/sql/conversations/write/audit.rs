//! Writing the audit trail's rows; what each [`AuditAction`] stores is
//! decided in `crate::conversations::audit`.

use super::super::super::Conn;
use crate::conversations::AuditAction;
use parley::model::PersonRef;
use parley::{ConversationId, Timestamp};

/// Writes the row: `actor` did `action` to `conversation` at `now`.
pub(super) async fn record(
    action: &AuditAction,
    conn: &mut Conn,
    conversation: ConversationId,
    actor: &PersonRef,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (conversation_id, actor_id, action, from_value, to_value, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(conversation)
    .bind(actor.id)
    .bind(action.name())
    .bind(action.before())
    .bind(action.after())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
