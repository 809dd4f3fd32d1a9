//! Typed ids. Every id that crosses a boundary is a newtype so that a
//! conversation id can never be passed where a user id is expected — the
//! compiler catches the kind of swap that ownership checks exist to refuse.
//!
//! With the `sqlx` feature (the server's build) each is also an SQL type,
//! stored as its bare number (`#[sqlx(transparent)]`), so queries bind and
//! read ids, not `i64`s.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

numeric_id!(
    /// A person with an account: customer, agent or admin.
    UserId
);
numeric_id!(
    /// A support conversation, owned by one customer.
    ConversationId
);
numeric_id!(
    /// A message row (global id). Clients resume by [`Seq`], never by this.
    MessageId
);
numeric_id!(
    /// A canned response that staff can insert into the composer.
    CannedResponseId
);

/// A message's position inside its conversation: 1, 2, 3, … without gaps,
/// assigned under the conversation's row lock in the inserting transaction.
/// Clients resume ("give me everything after seq N") and mark read by it,
/// because global ids can become visible out of order under concurrent commits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct Seq(pub i64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The sender's own id for a message, chosen before sending so that a resend
/// (after a dropped socket) is recognised and never stored twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
pub struct ClientId(String);

impl ClientId {
    /// Longest accepted client id; UUIDs are 36 characters.
    pub const MAX_LEN: usize = 64;

    /// Accepts 1..=64 printable ASCII characters without spaces.
    pub fn parse(raw: &str) -> Result<Self, crate::ValidationError> {
        let ok = !raw.is_empty() && raw.len() <= Self::MAX_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(ClientId(raw.to_owned()))
        } else {
            Err(crate::ValidationError::new(
                "client_id",
                "The message id must be 1 to 64 visible ASCII characters.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_bare_numbers() {
        let json = serde_json::to_string(&ConversationId(42)).expect("serialize");
        assert_eq!(json, "42");
        let back: ConversationId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, ConversationId(42));
    }

    #[test]
    fn client_id_rejects_empty_long_and_spaces() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse("é").is_err());
        assert!(ClientId::parse("4f1c-9a").is_ok());
    }
}
