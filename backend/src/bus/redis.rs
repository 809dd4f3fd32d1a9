//! The bridge between this process's bus and the other instances', over
//! Redis pub/sub (`REDIS_URL`).
//!
//! Why it is shaped like this:
//!
//! - `Bus::publish` must stay a queue push (a commit holds the
//!   conversation's turn while it publishes), so events go to one
//!   **publisher task** through a bounded queue, and that task PUBLISHes
//!   them — batched into pipelines, in the order they were handed over —
//!   on **one** channel. One channel and one task per instance keep this
//!   instance's events in commit order for every subscriber; across
//!   instances the clients' gap rule (a seq more than one past the last
//!   resubscribes with `after`) fills what arrives out of order.
//! - Each payload is `<instance id> <JSON>`: every instance hears its own
//!   publishes too, and skips them by the prefix without parsing the JSON
//!   (it delivered them locally already).
//! - A **subscriber task** delivers the others' events to the local
//!   channel. When its connection drops (Redis restarted, a partition, or
//!   `CLIENT KILL`), it logs an error, reconnects with exponential backoff,
//!   and once subscribed again delivers [`Event::Resync`] locally: this
//!   instance's sockets missed whatever was published meanwhile.
//! - When publishing fails, the publisher logs, waits for Redis with
//!   backoff (dropping what queues up meanwhile: the other instances will
//!   refetch it), and publishes a `Resync` for every other instance. While
//!   Redis is down the local path goes on: this instance's own sockets
//!   still hear each other.

use super::Event;
use crate::cluster::{with_timeout, Cluster, ClusterError};
use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSub};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;

/// Events waiting for the publisher. Beyond it (Redis far slower than the
/// commits) events are dropped and the other instances told to resync.
const QUEUE: usize = 16_384;
/// PUBLISHes sent in one pipeline (one round trip).
const BATCH: usize = 256;
/// How often the subscription's connection is checked: a partition does
/// not close a TCP connection, so silence alone proves nothing.
const PING_EVERY: Duration = Duration::from_secs(5);
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The running bridge; dropping it (with the last `Bus`) ends both tasks.
pub(super) struct Bridge {
    queue: mpsc::Sender<Arc<Event>>,
    /// Set when an event could not even be queued: the publisher then
    /// tells everyone to resync.
    overflowed: Arc<AtomicBool>,
    subscriber: AbortHandle,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The publisher ends by itself once the queue is closed and empty.
        self.subscriber.abort();
    }
}

impl Bridge {
    /// Subscribes (failing if Redis does not answer), then starts the tasks.
    pub(super) async fn start(
        cluster: &Cluster,
        local: broadcast::Sender<Arc<Event>>,
    ) -> Result<Bridge, ClusterError> {
        let channel = cluster.key("events");
        let pubsub = subscribe(cluster, &channel).await?;
        let (queue, pending) = mpsc::channel(QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let publisher = Publisher {
            manager: cluster.manager(),
            channel: channel.clone(),
            instance: cluster.instance().to_owned(),
            overflowed: overflowed.clone(),
        };
        tokio::spawn(publisher.run(pending));
        let subscriber = tokio::spawn(listen_forever(cluster.clone(), channel, pubsub, local));
        Ok(Bridge {
            queue,
            overflowed,
            subscriber: subscriber.abort_handle(),
        })
    }

    /// Hands `event` to the publisher without waiting.
    pub(super) fn forward(&self, event: Arc<Event>) {
        if self.queue.try_send(event).is_err() && !self.overflowed.swap(true, Ordering::Relaxed) {
            tracing::error!(
                capacity = QUEUE,
                "the Redis publisher's queue is full: events are being dropped for the other \
                 instances (they will be told to resync)"
            );
        }
    }
}

/// A fresh connection subscribed to `channel`.
async fn subscribe(cluster: &Cluster, channel: &str) -> Result<PubSub, ClusterError> {
    let mut pubsub = with_timeout(cluster.client().get_async_pubsub()).await?;
    with_timeout(pubsub.subscribe(channel)).await?;
    Ok(pubsub)
}

/// Exponential backoff between reconnection attempts.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF_FIRST)
    }

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        wait
    }
}

/// The subscriber task: listens, and after every drop resubscribes and
/// asks this instance's sockets to resync.
async fn listen_forever(
    cluster: Cluster,
    channel: String,
    mut pubsub: PubSub,
    local: broadcast::Sender<Arc<Event>>,
) {
    loop {
        let why = listen(pubsub, cluster.instance(), &local).await;
        tracing::error!(
            redis = cluster.url(),
            channel,
            why,
            "lost the Redis subscription: events from other instances are not arriving; \
             reconnecting (this instance keeps serving its own sockets meanwhile)"
        );
        let mut backoff = Backoff::new();
        pubsub = loop {
            let wait = backoff.next();
            tokio::time::sleep(wait).await;
            match subscribe(&cluster, &channel).await {
                Ok(pubsub) => break pubsub,
                Err(e) => tracing::error!(
                    redis = cluster.url(),
                    error = %e,
                    retry_in_ms = u64::try_from(backoff.0.as_millis()).unwrap_or(u64::MAX),
                    "still cannot subscribe to Redis"
                ),
            }
        };
        tracing::warn!(
            redis = cluster.url(),
            "subscribed to Redis again; asking every socket of this instance to resync"
        );
        let _ = local.send(Arc::new(Event::Resync));
    }
}

/// Delivers the other instances' events until the subscription fails;
/// says why it did.
async fn listen(pubsub: PubSub, instance: &str, local: &broadcast::Sender<Arc<Event>>) -> String {
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => deliver(message.get_payload_bytes(), instance, local),
                None => return "the connection closed".to_owned(),
            },
            _ = ping.tick() => {
                // In subscribed mode PING answers with an array: take any value.
                if let Err(e) = with_timeout(sink.ping::<redis::Value>()).await {
                    return format!("no answer to PING: {e}");
                }
            }
        }
    }
}

/// One payload from the channel: skipped if it is ours, else delivered here.
fn deliver(payload: &[u8], instance: &str, local: &broadcast::Sender<Arc<Event>>) {
    let Some(space) = payload.iter().position(|b| *b == b' ') else {
        tracing::warn!("a Redis event without a sender id; skipped");
        return;
    };
    let (from, json) = payload.split_at(space);
    if from == instance.as_bytes() {
        return;
    }
    match serde_json::from_slice::<Event>(&json[1..]) {
        Ok(event) => {
            let _ = local.send(Arc::new(event));
        }
        Err(e) => tracing::warn!(
            error = %e,
            "an event from another instance could not be read (another version of Parley?); skipped"
        ),
    }
}

/// The publisher task's state.
struct Publisher {
    manager: ConnectionManager,
    channel: String,
    instance: String,
    overflowed: Arc<AtomicBool>,
}

impl Publisher {
    /// Publishes everything handed over, in order, until the bus is gone.
    async fn run(mut self, mut pending: mpsc::Receiver<Arc<Event>>) {
        let mut batch = Vec::with_capacity(BATCH);
        while pending.recv_many(&mut batch, BATCH).await > 0 {
            let mut pipe = redis::pipe();
            for event in batch.drain(..) {
                if let Some(payload) = self.encode(&event) {
                    pipe.cmd("PUBLISH").arg(&self.channel).arg(payload).ignore();
                }
            }
            if self.overflowed.swap(false, Ordering::Relaxed) {
                if let Some(payload) = self.encode(&Event::Resync) {
                    pipe.cmd("PUBLISH").arg(&self.channel).arg(payload).ignore();
                }
            }
            if let Err(e) = with_timeout(pipe.query_async::<()>(&mut self.manager)).await {
                tracing::error!(
                    error = %e,
                    "publishing to Redis failed: the other instances miss this instance's events \
                     until Redis is back"
                );
                if !self.recover(&mut pending).await {
                    break;
                }
            }
        }
    }

    fn encode(&self, event: &Event) -> Option<String> {
        match serde_json::to_string(event) {
            Ok(json) => Some(format!("{} {json}", self.instance)),
            Err(e) => {
                tracing::error!(error = %e, "an event could not be encoded for Redis; skipped");
                None
            }
        }
    }

    /// Waits for Redis with backoff, dropping what queues up meanwhile
    /// (the local hub has it; the others will refetch), then tells every
    /// other instance to resync. False when the bus was dropped meanwhile.
    async fn recover(&mut self, pending: &mut mpsc::Receiver<Arc<Event>>) -> bool {
        let Some(resync) = self.encode(&Event::Resync) else {
            return false;
        };
        let mut backoff = Backoff::new();
        let mut dropped = 0usize;
        loop {
            tokio::time::sleep(backoff.next()).await;
            loop {
                match pending.try_recv() {
                    Ok(_) => dropped += 1,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return false,
                }
            }
            let mut publish = redis::cmd("PUBLISH");
            publish.arg(&self.channel).arg(&resync);
            match with_timeout(publish.query_async::<i64>(&mut self.manager)).await {
                Ok(_) => {
                    tracing::warn!(
                        dropped,
                        "publishing to Redis works again; told the other instances to resync"
                    );
                    return true;
                }
                Err(e) => tracing::error!(error = %e, dropped, "still cannot publish to Redis"),
            }
        }
    }
}
