//! `GET /ws`: everything checked before a socket opens. A refused upgrade
//! is a plain HTTP answer (403 for a foreign `Origin`, 401 without a
//! signed-in session, 503 while shutting down, 429 when the user holds their
//! cap of sockets, 503 when the server holds its cap), so no socket task
//! ever runs for a request that should not have one.

use super::connection;
use super::limits::Refusal;
use crate::http::origin::origin_allowed;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backend::accounts;
use parley::protocol::MAX_FRAME_BYTES;
use tower_sessions::Session;

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
        .is_some_and(|o| origin_allowed(&state.config.origin, o, &headers));
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
    if state.hub.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is restarting.").into_response();
    }
    let seat = match state.hub.admit(user.id) {
        Ok(seat) => seat,
        Err(Refusal::UserFull(cap)) => {
            tracing::warn!(user = %user.id, cap, "websocket refused: too many sockets for this user");
            return (
                StatusCode::TOO_MANY_REQUESTS,
                format!("You have {cap} live connections open already; close a tab and try again."),
            )
                .into_response();
        }
        Err(Refusal::ServerFull(cap)) => {
            tracing::warn!(cap, "websocket refused: the server holds its maximum of sockets");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "The server has too many live connections; try again shortly.",
            )
                .into_response();
        }
    };
    // Remembered by the socket, so that signing out closes it.
    let session_id = session.id().map(|id| id.to_string());
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Idle sockets should cost little: small buffers, grown on demand.
        // tungstenite allocates the read buffer up front at this size and
        // reserves more only for a frame that needs it; 512 bytes hold a
        // heartbeat or a typical frame (a `send` is ~200 bytes), and were
        // 3.5 KiB of every idle socket at 4 KiB (docs/performance.md).
        .read_buffer_size(512)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let hub = state.hub.clone();
            hub.track(connection::run(socket, user, session_id, seat, state))
        })
}
