//! One socket's life: greet, answer frames, forward what the hub queues for
//! it, notice silence, close cleanly.
//!
//! Frames from one socket are handled one at a time, in order, so messages a
//! client sends (say, the ones typed while offline) are stored in the order
//! they were sent; while a send is being committed, what the hub queues for
//! the socket keeps being written. What each frame does is in `frames`
//! (every one authorized there). Malformed or unknown frames get an `error`
//! frame and the socket stays up; a client that sends only garbage (too many bad frames in a row)
//! is disconnected with close code 1008, an oversized frame with 1009, a
//! client too slow to read its frames with 1013. A socket whose session
//! ended is closed with 4001, one whose user's role changed with 4003.

use super::limits::{FrameRate, Seat};
use super::outgoing::{stopped, Stop, Writer};
use super::queue;
use super::registry::{Outgoing, Revoked, SocketId};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket};
use backend::ServiceError;
use futures::StreamExt;
use parley::model::{CurrentUser, PersonRef};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{ConversationId, UserId};
use std::collections::HashMap;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Bad frames in a row before the socket is closed.
const MAX_BAD_FRAMES_IN_A_ROW: u32 = 10;

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_RESTART: u16 = 1012;
const CLOSE_TRY_LATER: u16 = 1013;
/// Parley's own (4000–4999, RFC 6455 §7.4.2): the session this socket was
/// opened with has ended (sign-out). Reconnecting gets 401.
const CLOSE_SESSION_ENDED: u16 = 4001;
/// The user's role changed: reconnect, and `hello` carries the new one.
const CLOSE_ACCESS_CHANGED: u16 = 4003;

/// What one socket remembers between frames.
pub(super) struct Socket {
    pub(super) user: CurrentUser,
    pub(super) person: PersonRef,
    pub(super) id: SocketId,
    pub(super) state: AppState,
    /// Conversations this socket subscribed to, with their customer.
    pub(super) subscribed: HashMap<ConversationId, UserId>,
    /// When this socket last relayed `typing` per conversation.
    pub(super) last_typing: HashMap<ConversationId, Instant>,
}

/// The whole life of one socket, in its own span: `#[instrument]` enters
/// the span each time the task is polled and leaves it when the task parks,
/// so nothing else that runs on the thread meanwhile logs inside it.
#[tracing::instrument(name = "socket", skip_all, fields(user = %user.id, socket = tracing::field::Empty))]
pub(super) async fn run(
    socket: WebSocket,
    user: CurrentUser,
    session: Option<String>,
    seat: Seat,
    state: AppState,
) {
    let person = PersonRef {
        id: user.id,
        name: user.name.clone(),
        role: user.role,
    };
    let availability = if user.role.is_staff() {
        // Boxed, like the frame handlers: a database call's future is large,
        // and this one runs once, before the socket starts idling.
        match Box::pin(backend::presence::availability_of(&state.backend.db, user.id)).await {
            Ok(availability) => Some(availability),
            Err(e) => {
                tracing::error!(error = %e, "could not read availability");
                Some(parley::Availability::Offline)
            }
        }
    } else {
        None
    };
    let hub = state.hub.clone();
    let (registration, queue, revoked) = hub.register(&person, session, availability);
    tracing::Span::current().record("socket", registration.id);
    tracing::debug!("socket open");
    let mut this = Socket {
        user,
        person,
        id: registration.id,
        state,
        subscribed: HashMap::new(),
        last_typing: HashMap::new(),
    };
    let close = this.serve(socket, queue, revoked).await;
    drop(registration);
    drop(seat);
    tracing::debug!(?close, "socket closed");
}

impl Socket {
    /// The socket's loop; returns the close code it ended with, if any.
    async fn serve(
        &mut self,
        socket: WebSocket,
        mut queue: queue::Receiver<Outgoing>,
        mut revoked: oneshot::Receiver<Revoked>,
    ) -> Option<u16> {
        let hub = self.state.hub.clone();
        let heartbeat = hub.heartbeat();
        // A client is dead after missing more than two heartbeats.
        let silence_limit = heartbeat * 5 / 2;
        let (sink, mut stream) = socket.split();
        let mut writer = Writer::new(sink, hub.limits().write_timeout);
        let rate = FrameRate::new(hub.limits());

        let hello = ServerFrame::Hello {
            user: self.user.clone(),
            heartbeat_ms: u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX),
        };
        if writer.send(&hello).await.is_err()
            || writer
                .send(&hub.presence_frame(self.user.role.is_staff()))
                .await
                .is_err()
        {
            return None;
        }

        let mut bad_in_a_row = 0u32;
        let mut last_heard = Instant::now();
        // Set while the last frame is not paid for (over the frame rate):
        // nothing more is read from the socket until then.
        let mut read_again_at: Option<Instant> = None;
        let mut shutting_down = hub.shutdown_signal();
        let close = loop {
            let deadline = last_heard + silence_limit;
            let incoming = tokio::select! {
                incoming = stream.next(), if read_again_at.is_none() => incoming,
                () = sleep_until_some(read_again_at), if read_again_at.is_some() => {
                    // Pay for the frame that went over the rate, then read on.
                    read_again_at = rate.pay().map(|wait| Instant::now() + wait);
                    // It was sending, not silent, while it waited.
                    last_heard = Instant::now();
                    continue;
                }
                queued = queue.recv() => {
                    let Some(frame) = queued else {
                        break Some(dropped_because(&mut revoked));
                    };
                    if writer.write_batch(frame, &mut queue).await.is_err() {
                        break None;
                    }
                    continue;
                }
                () = stopped(&mut shutting_down) => {
                    break Some((CLOSE_RESTART, "server restarting"));
                }
                () = tokio::time::sleep_until(deadline) => {
                    tracing::debug!("socket silent too long");
                    break Some((CLOSE_GOING_AWAY, "no heartbeat"));
                }
            };
            last_heard = Instant::now();
            read_again_at = rate.pay().map(|wait| last_heard + wait);
            let text = match incoming {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    bad_in_a_row += 1;
                    let err = ServerFrame::error(ErrorCode::BadFrame, "Frames are JSON text, not binary.");
                    if writer.send(&err).await.is_err() {
                        break None;
                    }
                    if bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
                        break Some((CLOSE_POLICY, "too many bad frames"));
                    }
                    continue;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "socket read failed");
                    break is_capacity_error(e).then_some((CLOSE_TOO_BIG, "frame too large"));
                }
            };
            // Revoked meanwhile (a sign-out, a role change)? Then this frame
            // would be handled with a permission that has ended.
            if let Ok(why) = revoked.try_recv() {
                break Some(close_for(why));
            }
            let result = match serde_json::from_str::<ClientFrame>(text.as_str()) {
                // The heartbeat, what an idle socket mostly sends: answered here.
                Ok(ClientFrame::Ping) => {
                    bad_in_a_row = 0;
                    writer.send(&ServerFrame::Pong).await.map_err(Stop::from)
                }
                Ok(frame) => {
                    bad_in_a_row = 0;
                    // Boxed: the handlers' futures (database calls, replay)
                    // are several KiB, and held inline they would make every
                    // socket's task that large while it idles.
                    Box::pin(self.handle(frame, &mut writer, &mut queue)).await
                }
                Err(e) => {
                    bad_in_a_row += 1;
                    let err = ServerFrame::error(
                        ErrorCode::BadFrame,
                        format!("Not a frame this server understands: {e}"),
                    );
                    writer.send(&err).await.map_err(Stop::from)
                }
            };
            match result {
                Ok(()) => {}
                Err(Stop::Broken) => break None,
                Err(Stop::Dropped) => break Some(dropped_because(&mut revoked)),
            }
            if bad_in_a_row >= MAX_BAD_FRAMES_IN_A_ROW {
                break Some((CLOSE_POLICY, "too many bad frames"));
            }
        };
        if let Some((code, reason)) = close {
            writer.close(code, reason).await;
        }
        close.map(|(code, _)| code)
    }
}

/// The close code and reason for a socket the hub dropped: it was revoked,
/// or else it stopped reading.
fn dropped_because(revoked: &mut oneshot::Receiver<Revoked>) -> (u16, &'static str) {
    match revoked.try_recv() {
        Ok(why) => close_for(why),
        Err(_) => (CLOSE_TRY_LATER, "too slow to read; reconnect"),
    }
}

fn close_for(why: Revoked) -> (u16, &'static str) {
    match why {
        Revoked::SessionEnded => (CLOSE_SESSION_ENDED, "signed out"),
        Revoked::AccessChanged => (CLOSE_ACCESS_CHANGED, "your access changed; reconnect"),
    }
}

/// Completes at `at`; never, for `None` (its select branch is disabled then).
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A core error as an `error` frame: a code a program can act on and a
/// sentence a person can read. The code is the error's kind, the same one
/// that decides a server function's HTTP status.
pub(super) fn error_frame(
    err: &ServiceError,
    client_id: Option<&str>,
    conversation: Option<ConversationId>,
) -> ServerFrame {
    err.log_cause("socket action");
    ServerFrame::Error {
        code: err.kind(),
        message: err.public_message(),
        client_id: client_id.map(str::to_owned),
        conversation_id: conversation,
        retry_after_ms: err.retry_after_ms(),
    }
}

/// Whether the read failed because a message or frame exceeded the limit.
fn is_capacity_error(err: axum::Error) -> bool {
    err.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}
