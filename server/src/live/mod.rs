//! The live socket at `/ws`: one per browser tab.
//!
//! The upgrade is refused (no socket is opened) without an allowed `Origin`
//! (403) or without a signed-in session (401). After it, every frame is a
//! [`parley::protocol::ClientFrame`] answered by
//! [`parley::protocol::ServerFrame`]s; see `docs/protocol.md`.

mod connection;

use crate::http::origin::origin_allowed;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backend::accounts;
use parley::protocol::MAX_FRAME_BYTES;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_sessions::Session;

/// Shared state of all live sockets.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// How often clients must show signs of life; announced in `hello`.
    heartbeat: Duration,
    /// Open sockets, for metrics and tests.
    open_sockets: AtomicUsize,
    /// Flips to `true` when the server shuts down: upgraded sockets are not
    /// HTTP requests, so graceful shutdown would not wait for (or end) them;
    /// each one watches this and closes with 1012 ("service restart").
    shutting_down: watch::Sender<bool>,
}

impl Hub {
    pub fn new(heartbeat: Duration) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                heartbeat,
                open_sockets: AtomicUsize::new(0),
                shutting_down: watch::Sender::new(false),
            }),
        }
    }

    /// Asks every open socket to close; new ones are refused from now on.
    pub fn shut_down(&self) {
        self.inner.shutting_down.send_replace(true);
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutting_down.subscribe()
    }

    pub fn heartbeat(&self) -> Duration {
        self.inner.heartbeat
    }

    pub fn open_sockets(&self) -> usize {
        self.inner.open_sockets.load(Ordering::Relaxed)
    }
}

/// `GET /ws`.
pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| origin_allowed(state.config.allowed_origin.as_deref(), o, &headers));
    if !origin_ok {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "websocket refused: origin");
        return (
            StatusCode::FORBIDDEN,
            "This origin may not open a live connection.",
        )
            .into_response();
    }
    let user = match accounts::session_user(&state.backend.db, &session).await {
        Ok(Some(user)) => user,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "Please sign in first.").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "websocket refused: session lookup failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Please try again.").into_response();
        }
    };
    let hub = state.hub.clone();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            hub.inner.open_sockets.fetch_add(1, Ordering::Relaxed);
            connection::run(socket, user, state).await;
            hub.inner.open_sockets.fetch_sub(1, Ordering::Relaxed);
        })
}
