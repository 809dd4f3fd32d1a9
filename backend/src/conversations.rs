//! Conversations: starting them, listing them, reading them, writing into
//! them, moving them through their lifecycle, assigning them, and read
//! markers.
//!
//! Every function takes the acting user and checks, in the store and not in
//! the caller, that they may do it: a customer touching a conversation that
//! is not theirs gets `NotFound` (no hint that it exists), a customer calling
//! a staff operation gets `Forbidden`. Every change is all or nothing (its
//! own transaction, or its own savepoint in one it shares with changes that
//! queued beside it: group commit), and is announced on the
//! [`Bus`](crate::Bus) only after it commits.
//!
//! The statements live in `store/sql/conversations/` (compiled for each
//! engine; its `write/` holds the one write helper and an operation per
//! file). Here are the types both engines share and the functions that pick
//! the engine.

mod audit;

pub use audit::AuditAction;

use crate::error::ServiceResult;
use crate::store::on_engine;
use crate::{Backend, Db, ServiceError};
use parley::model::{
    AuditEntry, ConversationPage, ConversationSummary, CurrentUser, CustomerProfile, HistoryPage,
    InboxCursor, InboxFilter, Message, PersonRef, ReadMarker, ThreadView,
};
use parley::{ClientId, ConversationId, ConversationStatus, Seq, UserId};

/// Rows per list page.
pub const LIST_PAGE: i64 = 30;
/// Messages per history page.
pub const HISTORY_PAGE: i64 = 50;
/// Characters of a message shown in list previews.
pub(crate) const PREVIEW_CHARS: usize = 120;

pub(crate) const NOT_FOUND: ServiceError = ServiceError::NotFound("Conversation");

/// Whose list a summary is for: staff see notes, customers never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Customer,
}

impl Audience {
    pub fn of(user: &CurrentUser) -> Audience {
        if user.role.is_staff() {
            Audience::Staff
        } else {
            Audience::Customer
        }
    }

    /// SQL for "a message this audience sees"; `m` is the messages alias.
    /// (A message has a public seq exactly when customers may see it.)
    pub(crate) fn visible(self, m: &str) -> String {
        match self {
            Audience::Staff => "1 = 1".to_owned(),
            Audience::Customer => format!("{m}.public_seq IS NOT NULL"),
        }
    }

    /// SQL for a message's seq in this audience's sequence: staff number
    /// every message, customers only what they see (gap-free).
    pub(crate) fn seq_column(self, m: &str) -> String {
        match self {
            Audience::Staff => format!("{m}.seq"),
            Audience::Customer => format!("{m}.public_seq"),
        }
    }

    /// The column (on conversations, messages and read markers) that tallies
    /// what counts as unread for this audience: texts and notes for staff,
    /// texts for customers (migration 0005).
    pub(crate) fn tally_column(self) -> &'static str {
        match self {
            Audience::Staff => "staff_tally",
            Audience::Customer => "public_tally",
        }
    }
}

/// SQL for the customer's seq of staff seq `seq` in `conversation`: the
/// public seq of the newest message customers may see at or before it (0
/// if none). How a read marker (kept in staff seqs) reads to a customer.
pub(crate) fn public_seq_at(conversation: &str, seq: &str) -> String {
    format!(
        "COALESCE((SELECT pm.public_seq FROM messages pm WHERE pm.conversation_id = {conversation} \
         AND pm.seq <= {seq} AND pm.public_seq IS NOT NULL ORDER BY pm.seq DESC LIMIT 1), 0)"
    )
}

pub(crate) fn require_staff(user: &CurrentUser) -> ServiceResult<()> {
    if user.role.is_staff() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden("This is for the support team."))
    }
}

pub(crate) fn person(user: &CurrentUser) -> PersonRef {
    PersonRef {
        id: user.id,
        name: user.name.clone(),
        role: user.role,
    }
}

/// A message that was written, or found already written under its `client_id`.
#[derive(Debug, Clone)]
pub struct Sent {
    /// As the sender sees it: a customer's numbered in the customer's sequence.
    pub message: Message,
    /// The `client_id` had been used for this very message before: nothing new was stored.
    pub duplicate: bool,
}

/// What a backend's group committer has written: changes committed and the
/// transactions they took (fewer than changes when sends queued together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub changes: u64,
    pub transactions: u64,
}

/// What `backend`'s group committer has written since it started.
pub fn write_stats(backend: &Backend) -> WriteStats {
    let committers = &backend.committers;
    match &backend.db {
        Db::Sqlite(_) => committers.sqlite.get().map(|c| c.stats()),
        Db::Postgres(_) => committers.postgres.get().map(|c| c.stats()),
    }
    .unwrap_or_default()
}

// ---- Reading -------------------------------------------------------------

/// A customer's own conversations, newest (visible) activity first.
pub async fn list_for_customer(
    db: &Db,
    customer: &CurrentUser,
    before: Option<InboxCursor>,
) -> ServiceResult<ConversationPage> {
    on_engine!(db, conversations::list_for_customer(customer, before))
}

/// The shared inbox (staff only), newest activity first.
pub async fn inbox(
    db: &Db,
    staff: &CurrentUser,
    filter: InboxFilter,
    before: Option<InboxCursor>,
) -> ServiceResult<ConversationPage> {
    on_engine!(db, conversations::inbox(staff, filter, before))
}

/// One list row for `viewer`, with their unread count.
pub async fn summary_for(
    db: &Db,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ConversationSummary> {
    on_engine!(db, conversations::summary_for(viewer, id))
}

/// Messages before `before` (exclusive), newest page first, returned oldest
/// first. Seqs are the viewer's: a customer's skip no number (notes are
/// not theirs to count).
pub async fn history(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
    before: Option<Seq>,
) -> ServiceResult<HistoryPage> {
    on_engine!(db, conversations::history(viewer, conversation, before))
}

/// Messages after `after` (exclusive), oldest first, at most `limit`: what a
/// client missed. `after` and the seqs returned are `audience`'s. The
/// caller checks access (see [`authorize_view`]).
pub async fn replay(
    db: &Db,
    audience: Audience,
    conversation: ConversationId,
    after: Seq,
    limit: i64,
) -> ServiceResult<Vec<Message>> {
    on_engine!(db, conversations::replay(audience, conversation, after, limit))
}

/// Whether `viewer` may see the conversation; its customer's id if so.
pub async fn authorize_view(
    db: &Db,
    viewer: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<UserId> {
    on_engine!(db, conversations::authorize_view(viewer, conversation))
}

/// Everything a thread page needs, in the viewer's sequence; opening it marks it read.
pub async fn open_thread(
    backend: &Backend,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<ThreadView> {
    on_engine!(&backend.db, conversations::open_thread(backend, viewer, id))
}

/// How far everyone else has read the conversation, in `viewer`'s seqs:
/// what "Seen" shows. A page refetches them after its socket may have
/// missed `read` frames.
pub async fn read_markers(
    db: &Db,
    viewer: &CurrentUser,
    id: ConversationId,
) -> ServiceResult<Vec<ReadMarker>> {
    on_engine!(db, conversations::read_markers(viewer, id))
}

/// The customer behind a conversation and their other conversations (staff only).
pub async fn customer_profile(
    db: &Db,
    staff: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<CustomerProfile> {
    on_engine!(db, conversations::customer_profile(staff, conversation))
}

/// Who did what to a conversation, oldest first (admins only).
pub async fn audit_trail(
    db: &Db,
    admin: &CurrentUser,
    conversation: ConversationId,
) -> ServiceResult<Vec<AuditEntry>> {
    on_engine!(db, conversations::audit_trail(admin, conversation))
}

/// The badge count: for a customer, unread messages across their
/// conversations; for staff, conversations waiting for an answer.
pub async fn badge_count(db: &Db, viewer: &CurrentUser) -> ServiceResult<i64> {
    on_engine!(db, conversations::badge_count(viewer))
}

/// Everyone who can be assigned a conversation (not deactivated accounts).
pub async fn staff_members(db: &Db, viewer: &CurrentUser) -> ServiceResult<Vec<PersonRef>> {
    on_engine!(db, conversations::staff_members(viewer))
}

// ---- Writing -------------------------------------------------------------

/// A customer starts a conversation with its first message (which spends
/// one message of their send allowance).
pub async fn start(
    backend: &Backend,
    customer: &CurrentUser,
    subject: &str,
    body: &str,
    client_id: Option<&ClientId>,
) -> ServiceResult<(ConversationId, Message)> {
    on_engine!(
        &backend.db,
        conversations::start(backend, customer, subject, body, client_id)
    )
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
    on_engine!(
        &backend.db,
        conversations::send(backend, sender, conversation, body, client_id, note)
    )
}

/// A staff member changes the status (resolve, reopen, close — close for admins only).
pub async fn change_status(
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    to: ConversationStatus,
) -> ServiceResult<ConversationStatus> {
    on_engine!(
        &backend.db,
        conversations::change_status(backend, actor, conversation, to)
    )
}

/// Assigns the conversation to a staff member (`None`: to nobody). Assigning
/// an open conversation makes it active.
pub async fn assign(
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    assignee: Option<UserId>,
) -> ServiceResult<Option<PersonRef>> {
    on_engine!(
        &backend.db,
        conversations::assign(backend, actor, conversation, assignee)
    )
}

/// Marks the conversation read by `viewer` up to `up_to`, a seq in the
/// viewer's own sequence (clamped to the newest message they may see).
/// Returns the new marker, in that sequence, if it moved forward.
pub async fn mark_read(
    backend: &Backend,
    viewer: &CurrentUser,
    conversation: ConversationId,
    up_to: Seq,
) -> ServiceResult<Option<Seq>> {
    on_engine!(
        &backend.db,
        conversations::mark_read(backend, viewer, conversation, up_to)
    )
}
