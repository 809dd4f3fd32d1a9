//! The data shapes that cross the wire: returned by server functions, carried
//! in WebSocket frames, rendered by the components. Each is a plain serde
//! struct; the server builds them from rows, the browser only reads them.
//! Where a shape is exactly a row (a user, a person, a canned response, …) it
//! also derives `sqlx::FromRow` in the server's build (feature `sqlx`), so the
//! store reads it by column name instead of through a tuple.

use crate::{
    Availability, CannedResponseId, ConversationId, ConversationStatus, MessageId, Role, Seq, Timestamp,
    UserId,
};
use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI needs them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct CurrentUser {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
}

/// Someone named in a row: a sender, an assignee, an actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct PersonRef {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// One line of the admin's user list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct UserListItem {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// Set when an admin deactivated the account: it cannot sign in.
    pub deactivated_at: Option<Timestamp>,
}

/// What a message is. Notes are staff-only; system messages record status
/// changes and assignments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum MessageKind {
    Text,
    System,
    Note,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::System => "system",
            MessageKind::Note => "note",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        match s {
            "text" => Some(MessageKind::Text),
            "system" => Some(MessageKind::System),
            "note" => Some(MessageKind::Note),
            _ => None,
        }
    }

    /// Whether a customer may ever see a message of this kind.
    pub fn visible_to_customer(self) -> bool {
        self != MessageKind::Note
    }
}

/// A message in a thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: Seq,
    pub kind: MessageKind,
    /// The author; for system messages, who caused the change.
    pub sender: Option<PersonRef>,
    pub body: String,
    /// The sender's idempotency key, so their other tabs recognise the echo.
    pub client_id: Option<String>,
    pub created_at: Timestamp,
}

/// The latest message of a conversation, cut short for lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePreview {
    pub kind: MessageKind,
    pub sender_id: Option<UserId>,
    pub sender_name: Option<String>,
    pub body: String,
    pub at: Timestamp,
}

/// One row of a conversation list (the customer's "Messages" or the staff inbox).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    /// The subject, or the first words of the first message.
    pub title: String,
    pub subject: Option<String>,
    pub status: ConversationStatus,
    pub customer: PersonRef,
    pub assignee: Option<PersonRef>,
    pub last_message: Option<MessagePreview>,
    pub last_activity_at: Timestamp,
    /// Messages after the viewer's read marker not sent by the viewer.
    pub unread: i64,
    /// The last text message is the customer's: someone on the team should answer.
    pub unanswered: bool,
    pub created_at: Timestamp,
}

/// Where the next inbox page starts (keyset: strictly older than this row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxCursor {
    pub at: Timestamp,
    pub id: ConversationId,
}

/// A page of conversations, newest activity first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationPage {
    pub rows: Vec<ConversationSummary>,
    pub next: Option<InboxCursor>,
}

/// A page of a thread, oldest first, and whether older messages remain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub has_older: bool,
}

/// A read marker: `user` has seen everything up to `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ReadMarker {
    pub user_id: UserId,
    pub role: Role,
    pub seq: Seq,
}

/// Everything a thread page needs at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadView {
    pub summary: ConversationSummary,
    pub history: HistoryPage,
    /// The newest seq in the conversation that this viewer may see.
    pub last_seq: Seq,
    /// Other participants' read markers (for "Seen").
    pub read_markers: Vec<ReadMarker>,
    /// The text of this viewer's plain-form post (no JavaScript yet) that
    /// the server refused, given back once so the composer shows it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
}

/// A link to another conversation of the same customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct ConversationLink {
    pub id: ConversationId,
    pub title: String,
    pub status: ConversationStatus,
    pub last_activity_at: Timestamp,
}

/// The staff-side panel about the customer of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerProfile {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub member_since: Timestamp,
    /// Their other conversations, newest first.
    pub other_conversations: Vec<ConversationLink>,
}

/// One line of a conversation's audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub actor: Option<PersonRef>,
    pub action: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub at: Timestamp,
}

/// A prepared answer staff insert with `/shortcut`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct CannedResponse {
    pub id: CannedResponseId,
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

/// A member of the team and whether they can answer now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffPresence {
    pub user: PersonRef,
    pub availability: Availability,
    /// Availability is online *and* a socket of theirs is connected.
    pub online: bool,
}

/// Which slice of the shared inbox a staff member is looking at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxTab {
    #[default]
    All,
    /// Assigned to me.
    Mine,
    /// Assigned to nobody.
    Unassigned,
}

impl InboxTab {
    pub const ALL: [InboxTab; 3] = [InboxTab::All, InboxTab::Mine, InboxTab::Unassigned];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxTab::All => "all",
            InboxTab::Mine => "mine",
            InboxTab::Unassigned => "unassigned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InboxTab::All => "All",
            InboxTab::Mine => "Mine",
            InboxTab::Unassigned => "Unassigned",
        }
    }

    pub fn parse(s: &str) -> Option<InboxTab> {
        InboxTab::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The inbox's tab and filters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxFilter {
    pub tab: InboxTab,
    pub status: Option<ConversationStatus>,
    /// Only conversations whose last text message is the customer's.
    pub unanswered: bool,
}

impl InboxCursor {
    /// `"<millis>_<id>"`, for URLs.
    pub fn to_param(self) -> String {
        format!("{}_{}", self.at.0, self.id.0)
    }

    pub fn from_param(s: &str) -> Option<InboxCursor> {
        let (at, id) = s.split_once('_')?;
        Some(InboxCursor {
            at: Timestamp(at.parse().ok()?),
            id: ConversationId(id.parse().ok()?),
        })
    }
}

impl ConversationSummary {
    /// Whether the viewer is the customer of this conversation.
    pub fn is_customer(&self, user: UserId) -> bool {
        self.customer.id == user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_through_a_url_param() {
        let cursor = InboxCursor {
            at: Timestamp(1_700_000_000_123),
            id: ConversationId(42),
        };
        assert_eq!(InboxCursor::from_param(&cursor.to_param()), Some(cursor));
        assert_eq!(InboxCursor::from_param("garbage"), None);
        assert_eq!(InboxCursor::from_param("1_x"), None);
    }

    #[test]
    fn notes_are_never_for_customers() {
        assert!(!MessageKind::Note.visible_to_customer());
        assert!(MessageKind::Text.visible_to_customer());
        assert!(MessageKind::System.visible_to_customer());
        for kind in [MessageKind::Text, MessageKind::System, MessageKind::Note] {
            assert_eq!(MessageKind::parse(kind.as_str()), Some(kind));
        }
    }
}
