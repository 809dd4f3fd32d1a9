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
//! - [`clock`]: the current time as a [`parley::Timestamp`].
//! - [`accounts`]: users, password hashing, sessions, roles.

pub mod accounts;
pub mod clock;
pub mod db;
pub mod error;

pub use db::Db;
pub use error::ServiceError;

/// The handle every request and socket holds: cheap to clone (pools are
/// reference-counted), passed to server functions through Leptos context.
#[derive(Clone)]
pub struct Backend {
    pub db: Db,
}

impl Backend {
    pub fn new(db: Db) -> Self {
        Backend { db }
    }
}
