//! Who hears what: one committed [`Event`] becomes frames, serialized once
//! per audience, pushed into the queue of every socket allowed to see them.
//!
//! The rules: a message reaches the conversation's subscribers, except that
//! a note reaches staff only; a list row reaches staff watching the inbox
//! (the staff view) and the customer's own sockets (the customer's view);
//! typing reaches subscribers other than the typist; a read marker reaches
//! subscribers and the reader's other tabs (to clear their badges).
//! Availability changes are presence, and the end of a session or a role
//! change closes sockets: both are handled by the hub.

use super::registry::{encode, Outgoing, Registry, SocketEntry, SocketId};
use backend::bus::Event;
use parley::model::MessageKind;
use parley::protocol::ServerFrame;

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
            for message in messages {
                let frame = encode(&ServerFrame::Message {
                    message: message.clone(),
                });
                // Notes go to staff sockets only; a customer socket
                // subscribed to the conversation never sees one.
                let customers_may_see = message.kind != MessageKind::Note;
                for (id, entry) in registry.subscribers(*conversation_id) {
                    if entry.staff || customers_may_see {
                        push(id, entry, &frame);
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
            ..
        } => {
            let frame = encode(&ServerFrame::Read {
                conversation_id: *conversation_id,
                user_id: *user_id,
                role: *role,
                up_to: *up_to,
            });
            for (id, entry) in registry.subscribers(*conversation_id) {
                push(id, entry, &frame);
            }
            // The reader's other tabs clear their badges even when
            // they are not looking at this conversation.
            for (id, entry) in registry.sockets_of(*user_id) {
                if !registry
                    .subscribers(*conversation_id)
                    .any(|(other, _)| other == id)
                {
                    push(id, entry, &frame);
                }
            }
        }
        // Presence and revocations change the hub, not frames: see `Hub::deliver`.
        Event::Availability { .. } | Event::AccessChanged { .. } | Event::SessionEnded { .. } => {}
    }
    laggards
}
