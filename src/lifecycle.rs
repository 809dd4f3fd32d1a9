//! The conversation status machine and staff availability.
//!
//! `open` (customer wrote, no agent yet) → `active` (an agent replied or was
//! assigned) → `resolved` (a customer message reopens it to `active`) →
//! `closed` (an admin closed it for good). Which moves exist, and who may make
//! them, is decided here and nowhere else; the store and the UI ask.

use crate::Role;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum ConversationStatus {
    Open,
    Active,
    Resolved,
    Closed,
}

/// Why a status change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("The conversation is already {0}.")]
    Unchanged(ConversationStatus),
    #[error("A {from} conversation cannot become {to}.")]
    NotAllowed {
        from: ConversationStatus,
        to: ConversationStatus,
    },
    #[error("Only an admin can close a conversation for good.")]
    AdminOnly,
    #[error("Only the support team can change a conversation's status.")]
    StaffOnly,
    #[error("This conversation is closed; start a new one to write again.")]
    Closed,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 4] = [
        ConversationStatus::Open,
        ConversationStatus::Active,
        ConversationStatus::Resolved,
        ConversationStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Active => "active",
            ConversationStatus::Resolved => "resolved",
            ConversationStatus::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConversationStatus::Open => "Open",
            ConversationStatus::Active => "Active",
            ConversationStatus::Resolved => "Resolved",
            ConversationStatus::Closed => "Closed",
        }
    }

    /// Whether the move `self → to` exists at all, whoever asks.
    pub fn can_become(self, to: ConversationStatus) -> bool {
        use ConversationStatus::*;
        matches!(
            (self, to),
            (Open, Active)
                | (Open, Resolved)
                | (Open, Closed)
                | (Active, Resolved)
                | (Active, Closed)
                | (Resolved, Active)
                | (Resolved, Closed)
        )
    }

    /// A staff member (or, for `Closed`, an admin) moves the conversation to `to`.
    pub fn transition(
        self,
        to: ConversationStatus,
        actor: Role,
    ) -> Result<ConversationStatus, LifecycleError> {
        if !actor.is_staff() {
            return Err(LifecycleError::StaffOnly);
        }
        if to == ConversationStatus::Closed && !actor.is_admin() {
            return Err(LifecycleError::AdminOnly);
        }
        if self == to {
            return Err(LifecycleError::Unchanged(self));
        }
        if self == ConversationStatus::Closed {
            return Err(LifecycleError::Closed);
        }
        if !self.can_become(to) {
            return Err(LifecycleError::NotAllowed { from: self, to });
        }
        Ok(to)
    }

    /// What a new message by `sender` does to the status: `Ok(Some(new))` when
    /// it moves, `Ok(None)` when it stays, `Err` when the conversation takes no
    /// more messages. A customer writing into a resolved conversation reopens
    /// it; staff answering an open one makes it active. Notes never move it.
    pub fn after_message(
        self,
        sender: Role,
        is_note: bool,
    ) -> Result<Option<ConversationStatus>, LifecycleError> {
        use ConversationStatus::*;
        match (self, sender.is_staff(), is_note) {
            (Closed, _, _) => Err(LifecycleError::Closed),
            (_, _, true) => Ok(None),
            (Resolved, false, false) => Ok(Some(Active)),
            (Open, true, false) => Ok(Some(Active)),
            _ => Ok(None),
        }
    }

    /// Whether messages may still be written.
    pub fn accepts_messages(self) -> bool {
        self != ConversationStatus::Closed
    }
}

impl fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for ConversationStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConversationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What a staff member says about themselves. Effective presence also needs
/// an open socket (see the live hub).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum Availability {
    Online,
    Away,
    #[default]
    Offline,
}

impl Availability {
    pub const ALL: [Availability; 3] = [Availability::Online, Availability::Away, Availability::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Away => "away",
            Availability::Offline => "offline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Availability::Online => "Online",
            Availability::Away => "Away",
            Availability::Offline => "Offline",
        }
    }
}

impl FromStr for Availability {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Availability::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::ConversationStatus::*;
    use super::*;

    /// Every (from, to) pair, for each role: the full table, written out.
    #[test]
    fn every_pair_for_every_role() {
        let allowed_moves = [
            (Open, Active),
            (Open, Resolved),
            (Open, Closed),
            (Active, Resolved),
            (Active, Closed),
            (Resolved, Active),
            (Resolved, Closed),
        ];
        for from in ConversationStatus::ALL {
            for to in ConversationStatus::ALL {
                let exists = allowed_moves.contains(&(from, to));
                assert_eq!(from.can_become(to), exists, "{from} -> {to}");

                assert_eq!(
                    from.transition(to, Role::Customer),
                    Err(LifecycleError::StaffOnly)
                );

                let by_admin = from.transition(to, Role::Admin);
                let by_agent = from.transition(to, Role::Agent);
                if exists {
                    assert_eq!(by_admin, Ok(to), "admin {from} -> {to}");
                    if to == Closed {
                        assert_eq!(by_agent, Err(LifecycleError::AdminOnly));
                    } else {
                        assert_eq!(by_agent, Ok(to), "agent {from} -> {to}");
                    }
                } else {
                    assert!(by_admin.is_err(), "admin {from} -> {to} must be refused");
                    assert!(by_agent.is_err(), "agent {from} -> {to} must be refused");
                }
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            Active.transition(Active, Role::Agent),
            Err(LifecycleError::Unchanged(Active))
        );
        assert_eq!(
            Closed.transition(Active, Role::Admin),
            Err(LifecycleError::Closed)
        );
        assert_eq!(
            Active.transition(Open, Role::Agent),
            Err(LifecycleError::NotAllowed {
                from: Active,
                to: Open
            })
        );
    }

    #[test]
    fn messages_move_the_status() {
        assert_eq!(Resolved.after_message(Role::Customer, false), Ok(Some(Active)));
        assert_eq!(Open.after_message(Role::Agent, false), Ok(Some(Active)));
        assert_eq!(Open.after_message(Role::Customer, false), Ok(None));
        assert_eq!(Open.after_message(Role::Agent, true), Ok(None));
        assert_eq!(Resolved.after_message(Role::Agent, false), Ok(None));
        assert_eq!(Active.after_message(Role::Customer, false), Ok(None));
        assert_eq!(
            Closed.after_message(Role::Customer, false),
            Err(LifecycleError::Closed)
        );
        assert_eq!(
            Closed.after_message(Role::Admin, true),
            Err(LifecycleError::Closed)
        );
    }

    #[test]
    fn names_round_trip() {
        for s in ConversationStatus::ALL {
            assert_eq!(s.as_str().parse::<ConversationStatus>(), Ok(s));
        }
        for a in Availability::ALL {
            assert_eq!(a.as_str().parse::<Availability>(), Ok(a));
        }
    }
}
