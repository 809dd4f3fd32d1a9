//! Staff move a conversation through its lifecycle: resolve, reopen, close
//! (close is for admins; `parley::lifecycle` decides which moves exist).

use super::super::super::Db;
use super::{write, Change};
use crate::conversations::{person, require_staff, AuditAction};
use crate::error::ServiceResult;
use crate::Backend;
use parley::model::{CurrentUser, PersonRef};
use parley::{ConversationId, ConversationStatus};

/// A staff member changes the status (resolve, reopen, close — close for admins only).
pub(crate) async fn change_status(
    db: &Db,
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    to: ConversationStatus,
) -> ServiceResult<ConversationStatus> {
    require_staff(actor)?;
    let me = person(actor);
    let role = actor.role;
    let text_by = me.clone();
    write(db, backend, Some(conversation), &me, move |tx| {
        Box::pin(async move {
            let state = tx.lock(conversation).await?;
            let to = state.status.transition(to, role)?;
            let mut change = Change::of(conversation, &state);
            change.messages.push(
                tx.system_message(conversation, &status_text(&text_by, to))
                    .await?,
            );
            change.audit.push(AuditAction::Status {
                from: state.status,
                to,
            });
            change.status = to;
            Ok((change, to))
        })
    })
    .await
}

/// The sentence a system message shows for a status change.
fn status_text(actor: &PersonRef, to: ConversationStatus) -> String {
    match to {
        ConversationStatus::Open | ConversationStatus::Active => {
            format!("{} reopened the conversation.", actor.name)
        }
        ConversationStatus::Resolved => format!("{} marked the conversation as resolved.", actor.name),
        ConversationStatus::Closed => format!("{} closed the conversation for good.", actor.name),
    }
}
