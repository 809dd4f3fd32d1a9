//! Server-only glue for server functions: reach the [`backend::Backend`] and
//! the session from Leptos context, check who is asking and from where, and
//! turn core errors into [`AppError`]s with the right HTTP status.
//!
//! Every server function is a public endpoint: each one starts with one of
//! [`require_user`], [`require_staff`] or [`require_admin`] — except sign-in
//! and registration, which are limited per [`client_address`] instead.

use crate::error::{AppError, ErrorKind};
use axum::extract::ConnectInfo;
use backend::limits::ClientAddress;
use backend::{accounts, Backend, ServiceError};
use http::header::{HeaderValue, ACCEPT, RETRY_AFTER};
use http::request::Parts;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use parley::model::CurrentUser;
use parley::ConversationId;
use std::net::SocketAddr;
use std::sync::Once;
use tower_sessions::Session;

/// The backend handle the server put into context.
pub fn backend() -> Result<Backend, AppError> {
    use_context::<Backend>().ok_or_else(|| {
        tracing::error!("Backend missing from the Leptos context");
        AppError::new(ErrorKind::Internal, "The server is misconfigured.")
    })
}

/// This request's session (tower-sessions puts it in the request extensions).
pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        tracing::error!(error = ?e, "no session on the request");
        AppError::new(ErrorKind::Internal, "The server is misconfigured.")
    })
}

/// Where this request comes from, for the sign-in and registration limits:
/// the connection's peer address (the server must serve with axum's
/// `ConnectInfo<SocketAddr>` on every request), or, when that peer is a
/// trusted proxy, the client it forwarded for (`X-Forwarded-For`). Without a
/// peer address every request shares one key — the limits still hold, for
/// everyone together — and that is logged once.
pub async fn client_address(backend: &Backend) -> ClientAddress {
    match leptos_axum::extract::<ConnectInfo<SocketAddr>>().await {
        Ok(ConnectInfo(peer)) => {
            let forwarded_for = use_context::<Parts>().and_then(|parts| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
            backend
                .auth_limits
                .client_address(peer.ip(), forwarded_for.as_deref())
        }
        Err(_) => {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "requests carry no peer address (serve with ConnectInfo<SocketAddr>): \
                     sign-in limits count every client as one"
                )
            });
            ClientAddress::Unknown
        }
    }
}

/// Records the error's HTTP status on the response, except for plain HTML
/// form posts (no WASM yet), which must stay a redirect back to the form so
/// the page can show the error. A wait (rate limits, busy) also goes out as
/// `Retry-After`, in whole seconds.
pub fn fail(err: impl Into<AppError>) -> AppError {
    let err = err.into();
    if !is_form_navigation() {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(err.status());
            if let Some(ms) = err.retry_after_ms {
                response.insert_header(RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
            }
        }
    }
    err
}

/// Whether this request is a plain HTML form post (the page has no WASM
/// yet, or never will): it expects a page back, not data.
pub fn is_form_navigation() -> bool {
    use_context::<Parts>()
        .and_then(|parts| {
            parts
                .headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}

/// The session key of a refused plain-form message (see [`keep_draft`]).
const DRAFT_KEY: &str = "composer.draft";

/// A refused plain-form message, kept for the page the browser is sent
/// back to.
#[derive(serde::Serialize, serde::Deserialize)]
struct Draft {
    conversation_id: ConversationId,
    body: String,
}

/// Keeps the text of a refused plain-form post in the session, so the page
/// the browser is sent back to shows it again instead of an empty box (a
/// message too long or sent too fast is not lost). Only the latest is kept.
pub async fn keep_draft(session: &Session, conversation_id: ConversationId, body: &str) {
    // Far beyond any message the server takes; a bound on what a post can
    // make the session store keep.
    const MAX_DRAFT_CHARS: usize = 20_000;
    let draft = Draft {
        conversation_id,
        body: body.chars().take(MAX_DRAFT_CHARS).collect(),
    };
    if let Err(e) = session.insert(DRAFT_KEY, draft).await {
        tracing::warn!(error = %e, "could not keep a refused message's text");
    }
}

/// The refused plain-form text for `conversation_id`, once.
pub async fn take_draft(session: &Session, conversation_id: ConversationId) -> Option<String> {
    let draft: Draft = session.get(DRAFT_KEY).await.ok().flatten()?;
    if draft.conversation_id != conversation_id {
        return None;
    }
    let _ = session.remove_value(DRAFT_KEY).await;
    Some(draft.body)
}

/// Converts a core result, recording the status on failure.
pub fn respond<T>(result: Result<T, ServiceError>) -> Result<T, AppError> {
    result.map_err(fail)
}

/// The signed-in user, or `None` for a guest.
pub async fn current_user() -> Result<Option<CurrentUser>, AppError> {
    let backend = backend()?;
    let session = session().await?;
    respond(accounts::session_user(&backend.db, &session).await)
}

/// A signed-in user (401 otherwise).
pub async fn require_user() -> Result<CurrentUser, AppError> {
    let backend = backend()?;
    let session = session().await?;
    respond(accounts::require_user(&backend.db, &session).await)
}

/// A signed-in agent or admin (401 for guests, 403 for customers).
pub async fn require_staff() -> Result<CurrentUser, AppError> {
    let backend = backend()?;
    let session = session().await?;
    respond(accounts::require_staff(&backend.db, &session).await)
}

/// A signed-in admin (401 for guests, 403 for everyone else).
pub async fn require_admin() -> Result<CurrentUser, AppError> {
    let backend = backend()?;
    let session = session().await?;
    respond(accounts::require_admin(&backend.db, &session).await)
}
