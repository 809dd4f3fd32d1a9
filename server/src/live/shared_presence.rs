//! Presence across instances (with Redis, `REDIS_URL`): a task that keeps
//! this instance's staff in Redis's presence set — refreshed every grace/4
//! (at most 5 s) for members with a socket here — and reads who is present
//! on any instance after every change here or elsewhere and on every tick,
//! which catches members whose instance died: their entries stop being
//! refreshed and fall out after the grace period. Without Redis there is no
//! task and presence is the hub's own book.

use super::hub::Hub;
use backend::bus::{Bus, Event};
use backend::cluster::Cluster;
use std::time::Duration;
use tokio::sync::Notify;

/// The Redis side of presence (see [`run`]).
pub(crate) struct PresenceSync {
    cluster: Cluster,
    bus: Bus,
    /// Something changed here: write it to Redis and tell the others.
    here: Notify,
    /// Something changed elsewhere (or Redis came back): read Redis again.
    elsewhere: Notify,
}

impl PresenceSync {
    pub(super) fn new(cluster: Cluster, bus: Bus) -> PresenceSync {
        PresenceSync {
            cluster,
            bus,
            here: Notify::new(),
            elsewhere: Notify::new(),
        }
    }

    /// Presence here changed: the task writes it and tells the others.
    pub(super) fn changed_here(&self) {
        self.here.notify_one();
    }

    /// Presence may have changed elsewhere: the task reads Redis again.
    pub(super) fn changed_elsewhere(&self) {
        self.elsewhere.notify_one();
    }
}

/// The presence task (Redis only): writes this instance's presence to
/// Redis, tells the other instances when it changed, and reads back who is
/// present anywhere — after each change here or elsewhere, and every
/// grace/4 (at most 5 s), which also refreshes this instance's entries.
/// Ends when the server shuts down. While Redis cannot be reached, what
/// Redis said last counts for one grace period, then only this instance's
/// own sockets do.
pub(super) async fn run(hub: Hub) {
    let Some(sync) = hub.presence_sync() else {
        return;
    };
    let grace = hub.presence_grace();
    let every = (grace / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = hub.shutdown_signal();
    let mut last_read = std::time::Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = sync.here.notified() => {}
            () = sync.elsewhere.notified() => {}
            _ = shutdown.changed() => return,
        }
        let (here, changes, people) = {
            let mut book = hub.presence_book();
            let changes = book.take_changes();
            let people = book.people(&changes.changed);
            (book.here(), changes, people)
        };
        let mut seen = here;
        seen.extend(&changes.left);
        let written = async {
            sync.cluster.touch_presence(&seen).await?;
            sync.cluster.remove_presence(&changes.gone).await
        }
        .await;
        if written.is_ok() && !changes.changed.is_empty() {
            // After the write, so their read sees it.
            sync.bus
                .publish_elsewhere(Event::PresenceChanged { staff: people });
        }
        let present = match written {
            Ok(()) => sync.cluster.present_staff(grace).await,
            Err(e) => Err(e),
        };
        let changed = {
            let mut book = hub.presence_book();
            match present {
                Ok(present) => {
                    if failing {
                        tracing::warn!("presence is shared through Redis again");
                        failing = false;
                    }
                    last_read = std::time::Instant::now();
                    book.set_elsewhere(present);
                }
                Err(e) => {
                    if !failing {
                        tracing::error!(
                            error = %e,
                            "presence cannot reach Redis: staff on other instances will count \
                             as offline after the grace period, until it is back"
                        );
                        failing = true;
                    }
                    if last_read.elapsed() > grace {
                        book.set_elsewhere(Default::default());
                    }
                }
            }
            book.changed()
        };
        if let Some(snapshot) = changed {
            hub.broadcast_presence(&snapshot);
        }
    }
}
