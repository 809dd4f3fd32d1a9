//! Assigning a conversation to a member of the team, or to nobody.

use super::super::super::Db;
use super::{write, Change};
use crate::conversations::{person, require_staff, AuditAction};
use crate::error::ServiceResult;
use crate::{Backend, ServiceError};
use parley::model::{CurrentUser, PersonRef};
use parley::{ConversationId, ConversationStatus, LifecycleError, UserId, ValidationError};

/// Assigns the conversation to a staff member (`None`: to nobody). Assigning
/// an open conversation makes it active.
pub(crate) async fn assign(
    db: &Db,
    backend: &Backend,
    actor: &CurrentUser,
    conversation: ConversationId,
    assignee: Option<UserId>,
) -> ServiceResult<Option<PersonRef>> {
    require_staff(actor)?;
    let target = match assignee {
        Some(id) => Some(
            staff_member(db, id)
                .await?
                .ok_or_else(|| ValidationError::new("assignee", "Choose someone from the support team."))?,
        ),
        None => None,
    };
    let me = person(actor);
    let role = actor.role;
    let by = me.clone();
    let reader = db.clone();
    let assigned = target.clone();
    write(db, backend, Some(conversation), &me, move |tx| {
        Box::pin(async move {
            let target = assigned;
            let state = tx.lock(conversation).await?;
            if state.status == ConversationStatus::Closed {
                return Err(LifecycleError::Closed.into());
            }
            let new_assignee = target.as_ref().map(|t| t.id);
            if state.assignee_id == new_assignee {
                return Err(ServiceError::Conflict(match &target {
                    Some(t) => format!("The conversation is already assigned to {}.", t.name),
                    None => "The conversation is already unassigned.".to_owned(),
                }));
            }
            let previous = match state.assignee_id {
                Some(id) => staff_member(&reader, id).await?.map(|p| p.name),
                None => None,
            };
            let mut change = Change::of(conversation, &state);
            let text = assignment_text(&by, target.as_ref());
            change
                .messages
                .push(tx.system_message(conversation, &text).await?);
            change.audit.push(AuditAction::Assignee {
                from: previous,
                to: target.as_ref().map(|t| t.name.clone()),
            });
            change.assignee = new_assignee;
            if state.status == ConversationStatus::Open && target.is_some() {
                let active = state.status.transition(ConversationStatus::Active, role)?;
                change.audit.push(AuditAction::Status {
                    from: state.status,
                    to: active,
                });
                change.status = active;
            }
            Ok((change, ()))
        })
    })
    .await?;
    Ok(target)
}

/// A member of the team, for assignment: `None` if there is no such staff member.
async fn staff_member(db: &Db, id: UserId) -> ServiceResult<Option<PersonRef>> {
    let person: Option<PersonRef> = sqlx::query_as("SELECT id, name, role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.read)
        .await?;
    Ok(person.filter(|p| p.role.is_staff()))
}

/// The sentence a system message shows for an assignment.
fn assignment_text(actor: &PersonRef, assignee: Option<&PersonRef>) -> String {
    match assignee {
        Some(a) if a.id == actor.id => format!("{} took the conversation.", actor.name),
        Some(a) => format!("{} assigned the conversation to {}.", actor.name, a.name),
        None => format!("{} unassigned the conversation.", actor.name),
    }
}
