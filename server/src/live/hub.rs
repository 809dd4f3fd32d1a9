//! The hub's shared state: which sockets are open (the [`Registry`]), who on
//! the team is present (the [`PresenceBook`]), whether the server is shutting
//! down, and the dispatcher task that hands every bus event to
//! [`super::deliver`]. A socket joins with [`Hub::register`] and leaves when
//! its [`Registration`] is dropped.
//!
//! With Redis (`REDIS_URL`) the presence task in [`super::shared_presence`]
//! also keeps this instance's staff in Redis and reads who is present on
//! any instance.
//!
//! (Somewhat over this codebase's ~450-line guide: every method here takes
//! one of the hub's locks — occupancy, registry, presence — and lets go of
//! it before taking another; keeping them in one file keeps that rule
//! visible in one place.)

use super::deliver;
use super::limits::{Occupancy, Refusal, Seat};
use super::presence::{PresenceBook, PresenceSnapshot};
use super::queue;
use super::registry::{
    encode, NewSocket, Outgoing, Registry, Revoked, SocketId, SubscribeError, QUEUE_CAPACITY,
};
use super::shared_presence::{self, PresenceSync};
use crate::config::SocketLimits;
use backend::bus::Event;
use backend::cluster::Cluster;
use backend::Backend;
use parley::model::PersonRef;
use parley::protocol::ServerFrame;
use parley::{Availability, ConversationId, UserId};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};
use tokio_util::task::TaskTracker;

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
    /// Caps on sockets, their frame rate and write time.
    limits: SocketLimits,
    /// Open sockets against those caps. Its own Mutex: taken once per
    /// upgrade and once per close, never with another lock held.
    occupancy: Mutex<Occupancy>,
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
    /// With Redis: whom to tell about presence here, and how it wakes up.
    presence_sync: Option<PresenceSync>,
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
    /// Loads staff availability and starts the dispatcher for `backend`'s
    /// bus; with `cluster` (Redis), also the presence task.
    pub async fn start(
        backend: Backend,
        heartbeat: Duration,
        presence_grace: Duration,
        limits: SocketLimits,
        cluster: Option<Cluster>,
    ) -> Hub {
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
                limits,
                occupancy: Mutex::new(Occupancy::default()),
                next_socket: AtomicU64::new(1),
                running: TaskTracker::new(),
                registry: RwLock::new(Registry::default()),
                presence: Mutex::new(PresenceBook::load(staff)),
                shutting_down: watch::Sender::new(false),
                presence_sync: cluster.map(|cluster| PresenceSync::new(cluster, backend.bus.clone())),
            }),
        };
        tokio::spawn(dispatch(hub.clone(), events));
        if hub.inner.presence_sync.is_some() {
            tokio::spawn(shared_presence::run(hub.clone()));
        }
        hub
    }

    /// With Redis: presence here changed; the presence task writes it.
    fn presence_changed_here(&self) {
        if let Some(sync) = &self.inner.presence_sync {
            sync.changed_here();
        }
    }

    /// With Redis: presence may have changed elsewhere; read it again.
    fn presence_changed_elsewhere(&self) {
        if let Some(sync) = &self.inner.presence_sync {
            sync.changed_elsewhere();
        }
    }

    pub fn heartbeat(&self) -> Duration {
        self.inner.heartbeat
    }

    /// The Redis side of presence, when there is one.
    pub(super) fn presence_sync(&self) -> Option<&PresenceSync> {
        self.inner.presence_sync.as_ref()
    }

    pub(super) fn presence_grace(&self) -> Duration {
        self.inner.presence_grace
    }

    pub(crate) fn limits(&self) -> &SocketLimits {
        &self.inner.limits
    }

    /// Takes a place for one more socket of `user`, if the caps allow it.
    pub(crate) fn admit(&self, user: UserId) -> Result<Seat, Refusal> {
        self.occupancy().admit(user, &self.inner.limits)?;
        Ok(Seat {
            hub: self.clone(),
            user,
        })
    }

    pub(super) fn leave(&self, user: UserId) {
        self.occupancy().leave(user);
    }

    fn occupancy(&self) -> std::sync::MutexGuard<'_, Occupancy> {
        self.inner
            .occupancy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    pub(crate) fn is_shutting_down(&self) -> bool {
        *self.inner.shutting_down.borrow()
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutting_down.subscribe()
    }

    /// Wraps a socket's task so that [`Hub::drained`] waits for it.
    pub(crate) fn track<F: Future>(&self, task: F) -> impl Future<Output = F::Output> {
        self.inner.running.track_future(task)
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

    pub(super) fn presence_book(&self) -> std::sync::MutexGuard<'_, PresenceBook> {
        self.inner
            .presence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a socket opened with `session`; its frames arrive on the
    /// returned queue, and why the hub dropped it (if it was not for
    /// lagging) on the returned receiver.
    pub(crate) fn register(
        &self,
        user: &PersonRef,
        session: Option<String>,
        availability: Option<Availability>,
    ) -> (
        Registration,
        queue::Receiver<Outgoing>,
        oneshot::Receiver<Revoked>,
    ) {
        let id = self.inner.next_socket.fetch_add(1, Ordering::Relaxed);
        let (tx, queue) = queue::channel(QUEUE_CAPACITY);
        let (revoked, why) = oneshot::channel();
        self.write_registry().add(
            id,
            NewSocket {
                user: user.id,
                staff: user.role.is_staff(),
                session,
                tx,
                revoked,
            },
        );
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
                self.presence_changed_here();
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
            queue,
            why,
        )
    }

    fn staff_disconnected(&self, user: UserId) {
        let generation = self.presence_book().disconnected(user);
        let Some(generation) = generation else { return };
        self.presence_changed_here();
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
                hub.presence_changed_here();
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
    pub(super) fn broadcast_presence(&self, snapshot: &PresenceSnapshot) {
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
        let laggards = deliver::fan_out(&self.read_registry(), event);
        self.drop_laggards(laggards);
        match event {
            Event::Availability { user, availability } => {
                let changed = {
                    let mut book = self.presence_book();
                    book.set_availability(user.clone(), *availability);
                    book.changed()
                };
                if let Some(snapshot) = changed {
                    self.broadcast_presence(&snapshot);
                }
            }
            Event::AccessChanged { user_id } => {
                self.revoke(*user_id, None, Revoked::AccessChanged);
                // A demoted or deactivated member must not keep "Support
                // is online" lit for the grace period.
                let changed = {
                    let mut book = self.presence_book();
                    book.forget(*user_id);
                    book.changed()
                };
                if let Some(snapshot) = changed {
                    self.broadcast_presence(&snapshot);
                }
                self.presence_changed_here();
            }
            Event::SessionEnded { user_id, session_id } => {
                self.revoke(*user_id, Some(session_id), Revoked::SessionEnded)
            }
            Event::Resync => {
                tracing::warn!(
                    sockets = self.open_sockets(),
                    "events may have been lost between instances; asking every client to resync"
                );
                self.resync_everyone();
                self.presence_changed_elsewhere();
            }
            Event::PresenceChanged { staff } => {
                {
                    let mut book = self.presence_book();
                    for (person, availability) in staff {
                        book.learn(person.clone(), *availability);
                    }
                }
                self.presence_changed_elsewhere();
            }
            Event::Messages { .. }
            | Event::Conversation { .. }
            | Event::Typing { .. }
            | Event::Read { .. } => {}
        }
    }

    /// Closes `user`'s sockets (only those opened with `session`, if given):
    /// they were authorized with what just ended or changed.
    fn revoke(&self, user: UserId, session: Option<&str>, why: Revoked) {
        let mut registry = self.write_registry();
        let sockets: Vec<SocketId> = registry
            .sockets_of(user)
            .filter(|(_, entry)| session.is_none() || entry.session.as_deref() == session)
            .map(|(id, _)| id)
            .collect();
        if sockets.is_empty() {
            return;
        }
        tracing::info!(user = %user, sockets = sockets.len(), ?why, "closing sockets opened with a permission that ended");
        for id in sockets {
            registry.revoke(id, why);
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
