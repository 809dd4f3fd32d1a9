//! The live socket at `/ws`: one per browser tab.
//!
//! The upgrade is refused (no socket is opened) without an allowed `Origin`
//! (403) or without a signed-in session (401). After it, every frame is a
//! [`parley::protocol::ClientFrame`] answered by
//! [`parley::protocol::ServerFrame`]s; see `docs/protocol.md`.
//!
//! The [`Hub`] is this process's switchboard: the [`registry`] of sockets
//! and subscriptions, the [`presence`] book, and one dispatcher task that
//! turns committed changes from the [`backend::Bus`] into frames for exactly
//! the sockets allowed to see them. Fan-out happens here, in the process that
//! committed (or, later, heard from another instance), never in a job queue.

mod connection;
pub mod presence;
pub mod registry;

use crate::http::origin::origin_allowed;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backend::bus::Event;
use backend::conversations::Audience;
use backend::{accounts, Backend};
use parley::model::PersonRef;
use parley::protocol::{ServerFrame, MAX_FRAME_BYTES};
use parley::{Availability, ConversationId, Seq, UserId};
use presence::{PresenceBook, PresenceSnapshot};
use registry::{encode, Outgoing, Registry, SocketId, SubscribeError, QUEUE_CAPACITY};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::task::TaskTracker;
use tower_sessions::Session;

/// Shared state of all live sockets in this process.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// How often clients must show signs of life; announced in `hello`.
    heartbeat: Duration,
    /// How long a staff member stays online after their last socket closes.
    presence_grace: Duration,
    next_socket: AtomicU64,
    /// Socket tasks still running. Not the registry's count: a socket
    /// dropped for lagging leaves the registry while its task may still be
    /// finishing a send.
    running: TaskTracker,
    /// Sockets and what they follow. An RwLock because every event reads it
    /// and only connects, disconnects and (un)subscribes write it; no await
    /// happens while it is held.
    registry: RwLock<Registry>,
    /// Staff presence. A Mutex: changes are rare and always write.
    presence: Mutex<PresenceBook>,
    /// Flips to `true` when the server shuts down: upgraded sockets are not
    /// HTTP requests, so graceful shutdown would not wait for (or end) them;
    /// each one watches this and closes with 1012 ("service restart").
    shutting_down: watch::Sender<bool>,
}

/// A socket's place in the hub; dropping it unregisters the socket.
pub(crate) struct Registration {
    hub: Hub,
    pub id: SocketId,
    staff: Option<UserId>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.write_registry().remove(self.id);
        if let Some(user) = self.staff {
            self.hub.staff_disconnected(user);
        }
    }
}

impl Hub {
    /// Loads staff availability and starts the dispatcher for `backend`'s bus.
    pub async fn start(backend: Backend, heartbeat: Duration, presence_grace: Duration) -> Hub {
        let staff = match backend::presence::staff_availability(&backend.db).await {
            Ok(staff) => staff.into_iter().map(|s| (s.person, s.availability)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not load staff availability; everyone starts offline");
                Vec::new()
            }
        };
        let events = backend.bus.subscribe();
        let hub = Hub {
            inner: Arc::new(HubInner {
                heartbeat,
                presence_grace,
                next_socket: AtomicU64::new(1),
                running: TaskTracker::new(),
                registry: RwLock::new(Registry::default()),
                presence: Mutex::new(PresenceBook::load(staff)),
                shutting_down: watch::Sender::new(false),
            }),
        };
        tokio::spawn(dispatch(hub.clone(), events));
        hub
    }

    pub fn heartbeat(&self) -> Duration {
        self.inner.heartbeat
    }

    pub fn open_sockets(&self) -> usize {
        self.read_registry().socket_count()
    }

    /// Asks every open socket to close; new ones are refused from now on.
    pub fn shut_down(&self) {
        self.inner.shutting_down.send_replace(true);
    }

    /// Waits (up to `limit`) until every socket task has ended, so that a
    /// message being stored when shutdown began is committed and announced
    /// before the process (or, in tests, the next server) goes on.
    pub async fn drained(&self, limit: Duration) {
        self.inner.running.close();
        if tokio::time::timeout(limit, self.inner.running.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                sockets = self.inner.running.len(),
                "socket tasks still running after the shutdown grace"
            );
        }
    }

    fn is_shutting_down(&self) -> bool {
        *self.inner.shutting_down.borrow()
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutting_down.subscribe()
    }

    fn read_registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way that matters more than stopping live delivery would.
        self.inner
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_registry(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn presence_book(&self) -> std::sync::MutexGuard<'_, PresenceBook> {
        self.inner
            .presence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a socket; its frames arrive on the returned receiver.
    pub(crate) fn register(
        &self,
        user: &PersonRef,
        availability: Option<Availability>,
    ) -> (Registration, mpsc::Receiver<Outgoing>) {
        let id = self.inner.next_socket.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        self.write_registry().add(id, user.id, user.role.is_staff(), tx);
        let staff = match availability {
            Some(availability) if user.role.is_staff() => {
                let changed = {
                    let mut book = self.presence_book();
                    book.connected(user.clone(), availability);
                    book.changed()
                };
                if let Some(snapshot) = changed {
                    self.broadcast_presence(&snapshot);
                }
                Some(user.id)
            }
            _ => None,
        };
        (
            Registration {
                hub: self.clone(),
                id,
                staff,
            },
            rx,
        )
    }

    fn staff_disconnected(&self, user: UserId) {
        let generation = self.presence_book().disconnected(user);
        let Some(generation) = generation else { return };
        let hub = self.clone();
        let grace = self.inner.presence_grace;
        // Runs on the runtime of whoever dropped the last socket.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(grace).await;
                let changed = {
                    let mut book = hub.presence_book();
                    book.grace_expired(user, generation);
                    book.changed()
                };
                if let Some(snapshot) = changed {
                    hub.broadcast_presence(&snapshot);
                }
            });
        }
    }

    pub(crate) fn subscribe(
        &self,
        socket: SocketId,
        conversation: ConversationId,
    ) -> Result<(), SubscribeError> {
        self.write_registry().subscribe(socket, conversation)
    }

    pub(crate) fn unsubscribe(&self, socket: SocketId, conversation: ConversationId) {
        self.write_registry().unsubscribe(socket, conversation);
    }

    pub(crate) fn watch_inbox(&self, socket: SocketId, on: bool) {
        self.write_registry().watch_inbox(socket, on);
    }

    /// The presence frame for a new socket.
    pub(crate) fn presence_frame(&self, staff: bool) -> ServerFrame {
        let snapshot = self.presence_book().snapshot();
        presence_frame(&snapshot, staff)
    }

    /// Tells every socket the new presence (customers: only whether support is online).
    fn broadcast_presence(&self, snapshot: &PresenceSnapshot) {
        let for_staff = encode(&presence_frame(snapshot, true));
        let for_customers = encode(&presence_frame(snapshot, false));
        let mut laggards = Vec::new();
        {
            let registry = self.read_registry();
            for (id, entry) in registry.all() {
                let frame = if entry.staff { &for_staff } else { &for_customers };
                if !entry.push(frame) {
                    laggards.push(id);
                }
            }
        }
        self.drop_laggards(laggards);
    }

    fn drop_laggards(&self, laggards: Vec<SocketId>) {
        if laggards.is_empty() {
            return;
        }
        let mut registry = self.write_registry();
        for id in laggards {
            tracing::warn!(
                socket = id,
                "socket stopped reading; dropping it (it will reconnect and replay)"
            );
            registry.remove(id);
        }
    }

    /// Delivers one committed change to everyone allowed to see it.
    fn deliver(&self, event: &Event) {
        let mut laggards = Vec::new();
        {
            let registry = self.read_registry();
            let mut push = |id: SocketId, entry: &registry::SocketEntry, frame: &Outgoing| {
                if !entry.push(frame) {
                    laggards.push(id);
                }
            };
            match event {
                Event::Messages {
                    conversation_id,
                    messages,
                    ..
                } => {
                    for committed in messages {
                        // Each audience gets the message in its own
                        // sequence; a note has no customer view, so a
                        // customer socket never sees one, nor a gap for it.
                        let for_staff = encode(&ServerFrame::Message {
                            message: committed.message.clone(),
                        });
                        let for_customers = committed
                            .seen_by(Audience::Customer)
                            .map(|message| encode(&ServerFrame::Message { message }));
                        for (id, entry) in registry.subscribers(*conversation_id) {
                            match (entry.staff, &for_customers) {
                                (true, _) => push(id, entry, &for_staff),
                                (false, Some(frame)) => push(id, entry, frame),
                                (false, None) => {}
                            }
                        }
                    }
                }
                Event::Conversation {
                    customer_id,
                    staff,
                    customer,
                } => {
                    let for_staff = encode(&ServerFrame::Conversation {
                        summary: (**staff).clone(),
                    });
                    for (id, entry) in registry.inbox_watchers() {
                        push(id, entry, &for_staff);
                    }
                    let for_customer = encode(&ServerFrame::Conversation {
                        summary: (**customer).clone(),
                    });
                    for (id, entry) in registry.sockets_of(*customer_id) {
                        if !entry.staff {
                            push(id, entry, &for_customer);
                        }
                    }
                }
                Event::Typing {
                    conversation_id,
                    user,
                    ..
                } => {
                    let frame = encode(&ServerFrame::Typing {
                        conversation_id: *conversation_id,
                        user: user.clone(),
                    });
                    for (id, entry) in registry.subscribers(*conversation_id) {
                        if entry.user != user.id {
                            push(id, entry, &frame);
                        }
                    }
                }
                Event::Read {
                    conversation_id,
                    user_id,
                    role,
                    up_to,
                    public_up_to,
                    ..
                } => {
                    // Staff hear the marker in their sequence, customers in
                    // theirs, and only when it moved as they see it.
                    let read = |up_to: Seq| {
                        encode(&ServerFrame::Read {
                            conversation_id: *conversation_id,
                            user_id: *user_id,
                            role: *role,
                            up_to,
                        })
                    };
                    let for_staff = read(*up_to);
                    let for_customers = public_up_to.map(read);
                    let mut push_read =
                        |id: SocketId, entry: &registry::SocketEntry| match (entry.staff, &for_customers) {
                            (true, _) => push(id, entry, &for_staff),
                            (false, Some(frame)) => push(id, entry, frame),
                            (false, None) => {}
                        };
                    for (id, entry) in registry.subscribers(*conversation_id) {
                        push_read(id, entry);
                    }
                    // The reader's other tabs clear their badges even when
                    // they are not looking at this conversation.
                    for (id, entry) in registry.sockets_of(*user_id) {
                        if !registry
                            .subscribers(*conversation_id)
                            .any(|(other, _)| other == id)
                        {
                            push_read(id, entry);
                        }
                    }
                }
                Event::Availability { .. } => {}
            }
        }
        self.drop_laggards(laggards);
        if let Event::Availability { user, availability } = event {
            let changed = {
                let mut book = self.presence_book();
                book.set_availability(user.clone(), *availability);
                book.changed()
            };
            if let Some(snapshot) = changed {
                self.broadcast_presence(&snapshot);
            }
        }
    }

    /// Every socket must refetch and resubscribe: events were lost.
    fn resync_everyone(&self) {
        let frame = encode(&ServerFrame::Resync);
        let mut laggards = Vec::new();
        {
            let registry = self.read_registry();
            for (id, entry) in registry.all() {
                if !entry.push(&frame) {
                    laggards.push(id);
                }
            }
        }
        self.drop_laggards(laggards);
    }
}

fn presence_frame(snapshot: &PresenceSnapshot, staff: bool) -> ServerFrame {
    ServerFrame::Presence {
        support_online: snapshot.support_online,
        staff: staff.then(|| snapshot.staff.clone()),
    }
}

/// The dispatcher: one task per process, from the bus to the sockets.
async fn dispatch(hub: Hub, mut events: broadcast::Receiver<Arc<Event>>) {
    loop {
        match events.recv().await {
            Ok(event) => hub.deliver(&event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::error!(
                    missed,
                    "the live hub fell behind the bus; asking every client to resync"
                );
                hub.resync_everyone();
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
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
    if state.hub.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "The server is restarting.").into_response();
    }
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Idle sockets should cost little: small buffers, grown on demand.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| {
            let running = state.hub.inner.running.clone();
            running.track_future(connection::run(socket, user, state))
        })
}
