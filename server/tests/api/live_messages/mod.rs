//! Live delivery over real WebSockets: messages both ways, acknowledgements
//! after commit, idempotent resends, replay, typing, read receipts, notes,
//! presence, inbox updates, rate limits — and every frame authorized. The
//! frame helpers other socket tests use too are here.
//!
//! - [`delivery`]: messages, resends, who hears what, typing, receipts, list updates.
//! - [`refusals`]: refusals, rate limits, presence.
//! - [`restarts`]: a server restart and a client that stops reading.

mod delivery;
mod refusals;
mod restarts;

use crate::helpers::{expect_frame, send_frame, Client, Socket};
use parley::model::Message;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, Seq};
use reqwest::StatusCode;

pub(crate) async fn start(client: &Client, body: &str) -> ConversationId {
    let (status, id) = client
        .call("conversations/start", &[("subject", ""), ("body", body)])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    ConversationId(id.as_i64().expect("id"))
}

pub(crate) async fn subscribe(socket: &mut Socket, conversation: ConversationId, after: i64) -> Vec<Message> {
    send_frame(
        socket,
        &ClientFrame::Subscribe {
            conversation_id: conversation,
            after: Seq(after),
        },
    )
    .await;
    let mut replayed = Vec::new();
    loop {
        match expect_frame(socket, "replay or subscribed", |f| {
            matches!(
                f,
                ServerFrame::Message { .. } | ServerFrame::Subscribed { .. } | ServerFrame::Error { .. }
            )
        })
        .await
        {
            ServerFrame::Message { message } => replayed.push(message),
            ServerFrame::Subscribed { conversation_id, .. } => {
                assert_eq!(conversation_id, conversation);
                return replayed;
            }
            other => panic!("subscribe failed: {other:?}"),
        }
    }
}

pub(crate) async fn send_text(
    socket: &mut Socket,
    conversation: ConversationId,
    client_id: &str,
    body: &str,
    note: bool,
) {
    send_frame(
        socket,
        &ClientFrame::Send {
            conversation_id: conversation,
            client_id: client_id.into(),
            body: body.into(),
            note,
        },
    )
    .await;
}

pub(crate) async fn ack(socket: &mut Socket, client_id: &str) -> Message {
    match expect_frame(socket, "ack", |f| {
        matches!(f, ServerFrame::Ack { client_id: c, .. } | ServerFrame::Error { client_id: Some(c), .. } if c == client_id)
    })
    .await
    {
        ServerFrame::Ack { message, .. } => message,
        other => panic!("expected an ack, got {other:?}"),
    }
}

pub(crate) async fn message_with(socket: &mut Socket, body: &str) -> Message {
    match expect_frame(
        socket,
        body,
        |f| matches!(f, ServerFrame::Message { message } if message.body == body),
    )
    .await
    {
        ServerFrame::Message { message } => message,
        other => panic!("{other:?}"),
    }
}
