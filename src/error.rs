//! What kind of failure a refusal is, decided once and spoken the same way
//! on every path: the `kind` of a server function's error (and its HTTP
//! status) and the `code` of a WebSocket `error` frame are the same
//! [`ErrorKind`], so a conflict is a conflict over HTTP and on the socket
//! alike. The server decides the kind (`backend::ServiceError::kind`); the
//! browser and other clients act on it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why something was refused. Spelled in snake_case on the wire
/// (`"not_found"`); see `docs/protocol.md` for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The socket received something that is not JSON, or not a frame this
    /// server knows.
    BadFrame,
    /// The frame exceeded [`crate::protocol::MAX_FRAME_BYTES`].
    TooLarge,
    /// A field's value is not acceptable (the message says which).
    Invalid,
    /// Not signed in.
    Unauthorized,
    /// Signed in, but the role may not do this.
    Forbidden,
    /// No such thing — or not one this user may see (the two are not told apart).
    NotFound,
    /// The current state does not allow this (an illegal status move, an
    /// assignment that changes nothing, demoting yourself).
    Conflict,
    /// The conversation is closed for good: start a new one.
    Closed,
    /// Too many requests; wait `retry_after_ms`.
    RateLimited,
    /// The server is too busy to take this now (e.g. too many sign-ins at
    /// once); nothing was done, try again after `retry_after_ms`.
    Busy,
    /// The request never reached the server or its answer was unreadable.
    /// Made by the browser; the server never sends it.
    Network,
    /// Something failed on the server; nothing was stored.
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::BadFrame,
        ErrorKind::TooLarge,
        ErrorKind::Invalid,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Closed,
        ErrorKind::RateLimited,
        ErrorKind::Busy,
        ErrorKind::Network,
        ErrorKind::Internal,
    ];

    /// The wire spelling (the same as serde's).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadFrame => "bad_frame",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Closed => "closed",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Busy => "busy",
            ErrorKind::Network => "network",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status a server function answers with. (A number, not
    /// `http::StatusCode`: this crate stays free of server dependencies.)
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::BadFrame => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::Closed => 409,
            ErrorKind::TooLarge => 413,
            ErrorKind::Invalid => 422,
            ErrorKind::RateLimited => 429,
            ErrorKind::Busy => 503,
            // `Network` never comes from the server; should one be echoed
            // back, it is still a failure nobody can fix by retrying differently.
            ErrorKind::Network | ErrorKind::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_spelling_is_serdes_and_round_trips() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            let back: ErrorKind = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn each_kind_has_its_status() {
        let statuses: Vec<(ErrorKind, u16)> =
            ErrorKind::ALL.into_iter().map(|k| (k, k.http_status())).collect();
        assert_eq!(
            statuses,
            vec![
                (ErrorKind::BadFrame, 400),
                (ErrorKind::TooLarge, 413),
                (ErrorKind::Invalid, 422),
                (ErrorKind::Unauthorized, 401),
                (ErrorKind::Forbidden, 403),
                (ErrorKind::NotFound, 404),
                (ErrorKind::Conflict, 409),
                (ErrorKind::Closed, 409),
                (ErrorKind::RateLimited, 429),
                (ErrorKind::Busy, 503),
                (ErrorKind::Network, 500),
                (ErrorKind::Internal, 500),
            ]
        );
    }
}
