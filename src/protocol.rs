//! The live wire protocol: one WebSocket per tab, one JSON object per text
//! frame, tagged by `"type"`. Browser and server both compile these enums, so
//! they cannot disagree; `docs/protocol.md` documents them for other clients.

use crate::model::{ConversationSummary, CurrentUser, Message, PersonRef, StaffPresence};
use crate::{ConversationId, Role, Seq, UserId};
use serde::{Deserialize, Serialize};

/// Frames larger than this are refused (the socket is closed with 1009).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A client sends at most one `typing` frame per this many milliseconds.
pub const TYPING_THROTTLE_MS: u64 = 2_000;

/// A typing indicator disappears this long after the last `typing` frame.
pub const TYPING_TTL_MS: u64 = 5_000;

/// What a client says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Start receiving a conversation's messages, typing and read events;
    /// first replay every message with `seq > after`, then `subscribed`.
    Subscribe {
        conversation_id: ConversationId,
        #[serde(default)]
        after: Seq,
    },
    Unsubscribe {
        conversation_id: ConversationId,
    },
    /// Write a message. `client_id` makes resending safe; `note` (staff only)
    /// writes a private note.
    Send {
        conversation_id: ConversationId,
        client_id: String,
        body: String,
        #[serde(default)]
        note: bool,
    },
    Typing {
        conversation_id: ConversationId,
    },
    /// Everything up to and including `up_to` has been seen.
    Read {
        conversation_id: ConversationId,
        up_to: Seq,
    },
    /// Staff only: receive `conversation` frames for every conversation (the
    /// shared inbox), or stop. Customers always receive their own.
    WatchInbox {
        on: bool,
    },
    Ping,
}

/// Why a frame was refused: the same [`ErrorKind`](crate::ErrorKind) a server function's
/// error carries, under the name the frame has always used (`code`).
pub use crate::error::ErrorKind as ErrorCode;

/// What the server says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every socket: who you are, and how often to ping.
    Hello {
        user: CurrentUser,
        heartbeat_ms: u64,
    },
    /// The replay after `subscribe` is complete; `last_seq` is the newest
    /// message this user may see in the conversation.
    Subscribed {
        conversation_id: ConversationId,
        last_seq: Seq,
    },
    /// A message in a subscribed conversation (live or replayed).
    Message {
        message: Message,
    },
    /// Your `send` with this `client_id` is committed as `message`.
    Ack {
        client_id: String,
        message: Message,
    },
    /// Someone else is typing in a subscribed conversation.
    Typing {
        conversation_id: ConversationId,
        user: PersonRef,
    },
    /// Someone has read a subscribed conversation up to `up_to`.
    Read {
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
        up_to: Seq,
    },
    /// Whether support can answer now; staff also get the team list.
    Presence {
        support_online: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        staff: Option<Vec<StaffPresence>>,
    },
    /// A conversation in your lists changed (new, new message, status, assignee).
    /// `unread` in the summary is not filled in: count it from `message` events.
    Conversation {
        summary: ConversationSummary,
    },
    /// Events were dropped because this socket fell behind: refetch lists and
    /// resubscribe with `after` (nothing is lost, but it must be fetched).
    Resync,
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<ConversationId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    Pong,
}

impl ServerFrame {
    /// An error frame with only a code and a sentence.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            client_id: None,
            conversation_id: None,
            retry_after_ms: None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail (no maps with non-string
        // keys, no custom serializers); fall back to an error frame regardless.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"could not encode a frame"}"#.to_owned()
        })
    }
}

impl ClientFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageKind, MessagePreview};
    use crate::{ConversationStatus, MessageId, Timestamp};

    fn person() -> PersonRef {
        PersonRef {
            id: UserId(7),
            name: "Ann".into(),
            role: Role::Agent,
        }
    }

    fn message() -> Message {
        Message {
            id: MessageId(10),
            conversation_id: ConversationId(3),
            seq: Seq(4),
            kind: MessageKind::Text,
            sender: Some(person()),
            body: "<script>hi</script>".into(),
            client_id: Some("c-1".into()),
            created_at: Timestamp(1_700_000_000_000),
        }
    }

    fn round_trip_server(frame: ServerFrame) {
        let json = frame.to_json();
        let back: ServerFrame = serde_json::from_str(&json).expect(&json);
        assert_eq!(back, frame, "{json}");
    }

    fn round_trip_client(frame: ClientFrame) {
        let json = frame.to_json();
        let back: ClientFrame = serde_json::from_str(&json).expect(&json);
        assert_eq!(back, frame, "{json}");
    }

    #[test]
    fn every_client_frame_round_trips() {
        let c = ConversationId(3);
        round_trip_client(ClientFrame::Subscribe {
            conversation_id: c,
            after: Seq(9),
        });
        round_trip_client(ClientFrame::Unsubscribe { conversation_id: c });
        round_trip_client(ClientFrame::Send {
            conversation_id: c,
            client_id: "abc".into(),
            body: "hello".into(),
            note: true,
        });
        round_trip_client(ClientFrame::Typing { conversation_id: c });
        round_trip_client(ClientFrame::Read {
            conversation_id: c,
            up_to: Seq(2),
        });
        round_trip_client(ClientFrame::WatchInbox { on: true });
        round_trip_client(ClientFrame::Ping);
    }

    #[test]
    fn every_server_frame_round_trips() {
        let c = ConversationId(3);
        round_trip_server(ServerFrame::Hello {
            user: CurrentUser {
                id: UserId(1),
                name: "Ann".into(),
                email: "ann@example.com".into(),
                role: Role::Customer,
            },
            heartbeat_ms: 20_000,
        });
        round_trip_server(ServerFrame::Subscribed {
            conversation_id: c,
            last_seq: Seq(4),
        });
        round_trip_server(ServerFrame::Message { message: message() });
        round_trip_server(ServerFrame::Ack {
            client_id: "c-1".into(),
            message: message(),
        });
        round_trip_server(ServerFrame::Typing {
            conversation_id: c,
            user: person(),
        });
        round_trip_server(ServerFrame::Read {
            conversation_id: c,
            user_id: UserId(2),
            role: Role::Customer,
            up_to: Seq(4),
        });
        round_trip_server(ServerFrame::Presence {
            support_online: true,
            staff: Some(vec![StaffPresence {
                user: person(),
                availability: crate::Availability::Away,
                online: false,
            }]),
        });
        round_trip_server(ServerFrame::Presence {
            support_online: false,
            staff: None,
        });
        round_trip_server(ServerFrame::Conversation {
            summary: ConversationSummary {
                id: c,
                title: "Refund".into(),
                subject: Some("Refund".into()),
                status: ConversationStatus::Open,
                customer: person(),
                assignee: None,
                last_message: Some(MessagePreview {
                    kind: MessageKind::Text,
                    sender_id: Some(UserId(7)),
                    sender_name: Some("Ann".into()),
                    body: "hi".into(),
                    at: Timestamp(5),
                }),
                last_activity_at: Timestamp(5),
                unread: 0,
                unanswered: true,
                created_at: Timestamp(1),
            },
        });
        round_trip_server(ServerFrame::Resync);
        round_trip_server(ServerFrame::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            client_id: Some("c-2".into()),
            conversation_id: Some(c),
            retry_after_ms: Some(1500),
        });
        round_trip_server(ServerFrame::error(ErrorCode::BadFrame, "nope"));
        round_trip_server(ServerFrame::error(ErrorCode::Conflict, "already assigned"));
        round_trip_server(ServerFrame::Pong);
    }

    #[test]
    fn wire_spelling_is_stable() {
        let json = ClientFrame::Subscribe {
            conversation_id: ConversationId(3),
            after: Seq(9),
        }
        .to_json();
        assert_eq!(json, r#"{"type":"subscribe","conversation_id":3,"after":9}"#);
        let ping: ClientFrame = serde_json::from_str(r#"{"type":"ping"}"#).expect("ping");
        assert_eq!(ping, ClientFrame::Ping);
        let send: ClientFrame =
            serde_json::from_str(r#"{"type":"send","conversation_id":1,"client_id":"x","body":"b"}"#)
                .expect("send");
        assert!(matches!(send, ClientFrame::Send { note: false, .. }));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"launch"}"#).is_err());
        assert_eq!(ServerFrame::Pong.to_json(), r#"{"type":"pong"}"#);
        let conflict: ServerFrame =
            serde_json::from_str(r#"{"type":"error","code":"conflict","message":"Already assigned."}"#)
                .expect("conflict");
        assert_eq!(
            conflict,
            ServerFrame::error(ErrorCode::Conflict, "Already assigned.")
        );
    }
}
