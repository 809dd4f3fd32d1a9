//! The rows this module reads, and the one query that builds list rows.

use super::{parse_kind, parse_role, parse_status, Audience, LIST_PAGE, NOT_FOUND, PREVIEW_CHARS};
use crate::error::ServiceResult;
use crate::Db;
use parley::model::{
    ConversationPage, ConversationSummary, CurrentUser, InboxCursor, Message, MessagePreview, PersonRef,
};
use parley::validate::preview;
use parley::{ConversationId, ConversationStatus, MessageId, Seq, Timestamp, UserId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// One list row as the summary query returns it.
#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    id: i64,
    title: String,
    subject: Option<String>,
    status: String,
    created_at: i64,
    activity_at: i64,
    awaiting_reply: i64,
    customer_id: i64,
    customer_name: String,
    customer_role: String,
    assignee_id: Option<i64>,
    assignee_name: Option<String>,
    assignee_role: Option<String>,
    lm_kind: Option<String>,
    lm_sender_id: Option<i64>,
    lm_sender_name: Option<String>,
    lm_body: Option<String>,
    lm_at: Option<i64>,
    unread: i64,
}

impl SummaryRow {
    pub(super) fn into_summary(self) -> ServiceResult<ConversationSummary> {
        let assignee = match (self.assignee_id, self.assignee_name, self.assignee_role) {
            (Some(id), Some(name), Some(role)) => Some(PersonRef {
                id: UserId(id),
                name,
                role: parse_role(&role)?,
            }),
            _ => None,
        };
        let last_message = match (self.lm_kind, self.lm_body, self.lm_at) {
            (Some(kind), Some(body), Some(at)) => Some(MessagePreview {
                kind: parse_kind(&kind)?,
                sender_id: self.lm_sender_id.map(UserId),
                sender_name: self.lm_sender_name,
                body: preview(&body, PREVIEW_CHARS),
                at: Timestamp(at),
            }),
            _ => None,
        };
        Ok(ConversationSummary {
            id: ConversationId(self.id),
            title: self.title,
            subject: self.subject,
            status: parse_status(&self.status)?,
            customer: PersonRef {
                id: UserId(self.customer_id),
                name: self.customer_name,
                role: parse_role(&self.customer_role)?,
            },
            assignee,
            last_message,
            last_activity_at: Timestamp(self.activity_at),
            unread: self.unread,
            unanswered: self.awaiting_reply != 0,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// Starts the one query that builds list rows: the conversation, its
/// customer and assignee, its newest visible message and, for a viewer, the
/// unread count — one statement for a whole page, never a query per row.
/// Callers append `WHERE …`; `c` is the conversations alias.
pub(super) fn summary_query<'a>(audience: Audience, viewer: Option<UserId>) -> QueryBuilder<'a, Sqlite> {
    summary_query_from(audience, viewer, "conversations c")
}

/// [`summary_query`] over `from` (the `conversations c` table, with an index
/// hint where the planner needs one).
pub(super) fn summary_query_from<'a>(
    audience: Audience,
    viewer: Option<UserId>,
    from: &str,
) -> QueryBuilder<'a, Sqlite> {
    let (last_id, activity) = match audience {
        Audience::Staff => ("c.last_message_id", "c.last_activity_at"),
        Audience::Customer => ("c.last_public_message_id", "c.last_public_at"),
    };
    let mut q = QueryBuilder::new(format!(
        "SELECT c.id, c.title, c.subject, c.status, c.created_at, {activity} AS activity_at, \
         c.awaiting_reply, cu.id AS customer_id, cu.name AS customer_name, cu.role AS customer_role, \
         a.id AS assignee_id, a.name AS assignee_name, a.role AS assignee_role, \
         m.kind AS lm_kind, m.sender_id AS lm_sender_id, s.name AS lm_sender_name, \
         substr(m.body, 1, 400) AS lm_body, m.created_at AS lm_at, "
    ));
    match viewer {
        Some(viewer) => {
            q.push(format!(
                "(SELECT COUNT(*) FROM messages um WHERE um.conversation_id = c.id \
                 AND um.seq > COALESCE(rm.last_read_seq, 0) AND um.kind IN ({}) AND um.sender_id <> ",
                audience.unread_kinds()
            ));
            q.push_bind(viewer.0);
            q.push(") AS unread ");
        }
        None => {
            q.push("0 AS unread ");
        }
    }
    q.push(format!(
        "FROM {from} \
         JOIN users cu ON cu.id = c.customer_id \
         LEFT JOIN users a ON a.id = c.assignee_id \
         LEFT JOIN messages m ON m.id = {last_id} \
         LEFT JOIN users s ON s.id = m.sender_id "
    ));
    if let Some(viewer) = viewer {
        q.push("LEFT JOIN read_markers rm ON rm.conversation_id = c.id AND rm.user_id = ");
        q.push_bind(viewer.0);
        q.push(" ");
    }
    // Without a viewer there is no read marker to join. (A constant-false
    // `LEFT JOIN read_markers rm ON 1 = 0` here made SQLite scan the whole
    // read_markers index twice per message sent: the cost grew with the data.)
    q
}

/// Appends keyset paging and ordering for lists sorted by `activity`.
pub(super) fn page_by_activity(
    q: &mut QueryBuilder<'_, Sqlite>,
    activity: &str,
    before: Option<InboxCursor>,
) {
    if let Some(cursor) = before {
        q.push(format!(" AND ({activity}, c.id) < ("));
        q.push_bind(cursor.at.0);
        q.push(", ");
        q.push_bind(cursor.id.0);
        q.push(")");
    }
    q.push(format!(" ORDER BY {activity} DESC, c.id DESC LIMIT "));
    q.push_bind(LIST_PAGE + 1);
}

pub(super) async fn fetch_page(q: &mut QueryBuilder<'_, Sqlite>, db: &Db) -> ServiceResult<ConversationPage> {
    let rows: Vec<SummaryRow> = q.build_query_as().fetch_all(&db.read).await?;
    let has_more = rows.len() as i64 > LIST_PAGE;
    let mut summaries = rows
        .into_iter()
        .take(LIST_PAGE as usize)
        .map(SummaryRow::into_summary)
        .collect::<ServiceResult<Vec<_>>>()?;
    let next = if has_more {
        summaries.last().map(|s| InboxCursor {
            at: s.last_activity_at,
            id: s.id,
        })
    } else {
        None
    };
    summaries.shrink_to_fit();
    Ok(ConversationPage {
        rows: summaries,
        next,
    })
}

/// A message with its sender, as the history queries return it.
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: i64,
    conversation_id: i64,
    seq: i64,
    kind: String,
    sender_id: Option<i64>,
    sender_name: Option<String>,
    sender_role: Option<String>,
    body: String,
    client_id: Option<String>,
    created_at: i64,
}

pub(super) const MESSAGE_SELECT: &str = "SELECT m.id, m.conversation_id, m.seq, m.kind, m.sender_id, \
     u.name AS sender_name, u.role AS sender_role, m.body, m.client_id, m.created_at \
     FROM messages m LEFT JOIN users u ON u.id = m.sender_id";

impl MessageRow {
    pub(super) fn into_message(self) -> ServiceResult<Message> {
        let sender = match (self.sender_id, self.sender_name, self.sender_role) {
            (Some(id), Some(name), Some(role)) => Some(PersonRef {
                id: UserId(id),
                name,
                role: parse_role(&role)?,
            }),
            _ => None,
        };
        Ok(Message {
            id: MessageId(self.id),
            conversation_id: ConversationId(self.conversation_id),
            seq: Seq(self.seq),
            kind: parse_kind(&self.kind)?,
            sender,
            body: self.body,
            client_id: self.client_id,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// The parts of a conversation that decide who may do what.
#[derive(sqlx::FromRow, Clone)]
pub(super) struct ConversationState {
    pub(super) customer_id: i64,
    pub(super) status: String,
    pub(super) assignee_id: Option<i64>,
}

impl ConversationState {
    pub(super) fn status(&self) -> ServiceResult<ConversationStatus> {
        parse_status(&self.status)
    }

    /// Staff see every conversation; a customer only their own.
    pub(super) fn authorize(&self, viewer: &CurrentUser) -> ServiceResult<()> {
        if viewer.role.is_staff() || self.customer_id == viewer.id.0 {
            Ok(())
        } else {
            Err(NOT_FOUND)
        }
    }
}

pub(super) const STATE_COLUMNS: &str = "customer_id, status, assignee_id";

pub(super) async fn read_state(db: &Db, id: ConversationId) -> ServiceResult<ConversationState> {
    sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM conversations WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_optional(&db.read)
    .await?
    .ok_or(NOT_FOUND)
}

/// The first statement of every write transaction on a conversation: an
/// UPDATE, so it takes the write lock (SQLite) or the row lock (Postgres)
/// before anything is read, and concurrent writers to one conversation queue.
pub(super) async fn lock_state(
    conn: &mut SqliteConnection,
    id: ConversationId,
) -> ServiceResult<ConversationState> {
    sqlx::query_as(&format!(
        "UPDATE conversations SET last_seq = last_seq WHERE id = $1 RETURNING {STATE_COLUMNS}"
    ))
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(NOT_FOUND)
}
