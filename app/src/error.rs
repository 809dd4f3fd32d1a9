//! `AppError`: what a server function can fail with, as the browser sees it.
//!
//! It travels as JSON (`{"kind":"forbidden","message":"…","field":null}`) and
//! always carries a sentence the user can read; on the server it is made from
//! [`backend::ServiceError`], logging internal causes and setting the HTTP
//! status (401, 403, 404, 409, 422, 429, 500) for direct API callers.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not signed in (401).
    Unauthorized,
    /// Signed in with a role that may not do this (403).
    Forbidden,
    /// No such thing, or not yours (404).
    NotFound,
    /// A field's value is not acceptable (422); `field` names it.
    Invalid,
    /// The current state does not allow this (409).
    Conflict,
    /// Too many requests (429).
    RateLimited,
    /// The request never reached the server or its answer was unreadable.
    Network,
    /// Our fault (500); nothing was saved.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
    /// The form field the message is about, for validation errors.
    pub field: Option<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            field: None,
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
        use http::StatusCode;
        match self.kind {
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Network | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
        use backend::ServiceError as S;
        let kind = match &err {
            S::Validation(_) => ErrorKind::Invalid,
            S::Unauthorized => ErrorKind::Unauthorized,
            S::Forbidden(_) => ErrorKind::Forbidden,
            S::NotFound(_) => ErrorKind::NotFound,
            S::Lifecycle(_) | S::Conflict(_) => ErrorKind::Conflict,
            S::RateLimited { .. } => ErrorKind::RateLimited,
            S::Database(_) | S::Internal(_) => ErrorKind::Internal,
        };
        if err.is_internal() {
            tracing::error!(error = %err, "server function failed");
        }
        AppError {
            kind,
            message: err.public_message(),
            field: err.field().map(str::to_owned),
        }
    }
}
