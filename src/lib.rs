//! # Parley's domain
//!
//! The pure core shared by every other crate, compiled for the server and for
//! the browser (WASM) alike. Nothing here does I/O or knows a framework: it is
//! the vocabulary the rest of the system speaks.
//!
//! # Layout
//! - [`error`]: [`ErrorKind`], why something was refused: one kind for HTTP and the socket.
//! - [`ids`]: typed ids (`UserId`, `ConversationId`, …) so one cannot be passed for another.
//! - [`role`]: customer / agent / admin and what each may do.
//! - [`lifecycle`]: the conversation status machine (`open → active → resolved → closed`).
//! - [`validate`]: parse-don't-validate newtypes for everything a user types.
//! - [`text`]: text that hides itself (direction overrides, only invisible characters, controls).
//! - [`model`]: the data shapes that cross the wire (server functions and frames).
//! - [`protocol`]: the WebSocket frames, [`protocol::ClientFrame`] and [`protocol::ServerFrame`].
//! - [`time`]: millisecond timestamps and their human rendering.

pub mod error;
pub mod ids;
pub mod lifecycle;
pub mod model;
pub mod protocol;
pub mod role;
pub mod text;
pub mod time;
pub mod validate;

pub use error::ErrorKind;
pub use ids::{CannedResponseId, ClientId, ConversationId, MessageId, Seq, UserId};
pub use lifecycle::{Availability, ConversationStatus, LifecycleError};
pub use role::Role;
pub use time::Timestamp;
pub use validate::ValidationError;
