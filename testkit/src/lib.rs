//! The one kit for driving Parley from outside, the way a browser does: the
//! integration tests (`server/tests/api`), the fan-out bench
//! (`server/benches/fanout.rs`) and the load generator (`loadgen/`) all sign
//! in, call server functions and talk over `/ws` through it, so a change to
//! the wire (a cookie, a header, a frame) is made here once.
//!
//! # Layout
//! - [`http`]: [`Client`], one browser-like identity: its own cookie jar, the
//!   `Origin` header, typed calls (`login`, `register`, `start_conversation`)
//!   and the raw server-function call tests use to check statuses.
//! - [`socket`]: opening `/ws` with that identity's cookie and `Origin`,
//!   reading [`ServerFrame`]s and writing [`ClientFrame`]s, waiting for a frame
//!   with a time limit; plus the panicking shorthands tests read best with
//!   (`live`, `next_frame`, `expect_frame`, …).
//! - `spawn` (feature `spawn`, which links the `server` crate): [`spawn_app`]
//!   and [`TestApp`]: the real server in this process on `127.0.0.1:0` with a
//!   fresh SQLite file, stopped, restarted on the same port, or dropped.
//!
//! Fallible functions return [`Error`], whose messages name what was being
//! done; the load generator reports them. Tests use the shorthands, which
//! panic with the same messages.
//!
//! [`ServerFrame`]: parley::protocol::ServerFrame
//! [`ClientFrame`]: parley::protocol::ClientFrame

pub mod http;
pub mod socket;
#[cfg(feature = "spawn")]
mod spawn;

pub use http::{Answer, Client, SESSION_COOKIE};
pub use socket::{
    closed_with, expect_frame, expect_no_frame, live, next_frame, read_frame, send_frame, send_text,
    wait_for, write_frame, Opened, Socket,
};
#[cfg(feature = "spawn")]
pub use spawn::{
    fresh_namespace, spawn_app, spawn_app_with, spawn_instances, test_redis_url, TestApp, PASSWORD,
};

use parley::protocol::ServerFrame;
use reqwest::StatusCode;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// What can go wrong talking to a server. Each message says what was being
/// done, so it can be printed as it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad base URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("http client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: reading the body: {source}")]
    Body {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: StatusCode,
        body: String,
    },
    #[error("{what}: unexpected answer ({source}): {body}")]
    Answer {
        what: String,
        body: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: no {SESSION_COOKIE} cookie in the answer")]
    NoSession { what: String },
    #[error("websocket upgrade: {0}")]
    Upgrade(#[source] tungstenite::Error),
    #[error("socket write: {0}")]
    Write(#[source] tungstenite::Error),
    #[error("socket read: {0}")]
    Read(#[source] tungstenite::Error),
    #[error("bad frame {text}: {source}")]
    BadFrame {
        text: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("unexpected binary frame")]
    Binary,
    #[error("closed by the server: {0:?}")]
    Closed(Option<tungstenite::protocol::CloseFrame>),
    #[error("socket ended")]
    Ended,
    #[error("no {what} within {} s", .limit.as_secs_f64())]
    Timeout { what: String, limit: Duration },
    #[error("expected {expected}, got {got:?}")]
    Unexpected {
        expected: &'static str,
        got: Box<ServerFrame>,
    },
}

/// The load generator reports failures as sentences: `?` turns a kit error
/// into one.
impl From<Error> for String {
    fn from(error: Error) -> String {
        error.to_string()
    }
}
