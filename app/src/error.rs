//! `AppError`: what a server function can fail with, as the browser sees it.
//!
//! It travels as JSON (`{"kind":"forbidden","message":"…","field":null}`) and
//! always carries a sentence the user can read; on the server it is made from
//! [`backend::ServiceError`], whose [`kind`](backend::ServiceError::kind)
//! decides the HTTP status for direct API callers (401, 403, 404, 409, 422,
//! 429, 500, 503: [`ErrorKind::http_status`]). Internal causes are logged there,
//! in the request's span, and never shown.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The kind is the domain's: the same one a socket's `error` frame carries.
pub use parley::ErrorKind;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    /// The form field the message is about, for validation errors.
    pub field: Option<String>,
    /// For `rate_limited` and `busy`: how long to wait before trying again
    /// (also sent as the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            field: None,
            retry_after_ms: None,
        }
    }

    /// The message if it is about `field` (to show next to that input).
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }

    /// The message if it is about no particular field (to show above the form).
    pub fn general(&self) -> Option<String> {
        self.field.is_none().then(|| self.message.clone())
    }

    #[cfg(feature = "ssr")]
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.kind.http_status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => AppError::new(
                ErrorKind::Network,
                "Could not reach Parley. Check your connection and try again.",
            ),
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => {
                AppError::new(ErrorKind::Invalid, format!("The request was malformed: {e}"))
            }
            other => AppError::new(ErrorKind::Internal, format!("Something went wrong: {other}")),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<backend::ServiceError> for AppError {
    fn from(err: backend::ServiceError) -> Self {
        err.log_cause("server function");
        AppError {
            kind: err.kind(),
            message: err.public_message(),
            field: err.field().map(str::to_owned),
            retry_after_ms: err.retry_after_ms(),
        }
    }
}
