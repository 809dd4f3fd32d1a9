//! What one socket makes of the frames it receives: each measured message
//! is recognised by its `client_id` ([`super::plan::parse_id`]), counted once
//! (a second copy is a duplicate, another conversation's is misrouted), and
//! timed from its send; acks and refusals are matched to the sends they
//! answer. The run-wide counters in [`Shared`] let the driver see when
//! everything has drained; the per-socket sets go to [`super::tally`].

use super::plan::{parse_id, Side, Spec, Tag};
use super::Shared;
use crate::report;
use hdrhistogram::Histogram;
use parley::protocol::ServerFrame;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What one socket saw.
pub struct SocketResult {
    pub conv: u32,
    pub e2e: Histogram<u64>,
    pub ack: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// `n` of this socket's messages the server acknowledged.
    pub acked: HashSet<u64>,
    /// `n` of every measured message this socket received.
    pub received: HashSet<u64>,
    pub duplicates: u64,
    /// Messages of another conversation (never expected).
    pub misrouted: u64,
    pub errors: BTreeMap<String, u64>,
    pub resyncs: u64,
    /// Why the socket ended before it was told to stop, if it did.
    pub dropped: Option<String>,
}

impl SocketResult {
    pub fn new(conv: u32) -> SocketResult {
        SocketResult {
            conv,
            e2e: report::histogram(),
            ack: report::histogram(),
            lag: report::histogram(),
            acked: HashSet::new(),
            received: HashSet::new(),
            duplicates: 0,
            misrouted: 0,
            errors: BTreeMap::new(),
            resyncs: 0,
            dropped: None,
        }
    }

    /// Counts one error (by its code, or what made a frame unreadable).
    pub fn count_error(&mut self, what: String) {
        *self.errors.entry(what).or_insert(0) += 1;
    }

    /// Records one frame from the server.
    pub fn on_frame(&mut self, frame: ServerFrame, spec: &Spec, shared: &Shared) {
        match frame {
            ServerFrame::Message { message } => {
                let Some(tag) = message
                    .client_id
                    .as_deref()
                    .and_then(|id| parse_id(&shared.run, id))
                else {
                    return;
                };
                let Tag::Measured {
                    conv,
                    side,
                    n,
                    sent_us,
                } = tag
                else {
                    return;
                };
                self.on_message(conv, side, n, sent_us, spec, shared);
            }
            ServerFrame::Ack { client_id, .. } => match parse_id(&shared.run, &client_id) {
                Some(Tag::Prime { .. }) => {
                    shared.primed.fetch_add(1, Ordering::Relaxed);
                }
                Some(Tag::Measured { n, sent_us, .. }) => {
                    let latency = shared.now_us().saturating_sub(sent_us);
                    report::record(&mut self.ack, Duration::from_micros(latency));
                    if self.acked.insert(n) {
                        shared.acked.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.duplicates += 1;
                    }
                }
                None => {}
            },
            ServerFrame::Error { code, client_id, .. } => {
                let tag = client_id.as_deref().and_then(|id| parse_id(&shared.run, id));
                self.count_error(code.as_str().to_owned());
                match tag {
                    Some(Tag::Prime { .. }) => {
                        shared.primed.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Tag::Measured { .. }) => {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {}
                }
            }
            ServerFrame::Resync => self.resyncs += 1,
            _ => {}
        }
    }

    /// A measured message arrived: once per socket, timed when the other side wrote it.
    fn on_message(&mut self, conv: u32, side: Side, n: u64, sent_us: u64, spec: &Spec, shared: &Shared) {
        if conv != spec.conv {
            self.misrouted += 1;
            return;
        }
        if !self.received.insert(n) {
            self.duplicates += 1;
            return;
        }
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        if side != spec.side {
            let latency = shared.now_us().saturating_sub(sent_us);
            report::record(&mut self.e2e, Duration::from_micros(latency));
        }
    }
}
