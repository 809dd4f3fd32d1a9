//! The one error type of the core. Each variant says what the caller should
//! tell the user; database and internal causes are logged where they are
//! turned into a response and never shown.

use parley::{LifecycleError, ValidationError};

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
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// Whether the cause is ours, not the caller's: log it, show a generic sentence.
    pub fn is_internal(&self) -> bool {
        matches!(self, ServiceError::Database(_) | ServiceError::Internal(_))
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

/// Whether a database error is a UNIQUE violation (both backends report it so).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
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
