//! # Parley's server-side core
//!
//! Everything that touches the database or must happen exactly once per
//! change lives here, so that the two front doors — server functions in
//! `app/` and the WebSocket hub in `server/` — share one implementation of
//! every rule (who may do what, what a change writes, what it announces).
//!
//! # Layout
//! - [`db`]: the database (SQLite or PostgreSQL, by `DATABASE_URL`): pools and migrations.
//! - `store`: every SQL statement, written once and compiled once per engine.
//! - [`error`]: [`ServiceError`], the one error every operation returns.
//! - [`constraints`]: unique violations, matched by constraint on SQLite and Postgres.
//! - [`clock`]: the current time as a [`parley::Timestamp`].
//! - [`accounts`]: users, password hashing, sessions, roles.
//! - [`sessions`]: the session store on the same engine.
//! - [`passwords`]: what a new password must not be; hashing in turns, with a bounded line.
//! - [`conversations`]: lists, threads, messages, status, assignment, read markers.
//! - [`canned`]: canned responses.
//! - [`presence`]: staff availability (online / away / offline).
//! - [`limits`]: rate limits: messages per user, sign-ins per account and address.
//! - [`bus`]: committed changes, announced to the live hubs (with Redis,
//!   to every instance's).
//! - [`cluster`]: the Redis that several instances share (`REDIS_URL`):
//!   the bus's bridge, presence across instances, shared rate limits.
//! - [`scratch`]: a fresh database per test, on the engine the test run asks for.

pub mod accounts;
pub mod bus;
pub mod canned;
pub mod clock;
pub mod cluster;
pub mod constraints;
pub mod conversations;
pub mod db;
pub mod error;
pub mod limits;
pub mod passwords;
pub mod presence;
pub mod scratch;
pub mod sessions;
// Compiling the same files once per engine is the point (see `store`).
#[allow(clippy::duplicate_mod)]
mod store;

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
    /// Sign-in attempts per account and per address, registrations per address.
    pub auth_limits: limits::AuthLimiter,
    /// Password hashing turns and their bounded line.
    pub hasher: passwords::Hasher,
    /// The group committer every change to a conversation goes through.
    pub(crate) committers: store::Committers,
}

impl Backend {
    /// A backend with the default sign-in limits (no trusted proxies) and
    /// the process's shared hasher.
    pub fn new(db: Db, bus: Bus, send_limit: limits::SendLimiter) -> Self {
        Backend {
            db,
            bus,
            send_limit,
            auth_limits: limits::AuthLimiter::new(
                limits::AuthQuotas::default(),
                limits::TrustedProxies::default(),
            ),
            hasher: passwords::Hasher::shared().clone(),
            committers: store::Committers::default(),
        }
    }

    pub fn with_auth_limits(mut self, auth_limits: limits::AuthLimiter) -> Self {
        self.auth_limits = auth_limits;
        self
    }

    pub fn with_hasher(mut self, hasher: passwords::Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Lets every limiter forget keys whose allowance is full again (call
    /// it now and then: memory stays bounded).
    pub fn forget_idle_limits(&self) {
        self.send_limit.forget_idle();
        self.auth_limits.forget_idle();
    }
}
