//! Group commit: changes that queue while a transaction is in flight are
//! written together in the next one — one `BEGIN`, one `COMMIT` and one
//! connection checkout for the lot — each still answered only after its own
//! commit, and a change that fails fails alone.
//!
//! # Lanes
//! A [`Committer`] runs [`WRITE_LANES`] lanes (one on SQLite, whose single
//! writer queues everything anyway; several on PostgreSQL, one per writer
//! connection). A change to an existing conversation always goes to the same
//! lane (its id modulo the lane count), a new conversation to the next lane
//! round the ring. A lane takes whatever has queued (up to [`MAX_BATCH`]),
//! runs each change's statements in turn in one transaction, commits, and
//! publishes the messages of every change in order before it takes the next
//! batch: so the bus carries each conversation's messages in commit (seq)
//! order, as a resuming client needs, without a lock per conversation.
//!
//! # One failing change
//! With more than one change in a batch, each runs inside a savepoint: a
//! change that refuses (a closed conversation, a reused `client_id`) or
//! fails is rolled back to its savepoint and answered with its error; the
//! others commit. A batch of one (a quiet server) needs no savepoint: its
//! transaction is the change. If the commit itself fails, every change in it
//! is answered with an error and none is announced.
//!
//! # Order within a batch
//! Changes are sorted by conversation (stably: one conversation's changes
//! keep their order), so every lane on every instance takes row locks in
//! the same order and two batches cannot deadlock on PostgreSQL.
//!
//! # Callers that leave
//! A change whose caller went away before its batch began (an HTTP client
//! that disconnected) is dropped unwritten, as a rolled-back transaction
//! would have been. Once it is in a batch it runs to the end; its
//! announcement does not depend on the caller.

use super::super::super::setup::WRITE_LANES;
use super::super::super::{Conn, Db};
use super::super::summaries_of;
use super::audit;
use super::statements::{update_row, WriteTx};
use super::Change;
use crate::bus::{Bus, Event};
use crate::conversations::WriteStats;
use crate::error::ServiceResult;
use crate::{clock, ServiceError};
use futures::future::BoxFuture;
use futures::FutureExt;
use parley::model::PersonRef;
use parley::ConversationId;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Changes one transaction takes at most: a bound on how long one batch
/// holds the writer and how much a failed commit turns away.
pub(crate) const MAX_BATCH: usize = 64;

/// Changes a lane holds before senders wait for room.
const LANE_QUEUE: usize = 4096;

/// A change's statements with its caller's answer type erased: runs them on
/// the open transaction and keeps the answer for the caller.
pub(super) trait Statements: Send {
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx<'_>) -> BoxFuture<'a, ServiceResult<Change>>;
}

/// The statements of one operation and where its answer goes.
pub(super) struct Typed<F, T> {
    pub(super) statements: F,
    pub(super) answer: oneshot::Sender<T>,
}

impl<F, T> Statements for Typed<F, T>
where
    F: for<'a, 'b> FnOnce(&'a mut WriteTx<'b>) -> BoxFuture<'a, ServiceResult<(Change, T)>> + Send + 'static,
    T: Send + 'static,
{
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx<'_>) -> BoxFuture<'a, ServiceResult<Change>> {
        let Typed { statements, answer } = *self;
        Box::pin(async move {
            let (change, value) = statements(tx).await?;
            // Delivered only once the caller hears the change committed.
            let _ = answer.send(value);
            Ok(change)
        })
    }
}

/// One change waiting for its lane.
pub(super) struct Job {
    /// The conversation changed; `None` for one being created.
    pub(super) conversation: Option<ConversationId>,
    pub(super) actor: PersonRef,
    pub(super) statements: Box<dyn Statements>,
    /// `Ok` once committed and announced; the change's own error otherwise.
    pub(super) done: oneshot::Sender<ServiceResult<()>>,
}

/// The lanes of one backend's database (see the module docs).
pub(crate) struct Committer {
    lanes: Vec<mpsc::Sender<Job>>,
    next_new: AtomicUsize,
    counters: Arc<Counters>,
}

/// What the lanes have committed, for [`WriteStats`].
#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    changes: AtomicU64,
}

impl Committer {
    /// Starts the lanes on the current runtime.
    pub(crate) fn start(db: &Db, bus: &Bus) -> Committer {
        let counters = Arc::new(Counters::default());
        let lanes = (0..WRITE_LANES.max(1))
            .map(|_| {
                let (sender, jobs) = mpsc::channel(LANE_QUEUE);
                tokio::spawn(lane(db.clone(), bus.clone(), counters.clone(), jobs));
                sender
            })
            .collect();
        Committer {
            lanes,
            next_new: AtomicUsize::new(0),
            counters,
        }
    }

    /// What has been committed so far.
    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            changes: self.counters.changes.load(Ordering::Relaxed),
        }
    }

    /// Queues `job` on its lane; the answer arrives on its `done`.
    pub(super) async fn submit(&self, job: Job) -> ServiceResult<()> {
        let lane = match job.conversation {
            Some(id) => id.0.rem_euclid(self.lanes.len() as i64) as usize,
            None => self.next_new.fetch_add(1, Ordering::Relaxed) % self.lanes.len(),
        };
        self.lanes[lane]
            .send(job)
            .await
            .map_err(|_| ServiceError::Internal("the database writer has stopped".into()))
    }
}

/// One lane: batch after batch until every sender is gone.
async fn lane(db: Db, bus: Bus, counters: Arc<Counters>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch.retain(|job: &Job| !job.done.is_closed());
        if batch.is_empty() {
            continue;
        }
        batch.sort_by_key(|job| job.conversation);
        // A bug that panics in one batch must not stop the lane: the batch's
        // transaction rolls back, its callers hear that the writer failed,
        // and the next batch runs as usual.
        let taken = std::mem::take(&mut batch);
        if AssertUnwindSafe(run_batch(&db, &bus, &counters, taken))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("a batch of changes panicked; its transaction was rolled back");
        }
        batch.reserve(MAX_BATCH);
    }
}

/// A change that ran, waiting for the batch's commit.
struct Ran {
    done: oneshot::Sender<ServiceResult<()>>,
    outcome: ServiceResult<Change>,
}

/// Runs `batch` in one transaction, commits, announces, answers.
async fn run_batch(db: &Db, bus: &Bus, counters: &Counters, batch: Vec<Job>) {
    let mut transaction = match db.write.begin().await {
        Ok(transaction) => transaction,
        Err(e) => return fail_all(batch.into_iter().map(|job| job.done), e),
    };
    let alone = batch.len() == 1;
    let mut ran = Vec::with_capacity(batch.len());
    for job in batch {
        let outcome = if alone {
            run_job(&mut transaction, job.statements, &job.actor).await
        } else {
            match sqlx::Connection::begin(&mut *transaction).await {
                Ok(mut savepoint) => match run_job(&mut savepoint, job.statements, &job.actor).await {
                    Ok(change) => match savepoint.commit().await {
                        Ok(()) => Ok(change),
                        Err(e) => Err(e.into()),
                    },
                    Err(e) => match savepoint.rollback().await {
                        Ok(()) => Err(e),
                        // The transaction is in an unknown state: give it up.
                        Err(rollback) => {
                            tracing::error!(error = %rollback, "could not roll back to a savepoint");
                            let rest = ran.into_iter().map(|r: Ran| r.done).chain([job.done]);
                            return fail_all(rest, rollback);
                        }
                    },
                },
                Err(e) => Err(e.into()),
            }
        };
        if alone && outcome.is_err() {
            // Nothing to commit: dropping the transaction rolls it back.
            drop(transaction);
            let _ = job.done.send(outcome.map(|_| ()));
            return;
        }
        ran.push(Ran {
            done: job.done,
            outcome,
        });
    }
    let written = ran.iter().filter(|r| r.outcome.is_ok()).count() as u64;
    if written > 0 {
        if let Err(e) = transaction.commit().await {
            tracing::error!(error = %e, changes = ran.len(), "a batch of changes failed to commit");
            let mut e = Some(e);
            for r in ran {
                let error = match (r.outcome, e.take()) {
                    (Err(own), _) => own,
                    (Ok(_), Some(first)) => first.into(),
                    (Ok(_), None) => {
                        ServiceError::Internal("the transaction this change was in failed to commit".into())
                    }
                };
                let _ = r.done.send(Err(error));
            }
            return;
        }
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.changes.fetch_add(written, Ordering::Relaxed);
    }
    announce(db, bus, ran);
}

/// One change's statements, then the row and audit rows every change writes.
async fn run_job(
    conn: &mut Conn,
    statements: Box<dyn Statements>,
    actor: &PersonRef,
) -> ServiceResult<Change> {
    let now = clock::now();
    let mut tx = WriteTx::new(conn, actor, now);
    let change = statements.run(&mut tx).await?;
    update_row(tx.conn(), &change, now).await?;
    for action in &change.audit {
        audit::record(action, tx.conn(), change.conversation, actor, now).await?;
    }
    Ok(change)
}

/// Answers every caller with the error that stopped their batch.
fn fail_all(dones: impl IntoIterator<Item = oneshot::Sender<ServiceResult<()>>>, e: sqlx::Error) {
    tracing::error!(error = %e, "a batch of changes could not be written");
    let mut e = Some(e);
    for done in dones {
        let error = match e.take() {
            Some(first) => first.into(),
            None => ServiceError::Internal("the transaction this change was in failed".into()),
        };
        let _ = done.send(Err(error));
    }
}

/// After a commit: the messages of every change, in commit order, on the bus
/// now (before the lane takes its next batch); then, in a task of its own so
/// the lane goes on writing, the changed conversations' new list rows (two
/// queries for the whole batch, however many changes and conversations it
/// had), and then the answers.
fn announce(db: &Db, bus: &Bus, mut ran: Vec<Ran>) {
    let mut changed = Vec::new();
    let mut seen = HashSet::new();
    for r in &mut ran {
        if let Ok(change) = &mut r.outcome {
            if !change.messages.is_empty() {
                bus.publish(Event::Messages {
                    conversation_id: change.conversation,
                    customer_id: change.customer_id,
                    messages: std::mem::take(&mut change.messages),
                });
            }
            if seen.insert(change.conversation) {
                changed.push(change.conversation);
            }
        }
    }
    let db = db.clone();
    let bus = bus.clone();
    tokio::spawn(async move {
        match summaries_of(&db, &changed).await {
            Ok(rows) => {
                for (staff, customer) in rows {
                    bus.publish(Event::Conversation {
                        customer_id: customer.customer.id,
                        staff: Box::new(staff),
                        customer: Box::new(customer),
                    });
                }
            }
            // The changes are committed; a missed list update heals on the next fetch.
            Err(e) => {
                tracing::warn!(error = %e, conversations = changed.len(), "could not build the list rows to announce")
            }
        }
        for r in ran {
            let _ = r.done.send(r.outcome.map(|_| ()));
        }
    });
}
