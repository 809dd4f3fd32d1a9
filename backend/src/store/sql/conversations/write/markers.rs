//! Read markers: how far each person has read a conversation. Moving one is
//! a single upsert that only ever moves forward, so it needs no lock and no
//! transaction of its own; it writes no message and no audit row.

use super::super::super::{Conn, Db};
use crate::bus::Event;
use crate::conversations::{public_seq_at, Audience, NOT_FOUND};
use crate::error::ServiceResult;
use crate::{clock, Backend};
use parley::model::CurrentUser;
use parley::{ConversationId, Seq, Timestamp, UserId};

/// Moves `user`'s read marker forward to `seq` (never back), with the
/// conversation's unread tallies as they stood at that message (read from
/// it: one lookup on `(conversation_id, seq)`). Returns whether it moved.
pub(super) async fn advance_marker(
    conn: &mut Conn,
    conversation: ConversationId,
    user: UserId,
    seq: Seq,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO read_markers (conversation_id, user_id, last_read_seq, staff_tally, public_tally, updated_at) \
         SELECT $1, $2, m.seq, m.staff_tally, m.public_tally, $4 FROM messages m \
         WHERE m.conversation_id = $1 AND m.seq = $3 \
         ON CONFLICT (conversation_id, user_id) DO UPDATE \
         SET last_read_seq = excluded.last_read_seq, staff_tally = excluded.staff_tally, \
         public_tally = excluded.public_tally, updated_at = excluded.updated_at \
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

/// Whose conversation it is and how far it goes, in both sequences: what
/// a read marker is checked against.
#[derive(sqlx::FromRow)]
struct ReadTarget {
    customer_id: UserId,
    last_seq: Seq,
    last_public_seq: Seq,
}

/// Marks the conversation read by `viewer` up to `up_to`, a seq in the
/// viewer's own sequence (clamped to the newest message they may see).
/// Returns the new marker, in that sequence, if it moved forward.
///
/// Markers are kept in staff seqs. A customer's read of public seq P is kept
/// as the staff seq of that message; a staff read of seq S reads to
/// customers as the newest public seq at or before S. The `read` event
/// carries both, so each audience hears its own (customers only when their
/// view of the marker moved).
pub(crate) async fn mark_read(
    db: &Db,
    backend: &Backend,
    viewer: &CurrentUser,
    conversation: ConversationId,
    up_to: Seq,
) -> ServiceResult<Option<Seq>> {
    let target: ReadTarget =
        sqlx::query_as("SELECT customer_id, last_seq, last_public_seq FROM conversations WHERE id = $1")
            .bind(conversation)
            .fetch_optional(&db.read)
            .await?
            .ok_or(NOT_FOUND)?;
    if !viewer.role.is_staff() && target.customer_id != viewer.id {
        return Err(NOT_FOUND);
    }
    let audience = Audience::of(viewer);
    // The marker to keep (staff seq), what customers hear, what the viewer hears.
    let (seq, public_up_to, answer) = match audience {
        Audience::Staff => {
            let seq = up_to.min(target.last_seq);
            if seq <= Seq(0) {
                return Ok(None);
            }
            let public_seq: Seq = sqlx::query_scalar(&format!("SELECT {}", public_seq_at("$1", "$2")))
                .bind(conversation)
                .bind(seq)
                .fetch_one(&db.read)
                .await?;
            // Customers hear of this read only if it moves the marker as
            // they see it: a read that only passes notes must not reach
            // them, or its arrival would tell that a note was written.
            let before: Option<Seq> = sqlx::query_scalar(&format!(
                "SELECT {} FROM read_markers r WHERE r.conversation_id = $1 AND r.user_id = $2",
                public_seq_at("$1", "r.last_read_seq")
            ))
            .bind(conversation)
            .bind(viewer.id)
            .fetch_optional(&db.read)
            .await?;
            let moved_for_customers = public_seq > before.unwrap_or_default();
            (seq, moved_for_customers.then_some(public_seq), seq)
        }
        Audience::Customer => {
            let public_seq = up_to.min(target.last_public_seq);
            if public_seq <= Seq(0) {
                return Ok(None);
            }
            let seq: Seq =
                sqlx::query_scalar("SELECT seq FROM messages WHERE conversation_id = $1 AND public_seq = $2")
                    .bind(conversation)
                    .bind(public_seq)
                    .fetch_one(&db.read)
                    .await?;
            (seq, Some(public_seq), public_seq)
        }
    };
    let mut conn = db.write.acquire().await?;
    let moved = advance_marker(&mut conn, conversation, viewer.id, seq, clock::now()).await?;
    drop(conn);
    if moved {
        backend.bus.publish(Event::Read {
            conversation_id: conversation,
            customer_id: target.customer_id,
            user_id: viewer.id,
            role: viewer.role,
            up_to: seq,
            public_up_to,
        });
    }
    Ok(moved.then_some(answer))
}
