//! Every change to a conversation, run by [`write`] in a transaction on the
//! writer: the operation runs its own statements (lock the row first, then
//! insert messages), the helper writes what every change writes — the row's
//! status, assignee and list pointers, and the audit rows — commits, and
//! announces. Changes that queue while a transaction is in flight share the
//! next one ([`commit`]: group commit, each change in its own savepoint).
//!
//! An operation only says what it changes: it returns a [`Change`] (built
//! from the row it locked) and its answer. Refusing is returning an error:
//! the transaction is dropped, which rolls it back, and nothing is announced.
//!
//! Changes run on the committer's own tasks, which the caller awaits: if the
//! caller goes away (an HTTP client disconnects and its request's future is
//! dropped), a change that commits is still announced; one whose batch has
//! not begun yet is dropped unwritten.
//!
//! # Layout
//! - [`commit`]: the [`Committer`]'s lanes, batches and savepoints, and the
//!   announcement after each commit.
//! - [`statements`]: [`WriteTx`], the open transaction with the statements
//!   operations share (lock the row, insert a message), and the row update.
//! - [`audit`]: writing an `AuditAction` (`crate::conversations::AuditAction`).
//! - [`start`], [`send`], [`status`], [`assign`]: the operations.
//! - [`markers`]: read markers (one upsert; no messages, no audit).

mod assign;
mod audit;
mod commit;
mod markers;
mod send;
mod start;
mod statements;
mod status;

pub(crate) use assign::assign;
pub(crate) use commit::Committer;
pub(crate) use markers::mark_read;
pub(crate) use send::send;
pub(crate) use start::start;
pub(crate) use status::change_status;

use super::super::setup::committer_slot;
use super::super::Db;
use super::rows::ConversationState;
use crate::bus::Committed;
use crate::conversations::AuditAction;
use crate::error::ServiceResult;
use crate::{Backend, ServiceError};
use commit::{Job, Typed};
use futures::future::BoxFuture;
use parley::model::PersonRef;
use parley::{ConversationId, ConversationStatus, UserId};
use statements::WriteTx;
use tokio::sync::oneshot;

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

/// Runs one change in a transaction on the writer: `statements` get the
/// open transaction (acting as `actor`, at one `now`) and return what they
/// changed and the operation's answer; then the row and the audit rows are
/// written, the transaction commits, and the change is announced. An error
/// from `statements` rolls the change back.
///
/// The change goes to the backend's [`Committer`], which writes the
/// changes that queue meanwhile in the same transaction (group commit, see
/// [`commit`]). `conversation` is the one changed (it picks the lane);
/// `None` for a conversation being created.
///
/// `statements` own what they use (they run on the lane's task). Once
/// their batch has begun, dropping this future cannot leave a committed
/// change unannounced.
pub(super) async fn write<T, F>(
    db: &Db,
    backend: &Backend,
    conversation: Option<ConversationId>,
    actor: &PersonRef,
    statements: F,
) -> ServiceResult<T>
where
    F: for<'a, 'b> FnOnce(&'a mut WriteTx<'b>) -> BoxFuture<'a, ServiceResult<(Change, T)>> + Send + 'static,
    T: Send + 'static,
{
    let committer = committer_slot(&backend.committers).get_or_init(|| Committer::start(db, &backend.bus));
    let (answer, answered) = oneshot::channel();
    let (done, finished) = oneshot::channel();
    committer
        .submit(Job {
            conversation,
            actor: actor.clone(),
            statements: Box::new(Typed { statements, answer }),
            done,
        })
        .await?;
    finished
        .await
        .map_err(|_| ServiceError::Internal("the database writer stopped before answering".into()))??;
    answered
        .await
        .map_err(|_| ServiceError::Internal("a committed change left no answer".into()))
}
