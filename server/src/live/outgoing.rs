//! Writing to one socket: a frame, a batch of queued frames with one flush,
//! the queue kept flowing while the socket's own send is being committed —
//! and a time limit on every write, so a client that stops reading cannot
//! hold its task (and its buffers) forever: a write that does not finish in
//! time ends the socket.

use super::queue;
use super::registry::Outgoing;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use parley::protocol::ServerFrame;
use std::future::Future;
use std::time::Duration;

/// Frames written before one flush when the queue has many waiting.
const WRITE_BATCH: usize = 64;
/// How long the close frame may take: the socket is going away anyway.
const CLOSE_LIMIT: Duration = Duration::from_secs(1);

type Sink = SplitSink<WebSocket, Message>;

/// The write half of a socket, with the time every write may take.
pub(super) struct Writer {
    sink: Sink,
    limit: Duration,
}

/// Why a write failed; either way the socket is done.
#[derive(Debug, thiserror::Error)]
pub(super) enum WriteError {
    #[error("the socket is closed: {0}")]
    Closed(#[from] axum::Error),
    #[error("the client did not take the frame within {0:?}")]
    TimedOut(Duration),
}

/// Why a socket's loop must end while it answers a frame.
pub(super) enum Stop {
    /// The socket can no longer be written.
    Broken,
    /// The hub dropped this socket (it stopped reading, or lost its right
    /// to be open); the reason is waiting for the connection loop.
    Dropped,
}

impl From<WriteError> for Stop {
    fn from(_: WriteError) -> Stop {
        Stop::Broken
    }
}

impl Writer {
    pub(super) fn new(sink: Sink, limit: Duration) -> Writer {
        Writer { sink, limit }
    }

    /// Writes one frame and flushes.
    pub(super) async fn send(&mut self, frame: &ServerFrame) -> Result<(), WriteError> {
        let message = Message::Text(frame.to_json().into());
        limited(self.limit, self.sink.send(message)).await
    }

    /// Queues one encoded frame for the next flush (it may be written now).
    pub(super) async fn feed(&mut self, frame: Outgoing) -> Result<(), WriteError> {
        limited(self.limit, self.sink.feed(Message::Text(frame))).await
    }

    /// Writes a queued frame and whatever else is already waiting, then flushes once.
    pub(super) async fn write_batch(
        &mut self,
        first: Outgoing,
        queue: &mut queue::Receiver<Outgoing>,
    ) -> Result<(), WriteError> {
        self.feed(first).await?;
        for _ in 1..WRITE_BATCH {
            match queue.try_recv() {
                Ok(frame) => self.feed(frame).await?,
                Err(_) => break,
            }
        }
        limited(self.limit, self.sink.flush()).await
    }

    /// Says goodbye with a close code; gives up quickly if the client is not listening.
    pub(super) async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_LIMIT, self.sink.send(Message::Close(Some(frame)))).await;
    }
}

/// Runs one write against the time it may take.
async fn limited(
    limit: Duration,
    write: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), WriteError> {
    match tokio::time::timeout(limit, write).await {
        Ok(written) => Ok(written?),
        Err(_) => {
            tracing::warn!(?limit, "socket write timed out; dropping the socket");
            Err(WriteError::TimedOut(limit))
        }
    }
}

/// Completes when the server starts shutting down.
pub(super) async fn stopped(signal: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send).
    let _ = signal.wait_for(|stop| *stop).await.map(|_| ());
}

/// Awaits `work` (a message being stored) while still writing what the hub
/// queues for this socket, so messages for it do not wait behind its own
/// send's commit. The work always runs to the end: a message committed must
/// also be announced, whatever happens to this socket meanwhile.
pub(super) async fn while_writing<T>(
    work: impl Future<Output = T>,
    writer: &mut Writer,
    queue: &mut queue::Receiver<Outgoing>,
) -> Result<T, Stop> {
    tokio::pin!(work);
    loop {
        let stop = tokio::select! {
            biased;
            done = &mut work => return Ok(done),
            queued = queue.recv() => match queued {
                Some(frame) => match writer.write_batch(frame, queue).await {
                    Ok(()) => continue,
                    Err(_) => Stop::Broken,
                },
                None => Stop::Dropped,
            },
        };
        (&mut work).await;
        return Err(stop);
    }
}
