//! Who is connected, and who hears what.
//!
//! Every socket has a bounded queue of outgoing frames. Events from the bus
//! are serialized once per audience (staff, customer) and the same bytes are
//! pushed into the queue of each socket that may see them: the subscribers of
//! a conversation, the customer's own sockets for their list, staff watching
//! the inbox. A push never waits: a socket whose queue is full has stopped
//! reading and is dropped (its client reconnects and replays what it missed),
//! so one slow client can neither stall the others nor grow server memory.

use super::queue::{self, TrySendError};
use axum::extract::ws::Utf8Bytes;
use parley::protocol::ServerFrame;
use parley::{ConversationId, UserId};
use std::collections::{HashMap, HashSet};
use tokio::sync::oneshot;

pub type SocketId = u64;

/// A frame already serialized to JSON, shared by every recipient (cloning
/// it bumps a reference count; the bytes are written as they are).
pub type Outgoing = Utf8Bytes;

/// How many frames may wait for a socket before it counts as not reading.
pub const QUEUE_CAPACITY: usize = 512;

/// Most conversations one socket may follow at once.
pub const MAX_SUBSCRIPTIONS: usize = 256;

pub fn encode(frame: &ServerFrame) -> Outgoing {
    Utf8Bytes::from(frame.to_json())
}

pub(crate) struct SocketEntry {
    pub user: UserId,
    pub staff: bool,
    /// The session the socket was opened with (`None` if it had no id).
    pub session: Option<String>,
    tx: queue::Sender<Outgoing>,
    /// Tells the socket's task why the hub dropped it, when it was not for
    /// lagging (then the closed queue says enough).
    revoked: Option<oneshot::Sender<Revoked>>,
    subscriptions: HashSet<ConversationId>,
}

/// Why a socket lost its right to stay open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Its session ended (sign-out): reconnecting gets 401.
    SessionEnded,
    /// Its user's role changed: reconnecting gets the new one.
    AccessChanged,
}

/// What the hub keeps of a new socket.
pub(crate) struct NewSocket {
    pub user: UserId,
    pub staff: bool,
    pub session: Option<String>,
    pub tx: queue::Sender<Outgoing>,
    pub revoked: oneshot::Sender<Revoked>,
}

/// The maps the dispatcher reads for every event. Guarded by one RwLock in
/// the hub: reads (fan-out) vastly outnumber writes (connect, subscribe).
#[derive(Default)]
pub(crate) struct Registry {
    sockets: HashMap<SocketId, SocketEntry>,
    /// Conversation → sockets subscribed to it.
    topics: HashMap<ConversationId, Vec<SocketId>>,
    /// User → their open sockets (tabs).
    users: HashMap<UserId, Vec<SocketId>>,
    /// Staff sockets that want every conversation's list row.
    inbox: HashSet<SocketId>,
}

/// Why a subscription was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SubscribeError {
    TooMany,
    Gone,
}

impl Registry {
    pub fn add(&mut self, id: SocketId, socket: NewSocket) {
        self.users.entry(socket.user).or_default().push(id);
        self.sockets.insert(
            id,
            SocketEntry {
                user: socket.user,
                staff: socket.staff,
                session: socket.session,
                tx: socket.tx,
                revoked: Some(socket.revoked),
                subscriptions: HashSet::new(),
            },
        );
    }

    /// Removes a socket and tells its task why (before its queue closes).
    pub fn revoke(&mut self, id: SocketId, why: Revoked) {
        if let Some(mut entry) = self.remove(id) {
            if let Some(revoked) = entry.revoked.take() {
                // The task may be gone already: nothing to tell then.
                let _ = revoked.send(why);
            }
        }
    }

    /// Forgets a socket everywhere; dropping its sender ends its queue.
    pub fn remove(&mut self, id: SocketId) -> Option<SocketEntry> {
        let entry = self.sockets.remove(&id)?;
        for conversation in &entry.subscriptions {
            remove_from(&mut self.topics, conversation, id);
        }
        remove_from(&mut self.users, &entry.user, id);
        self.inbox.remove(&id);
        Some(entry)
    }

    pub fn subscribe(&mut self, id: SocketId, conversation: ConversationId) -> Result<(), SubscribeError> {
        let entry = self.sockets.get_mut(&id).ok_or(SubscribeError::Gone)?;
        if entry.subscriptions.contains(&conversation) {
            return Ok(());
        }
        if entry.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(SubscribeError::TooMany);
        }
        entry.subscriptions.insert(conversation);
        self.topics.entry(conversation).or_default().push(id);
        Ok(())
    }

    pub fn unsubscribe(&mut self, id: SocketId, conversation: ConversationId) {
        if let Some(entry) = self.sockets.get_mut(&id) {
            if entry.subscriptions.remove(&conversation) {
                remove_from(&mut self.topics, &conversation, id);
            }
        }
    }

    pub fn watch_inbox(&mut self, id: SocketId, on: bool) {
        if on && self.sockets.get(&id).is_some_and(|e| e.staff) {
            self.inbox.insert(id);
        } else {
            self.inbox.remove(&id);
        }
    }

    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// Sockets subscribed to a conversation, with whether each is staff.
    pub fn subscribers(
        &self,
        conversation: ConversationId,
    ) -> impl Iterator<Item = (SocketId, &SocketEntry)> {
        self.topics
            .get(&conversation)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sockets.get(id).map(|e| (*id, e)))
    }

    pub fn sockets_of(&self, user: UserId) -> impl Iterator<Item = (SocketId, &SocketEntry)> {
        self.users
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.sockets.get(id).map(|e| (*id, e)))
    }

    pub fn inbox_watchers(&self) -> impl Iterator<Item = (SocketId, &SocketEntry)> {
        self.inbox
            .iter()
            .filter_map(|id| self.sockets.get(id).map(|e| (*id, e)))
    }

    pub fn all(&self) -> impl Iterator<Item = (SocketId, &SocketEntry)> {
        self.sockets.iter().map(|(id, e)| (*id, e))
    }
}

impl SocketEntry {
    /// Queues a frame; `false` if the queue is full (the socket stopped reading).
    pub fn push(&self, frame: &Outgoing) -> bool {
        match self.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            // Closing already: nothing to deliver, nothing to punish.
            Err(TrySendError::Closed(_)) => true,
        }
    }
}

fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<SocketId>>, key: &K, id: SocketId) {
    if let Some(list) = map.get_mut(key) {
        list.retain(|other| *other != id);
        if list.is_empty() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(user: i64, staff: bool, tx: &queue::Sender<Outgoing>) -> NewSocket {
        NewSocket {
            user: UserId(user),
            staff,
            session: None,
            tx: tx.clone(),
            revoked: oneshot::channel().0,
        }
    }

    fn entry_ids<'a>(it: impl Iterator<Item = (SocketId, &'a SocketEntry)>) -> Vec<SocketId> {
        let mut ids: Vec<_> = it.map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn subscribe_unsubscribe_and_remove_keep_the_maps_clean() {
        let mut registry = Registry::default();
        let (tx, _rx) = queue::channel(4);
        registry.add(1, socket(10, false, &tx));
        registry.add(2, socket(20, true, &tx));
        let c = ConversationId(5);
        assert_eq!(registry.subscribe(1, c), Ok(()));
        assert_eq!(registry.subscribe(2, c), Ok(()));
        assert_eq!(registry.subscribe(2, c), Ok(()), "subscribing twice is harmless");
        assert_eq!(entry_ids(registry.subscribers(c)), vec![1, 2]);
        registry.unsubscribe(1, c);
        assert_eq!(entry_ids(registry.subscribers(c)), vec![2]);
        registry.watch_inbox(1, true);
        registry.watch_inbox(2, true);
        assert_eq!(
            entry_ids(registry.inbox_watchers()),
            vec![2],
            "customers never watch the inbox"
        );
        registry.remove(2);
        assert!(registry.topics.is_empty() && registry.inbox.is_empty());
        assert_eq!(entry_ids(registry.sockets_of(UserId(20))), Vec::<SocketId>::new());
        assert_eq!(registry.subscribe(2, c), Err(SubscribeError::Gone));
    }

    #[test]
    fn subscriptions_are_bounded() {
        let mut registry = Registry::default();
        let (tx, _rx) = queue::channel(4);
        registry.add(1, socket(1, true, &tx));
        for i in 0..MAX_SUBSCRIPTIONS as i64 {
            assert_eq!(registry.subscribe(1, ConversationId(i)), Ok(()));
        }
        assert_eq!(
            registry.subscribe(1, ConversationId(-1)),
            Err(SubscribeError::TooMany)
        );
    }

    #[test]
    fn a_revoked_socket_is_told_why_before_its_queue_closes() {
        let mut registry = Registry::default();
        let (tx, mut queue) = queue::channel(4);
        let (revoked, mut why) = oneshot::channel();
        registry.add(
            1,
            NewSocket {
                user: UserId(1),
                staff: true,
                session: Some("s".into()),
                tx,
                revoked,
            },
        );
        registry.revoke(1, Revoked::AccessChanged);
        assert_eq!(why.try_recv(), Ok(Revoked::AccessChanged));
        assert!(queue.try_recv().is_err() && queue.is_closed());
        assert_eq!(registry.socket_count(), 0);
    }

    #[test]
    fn a_full_queue_reports_the_socket() {
        let (tx, _rx) = queue::channel(1);
        let entry = SocketEntry {
            user: UserId(1),
            staff: false,
            session: None,
            tx,
            revoked: None,
            subscriptions: HashSet::new(),
        };
        let frame = encode(&ServerFrame::Pong);
        assert!(entry.push(&frame));
        assert!(!entry.push(&frame), "the second frame does not fit");
    }
}
