//! One socket's life: greet, answer frames, notice silence, close cleanly.
//!
//! Malformed or unknown frames are answered with an `error` frame and the
//! socket stays up; a client that sends only garbage (too many bad frames in
//! a row) is disconnected with close code 1008, an oversized frame with 1009.

use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use parley::model::CurrentUser;
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use std::time::Duration;
use tokio::time::Instant;

/// Bad frames in a row before the socket is closed.
const MAX_BAD_FRAMES_IN_A_ROW: u32 = 10;

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_RESTART: u16 = 1012;

pub async fn run(socket: WebSocket, user: CurrentUser, state: AppState) {
    let heartbeat = state.hub.heartbeat();
    // A client is dead after missing more than two heartbeats.
    let silence_limit = heartbeat * 5 / 2;
    let (mut sink, mut stream) = socket.split();
    let span = tracing::info_span!("socket", user = %user.id);
    let _enter = span.enter();
    tracing::debug!("socket open");

    let hello = ServerFrame::Hello {
        user: user.clone(),
        heartbeat_ms: u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX),
    };
    if sink.send(Message::Text(hello.to_json().into())).await.is_err() {
        return;
    }

    let mut bad_in_a_row = 0u32;
    let mut last_heard = Instant::now();
    let mut shutting_down = state.hub.shutdown_signal();
    let close = loop {
        let deadline = last_heard + silence_limit;
        let incoming = tokio::select! {
            incoming = stream.next() => incoming,
            _ = shutting_down.wait_for(|stop| *stop) => {
                break Some((CLOSE_RESTART, "server restarting"));
            }
            () = tokio::time::sleep_until(deadline) => {
                tracing::debug!("socket silent too long");
                break Some((CLOSE_GOING_AWAY, "no heartbeat"));
            }
        };
        let text = match incoming {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                last_heard = Instant::now();
                bad_in_a_row += 1;
                let err = ServerFrame::error(ErrorCode::BadFrame, "Frames are JSON text, not binary.");
                if sink.send(Message::Text(err.to_json().into())).await.is_err() {
                    break None;
                }
                if bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
                    break Some((CLOSE_POLICY, "too many bad frames"));
                }
                continue;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                last_heard = Instant::now();
                continue;
            }
            Some(Ok(Message::Close(_))) | None => break None,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "socket read failed");
                break is_capacity_error(e).then_some((CLOSE_TOO_BIG, "frame too large"));
            }
        };
        last_heard = Instant::now();
        let reply = match serde_json::from_str::<ClientFrame>(text.as_str()) {
            Ok(frame) => {
                bad_in_a_row = 0;
                handle(frame)
            }
            Err(e) => {
                bad_in_a_row += 1;
                ServerFrame::error(
                    ErrorCode::BadFrame,
                    format!("Not a frame this server understands: {e}"),
                )
            }
        };
        if sink.send(Message::Text(reply.to_json().into())).await.is_err() {
            break None;
        }
        if bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
            break Some((CLOSE_POLICY, "too many bad frames"));
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
    }
    tracing::debug!("socket closed");
}

fn handle(frame: ClientFrame) -> ServerFrame {
    match frame {
        ClientFrame::Ping => ServerFrame::Pong,
        _ => ServerFrame::error(ErrorCode::BadFrame, "Not supported yet."),
    }
}

/// Whether the read failed because a message or frame exceeded the limit.
fn is_capacity_error(err: axum::Error) -> bool {
    err.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}
