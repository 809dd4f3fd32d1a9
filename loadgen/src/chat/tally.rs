//! Loss and duplicate accounting across every socket of a run. A message
//! counts as committed when its sender got an ack; each committed message
//! must then be at both sockets of its conversation exactly once. What a
//! socket lacks is lost, a second copy is duplicated, and a message on
//! another conversation's socket is misrouted.

use super::receive::SocketResult;
use crate::report;
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashSet};

/// How many early socket ends are named on stderr (the rest are only counted).
const EARLY_ENDS_SHOWN: usize = 5;

/// Every socket's findings, added up.
pub struct Tally {
    pub e2e: Histogram<u64>,
    pub ack: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// Error frames by code.
    pub refused: BTreeMap<String, u64>,
    pub duplicated: u64,
    pub misrouted: u64,
    pub resyncs: u64,
    pub disconnects: u64,
    /// The first few sockets that ended before they were told to: (conversation, why).
    pub early_ends: Vec<(u32, String)>,
    /// Messages acknowledged to their sender.
    pub committed: u64,
    /// Committed messages some socket of their conversation never received.
    pub missing: u64,
    /// Committed messages received by the other side (once each).
    pub delivered: u64,
    /// Messages received by every subscribed socket, the sender's echo included.
    pub deliveries: u64,
}

impl Tally {
    /// Adds up the sockets of a run with `conversations` conversations.
    pub fn of(results: Vec<SocketResult>, conversations: usize) -> Result<Tally, String> {
        let mut tally = Tally {
            e2e: report::histogram(),
            ack: report::histogram(),
            lag: report::histogram(),
            refused: BTreeMap::new(),
            duplicated: 0,
            misrouted: 0,
            resyncs: 0,
            disconnects: 0,
            early_ends: Vec::new(),
            committed: 0,
            missing: 0,
            delivered: 0,
            deliveries: 0,
        };
        // Per conversation: what was committed, and what each of its sockets received.
        let mut committed: Vec<HashSet<u64>> = vec![HashSet::new(); conversations];
        let mut received: Vec<Vec<HashSet<u64>>> = vec![Vec::new(); conversations];
        for r in results {
            tally.e2e.add(&r.e2e).map_err(|e| format!("histogram: {e}"))?;
            tally.ack.add(&r.ack).map_err(|e| format!("histogram: {e}"))?;
            tally.lag.add(&r.lag).map_err(|e| format!("histogram: {e}"))?;
            for (code, count) in r.errors {
                *tally.refused.entry(code).or_insert(0) += count;
            }
            tally.duplicated += r.duplicates;
            tally.misrouted += r.misrouted;
            tally.resyncs += r.resyncs;
            if let Some(why) = r.dropped {
                tally.disconnects += 1;
                if tally.early_ends.len() < EARLY_ENDS_SHOWN {
                    tally.early_ends.push((r.conv, why));
                }
            }
            let k = r.conv as usize;
            committed[k].extend(r.acked);
            received[k].push(r.received);
        }
        tally.committed = committed.iter().map(|c| c.len() as u64).sum();
        for (k, acked) in committed.iter().enumerate() {
            for got in &received[k] {
                tally.missing += acked.difference(got).count() as u64;
                tally.deliveries += got.len() as u64;
            }
            // Each committed message once at the other side.
            tally.delivered += acked
                .iter()
                .filter(|n| received[k].iter().filter(|got| got.contains(n)).count() >= 2)
                .count() as u64;
        }
        Ok(tally)
    }

    /// Sends answered with an error frame.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(conv: u32, acked: &[u64], received: &[u64]) -> SocketResult {
        let mut r = SocketResult::new(conv);
        r.acked = acked.iter().copied().collect();
        r.received = received.iter().copied().collect();
        r
    }

    #[test]
    fn a_committed_message_one_socket_lacks_is_lost() {
        // Conversation 0: the customer wrote 1 and 3, the agent 0 and 2.
        // The agent's socket never got 3; conversation 1 is complete.
        let mut agent = socket(0, &[0, 2], &[0, 1, 2]);
        agent.duplicates = 1;
        agent.dropped = Some("socket ended".into());
        let results = vec![
            socket(0, &[1, 3], &[0, 1, 2, 3]),
            agent,
            socket(1, &[1], &[0, 1]),
            socket(1, &[0], &[0, 1]),
        ];
        let tally = Tally::of(results, 2).expect("tally");
        assert_eq!(tally.committed, 6);
        assert_eq!(tally.missing, 1);
        assert_eq!(
            tally.delivered, 5,
            "all but message 3 of conversation 0 reached both sides"
        );
        assert_eq!(tally.deliveries, 11);
        assert_eq!(tally.duplicated, 1);
        assert_eq!(tally.disconnects, 1);
        assert_eq!(tally.early_ends, vec![(0, "socket ended".to_owned())]);
    }

    #[test]
    fn refusals_add_up_by_code() {
        let mut a = socket(0, &[], &[]);
        a.count_error("rate_limited".into());
        let mut b = socket(0, &[], &[]);
        b.count_error("rate_limited".into());
        b.count_error("forbidden".into());
        let tally = Tally::of(vec![a, b], 1).expect("tally");
        assert_eq!(tally.refused_total(), 3);
        assert_eq!(tally.refused.get("rate_limited"), Some(&2));
        assert_eq!(tally.missing, 0);
    }
}
