//! Read markers: how far each person has read a conversation. Moving one is
//! a single upsert that only ever moves forward, so it needs no lock and no
//! transaction of its own; it writes no message and no audit row.

use crate::bus::Event;
use crate::conversations::NOT_FOUND;
use crate::error::ServiceResult;
use crate::{clock, Backend};
use parley::model::CurrentUser;
use parley::{ConversationId, Seq, Timestamp, UserId};
use sqlx::SqliteConnection;

/// Moves `user`'s read marker forward to `seq` (never back). Returns whether it moved.
pub(super) async fn advance_marker(
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
    if seq <= Seq(0) {
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
