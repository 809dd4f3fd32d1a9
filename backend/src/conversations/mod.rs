//! Conversations: starting them, listing them, reading them, writing into
//! them, moving them through their lifecycle, assigning them, and read
//! markers.
//!
//! Every function takes the acting user and checks, here and not in the
//! caller, that they may do it: a customer touching a conversation that is
//! not theirs gets `NotFound` (no hint that it exists), a customer calling a
//! staff operation gets `Forbidden`. Every change is one transaction, and is
//! announced on the [`Bus`](crate::Bus) only after it commits.
//!
//! # Layout
//! - [`rows`]: the row types and the one list query (list rows, messages, access state).
//! - [`write`]: every change (start, send, status, assignment, read markers),
//!   each one transaction through the one write helper, with a typed audit trail.
//! - [`read`]: lists, threads, history, replay, panels, badges.

mod read;
mod rows;
mod write;

pub use read::*;
pub(crate) use write::WriteTurn;
pub use write::{assign, change_status, mark_read, send, start, Sent};

use crate::error::ServiceResult;
use crate::ServiceError;
use parley::model::{CurrentUser, PersonRef};

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

    /// SQL list of the kinds that count as unread for this audience.
    pub(crate) fn unread_kinds(self) -> &'static str {
        match self {
            Audience::Staff => "'text', 'note'",
            Audience::Customer => "'text'",
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
