//! The audit trail's entries, typed. Each change says what it did as an
//! [`AuditAction`]; the row keeps the spellings the trail has always had
//! (`action`, `from_value`, `to_value` as text), which the admin's audit
//! page shows as they are.

use parley::ConversationStatus;

/// One line of a conversation's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// A customer started the conversation (it starts open).
    Created,
    /// The status moved.
    Status {
        from: ConversationStatus,
        to: ConversationStatus,
    },
    /// The assignee changed; `None` is nobody. Names, not ids: the trail
    /// says who it was at the time, whatever becomes of the account.
    Assignee {
        from: Option<String>,
        to: Option<String>,
    },
}

impl AuditAction {
    /// The `action` column.
    pub fn name(&self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Status { .. } => "status",
            AuditAction::Assignee { .. } => "assignee",
        }
    }

    /// The `from_value` column.
    pub fn before(&self) -> Option<&str> {
        match self {
            AuditAction::Created => None,
            AuditAction::Status { from, .. } => Some(from.as_str()),
            AuditAction::Assignee { from, .. } => from.as_deref(),
        }
    }

    /// The `to_value` column.
    pub fn after(&self) -> Option<&str> {
        match self {
            AuditAction::Created => Some(ConversationStatus::Open.as_str()),
            AuditAction::Status { to, .. } => Some(to.as_str()),
            AuditAction::Assignee { to, .. } => to.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationStatus::*;

    fn columns(action: &AuditAction) -> (&'static str, Option<&str>, Option<&str>) {
        (action.name(), action.before(), action.after())
    }

    /// The stored spellings are the trail's history: they never change.
    #[test]
    fn stored_as_the_trail_always_spelled_it() {
        assert_eq!(columns(&AuditAction::Created), ("created", None, Some("open")));
        assert_eq!(
            columns(&AuditAction::Status {
                from: Open,
                to: Active
            }),
            ("status", Some("open"), Some("active"))
        );
        assert_eq!(
            columns(&AuditAction::Assignee {
                from: None,
                to: Some("Avery".into())
            }),
            ("assignee", None, Some("Avery"))
        );
        assert_eq!(
            columns(&AuditAction::Assignee {
                from: Some("Avery".into()),
                to: None
            }),
            ("assignee", Some("Avery"), None)
        );
    }
}
