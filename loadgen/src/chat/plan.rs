//! The workload plan: which sockets a run opens, who writes message `n` of a
//! conversation, when each message is due, and the `client_id` that carries
//! all of it to the receivers.
//!
//! Each message's `client_id` is `run.conversation.<side><n>.<µs>`: the run
//! (so reused accounts never collide with an earlier run's idempotency keys),
//! the conversation's index, who sent it, its number in the conversation, and
//! when it was written to the socket. Receivers need no shared table: the id
//! says whose it is and when it left.
//!
//! Sending is open loop: messages are scheduled by the clock, never held back
//! waiting for answers, round-robin over the conversations, alternating agent
//! and customer.

use super::ChatArgs;
use crate::Common;
use futures::StreamExt;
use parley::ConversationId;
use serde::Serialize;
use std::time::{Duration, Instant};
use testkit::Client;
use tokio::sync::mpsc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Customer,
    Agent,
}

impl Side {
    fn letter(self) -> char {
        match self {
            Side::Customer => 'c',
            Side::Agent => 'a',
        }
    }

    /// Message `n` of a conversation: the agent writes the even ones.
    pub fn of(n: u64) -> Side {
        if n.is_multiple_of(2) {
            Side::Agent
        } else {
            Side::Customer
        }
    }
}

/// What a `client_id` of this run says.
#[derive(Debug, PartialEq, Eq)]
pub enum Tag {
    /// The unmeasured first answer that makes the conversation active.
    Prime { conv: u32 },
    Measured {
        conv: u32,
        side: Side,
        n: u64,
        sent_us: u64,
    },
}

pub fn prime_id(run: &str, conv: u32) -> String {
    format!("{run}.{conv}.p")
}

pub fn message_id(run: &str, conv: u32, side: Side, n: u64, sent_us: u64) -> String {
    format!("{run}.{conv}.{}{n}.{sent_us}", side.letter())
}

/// Reads back an id made by [`prime_id`] or [`message_id`] for `run`.
pub fn parse_id(run: &str, id: &str) -> Option<Tag> {
    let rest = id.strip_prefix(run)?.strip_prefix('.')?;
    let mut parts = rest.split('.');
    let conv: u32 = parts.next()?.parse().ok()?;
    let who = parts.next()?;
    if who == "p" {
        return Some(Tag::Prime { conv });
    }
    let side = match who.as_bytes().first()? {
        b'c' => Side::Customer,
        b'a' => Side::Agent,
        _ => return None,
    };
    let n: u64 = who.get(1..)?.parse().ok()?;
    let sent_us: u64 = parts.next()?.parse().ok()?;
    Some(Tag::Measured {
        conv,
        side,
        n,
        sent_us,
    })
}

/// A message body of exactly `bytes` bytes.
pub fn body_of(bytes: usize) -> String {
    let mut body = String::from("load test message ");
    body.truncate(bytes.max(1));
    while body.len() < bytes {
        body.push('x');
    }
    body
}

/// What the driver tells one socket to do.
pub enum Cmd {
    /// Write message `n` of this socket's conversation; it was due at `due`.
    Send {
        n: u64,
        due: Instant,
    },
    Prime,
}

/// One socket to open: whose it is and what it follows.
pub struct Spec {
    pub conv: u32,
    pub conversation: ConversationId,
    pub side: Side,
    pub watch_inbox: bool,
    /// The account's client; its sockets share the session cookie, as tabs do.
    pub client: Client,
}

/// One customer socket and one agent socket per conversation, in that order
/// (see [`command`]); the first `inbox_watchers` agent sockets also watch the inbox.
pub fn sockets(
    conversations: &[ConversationId],
    customers: &[Client],
    agents: &[Client],
    inbox_watchers: usize,
) -> Vec<Spec> {
    let mut specs = Vec::with_capacity(conversations.len() * 2);
    for (k, id) in conversations.iter().enumerate() {
        let conv = k as u32;
        specs.push(Spec {
            conv,
            conversation: *id,
            side: Side::Customer,
            watch_inbox: false,
            client: customers[k % customers.len()].clone(),
        });
        specs.push(Spec {
            conv,
            conversation: *id,
            side: Side::Agent,
            watch_inbox: k < inbox_watchers,
            client: agents[k % agents.len()].clone(),
        });
    }
    specs
}

/// Sends `cmd` to the `side` socket of conversation `k`.
pub fn command(
    commands: &[mpsc::UnboundedSender<Cmd>],
    k: usize,
    side: Side,
    cmd: Cmd,
) -> Result<(), String> {
    let index = k * 2 + usize::from(side == Side::Agent);
    commands[index]
        .send(cmd)
        .map_err(|_| format!("the {side:?} socket of conversation {k} has ended"))
}

/// Each customer starts its conversations (conversation k belongs to customer k mod N).
pub async fn start_conversations(
    common: &Common,
    customers: &[Client],
    run: &str,
    count: u32,
) -> Result<Vec<ConversationId>, String> {
    let results: Vec<Result<(u32, ConversationId), String>> = futures::stream::iter(0..count)
        .map(|k| {
            let customer = &customers[k as usize % customers.len()];
            async move {
                let subject = format!("Load test {run} #{k}");
                let id = customer
                    .start_conversation(&subject, "Hello, I need help with my order.")
                    .await?;
                Ok((k, id))
            }
        })
        .buffer_unordered(common.setup_concurrency.max(1))
        .collect()
        .await;
    let mut ids = vec![ConversationId(0); count as usize];
    for result in results {
        let (k, id) = result?;
        ids[k as usize] = id;
    }
    Ok(ids)
}

/// Issues `rate × duration` sends on the clock from `started`, whatever the
/// answers; returns how many were issued.
pub async fn send_on_schedule(
    commands: &[mpsc::UnboundedSender<Cmd>],
    args: &ChatArgs,
    started: Instant,
) -> Result<u64, String> {
    let total = (args.rate * args.duration).round() as u64;
    let mut issued = 0u64;
    let mut next_n = vec![0u64; args.conversations];
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while issued < total {
        tick.tick().await;
        // Message i is due at i / rate: those due by now are floor(elapsed * rate) + 1.
        let due_now = ((started.elapsed().as_secs_f64() * args.rate) as u64 + 1).min(total);
        while issued < due_now {
            let k = (issued % args.conversations as u64) as usize;
            let n = next_n[k];
            next_n[k] += 1;
            let due = started + Duration::from_secs_f64(issued as f64 / args.rate);
            command(commands, k, Side::of(n), Cmd::Send { n, due })?;
            issued += 1;
        }
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_round_trip_and_fit() {
        let id = message_id("m3x9ab", 999_999, Side::Agent, 123_456, 86_400_000_000);
        assert!(id.len() <= parley::ClientId::MAX_LEN, "{id}");
        assert_eq!(
            parse_id("m3x9ab", &id),
            Some(Tag::Measured {
                conv: 999_999,
                side: Side::Agent,
                n: 123_456,
                sent_us: 86_400_000_000
            })
        );
        assert_eq!(
            parse_id("m3x9ab", &prime_id("m3x9ab", 7)),
            Some(Tag::Prime { conv: 7 })
        );
        assert_eq!(parse_id("other", &id), None);
        assert_eq!(parse_id("m3x9ab", "m3x9ab.1.z2.3"), None);
        assert_eq!(Side::of(0), Side::Agent);
        assert_eq!(Side::of(1), Side::Customer);
    }

    #[test]
    fn bodies_have_the_asked_length() {
        assert_eq!(body_of(100).len(), 100);
        assert_eq!(body_of(5).len(), 5);
        assert!(body_of(100).starts_with("load test"));
    }
}
