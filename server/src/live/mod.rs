//! The live socket at `/ws`: one per browser tab.
//!
//! The upgrade is refused (no socket is opened) without an allowed `Origin`
//! (403) or without a signed-in session (401). After it, every frame is a
//! [`parley::protocol::ClientFrame`] answered by
//! [`parley::protocol::ServerFrame`]s; see `docs/protocol.md`.
//!
//! The [`Hub`] is this process's switchboard: the [`registry`] of sockets
//! and subscriptions, the [`presence`] book, and one dispatcher task that
//! turns committed changes from the [`backend::Bus`] into frames for exactly
//! the sockets allowed to see them. Fan-out happens here, in the process that
//! committed (or, with Redis, that heard it from another instance), never in a job queue.
//!
//! # Layout
//! - [`hub`]: the shared state, registering sockets, presence, the dispatcher.
//! - `deliver`: one committed event → frames, per audience.
//! - `upgrade`: `GET /ws` and the checks made before a socket opens.
//! - [`limits`]: sockets per user and in all, frames per second.
//! - `shared_presence`: with Redis, presence across instances.
//! - `connection`: one socket's loop (read, answer, forward, close).
//! - `frames`: what each client frame does.
//! - `outgoing`: writing to one socket (batches, writing while a send commits).
//! - `queue`: one socket's bounded queue of outgoing frames.

mod connection;
mod deliver;
mod frames;
pub mod hub;
pub mod limits;
mod outgoing;
pub mod presence;
mod queue;
pub mod registry;
mod shared_presence;
mod upgrade;

pub use hub::Hub;
pub use upgrade::upgrade;
