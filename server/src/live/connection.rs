//! One socket's life: greet, answer frames, forward what the hub queues for
//! it, notice silence, close cleanly.
//!
//! Frames from one socket are handled one at a time, in order, so messages a
//! client sends (say, the ones typed while offline) are stored in the order
//! they were sent; while a send is being committed, what the hub queues for
//! the socket keeps being written. Every frame is authorized here: subscribing, typing and
//! reading in a conversation the user may not see gets an `error` frame and
//! no data. Malformed or unknown frames get an `error` frame and the socket
//! stays up; a client that sends only garbage (too many bad frames in a row)
//! is disconnected with close code 1008, an oversized frame with 1009, a
//! client too slow to read its frames with 1013.

use super::registry::{encode, Outgoing, SocketId, SubscribeError};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use backend::bus::Event;
use backend::conversations::{self, Audience};
use backend::ServiceError;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use parley::model::{CurrentUser, PersonRef};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{ClientId, ConversationId, Seq, UserId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bad frames in a row before the socket is closed.
const MAX_BAD_FRAMES_IN_A_ROW: u32 = 10;
/// Messages replayed per query when a client catches up.
const REPLAY_PAGE: i64 = 500;
/// Typing frames from one socket for one conversation are relayed at most this often.
const TYPING_RELAY_INTERVAL: Duration = Duration::from_millis(1_000);
/// Frames written before one flush when the queue has many waiting.
const WRITE_BATCH: usize = 64;

/// Close codes (RFC 6455 §7.4.1).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_RESTART: u16 = 1012;
const CLOSE_TRY_LATER: u16 = 1013;

type Sink = SplitSink<WebSocket, Message>;

/// What one socket remembers between frames.
struct Socket {
    user: CurrentUser,
    person: PersonRef,
    id: SocketId,
    state: AppState,
    /// Conversations this socket subscribed to, with their customer.
    subscribed: HashMap<ConversationId, UserId>,
    /// When this socket last relayed `typing` per conversation.
    last_typing: HashMap<ConversationId, Instant>,
}

pub async fn run(socket: WebSocket, user: CurrentUser, state: AppState) {
    let person = PersonRef {
        id: user.id,
        name: user.name.clone(),
        role: user.role,
    };
    let availability = if user.role.is_staff() {
        match backend::presence::availability_of(&state.backend.db, user.id).await {
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
    let (registration, queue) = hub.register(&person, availability);
    let span = tracing::info_span!("socket", user = %user.id, socket = registration.id);
    let _enter = span.enter();
    tracing::debug!("socket open");
    let mut this = Socket {
        user,
        person,
        id: registration.id,
        state,
        subscribed: HashMap::new(),
        last_typing: HashMap::new(),
    };
    let close = this.serve(socket, queue).await;
    drop(registration);
    tracing::debug!(?close, "socket closed");
}

impl Socket {
    /// The socket's loop; returns the close code it ended with, if any.
    async fn serve(&mut self, socket: WebSocket, mut queue: mpsc::Receiver<Outgoing>) -> Option<u16> {
        let hub = self.state.hub.clone();
        let heartbeat = hub.heartbeat();
        // A client is dead after missing more than two heartbeats.
        let silence_limit = heartbeat * 5 / 2;
        let (mut sink, mut stream) = socket.split();

        let hello = ServerFrame::Hello {
            user: self.user.clone(),
            heartbeat_ms: u64::try_from(heartbeat.as_millis()).unwrap_or(u64::MAX),
        };
        if send(&mut sink, &hello).await.is_err()
            || send(&mut sink, &hub.presence_frame(self.user.role.is_staff()))
                .await
                .is_err()
        {
            return None;
        }

        let mut bad_in_a_row = 0u32;
        let mut last_heard = Instant::now();
        let mut shutting_down = hub.shutdown_signal();
        let close = loop {
            let deadline = last_heard + silence_limit;
            let incoming = tokio::select! {
                incoming = stream.next() => incoming,
                queued = queue.recv() => {
                    let Some(frame) = queued else {
                        break Some((CLOSE_TRY_LATER, "too slow to read; reconnect"));
                    };
                    if write_batch(&mut sink, frame, &mut queue).await.is_err() {
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
            let text = match incoming {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    bad_in_a_row += 1;
                    let err = ServerFrame::error(ErrorCode::BadFrame, "Frames are JSON text, not binary.");
                    if send(&mut sink, &err).await.is_err() {
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
            let result = match serde_json::from_str::<ClientFrame>(text.as_str()) {
                Ok(frame) => {
                    bad_in_a_row = 0;
                    self.handle(frame, &mut sink, &mut queue).await
                }
                Err(e) => {
                    bad_in_a_row += 1;
                    let err = ServerFrame::error(
                        ErrorCode::BadFrame,
                        format!("Not a frame this server understands: {e}"),
                    );
                    send(&mut sink, &err).await.map_err(|_| Stop::Broken)
                }
            };
            match result {
                Ok(()) => {}
                Err(Stop::Broken) => break None,
                Err(Stop::TooSlow) => break Some((CLOSE_TRY_LATER, "too slow to read; reconnect")),
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
            let _ =
                tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
        }
        close.map(|(code, _)| code)
    }

    /// Answers one frame. `Err` only when the socket must stop.
    async fn handle(
        &mut self,
        frame: ClientFrame,
        sink: &mut Sink,
        queue: &mut mpsc::Receiver<Outgoing>,
    ) -> Result<(), Stop> {
        let written = match frame {
            ClientFrame::Ping => send(sink, &ServerFrame::Pong).await,
            ClientFrame::Subscribe {
                conversation_id,
                after,
            } => self.subscribe(conversation_id, after, sink).await,
            ClientFrame::Unsubscribe { conversation_id } => {
                self.subscribed.remove(&conversation_id);
                self.state.hub.unsubscribe(self.id, conversation_id);
                Ok(())
            }
            ClientFrame::Send {
                conversation_id,
                client_id,
                body,
                note,
            } => {
                let storing = self.send_message(conversation_id, &client_id, &body, note);
                let reply = while_writing(storing, sink, queue).await?;
                send(sink, &reply).await
            }
            ClientFrame::Typing { conversation_id } => match self.typing(conversation_id).await {
                Ok(()) => Ok(()),
                Err(e) => send(sink, &error_frame(&e, None, Some(conversation_id))).await,
            },
            ClientFrame::Read {
                conversation_id,
                up_to,
            } => {
                match conversations::mark_read(&self.state.backend, &self.user, conversation_id, up_to).await
                {
                    Ok(_) => Ok(()),
                    Err(e) => send(sink, &error_frame(&e, None, Some(conversation_id))).await,
                }
            }
            ClientFrame::WatchInbox { on } => {
                if self.user.role.is_staff() {
                    self.state.hub.watch_inbox(self.id, on);
                    Ok(())
                } else {
                    let err =
                        ServerFrame::error(ErrorCode::Forbidden, "Only the support team watches the inbox.");
                    send(sink, &err).await
                }
            }
        };
        written.map_err(|_| Stop::Broken)
    }

    /// Checks access, joins the conversation's topic, replays what the
    /// client missed, then says `subscribed`. Joining first means nothing
    /// committed meanwhile can fall between the replay and the live stream
    /// (at worst a message arrives twice; clients keep each seq once).
    async fn subscribe(
        &mut self,
        conversation: ConversationId,
        after: Seq,
        sink: &mut Sink,
    ) -> Result<(), axum::Error> {
        let customer =
            match conversations::authorize_view(&self.state.backend.db, &self.user, conversation).await {
                Ok(customer) => customer,
                Err(e) => return send(sink, &error_frame(&e, None, Some(conversation))).await,
            };
        match self.state.hub.subscribe(self.id, conversation) {
            Ok(()) => {}
            Err(SubscribeError::TooMany) => {
                let err = ServerFrame::Error {
                    code: ErrorCode::Invalid,
                    message: "Too many conversations open on this connection; unsubscribe from some first."
                        .into(),
                    client_id: None,
                    conversation_id: Some(conversation),
                    retry_after_ms: None,
                };
                return send(sink, &err).await;
            }
            Err(SubscribeError::Gone) => return Ok(()),
        }
        self.subscribed.insert(conversation, customer);
        let audience = Audience::of(&self.user);
        let mut last_seq = after;
        loop {
            let page = match conversations::replay(
                &self.state.backend.db,
                audience,
                conversation,
                last_seq,
                REPLAY_PAGE,
            )
            .await
            {
                Ok(page) => page,
                Err(e) => return send(sink, &error_frame(&e, None, Some(conversation))).await,
            };
            let full = page.len() as i64 == REPLAY_PAGE;
            for message in page {
                last_seq = message.seq;
                sink.feed(Message::Text(encode(&ServerFrame::Message { message })))
                    .await?;
            }
            if !full {
                break;
            }
        }
        send(
            sink,
            &ServerFrame::Subscribed {
                conversation_id: conversation,
                last_seq,
            },
        )
        .await
    }

    async fn send_message(
        &self,
        conversation: ConversationId,
        client_id: &str,
        body: &str,
        note: bool,
    ) -> ServerFrame {
        let client_id_parsed = match ClientId::parse(client_id) {
            Ok(id) => id,
            Err(e) => {
                return error_frame(&ServiceError::Validation(e), Some(client_id), Some(conversation));
            }
        };
        match conversations::send(
            &self.state.backend,
            &self.user,
            conversation,
            body,
            Some(&client_id_parsed),
            note,
        )
        .await
        {
            // Sent only now: the row is committed.
            Ok(sent) => ServerFrame::Ack {
                client_id: client_id.to_owned(),
                message: sent.message,
            },
            Err(e) => error_frame(&e, Some(client_id), Some(conversation)),
        }
    }

    async fn typing(&mut self, conversation: ConversationId) -> Result<(), ServiceError> {
        let customer_id = match self.subscribed.get(&conversation) {
            Some(customer) => *customer,
            None => conversations::authorize_view(&self.state.backend.db, &self.user, conversation).await?,
        };
        let now = Instant::now();
        if let Some(last) = self.last_typing.get(&conversation) {
            if now.duration_since(*last) < TYPING_RELAY_INTERVAL {
                return Ok(());
            }
        }
        self.last_typing.insert(conversation, now);
        self.state.backend.bus.publish(Event::Typing {
            conversation_id: conversation,
            customer_id,
            user: self.person.clone(),
        });
        Ok(())
    }
}

/// Completes when the server starts shutting down.
async fn stopped(signal: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send).
    let _ = signal.wait_for(|stop| *stop).await.map(|_| ());
}

async fn send(sink: &mut Sink, frame: &ServerFrame) -> Result<(), axum::Error> {
    sink.send(Message::Text(frame.to_json().into())).await
}

/// Writes a queued frame and whatever else is already waiting, then flushes once.
/// Why a socket's loop must end while it answers a frame.
enum Stop {
    /// The socket can no longer be written.
    Broken,
    /// The hub dropped this socket for not reading its frames.
    TooSlow,
}

/// Awaits `work` (a message being stored) while still writing what the hub
/// queues for this socket, so messages for it do not wait behind its own
/// send's commit. The work always runs to the end: a message committed must
/// also be announced, whatever happens to this socket meanwhile.
async fn while_writing<T>(
    work: impl std::future::Future<Output = T>,
    sink: &mut Sink,
    queue: &mut mpsc::Receiver<Outgoing>,
) -> Result<T, Stop> {
    tokio::pin!(work);
    loop {
        let stop = tokio::select! {
            biased;
            done = &mut work => return Ok(done),
            queued = queue.recv() => match queued {
                Some(frame) => match write_batch(sink, frame, queue).await {
                    Ok(()) => continue,
                    Err(_) => Stop::Broken,
                },
                None => Stop::TooSlow,
            },
        };
        (&mut work).await;
        return Err(stop);
    }
}

async fn write_batch(
    sink: &mut Sink,
    first: Outgoing,
    queue: &mut mpsc::Receiver<Outgoing>,
) -> Result<(), axum::Error> {
    sink.feed(Message::Text(first)).await?;
    for _ in 1..WRITE_BATCH {
        match queue.try_recv() {
            Ok(frame) => sink.feed(Message::Text(frame)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

/// A core error as an `error` frame: a code a program can act on and a
/// sentence a person can read. The code is the error's kind, the same one
/// that decides a server function's HTTP status.
fn error_frame(
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
