//! The statements changes share, on the open write transaction: locking the
//! conversation row (for a message, locking and numbering it in one
//! statement), inserting a message under that lock, moving the actor's read
//! marker, and writing the row's new state.

use super::super::super::Conn;
use super::super::rows::{lock_state, ConversationState};
use super::markers::advance_marker;
use super::Change;
use crate::bus::Committed;
use crate::conversations::NOT_FOUND;
use crate::error::ServiceResult;
use parley::model::{Message, MessageKind, PersonRef};
use parley::{ClientId, ConversationId, ConversationStatus, MessageId, Seq, Timestamp, UserId};

/// One change's open transaction: who makes it, and the one `now` every row
/// it writes carries.
pub(in super::super) struct WriteTx<'t> {
    conn: &'t mut Conn,
    actor: &'t PersonRef,
    now: Timestamp,
}

impl<'t> WriteTx<'t> {
    pub(super) fn new(conn: &'t mut Conn, actor: &'t PersonRef, now: Timestamp) -> Self {
        WriteTx { conn, actor, now }
    }

    /// The connection, for statements only one operation runs.
    pub(super) fn conn(&mut self) -> &mut Conn {
        self.conn
    }

    pub(super) fn now(&self) -> Timestamp {
        self.now
    }

    /// Locks the conversation row (see [`lock_state`]): the first statement
    /// of every change to an existing conversation.
    pub(super) async fn lock(&mut self, conversation: ConversationId) -> ServiceResult<ConversationState> {
        lock_state(self.conn, conversation).await
    }

    /// Locks the conversation row and numbers a message of `kind` in the
    /// same statement: the row's state for the authorization and the
    /// lifecycle, and the numbers [`WriteTx::insert_numbered`] writes. One
    /// statement instead of [`WriteTx::lock`] and [`WriteTx::insert_message`]'s
    /// own `UPDATE`. The numbers are taken before the change is checked: a
    /// refused change is rolled back (its savepoint, or its transaction when
    /// it is alone), numbers included, so neither sequence gets a gap.
    pub(super) async fn lock_for_message(
        &mut self,
        conversation: ConversationId,
        kind: MessageKind,
    ) -> ServiceResult<(ConversationState, Numbers)> {
        let (customer_id, status, assignee_id, seq, public_seq, staff_tally, public_tally) =
            sqlx::query_as::<
                _,
                (
                    UserId,
                    ConversationStatus,
                    Option<UserId>,
                    Seq,
                    Option<Seq>,
                    i64,
                    i64,
                ),
            >(
                "UPDATE conversations SET last_seq = last_seq + 1, last_public_seq = last_public_seq + $2, \
                 staff_tally = staff_tally + $3, public_tally = public_tally + $4 WHERE id = $1 \
                 RETURNING customer_id, status, assignee_id, last_seq, \
                 CASE WHEN $2 = 1 THEN last_public_seq END, staff_tally, public_tally",
            )
            .bind(conversation)
            .bind(i64::from(kind.visible_to_customer()))
            .bind(Numbers::staff_counts(kind))
            .bind(Numbers::public_counts(kind))
            .fetch_optional(&mut *self.conn)
            .await?
            .ok_or(NOT_FOUND)?;
        let state = ConversationState {
            customer_id,
            status,
            assignee_id,
        };
        let numbers = Numbers {
            seq,
            public_seq,
            staff_tally,
            public_tally,
        };
        Ok((state, numbers))
    }

    /// Inserts a message by the actor, taking the conversation's next seq
    /// and, unless it is a note, its next public seq — both under the row
    /// lock, so neither sequence has gaps and both follow commit order —
    /// and moving the conversation's unread tallies on (migration 0005).
    /// The database's error is returned as it is, so that a caller can tell a
    /// reused `client_id` from other failures.
    pub(super) async fn insert_message(
        &mut self,
        conversation: ConversationId,
        kind: MessageKind,
        body: &str,
        client_id: Option<&ClientId>,
    ) -> Result<Committed, sqlx::Error> {
        let (seq, public_seq, staff_tally, public_tally): (Seq, Option<Seq>, i64, i64) =
            if kind.visible_to_customer() {
                sqlx::query_as(
                "UPDATE conversations SET last_seq = last_seq + 1, last_public_seq = last_public_seq + 1, \
                     staff_tally = staff_tally + $2, public_tally = public_tally + $3 \
                     WHERE id = $1 RETURNING last_seq, last_public_seq, staff_tally, public_tally",
            )
            .bind(conversation)
            .bind(Numbers::staff_counts(kind))
            .bind(Numbers::public_counts(kind))
            .fetch_one(&mut *self.conn)
            .await?
            } else {
                // A typed NULL: a bare one is `text` on PostgreSQL.
                sqlx::query_as(
                    "UPDATE conversations SET last_seq = last_seq + 1, \
                     staff_tally = staff_tally + $2, public_tally = public_tally + $3 \
                     WHERE id = $1 RETURNING last_seq, CAST(NULL AS BIGINT), staff_tally, public_tally",
                )
                .bind(conversation)
                .bind(Numbers::staff_counts(kind))
                .bind(Numbers::public_counts(kind))
                .fetch_one(&mut *self.conn)
                .await?
            };
        let numbers = Numbers {
            seq,
            public_seq,
            staff_tally,
            public_tally,
        };
        self.insert_numbered(conversation, kind, body, client_id, numbers)
            .await
    }

    /// Inserts a message by the actor under the numbers its conversation's
    /// row gave it (see [`WriteTx::lock_for_message`]); the database's error
    /// as it is, like [`WriteTx::insert_message`].
    pub(super) async fn insert_numbered(
        &mut self,
        conversation: ConversationId,
        kind: MessageKind,
        body: &str,
        client_id: Option<&ClientId>,
        numbers: Numbers,
    ) -> Result<Committed, sqlx::Error> {
        let Numbers {
            seq,
            public_seq,
            staff_tally,
            public_tally,
        } = numbers;
        let id: MessageId = sqlx::query_scalar(
            "INSERT INTO messages (conversation_id, seq, public_seq, sender_id, kind, body, client_id, created_at, \
             staff_tally, public_tally) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(conversation)
        .bind(seq)
        .bind(public_seq)
        .bind(self.actor.id)
        .bind(kind)
        .bind(body)
        .bind(client_id)
        .bind(self.now)
        .bind(staff_tally)
        .bind(public_tally)
        .fetch_one(&mut *self.conn)
        .await?;
        let message = Message {
            id,
            conversation_id: conversation,
            seq,
            kind,
            sender: Some(self.actor.clone()),
            body: body.to_owned(),
            client_id: client_id.map(|c| c.as_str().to_owned()),
            created_at: self.now,
        };
        Ok(Committed { message, public_seq })
    }

    /// A system message saying what the actor changed.
    pub(super) async fn system_message(
        &mut self,
        conversation: ConversationId,
        text: &str,
    ) -> ServiceResult<Committed> {
        Ok(self
            .insert_message(conversation, MessageKind::System, text, None)
            .await?)
    }

    /// The actor has seen everything up to `seq` (what they just wrote).
    pub(super) async fn mark_read_by_actor(
        &mut self,
        conversation: ConversationId,
        seq: Seq,
    ) -> ServiceResult<()> {
        advance_marker(self.conn, conversation, self.actor.id, seq, self.now).await?;
        Ok(())
    }
}

/// The numbers a new message takes from its conversation's row: its place
/// in both sequences (no public one for a note or a system message) and the
/// unread tallies after it.
pub(super) struct Numbers {
    seq: Seq,
    public_seq: Option<Seq>,
    staff_tally: i64,
    public_tally: i64,
}

impl Numbers {
    /// What a message of `kind` adds to the staff side's tally of what
    /// counts as unread: texts and notes (system messages count for nobody).
    fn staff_counts(kind: MessageKind) -> i64 {
        i64::from(kind != MessageKind::System)
    }

    /// What it adds to the customer side's tally: texts only.
    fn public_counts(kind: MessageKind) -> i64 {
        i64::from(kind == MessageKind::Text)
    }
}

/// Writes the conversation row's new state: status, assignee, the list
/// pointers to its newest messages, the activity times and "unanswered".
pub(super) async fn update_row(conn: &mut Conn, change: &Change, now: Timestamp) -> Result<(), sqlx::Error> {
    let messages: Vec<&Message> = change.messages.iter().map(|c| &c.message).collect();
    // List previews show what people wrote: staff see the newest text or
    // note, customers the newest text. System messages only move the
    // activity time (the status tag already tells what they say).
    let newest = messages.iter().rev().find(|m| m.kind != MessageKind::System);
    let newest_text = messages.iter().rev().find(|m| m.kind == MessageKind::Text);
    // Unanswered while the newest text is the customer's. (An INTEGER 0/1
    // column, like every flag here: the one boolean both databases share.)
    let awaiting = newest_text.map(|m| i64::from(!m.sender.as_ref().is_some_and(|s| s.role.is_staff())));
    // Notes move only the staff side's clock: a customer's list must not
    // even hint that the team wrote something private.
    let public_at = messages
        .iter()
        .any(|m| m.kind.visible_to_customer())
        .then_some(now);
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
    .bind(now)
    .bind(newest_text.map(|m| m.id))
    .bind(public_at)
    .bind(awaiting)
    .bind(change.conversation)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
