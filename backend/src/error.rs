//! The one error type of the core. Each variant says what the caller should
//! tell the user, and [`ServiceError::kind`] decides, once for both front
//! doors, what kind of refusal it is (the HTTP status of a server function,
//! the `code` of a socket's `error` frame). Database and internal causes are
//! logged where they are turned into a response ([`ServiceError::log_cause`])
//! and never shown.

use parley::{ErrorKind, LifecycleError, ValidationError};

/// When to try again after [`ServiceError::Busy`]: a hash takes tens of
/// milliseconds, so the line moves within a second.
const BUSY_RETRY_MS: u64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field is wrong; the message names the fix.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Not signed in.
    #[error("Please sign in to continue.")]
    Unauthorized,
    /// Signed in, but the role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such thing — or not one this user may see (the two are not told apart).
    #[error("{0} not found.")]
    NotFound(&'static str),
    /// The status machine refused the move.
    #[error(transparent)]
    Lifecycle(LifecycleError),
    /// The request conflicts with the current state (e.g. demoting the last admin).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests; try again after this many milliseconds.
    #[error("You are sending too fast. Try again in {} s.", retry_after_ms.div_ceil(1000))]
    RateLimited { retry_after_ms: u64 },
    /// Too many sign-in or registration attempts (per account or per address).
    #[error("Too many attempts. Try again in {} s.", retry_after_ms.div_ceil(1000))]
    TooManyAttempts { retry_after_ms: u64 },
    /// The password hashing line is full: refused at once instead of queued.
    #[error("Parley is busy right now. Please try again in a moment.")]
    Busy,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// What kind of refusal this is: the one mapping the HTTP status and the
    /// socket's error code both come from.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Validation(_) => ErrorKind::Invalid,
            ServiceError::Unauthorized => ErrorKind::Unauthorized,
            ServiceError::Forbidden(_) => ErrorKind::Forbidden,
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::Lifecycle(LifecycleError::Closed) => ErrorKind::Closed,
            ServiceError::Lifecycle(_) | ServiceError::Conflict(_) => ErrorKind::Conflict,
            ServiceError::RateLimited { .. } | ServiceError::TooManyAttempts { .. } => ErrorKind::RateLimited,
            ServiceError::Busy => ErrorKind::Busy,
            ServiceError::Database(_) | ServiceError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether the cause is ours, not the caller's: log it, show a generic sentence.
    pub fn is_internal(&self) -> bool {
        self.kind() == ErrorKind::Internal
    }

    /// Logs an internal cause (the database's own words included) in the
    /// current span — the request's or the socket's. Call it once, where the
    /// error is turned into a response; refusals the user caused are not logged.
    pub fn log_cause(&self, failed: &'static str) {
        if self.is_internal() {
            tracing::error!(error = %self, "{failed} failed");
        }
    }

    /// How long to wait before trying again, for rate limits and when busy.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ServiceError::RateLimited { retry_after_ms }
            | ServiceError::TooManyAttempts { retry_after_ms } => Some(*retry_after_ms),
            ServiceError::Busy => Some(BUSY_RETRY_MS),
            _ => None,
        }
    }

    /// The sentence a user may read: internal causes are hidden.
    pub fn public_message(&self) -> String {
        if self.is_internal() {
            "Something went wrong on our side and nothing was saved. Please try again.".to_owned()
        } else {
            self.to_string()
        }
    }

    /// The field a validation error points at, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ServiceError::Validation(v) => Some(&v.field),
            _ => None,
        }
    }
}

impl From<LifecycleError> for ServiceError {
    /// A move the role may not make is a refusal (403), not a conflict.
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::AdminOnly => {
                ServiceError::Forbidden("Only an admin can close a conversation for good.")
            }
            LifecycleError::StaffOnly => {
                ServiceError::Forbidden("Only the support team can change a conversation's status.")
            }
            other => ServiceError::Lifecycle(other),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;
    use parley::ConversationStatus;

    #[test]
    fn a_conflict_is_one_kind_on_every_path() {
        let cases = [
            (
                ServiceError::Conflict("already assigned".into()),
                ErrorKind::Conflict,
            ),
            (
                ServiceError::from(LifecycleError::NotAllowed {
                    from: ConversationStatus::Resolved,
                    to: ConversationStatus::Open,
                }),
                ErrorKind::Conflict,
            ),
            (ServiceError::from(LifecycleError::Closed), ErrorKind::Closed),
            (
                ServiceError::from(LifecycleError::AdminOnly),
                ErrorKind::Forbidden,
            ),
            (
                ValidationError::new("body", "Write something.").into(),
                ErrorKind::Invalid,
            ),
            (ServiceError::NotFound("Conversation"), ErrorKind::NotFound),
            (
                ServiceError::RateLimited { retry_after_ms: 5 },
                ErrorKind::RateLimited,
            ),
            (
                ServiceError::TooManyAttempts { retry_after_ms: 5 },
                ErrorKind::RateLimited,
            ),
            (ServiceError::Busy, ErrorKind::Busy),
            (ServiceError::Internal("disk full".into()), ErrorKind::Internal),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err:?}");
        }
    }

    #[test]
    fn internal_causes_are_never_shown() {
        let err = ServiceError::Internal("the disk is full at /var/lib".into());
        assert!(err.is_internal());
        assert!(!err.public_message().contains("disk"));
        let refusal = ServiceError::Conflict("The conversation is already unassigned.".into());
        assert_eq!(
            refusal.public_message(),
            "The conversation is already unassigned."
        );
    }
}
