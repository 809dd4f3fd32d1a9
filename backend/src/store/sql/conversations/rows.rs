//! The rows this module reads, and the one query that builds list rows.
//! Rows are typed (`FromRow` over ids, enums and timestamps), so a column
//! that does not hold what its type says fails as a decode error in the
//! query, not as a string parsed later.

use super::super::{Conn, Db, Engine};
use crate::conversations::{Audience, LIST_PAGE, NOT_FOUND, PREVIEW_CHARS};
use crate::error::ServiceResult;
use parley::model::{
    ConversationPage, ConversationSummary, CurrentUser, InboxCursor, Message, MessageKind, MessagePreview,
    PersonRef,
};
use parley::validate::preview;
use parley::{ConversationId, ConversationStatus, MessageId, Role, Seq, Timestamp, UserId};
use sqlx::QueryBuilder;

/// One list row as the summary query returns it.
#[derive(sqlx::FromRow)]
pub(super) struct SummaryRow {
    id: ConversationId,
    title: String,
    subject: Option<String>,
    status: ConversationStatus,
    created_at: Timestamp,
    activity_at: Timestamp,
    /// 0 or 1 (an INTEGER column: the flag both databases read alike).
    awaiting_reply: i64,
    customer_id: UserId,
    customer_name: String,
    customer_role: Role,
    assignee_id: Option<UserId>,
    assignee_name: Option<String>,
    assignee_role: Option<Role>,
    lm_kind: Option<MessageKind>,
    lm_sender_id: Option<UserId>,
    lm_sender_name: Option<String>,
    lm_body: Option<String>,
    lm_at: Option<Timestamp>,
    unread: i64,
}

impl SummaryRow {
    pub(super) fn id(&self) -> ConversationId {
        self.id
    }
}

/// A list row without a viewer, and whether it is the customer's (1) or the
/// team's (0): both sides' rows of a batch are read in one query.
#[derive(sqlx::FromRow)]
pub(super) struct AnnouncedRow {
    #[sqlx(flatten)]
    pub(super) row: SummaryRow,
    pub(super) for_customer: i64,
}

/// A person from a LEFT JOIN: present when all three columns are.
pub(super) fn joined_person(
    id: Option<UserId>,
    name: Option<String>,
    role: Option<Role>,
) -> Option<PersonRef> {
    match (id, name, role) {
        (Some(id), Some(name), Some(role)) => Some(PersonRef { id, name, role }),
        _ => None,
    }
}

impl From<SummaryRow> for ConversationSummary {
    fn from(row: SummaryRow) -> Self {
        let last_message = match (row.lm_kind, row.lm_body, row.lm_at) {
            (Some(kind), Some(body), Some(at)) => Some(MessagePreview {
                kind,
                sender_id: row.lm_sender_id,
                sender_name: row.lm_sender_name,
                body: preview(&body, PREVIEW_CHARS),
                at,
            }),
            _ => None,
        };
        ConversationSummary {
            id: row.id,
            title: row.title,
            subject: row.subject,
            status: row.status,
            customer: PersonRef {
                id: row.customer_id,
                name: row.customer_name,
                role: row.customer_role,
            },
            assignee: joined_person(row.assignee_id, row.assignee_name, row.assignee_role),
            last_message,
            last_activity_at: row.activity_at,
            unread: row.unread,
            unanswered: row.awaiting_reply != 0,
            created_at: row.created_at,
        }
    }
}

/// Starts the one query that builds list rows: the conversation, its
/// customer and assignee, its newest visible message and, for a viewer, the
/// unread count — one statement for a whole page, never a query per row.
/// Callers append `WHERE …`; `c` is the conversations alias.
pub(super) fn summary_query<'a>(audience: Audience, viewer: Option<UserId>) -> QueryBuilder<'a, Engine> {
    summary_query_from(audience, viewer, "conversations c")
}

/// [`summary_query`] over `from` (the `conversations c` table, with an index
/// hint where the planner needs one).
pub(super) fn summary_query_from<'a>(
    audience: Audience,
    viewer: Option<UserId>,
    from: &str,
) -> QueryBuilder<'a, Engine> {
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
        Some(_) => {
            // The conversation's tally of what counts as unread, minus the
            // viewer's marker's (migration 0005): no count over messages.
            let tally = audience.tally_column();
            q.push(format!("c.{tally} - COALESCE(rm.{tally}, 0) AS unread "));
        }
        None => {
            // A BIGINT on PostgreSQL too (a bare 0 is an int4 there, which
            // does not decode as i64). `for_customer` tells which side's row
            // this is when both come in one query ([`AnnouncedRow`]).
            let for_customer = i64::from(audience == Audience::Customer);
            q.push(format!(
                "CAST(0 AS BIGINT) AS unread, CAST({for_customer} AS BIGINT) AS for_customer "
            ));
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
        q.push_bind(viewer);
        q.push(" ");
    }
    // Without a viewer there is no read marker to join. (A constant-false
    // `LEFT JOIN read_markers rm ON 1 = 0` here made SQLite scan the whole
    // read_markers index twice per message sent: the cost grew with the data.)
    q
}

/// Appends keyset paging and ordering for lists sorted by `activity`.
pub(super) fn page_by_activity(
    q: &mut QueryBuilder<'_, Engine>,
    activity: &str,
    before: Option<InboxCursor>,
) {
    if let Some(cursor) = before {
        q.push(format!(" AND ({activity}, c.id) < ("));
        q.push_bind(cursor.at);
        q.push(", ");
        q.push_bind(cursor.id);
        q.push(")");
    }
    q.push(format!(" ORDER BY {activity} DESC, c.id DESC LIMIT "));
    q.push_bind(LIST_PAGE + 1);
}

pub(super) async fn fetch_page(q: &mut QueryBuilder<'_, Engine>, db: &Db) -> ServiceResult<ConversationPage> {
    let rows: Vec<SummaryRow> = q.build_query_as().fetch_all(&db.read).await?;
    let has_more = rows.len() as i64 > LIST_PAGE;
    let mut summaries: Vec<ConversationSummary> = rows
        .into_iter()
        .take(LIST_PAGE as usize)
        .map(ConversationSummary::from)
        .collect();
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

/// A message with its sender, as the history queries return it, its `seq`
/// in the sequence of the audience it was read for ([`message_select`]).
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: MessageId,
    conversation_id: ConversationId,
    seq: Seq,
    kind: MessageKind,
    sender_id: Option<UserId>,
    sender_name: Option<String>,
    sender_role: Option<Role>,
    body: String,
    client_id: Option<String>,
    created_at: Timestamp,
}

/// `SELECT … FROM messages m` with the sender, numbering each message in
/// `audience`'s sequence. Callers add `WHERE` (with [`Audience::visible`]
/// for a customer) and order by [`Audience::seq_column`].
pub(super) fn message_select(audience: Audience) -> String {
    format!(
        "SELECT m.id, m.conversation_id, {} AS seq, m.kind, m.sender_id, \
         u.name AS sender_name, u.role AS sender_role, m.body, m.client_id, m.created_at \
         FROM messages m LEFT JOIN users u ON u.id = m.sender_id",
        audience.seq_column("m")
    )
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            conversation_id: row.conversation_id,
            seq: row.seq,
            kind: row.kind,
            sender: joined_person(row.sender_id, row.sender_name, row.sender_role),
            body: row.body,
            client_id: row.client_id,
            created_at: row.created_at,
        }
    }
}

/// The parts of a conversation that decide who may do what.
#[derive(sqlx::FromRow, Clone)]
pub(super) struct ConversationState {
    pub(super) customer_id: UserId,
    pub(super) status: ConversationStatus,
    pub(super) assignee_id: Option<UserId>,
}

impl ConversationState {
    /// Staff see every conversation; a customer only their own.
    pub(super) fn authorize(&self, viewer: &CurrentUser) -> ServiceResult<()> {
        if viewer.role.is_staff() || self.customer_id == viewer.id {
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
    .bind(id)
    .fetch_optional(&db.read)
    .await?
    .ok_or(NOT_FOUND)
}

/// The first statement of every write transaction on a conversation: an
/// UPDATE, so it takes the write lock (SQLite) or the row lock (Postgres)
/// before anything is read, and concurrent writers to one conversation queue.
pub(super) async fn lock_state(conn: &mut Conn, id: ConversationId) -> ServiceResult<ConversationState> {
    sqlx::query_as(&format!(
        "UPDATE conversations SET last_seq = last_seq WHERE id = $1 RETURNING {STATE_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(NOT_FOUND)
}
