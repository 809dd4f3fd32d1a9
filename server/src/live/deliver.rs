//! Who hears what: one committed [`Event`] becomes frames, serialized once
//! per audience, pushed into the queue of every socket allowed to see them.
//!
//! The rules: a message reaches the conversation's subscribers, except that
//! a note reaches staff only, and each audience hears its own sequence; a list row reaches staff watching the inbox
//! (the staff view) and the customer's own sockets (the customer's view);
//! typing reaches subscribers other than the typist; a read marker reaches
//! subscribers and the reader's other tabs (to clear their badges).
//! Availability changes are presence, and the end of a session or a role
//! change closes sockets: both are handled by the hub, and so is a resync
//! (every socket of this instance, after events may have been lost between
//! instances).

use super::registry::{encode, Outgoing, Registry, SocketEntry, SocketId};
use backend::bus::Event;
use backend::conversations::Audience;
use parley::protocol::ServerFrame;
use parley::Seq;

/// Pushes `event`'s frames to their sockets; returns the sockets whose
/// queue was full (they stopped reading and must be dropped).
pub(super) fn fan_out(registry: &Registry, event: &Event) -> Vec<SocketId> {
    let mut laggards = Vec::new();
    let mut push = |id: SocketId, entry: &SocketEntry, frame: &Outgoing| {
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
                // Each audience gets the message in its own sequence; a note
                // has no customer view, so a customer socket never sees one,
                // nor a gap where it was.
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
            // Staff hear the marker in their sequence, customers in theirs,
            // and only when it moved as they see it.
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
            let mut push_read = |id: SocketId, entry: &SocketEntry| match (entry.staff, &for_customers) {
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
        // Presence, revocations and resyncs change the hub or reach every
        // socket: see `Hub::deliver`.
        Event::Availability { .. }
        | Event::AccessChanged { .. }
        | Event::SessionEnded { .. }
        | Event::Resync
        | Event::PresenceChanged { .. } => {}
    }
    laggards
}
