//! Every change to a conversation, each one transaction on the writer
//! pool, run by [`write`]: it takes the writer, begins, lets the
//! operation run its own statements (lock the row first, then insert
//! messages), writes what every change writes — the row's status, assignee
//! and list pointers, and the audit rows — commits, and announces.
//!
//! An operation only says what it changes: it returns a [`Change`] (built
//! from the row it locked) and its answer. Refusing is returning an error:
//! the transaction is dropped, which rolls it back, and nothing is announced.
//!
//! Once the statements have run, committing and announcing happen in a task
//! of their own that the caller awaits: if the caller goes away (an HTTP
//! client disconnects and its request's future is dropped), a change that
//! commits is still announced. Before that point a dropped caller drops the
//! transaction, which rolls back, and nothing was stored.
//!
//! # Layout
//! - [`statements`]: [`WriteTx`], the open transaction with the statements
//!   operations share (lock the row, insert a message), and the row update.
//! - [`audit`]: writing an `AuditAction` (`crate::conversations::AuditAction`).
//! - [`start`], [`send`], [`status`], [`assign`]: the operations.
//! - [`markers`]: read markers (one upsert; no messages, no audit).

mod assign;
mod audit;
mod markers;
mod send;
mod start;
mod statements;
mod status;

pub(crate) use assign::assign;
pub(crate) use markers::mark_read;
pub(crate) use send::send;
pub(crate) use start::start;
pub(crate) use status::change_status;

use super::super::Db;
use super::rows::ConversationState;
use super::summaries;
use crate::bus::{Committed, Event};
use crate::conversations::AuditAction;
use crate::error::ServiceResult;
use crate::{clock, Backend, ServiceError};
use parley::model::PersonRef;
use parley::{ConversationId, ConversationStatus, UserId};
use statements::{update_row, WriteTx};
use tokio::sync::OwnedMutexGuard;

/// What one change did to a conversation: the helper writes the row and
/// the audit rows from it, then announces the messages and the new list rows.
pub(super) struct Change {
    pub(super) conversation: ConversationId,
    /// Whose conversation it is: the customer hears of every change.
    pub(super) customer_id: UserId,
    /// The status after the change.
    pub(super) status: ConversationStatus,
    /// The assignee after the change.
    pub(super) assignee: Option<UserId>,
    /// The messages inserted, in seq order.
    pub(super) messages: Vec<Committed>,
    /// The audit rows to write, in order.
    pub(super) audit: Vec<AuditAction>,
}

impl Change {
    /// No change yet to the conversation whose row is `state`.
    pub(super) fn of(conversation: ConversationId, state: &ConversationState) -> Change {
        Change {
            conversation,
            customer_id: state.customer_id,
            status: state.status,
            assignee: state.assignee_id,
            messages: Vec::new(),
            audit: Vec::new(),
        }
    }
}

/// Runs one change as one transaction on the writer pool: `statements`
/// get the open transaction (acting as `actor`, at one `now`) and return
/// what they changed and the operation's answer; then the row and the audit
/// rows are written, the transaction commits, and the change is announced.
/// An error from `statements` rolls everything back.
///
/// `conversation` is the one changed (its turn is taken first: see
/// `WriteTurn`); `None` for a conversation being created, which nobody else
/// can write to before it commits.
///
/// Commit and announcement run in a spawned task, awaited here: dropping
/// this future after the statements cannot leave a committed change
/// unannounced.
pub(super) async fn write<T: Send + 'static>(
    db: &Db,
    backend: &Backend,
    conversation: Option<ConversationId>,
    actor: &PersonRef,
    statements: impl AsyncFnOnce(&mut WriteTx<'_>) -> ServiceResult<(Change, T)>,
) -> ServiceResult<T> {
    let turn = match conversation {
        Some(conversation) => Some(backend.write_turn.take(conversation).await),
        None => None,
    };
    let mut transaction = db.write.begin().await?;
    let now = clock::now();
    let mut tx = WriteTx::new(&mut transaction, actor, now);
    let (change, answer) = statements(&mut tx).await?;
    update_row(tx.conn(), &change, now).await?;
    for action in &change.audit {
        audit::record(action, tx.conn(), change.conversation, actor, now).await?;
    }
    let db = db.clone();
    let backend = backend.clone();
    tokio::spawn(async move {
        transaction.commit().await?;
        announce(&db, &backend, turn, change).await;
        Ok(answer)
    })
    .await
    .map_err(|e| ServiceError::Internal(format!("the commit task failed: {e}")))?
}

/// After a commit: tells the live hubs about the messages, then the new list rows.
///
/// The conversation's `turn` is still held: the messages are published
/// before its next change can commit, so the bus carries every
/// conversation's messages in commit (seq) order and a client may resume
/// from the last seq it received. The
/// list rows are read and published after letting go of it; each row
/// carries its activity time, so a client keeps the newest if two arrive
/// out of order.
async fn announce(db: &Db, backend: &Backend, turn: Option<OwnedMutexGuard<()>>, change: Change) {
    let Change {
        conversation,
        customer_id,
        messages,
        ..
    } = change;
    if !messages.is_empty() {
        backend.bus.publish(Event::Messages {
            conversation_id: conversation,
            customer_id,
            messages,
        });
    }
    drop(turn);
    match summaries(db, conversation).await {
        Ok((staff, customer)) => backend.bus.publish(Event::Conversation {
            customer_id,
            staff: Box::new(staff),
            customer: Box::new(customer),
        }),
        // The change is committed; a missed list update heals on the next fetch.
        Err(e) => tracing::warn!(error = %e, %conversation, "could not build the list row to announce"),
    }
}
