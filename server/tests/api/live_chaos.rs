//! Nothing lost, nothing doubled: customers and agents exchange messages
//! over real sockets while sockets are dropped at random and the server is
//! stopped and started again on the same database. Every acknowledged
//! message must end up exactly once, in seq order, with every subscriber
//! allowed to see it, and the database must hold each client_id once.

use crate::helpers::{spawn_app_with, Client, Socket};
use futures::{SinkExt, StreamExt};
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, MessageId, Role, Seq};
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const CUSTOMERS: usize = 6;
const AGENTS: usize = 2;
const MESSAGES_EACH: usize = 60;

/// A small deterministic generator: the test is chaotic, not random.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.next() % 1000 < per_thousand
    }
}

#[derive(Default)]
struct Counters {
    sent_frames: AtomicUsize,
    acked: AtomicUsize,
    delivered: AtomicUsize,
    /// The same seq twice in the `message` stream (replay overlapping live).
    wire_duplicates: AtomicUsize,
    drops: AtomicUsize,
    /// A message arriving after a later one of the same conversation.
    out_of_order: AtomicUsize,
    reconnects: AtomicUsize,
}

/// What one participant ends up holding: per conversation, seq → message id.
type Held = HashMap<ConversationId, BTreeMap<Seq, MessageId>>;

/// Name, what it holds, its acknowledged client ids, its resume points, what it streamed.
type DriverResult = (
    String,
    Held,
    HashSet<String>,
    HashMap<ConversationId, Seq>,
    HashSet<(ConversationId, Seq)>,
);

struct Driver {
    name: String,
    client: Client,
    conversations: Vec<ConversationId>,
    /// (conversation, client_id, body), in the order they must be stored.
    outbox: VecDeque<(ConversationId, String, String)>,
    seed: u64,
}

async fn connect(client: &Client) -> Socket {
    for _ in 0..200 {
        if let Ok(socket) = client.socket().await {
            return socket;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not reconnect");
}

impl Driver {
    async fn run(mut self, counters: Arc<Counters>) -> DriverResult {
        let mut rng = Lcg(self.seed);
        let mut held: Held = HashMap::new();
        // Where each conversation's stream of `message` frames has got to:
        // the resume point. An `ack` shows the message but does not move it
        // (an ack can overtake messages still queued for this socket).
        let mut cursor: HashMap<ConversationId, Seq> = HashMap::new();
        let mut streamed = HashSet::new();
        let mut unacked: VecDeque<(ConversationId, String, String)> = VecDeque::new();
        let mut acked: HashSet<String> = HashSet::new();
        let mut first = true;
        loop {
            if !first {
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            first = false;
            let mut socket = connect(&self.client).await;
            // Resubscribe from what we hold; resend what was never acknowledged, in order.
            for conversation in &self.conversations {
                let frame = ClientFrame::Subscribe {
                    conversation_id: *conversation,
                    after: cursor.get(conversation).copied().unwrap_or_default(),
                };
                if socket
                    .send(WsMessage::Text(frame.to_json().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let mut broken = false;
            for (conversation, client_id, body) in unacked.iter() {
                let frame = ClientFrame::Send {
                    conversation_id: *conversation,
                    client_id: client_id.clone(),
                    body: body.clone(),
                    note: false,
                };
                counters.sent_frames.fetch_add(1, Ordering::Relaxed);
                if socket
                    .send(WsMessage::Text(frame.to_json().into()))
                    .await
                    .is_err()
                {
                    broken = true;
                    break;
                }
            }
            if broken {
                continue;
            }
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                if self.outbox.is_empty() && unacked.is_empty() {
                    return (self.name, held, acked, cursor, streamed);
                }
                tokio::select! {
                    incoming = socket.next() => {
                        let Some(Ok(message)) = incoming else { break };
                        let WsMessage::Text(text) = message else { continue };
                        let frame: ServerFrame = serde_json::from_str(text.as_str()).expect("a frame");
                        match frame {
                            ServerFrame::Ack { client_id, message } => {
                                unacked.retain(|(_, c, _)| *c != client_id);
                                if acked.insert(client_id) {
                                    counters.acked.fetch_add(1, Ordering::Relaxed);
                                }
                                record(&mut held, &mut streamed, &counters, message.conversation_id, message.seq, message.id, false);
                            }
                            ServerFrame::Message { message } => {
                                let at = cursor.entry(message.conversation_id).or_default();
                                if message.seq < *at && !streamed.contains(&(message.conversation_id, message.seq)) {
                                    // a new message behind one already streamed: the order broke
                                    counters.out_of_order.fetch_add(1, Ordering::Relaxed);
                                }
                                *at = (*at).max(message.seq);
                                record(&mut held, &mut streamed, &counters, message.conversation_id, message.seq, message.id, true);
                            }
                            ServerFrame::Error { code, message, .. } => panic!("{}: error {code:?}: {message}", self.name),
                            _ => {}
                        }
                    }
                    _ = tick.tick() => {
                        if rng.chance(25) {
                            counters.drops.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        if unacked.len() < 4 {
                            if let Some(next) = self.outbox.pop_front() {
                                let frame = ClientFrame::Send {
                                    conversation_id: next.0,
                                    client_id: next.1.clone(),
                                    body: next.2.clone(),
                                    note: false,
                                };
                                unacked.push_back(next);
                                counters.sent_frames.fetch_add(1, Ordering::Relaxed);
                                if socket.send(WsMessage::Text(frame.to_json().into())).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Keeps a message once by seq. `streamed` holds what came as `message`
/// frames (as opposed to acks of one's own sends), to count true duplicates.
fn record(
    held: &mut Held,
    streamed: &mut HashSet<(ConversationId, Seq)>,
    counters: &Counters,
    conversation: ConversationId,
    seq: Seq,
    id: MessageId,
    from_stream: bool,
) {
    let thread = held.entry(conversation).or_default();
    if let Some(previous) = thread.insert(seq, id) {
        assert_eq!(
            previous, id,
            "two different messages with seq {seq} in {conversation}"
        );
    }
    if from_stream {
        if streamed.insert((conversation, seq)) {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.wire_duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads everything after `after` once more on a fresh socket (the final catch-up).
async fn catch_up(
    client: &Client,
    held: &mut Held,
    cursor: &HashMap<ConversationId, Seq>,
    streamed: &mut HashSet<(ConversationId, Seq)>,
    conversations: &[ConversationId],
    counters: &Counters,
) {
    let mut socket = connect(client).await;
    for conversation in conversations {
        let frame = ClientFrame::Subscribe {
            conversation_id: *conversation,
            after: cursor.get(conversation).copied().unwrap_or_default(),
        };
        socket
            .send(WsMessage::Text(frame.to_json().into()))
            .await
            .expect("subscribe");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("catch-up in time")
                .expect("open")
                .expect("read");
            let WsMessage::Text(text) = message else { continue };
            match serde_json::from_str::<ServerFrame>(text.as_str()).expect("frame") {
                ServerFrame::Message { message } => record(
                    held,
                    streamed,
                    counters,
                    message.conversation_id,
                    message.seq,
                    message.id,
                    true,
                ),
                ServerFrame::Subscribed { conversation_id, .. } if conversation_id == *conversation => break,
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_arrive_exactly_once_in_order_through_drops_and_a_restart() {
    let mut app = spawn_app_with(ServeArgs {
        messages_per_minute: 100_000,
        // Bursts of resends after every reconnect: this test is about order, not rates.
        socket_frames_per_sec: 100_000,
        socket_frame_burst: 100_000,
        ..ServeArgs::default()
    })
    .await;
    let mut drivers = Vec::new();
    let mut all_conversations = Vec::new();
    let mut customer_clients = Vec::new();
    for i in 0..CUSTOMERS {
        let (client, _) = app
            .signed_in(&format!("customer{i}@example.com"), Role::Customer)
            .await;
        let (status, id) = client
            .call(
                "conversations/start",
                &[("subject", ""), ("body", &format!("hello from {i}"))],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let conversation = ConversationId(id.as_i64().expect("id"));
        all_conversations.push(conversation);
        customer_clients.push((i, client, conversation));
    }
    for (i, client, conversation) in customer_clients {
        let outbox = (0..MESSAGES_EACH)
            .map(|n| {
                (
                    conversation,
                    format!("cus{i}-{n}"),
                    format!("customer {i} message {n}"),
                )
            })
            .collect();
        drivers.push(Driver {
            name: format!("customer{i}"),
            client,
            conversations: vec![conversation],
            outbox,
            seed: 17 + i as u64,
        });
    }
    for a in 0..AGENTS {
        let (client, _) = app.signed_in(&format!("agent{a}@example.com"), Role::Agent).await;
        let outbox = (0..MESSAGES_EACH)
            .map(|n| {
                let conversation = all_conversations[(n + a) % all_conversations.len()];
                (
                    conversation,
                    format!("agent{a}-{n}"),
                    format!("agent {a} reply {n}"),
                )
            })
            .collect();
        drivers.push(Driver {
            name: format!("agent{a}"),
            client,
            conversations: all_conversations.clone(),
            outbox,
            seed: 1000 + a as u64,
        });
    }

    let counters = Arc::new(Counters::default());
    let clients: Vec<(Client, Vec<ConversationId>)> = drivers
        .iter()
        .map(|d| (d.client.clone(), d.conversations.clone()))
        .collect();
    let tasks: Vec<_> = drivers
        .into_iter()
        .map(|d| tokio::spawn(d.run(counters.clone())))
        .collect();

    // Mid-way, stop the server and start it again on the same database, twice.
    tokio::time::sleep(Duration::from_millis(250)).await;
    app.restart().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    app.restart().await;

    let mut results = Vec::new();
    for task in tasks {
        results.push(
            tokio::time::timeout(Duration::from_secs(120), task)
                .await
                .expect("drivers finish")
                .expect("driver"),
        );
    }

    // Final catch-up, then compare every participant's view with the database.
    let mut total_acked = 0;
    for ((name, mut held, acked, cursor, mut streamed), (client, conversations)) in
        results.into_iter().zip(clients)
    {
        total_acked += acked.len();
        assert_eq!(acked.len(), MESSAGES_EACH, "{name}: every message acknowledged");
        catch_up(
            &client,
            &mut held,
            &cursor,
            &mut streamed,
            &conversations,
            &counters,
        )
        .await;
        for conversation in &conversations {
            let rows: Vec<(i64, i64)> = backend::with_pools!(&app.db, |pools| {
                sqlx::query_as("SELECT seq, id FROM messages WHERE conversation_id = $1 ORDER BY seq")
                    .bind(conversation.0)
                    .fetch_all(&pools.read)
                    .await
            })
            .expect("rows");
            let stored: BTreeMap<Seq, MessageId> =
                rows.into_iter().map(|(s, i)| (Seq(s), MessageId(i))).collect();
            let mine = held.remove(conversation).unwrap_or_default();
            assert_eq!(
                mine, stored,
                "{name} holds exactly what is stored in {conversation}"
            );
            let seqs: Vec<i64> = stored.keys().map(|s| s.0).collect();
            assert_eq!(
                seqs,
                (1..=seqs.len() as i64).collect::<Vec<_>>(),
                "seqs have no gaps"
            );
        }
    }
    let duplicates: Vec<(i64, String, i64)> = backend::with_pools!(&app.db, |pools| {
        sqlx::query_as(
            "SELECT sender_id, client_id, COUNT(*) FROM messages WHERE client_id IS NOT NULL \
             GROUP BY sender_id, client_id HAVING COUNT(*) > 1",
        )
        .fetch_all(&pools.read)
        .await
    })
    .expect("query");
    assert!(duplicates.is_empty(), "client ids stored twice: {duplicates:?}");
    assert_eq!(
        counters.out_of_order.load(Ordering::Relaxed),
        0,
        "messages arrived out of seq order"
    );
    let (stored_sends,): (i64,) = backend::with_pools!(&app.db, |pools| {
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE client_id IS NOT NULL")
            .fetch_one(&pools.read)
            .await
    })
    .expect("count");
    assert_eq!(stored_sends as usize, total_acked);
    println!(
        "chaos: {} participants, {} messages acknowledged (= {} stored), {} send frames incl. resends, \
         {} deliveries, {} duplicate frames absorbed by seq, {} random drops, {} reconnects, 2 restarts",
        CUSTOMERS + AGENTS,
        total_acked,
        stored_sends,
        counters.sent_frames.load(Ordering::Relaxed),
        counters.delivered.load(Ordering::Relaxed),
        counters.wire_duplicates.load(Ordering::Relaxed),
        counters.drops.load(Ordering::Relaxed),
        counters.reconnects.load(Ordering::Relaxed),
    );
}
