//! # Parley's server-side core
//!
//! Everything that touches the database or must happen exactly once per
//! change lives here, so that the two front doors — server functions in
//! `app/` and the WebSocket hub in `server/` — share one implementation of
//! every rule (who may do what, what a change writes, what it announces).
//!
//! # Layout
//! - [`db`]: the SQLite pools, their settings and migrations.
//! - [`error`]: [`ServiceError`], the one error every operation returns.
//! - [`constraints`]: unique violations, matched by constraint on SQLite and Postgres.
//! - [`clock`]: the current time as a [`parley::Timestamp`].
//! - [`accounts`]: users, password hashing, sessions, roles.
//! - [`passwords`]: what a new password must not be.
//! - [`conversations`]: lists, threads, messages, status, assignment, read markers.
//! - [`canned`]: canned responses.
//! - [`presence`]: staff availability (online / away / offline).
//! - [`limits`]: per-user rate limits.
//! - [`bus`]: committed changes, announced to the live hubs.

pub mod accounts;
pub mod bus;
pub mod canned;
pub mod clock;
pub mod constraints;
pub mod conversations;
pub mod db;
pub mod error;
pub mod limits;
pub mod passwords;
pub mod presence;

pub use bus::{Bus, Event};
pub use db::Db;
pub use error::ServiceError;

/// The handle every request and socket holds: cheap to clone (pools and the
/// bus are reference-counted), passed to server functions through Leptos context.
#[derive(Clone)]
pub struct Backend {
    pub db: Db,
    pub bus: Bus,
    /// Messages per user per minute, shared by every way of sending.
    pub send_limit: limits::SendLimiter,
}

impl Backend {
    pub fn new(db: Db, bus: Bus, send_limit: limits::SendLimiter) -> Self {
        Backend { db, bus, send_limit }
    }
}
