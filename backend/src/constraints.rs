//! Unique violations, matched by the constraint that was violated and
//! turned into the refusal it means ("this email already has an account"),
//! the way realworld-axum-sqlx's `on_constraint` does.
//!
//! The two databases report a violation differently. Postgres names the
//! constraint or index (sqlx's [`DatabaseError::constraint`]); SQLite does
//! not (`constraint()` is `None`) and says `UNIQUE constraint failed:
//! messages.sender_id, messages.client_id` instead: the table and columns of
//! the index, in index order. So each [`Unique`] constraint the code reacts
//! to knows both its Postgres name and its SQLite column list, and a
//! violation matches on whichever the backend gave. Matching by constraint
//! (not "any unique violation") keeps a violation of another index — a bug
//! — from being mistaken for the expected one.

use crate::error::{ServiceError, ServiceResult};
use sqlx::error::DatabaseError;

/// The unique constraints whose violation is an expected outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unique {
    /// `users.email`: one account per email.
    UserEmail,
    /// `messages_client_id_idx`: one message per sender and `client_id`
    /// (the idempotency key of a send).
    MessageClientId,
    /// `canned_responses.shortcut`: one canned response per `/shortcut`.
    CannedShortcut,
}

impl Unique {
    pub const ALL: [Unique; 3] = [Unique::UserEmail, Unique::MessageClientId, Unique::CannedShortcut];

    /// The name Postgres reports: the index's name, or for a column's
    /// inline `UNIQUE` the default `<table>_<column>_key`.
    pub fn postgres_name(self) -> &'static str {
        match self {
            Unique::UserEmail => "users_email_key",
            Unique::MessageClientId => "messages_client_id_idx",
            Unique::CannedShortcut => "canned_responses_shortcut_key",
        }
    }

    /// What SQLite reports after `UNIQUE constraint failed: `: the indexed
    /// columns as `table.column`, in index order.
    pub fn sqlite_columns(self) -> &'static str {
        match self {
            Unique::UserEmail => "users.email",
            Unique::MessageClientId => "messages.sender_id, messages.client_id",
            Unique::CannedShortcut => "canned_responses.shortcut",
        }
    }

    /// Whether `err` is a violation of this constraint, on either backend.
    pub fn violated_by(self, err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::Database(db) => self.matches(db.as_ref()),
            _ => false,
        }
    }

    fn matches(self, db: &dyn DatabaseError) -> bool {
        if !db.is_unique_violation() {
            return false;
        }
        match db.constraint() {
            Some(name) => name == self.postgres_name(),
            None => db
                .message()
                .strip_prefix(SQLITE_UNIQUE_PREFIX)
                .is_some_and(|columns| columns == self.sqlite_columns()),
        }
    }
}

/// How SQLite starts the message of a unique violation on a column index.
const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

/// `.on_constraint(Unique::UserEmail, || …)` on a query's result: the
/// violation of that constraint becomes the given refusal; every other
/// error stays what it was.
pub trait OnConstraint<T> {
    fn on_constraint(self, constraint: Unique, refusal: impl FnOnce() -> ServiceError) -> ServiceResult<T>;
}

impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, constraint: Unique, refusal: impl FnOnce() -> ServiceError) -> ServiceResult<T> {
        self.map_err(|err| {
            if constraint.violated_by(&err) {
                refusal()
            } else {
                err.into()
            }
        })
    }
}

impl ServiceError {
    /// Whether this is the database refusing `constraint` (for callers that
    /// recover from a violation rather than report it).
    pub fn violates(&self, constraint: Unique) -> bool {
        matches!(self, ServiceError::Database(err) if constraint.violated_by(err))
    }
}

#[cfg(test)]
mod tests {
    //! How Postgres reports a violation, for the matching rule. (SQLite's
    //! real errors are matched in `backend/tests/store/constraints.rs`.)
    use super::*;
    use sqlx::error::ErrorKind;
    use std::borrow::Cow;

    /// A database error as sqlx-postgres reports a unique violation: the
    /// constraint named, the message in words.
    #[derive(Debug)]
    struct PostgresViolation {
        constraint: &'static str,
    }

    impl std::fmt::Display for PostgresViolation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "duplicate key value violates unique constraint \"{}\"",
                self.constraint
            )
        }
    }

    impl std::error::Error for PostgresViolation {}

    impl DatabaseError for PostgresViolation {
        fn message(&self) -> &str {
            "duplicate key value violates unique constraint"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed("23505"))
        }
        fn constraint(&self) -> Option<&str> {
            Some(self.constraint)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::UniqueViolation
        }
    }

    fn postgres(constraint: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(PostgresViolation { constraint }))
    }

    #[test]
    fn postgres_violations_match_by_constraint_name() {
        for constraint in Unique::ALL {
            let err = postgres(constraint.postgres_name());
            let matched: Vec<Unique> = Unique::ALL.into_iter().filter(|u| u.violated_by(&err)).collect();
            assert_eq!(matched, vec![constraint]);
        }
        // Another index (a seq taken twice would be a bug, not a resend).
        let other = postgres("messages_conversation_seq_idx");
        assert!(!Unique::ALL.into_iter().any(|u| u.violated_by(&other)));
    }

    #[test]
    fn on_constraint_turns_only_its_violation_into_the_refusal() {
        let taken: Result<(), sqlx::Error> = Err(postgres("users_email_key"));
        let refused = taken.on_constraint(Unique::UserEmail, || ServiceError::Conflict("taken".into()));
        assert!(matches!(refused, Err(ServiceError::Conflict(_))), "{refused:?}");

        let other: Result<(), sqlx::Error> = Err(postgres("users_email_key"));
        let kept = other.on_constraint(Unique::CannedShortcut, || ServiceError::Conflict("taken".into()));
        assert!(
            matches!(&kept, Err(e) if e.violates(Unique::UserEmail)),
            "{kept:?}"
        );
    }
}
