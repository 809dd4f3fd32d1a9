//! The event bus: what changed, announced after the change is committed.
//!
//! Whoever commits a change (a server function or a socket) publishes an
//! [`Event`] here; the live hub of every server process subscribes and fans
//! it out to the sockets allowed to see it. In one process this is a tokio
//! broadcast channel with one subscriber per hub, so a publish is a queue
//! push, never a wait on slow sockets.
//!
//! With `REDIS_URL` ([`Bus::with_redis`]) the same channel stays the local
//! fast path, and [`redis`] bridges it to the other instances: what is
//! published here goes out on one Redis channel, in the order published,
//! and what the others publish comes in and is delivered here as if it had
//! been published locally.

mod redis;

use crate::cluster::{Cluster, ClusterError};
use crate::conversations::Audience;
use parley::model::{ConversationSummary, Message, PersonRef};
use parley::{Availability, ConversationId, Role, Seq, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A committed message and its place in each audience's sequence: staff
/// number every message of a conversation (`seq`), customers only what
/// they may see (`public_seq`, gap-free; a note has none). See
/// `migrations/sqlite/0003_public_seq.sql`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committed {
    /// The message as staff see it (its `seq` is the staff sequence).
    pub message: Message,
    /// Its place in the customer's sequence; `None` for a note.
    pub public_seq: Option<Seq>,
}

impl Committed {
    /// The message as `audience` sees it, numbered in that audience's
    /// sequence; `None` when the audience may not see it (a note, for a customer).
    pub fn seen_by(&self, audience: Audience) -> Option<Message> {
        match audience {
            Audience::Staff => Some(self.message.clone()),
            Audience::Customer => self.public_seq.map(|seq| Message {
                seq,
                ..self.message.clone()
            }),
        }
    }
}

/// Something that happened, with what every audience needs to hear of it.
/// Serializable: with Redis, events travel between instances as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// Messages were committed in a conversation, in seq order.
    Messages {
        conversation_id: ConversationId,
        customer_id: UserId,
        messages: Vec<Committed>,
    },
    /// A conversation's list row changed: the staff view, and the customer's
    /// (which never mentions notes).
    Conversation {
        customer_id: UserId,
        staff: Box<ConversationSummary>,
        customer: Box<ConversationSummary>,
    },
    /// Someone is typing.
    Typing {
        conversation_id: ConversationId,
        customer_id: UserId,
        user: PersonRef,
    },
    /// Someone read up to a message: `up_to` in the staff sequence,
    /// `public_up_to` in the customer's (the newest message a customer may
    /// see at or before it) — `None` when that did not move (a staff member
    /// read only notes): customers hear nothing then.
    Read {
        conversation_id: ConversationId,
        customer_id: UserId,
        user_id: UserId,
        role: Role,
        up_to: Seq,
        public_up_to: Option<Seq>,
    },
    /// A staff member chose another availability.
    Availability {
        user: PersonRef,
        availability: Availability,
    },
    /// A user's permissions changed (their role; later, deactivation): every
    /// socket they opened was authorized with the old ones and must close.
    AccessChanged { user_id: UserId },
    /// A session ended (sign-out): the sockets opened with it must close.
    /// Carries the session id, a secret like the `sessions` table that holds
    /// it: the bus stays inside the servers' trust boundary; never log it.
    SessionEnded { user_id: UserId, session_id: String },
    /// Events may have been lost on the way (the Redis subscription dropped,
    /// or another instance could not publish for a while): every socket
    /// must refetch and resubscribe (`ServerFrame::Resync`).
    Resync,
    /// Staff sockets opened or closed on another instance (Redis only):
    /// presence must be computed again. Carries who they are, for an
    /// instance that has not heard of them since it started.
    PresenceChanged { staff: Vec<(PersonRef, Availability)> },
}

/// How many events a slow hub may fall behind before it must resync.
const CAPACITY: usize = 16_384;

#[derive(Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
    /// The bridge to the other instances, with `REDIS_URL`.
    remote: Option<Arc<redis::Bridge>>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    /// The in-process bus: one instance, no other server.
    pub fn new() -> Bus {
        let (sender, _) = broadcast::channel(CAPACITY);
        Bus { sender, remote: None }
    }

    /// A bus that also reaches the other instances on `cluster`'s Redis.
    /// Returns once subscribed, so nothing published after it is missed.
    pub async fn with_redis(cluster: &Cluster) -> Result<Bus, ClusterError> {
        let (sender, _) = broadcast::channel(CAPACITY);
        let bridge = redis::Bridge::start(cluster, sender.clone()).await?;
        Ok(Bus {
            sender,
            remote: Some(Arc::new(bridge)),
        })
    }

    /// Announces a committed change: to this process's hub at once, and
    /// (with Redis) handed to the publisher for the other instances.
    /// Never waits. Nobody listening is not an error.
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        let _ = self.sender.send(event.clone());
        if let Some(remote) = &self.remote {
            remote.forward(event);
        }
    }

    /// Tells the other instances only (nothing without Redis): for news
    /// this instance has already acted on itself.
    pub fn publish_elsewhere(&self, event: Event) {
        if let Some(remote) = &self.remote {
            remote.forward(Arc::new(event));
        }
    }

    /// Whether events reach other instances (Redis is configured).
    pub fn is_shared(&self) -> bool {
        self.remote.is_some()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}
