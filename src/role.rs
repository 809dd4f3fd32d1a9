//! Who someone is in Parley, and therefore what they may see and do.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The three roles. Customers see only their own conversations; agents work
/// the shared inbox; admins can additionally close for good and manage people,
/// canned responses and settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum Role {
    Customer,
    Agent,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Customer, Role::Agent, Role::Admin];

    /// Agents and admins: the support team.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Admin)
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin)
    }

    /// The stable spelling stored in the database and used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    /// How the role reads in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Role::Customer => "Customer",
            Role::Agent => "Agent",
            Role::Admin => "Admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected customer, agent or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "customer" => Ok(Role::Customer),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_name() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn staff_and_admin() {
        assert!(!Role::Customer.is_staff());
        assert!(Role::Agent.is_staff() && !Role::Agent.is_admin());
        assert!(Role::Admin.is_staff() && Role::Admin.is_admin());
    }
}
