//! Writing to one socket: a frame, a batch of queued frames with one flush,
//! and the queue kept flowing while the socket's own send is being
//! committed.

use super::registry::Outgoing;
use axum::extract::ws::{Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use parley::protocol::ServerFrame;
use tokio::sync::mpsc;

/// Frames written before one flush when the queue has many waiting.
const WRITE_BATCH: usize = 64;

pub(super) type Sink = SplitSink<WebSocket, Message>;

/// Why a socket's loop must end while it answers a frame.
pub(super) enum Stop {
    /// The socket can no longer be written.
    Broken,
    /// The hub dropped this socket for not reading its frames.
    TooSlow,
}

/// Completes when the server starts shutting down.
pub(super) async fn stopped(signal: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send).
    let _ = signal.wait_for(|stop| *stop).await.map(|_| ());
}

pub(super) async fn send(sink: &mut Sink, frame: &ServerFrame) -> Result<(), axum::Error> {
    sink.send(Message::Text(frame.to_json().into())).await
}

/// Awaits `work` (a message being stored) while still writing what the hub
/// queues for this socket, so messages for it do not wait behind its own
/// send's commit. The work always runs to the end: a message committed must
/// also be announced, whatever happens to this socket meanwhile.
pub(super) async fn while_writing<T>(
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

/// Writes a queued frame and whatever else is already waiting, then flushes once.
pub(super) async fn write_batch(
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
