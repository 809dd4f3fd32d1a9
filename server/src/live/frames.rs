//! What each client frame does, one method per frame kind (the dispatch is
//! [`Socket::handle`]). Every frame is authorized here: subscribing, typing
//! and reading in a conversation the user may not see gets an `error` frame
//! and no data; watching the inbox is for staff.

use super::connection::{error_frame, Socket};
use super::outgoing::{while_writing, Stop, WriteError, Writer};
use super::queue;
use super::registry::{encode, Outgoing, SubscribeError};
use backend::bus::Event;
use backend::conversations::{self, Audience};
use backend::ServiceError;
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{ClientId, ConversationId, Seq};
use std::time::Duration;
use tokio::time::Instant;

/// Messages replayed per query when a client catches up.
const REPLAY_PAGE: i64 = 500;
/// Typing frames from one socket for one conversation are relayed at most this often.
const TYPING_RELAY_INTERVAL: Duration = Duration::from_millis(1_000);

impl Socket {
    /// Answers one frame. `Err` only when the socket must stop.
    pub(super) async fn handle(
        &mut self,
        frame: ClientFrame,
        writer: &mut Writer,
        queue: &mut queue::Receiver<Outgoing>,
    ) -> Result<(), Stop> {
        let written = match frame {
            ClientFrame::Ping => writer.send(&ServerFrame::Pong).await,
            ClientFrame::Subscribe {
                conversation_id,
                after,
            } => self.subscribe(conversation_id, after, writer).await,
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
                let reply = while_writing(storing, writer, queue).await?;
                writer.send(&reply).await
            }
            ClientFrame::Typing { conversation_id } => match self.typing(conversation_id).await {
                Ok(()) => Ok(()),
                Err(e) => writer.send(&error_frame(&e, None, Some(conversation_id))).await,
            },
            ClientFrame::Read {
                conversation_id,
                up_to,
            } => {
                match conversations::mark_read(&self.state.backend, &self.user, conversation_id, up_to).await
                {
                    Ok(_) => Ok(()),
                    Err(e) => writer.send(&error_frame(&e, None, Some(conversation_id))).await,
                }
            }
            ClientFrame::WatchInbox { on } => {
                if self.user.role.is_staff() {
                    self.state.hub.watch_inbox(self.id, on);
                    Ok(())
                } else {
                    let err =
                        ServerFrame::error(ErrorCode::Forbidden, "Only the support team watches the inbox.");
                    writer.send(&err).await
                }
            }
        };
        written.map_err(Stop::from)
    }

    /// Checks access, joins the conversation's topic, replays what the
    /// client missed, then says `subscribed`. Joining first means nothing
    /// committed meanwhile can fall between the replay and the live stream
    /// (at worst a message arrives twice; clients keep each seq once).
    async fn subscribe(
        &mut self,
        conversation: ConversationId,
        after: Seq,
        writer: &mut Writer,
    ) -> Result<(), WriteError> {
        let customer =
            match conversations::authorize_view(&self.state.backend.db, &self.user, conversation).await {
                Ok(customer) => customer,
                Err(e) => return writer.send(&error_frame(&e, None, Some(conversation))).await,
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
                return writer.send(&err).await;
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
                Err(e) => return writer.send(&error_frame(&e, None, Some(conversation))).await,
            };
            let full = page.len() as i64 == REPLAY_PAGE;
            for message in page {
                last_seq = message.seq;
                writer.feed(encode(&ServerFrame::Message { message })).await?;
            }
            if !full {
                break;
            }
        }
        writer
            .send(&ServerFrame::Subscribed {
                conversation_id: conversation,
                last_seq,
            })
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
