//! A crash, not a restart: the real `parley` binary, as a child process with
//! its own SQLite file and port, is killed with SIGKILL in the middle of a
//! burst of sends from a customer and an agent. Nothing runs at exit: no
//! socket is told to reconnect, no task finishes. It is started again on the
//! same file and port; both clients reconnect, resubscribe from the last seq
//! they received and resend, with the same client ids, every message that was
//! never acknowledged, then send the rest.
//!
//! What must hold: every message acknowledged before the crash is stored
//! (acknowledged means committed); every message is stored exactly once,
//! resent or not; each sender's messages are stored in the order sent; and
//! both sides receive every stored message, in seq order.

use crate::helpers::{client_at, Client, Socket, PASSWORD};
use crate::process::{free_addr, Scratch};
use backend::Db;
use futures::{SinkExt, StreamExt};
use parley::protocol::{ClientFrame, ServerFrame};
use parley::validate::{DisplayName, Email, Password};
use parley::{ConversationId, MessageId, Role, Seq};
use reqwest::StatusCode;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Child;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Messages each side sends in all.
const MESSAGES_EACH: usize = 150;
/// Sends a side keeps in flight (written, not yet acknowledged).
const WINDOW: usize = 12;
/// Acknowledgements (both sides together) after which the server is killed.
const KILL_AFTER_ACKS: usize = 40;

/// Starts `parley serve` on `addr` (limits out of the burst's way) and
/// waits until it answers `/healthz`.
async fn start_parley(scratch: &Scratch, addr: SocketAddr) -> Child {
    let mut command = scratch.command(addr, &["serve"]);
    command
        .env("PARLEY_RATE_PER_MINUTE", "1000000")
        .env("PARLEY_SOCKET_FRAMES_PER_SEC", "1000000")
        .env("PARLEY_SOCKET_FRAME_BURST", "1000000");
    scratch.serve(command, addr).await
}

async fn create_user(db: &Db, email: &str, role: Role) {
    backend::accounts::create_user(
        db,
        &Email::parse(email).expect("email"),
        &DisplayName::parse(email.split('@').next().unwrap_or("someone")).expect("name"),
        role,
        &Password::parse(PASSWORD).expect("password"),
    )
    .await
    .expect("create user");
}

async fn sign_in(addr: SocketAddr, email: &str) -> Client {
    let client = client_at(addr);
    let (status, body) = client
        .call("login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "login {email}: {body}");
    client
}

/// One participant: what it has to send, what is in flight, what it got.
struct Side {
    name: &'static str,
    client: Client,
    conversation: ConversationId,
    /// Client ids in the order they must be stored; `next` is the first not yet written.
    outbox: Vec<String>,
    next: usize,
    /// Written on the current or an earlier socket, not acknowledged yet (in order).
    unacked: VecDeque<String>,
    acked: HashSet<String>,
    /// What arrived as `message` frames: seq → id, and the client ids among them.
    held: BTreeMap<Seq, MessageId>,
    received_client_ids: HashSet<String>,
    /// The highest seq received in a `message` frame: the resume point.
    cursor: Seq,
    out_of_order: usize,
}

impl Side {
    fn new(name: &'static str, client: Client, conversation: ConversationId, prefix: &str) -> Side {
        Side {
            name,
            client,
            conversation,
            outbox: (0..MESSAGES_EACH).map(|n| format!("{prefix}-{n}")).collect(),
            next: 0,
            unacked: VecDeque::new(),
            acked: HashSet::new(),
            held: BTreeMap::new(),
            received_client_ids: HashSet::new(),
            cursor: Seq(0),
            out_of_order: 0,
        }
    }

    async fn connect(&self) -> Socket {
        for _ in 0..200 {
            if let Ok(socket) = self.client.socket().await {
                return socket;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{}: could not connect", self.name);
    }

    fn send_frame(&self, client_id: &str) -> WsMessage {
        WsMessage::Text(
            ClientFrame::Send {
                conversation_id: self.conversation,
                client_id: client_id.to_owned(),
                body: format!("{} says {client_id}", self.name),
                note: false,
            }
            .to_json()
            .into(),
        )
    }

    /// Every message this side wrote and every one the other side wrote
    /// has arrived, and all of its own are acknowledged.
    fn done(&self, everyone: &HashSet<String>) -> bool {
        self.acked.len() == MESSAGES_EACH && everyone.is_subset(&self.received_client_ids)
    }

    /// One socket's life: subscribe from the cursor, resend what is
    /// unacknowledged, then keep `WINDOW` sends in flight. Returns when the
    /// socket breaks or everything has arrived.
    async fn run(&mut self, everyone: &HashSet<String>, acks: &AtomicUsize) {
        let mut socket = self.connect().await;
        let subscribe = ClientFrame::Subscribe {
            conversation_id: self.conversation,
            after: self.cursor,
        };
        if socket
            .send(WsMessage::Text(subscribe.to_json().into()))
            .await
            .is_err()
        {
            return;
        }
        // Resent in the order first written, with the same client ids.
        let resend: Vec<String> = self.unacked.iter().cloned().collect();
        for client_id in &resend {
            if socket.send(self.send_frame(client_id)).await.is_err() {
                return;
            }
        }
        loop {
            while self.unacked.len() < WINDOW && self.next < self.outbox.len() {
                let client_id = self.outbox[self.next].clone();
                if socket.send(self.send_frame(&client_id)).await.is_err() {
                    return;
                }
                self.unacked.push_back(client_id);
                self.next += 1;
            }
            if self.done(everyone) {
                return;
            }
            let incoming = tokio::time::timeout(Duration::from_secs(15), socket.next()).await;
            let Ok(Some(Ok(WsMessage::Text(text)))) = incoming else {
                match incoming {
                    Ok(Some(Ok(_))) => continue,
                    Err(_) => panic!("{}: nothing heard for 15 s", self.name),
                    // closed or broken: the caller reconnects
                    Ok(_) => return,
                }
            };
            match serde_json::from_str::<ServerFrame>(text.as_str()).expect("a server frame") {
                ServerFrame::Ack { client_id, .. } => {
                    let first = self.unacked.front() == Some(&client_id);
                    assert!(
                        first,
                        "{}: ack for {client_id} overtook {:?}",
                        self.name,
                        self.unacked.front()
                    );
                    self.unacked.pop_front();
                    if self.acked.insert(client_id) {
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                }
                ServerFrame::Message { message } => {
                    if message.seq < self.cursor && !self.held.contains_key(&message.seq) {
                        self.out_of_order += 1;
                    }
                    self.cursor = self.cursor.max(message.seq);
                    if let Some(previous) = self.held.insert(message.seq, message.id) {
                        assert_eq!(previous, message.id, "{}: two messages with one seq", self.name);
                    }
                    if let Some(client_id) = message.client_id {
                        self.received_client_ids.insert(client_id);
                    }
                }
                ServerFrame::Error { code, message, .. } => {
                    panic!("{}: error {code:?}: {message}", self.name)
                }
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_a_sigkill_mid_burst_and_resends_are_stored_once() {
    let scratch = Scratch::new().await;
    let db = Db::connect(&scratch.db_url).await.expect("open database");
    db.migrate().await.expect("migrate");
    create_user(&db, "casey@example.com", Role::Customer).await;
    create_user(&db, "avery@example.com", Role::Agent).await;

    let addr = free_addr();
    let mut server = start_parley(&scratch, addr).await;
    let customer = sign_in(addr, "casey@example.com").await;
    let agent = sign_in(addr, "avery@example.com").await;
    let (status, id) = customer
        .call(
            "conversations/start",
            &[("subject", ""), ("body", "before the burst")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let conversation = ConversationId(id.as_i64().expect("conversation id"));

    let mut sides = [
        Side::new("customer", customer, conversation, "cus"),
        Side::new("agent", agent, conversation, "agt"),
    ];
    let everyone: Arc<HashSet<String>> = Arc::new(sides.iter().flat_map(|s| s.outbox.clone()).collect());
    let acks = Arc::new(AtomicUsize::new(0));

    // The burst, until the server dies under it.
    let bursts: Vec<_> = sides
        .into_iter()
        .map(|mut side| {
            let everyone = everyone.clone();
            let acks = acks.clone();
            tokio::spawn(async move {
                side.run(&everyone, &acks).await;
                side
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), async {
        while acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the burst gets going");
    server.kill().await.expect("SIGKILL");
    let mut survivors = Vec::new();
    for burst in bursts {
        survivors.push(burst.await.expect("burst task"));
    }
    sides = survivors.try_into().unwrap_or_else(|_| panic!("two sides"));
    let acked_before_crash: Vec<String> = sides.iter().flat_map(|s| s.acked.iter().cloned()).collect();
    let in_flight_at_crash: usize = sides.iter().map(|s| s.unacked.len()).sum();
    for side in &sides {
        assert!(
            side.acked.len() < MESSAGES_EACH,
            "{}: the kill came mid-burst, not after it",
            side.name
        );
    }
    assert!(
        in_flight_at_crash > 0,
        "some sends were in flight when the server died"
    );

    // Same file, same port: everyone comes back and finishes.
    let _server = start_parley(&scratch, addr).await;
    let finishing: Vec<_> = sides
        .into_iter()
        .map(|mut side| {
            let everyone = everyone.clone();
            let acks = acks.clone();
            tokio::spawn(async move {
                while !side.done(&everyone) {
                    side.run(&everyone, &acks).await;
                }
                side
            })
        })
        .collect();
    let mut sides = Vec::new();
    for side in finishing {
        sides.push(
            tokio::time::timeout(Duration::from_secs(120), side)
                .await
                .expect("both sides finish after the restart")
                .expect("side task"),
        );
    }

    // Stored: each client id exactly once, each sender's in the order written.
    let rows: Vec<(i64, i64, Option<String>)> = backend::with_pools!(&db, |pools| {
        sqlx::query_as("SELECT seq, id, client_id FROM messages WHERE conversation_id = $1 ORDER BY seq")
            .bind(conversation.0)
            .fetch_all(&pools.read)
            .await
    })
    .expect("stored messages");
    let stored_ids: Vec<&str> = rows.iter().filter_map(|(_, _, c)| c.as_deref()).collect();
    let unique: HashSet<&str> = stored_ids.iter().copied().collect();
    assert_eq!(stored_ids.len(), unique.len(), "a client id stored twice");
    assert_eq!(unique.len(), 2 * MESSAGES_EACH, "every message stored");
    for acked in &acked_before_crash {
        assert!(
            unique.contains(acked.as_str()),
            "{acked} was acknowledged before the crash but is not stored"
        );
    }
    for prefix in ["cus-", "agt-"] {
        let order: Vec<usize> = stored_ids
            .iter()
            .filter_map(|c| c.strip_prefix(prefix))
            .map(|n| n.parse().expect("number"))
            .collect();
        assert_eq!(
            order,
            (0..MESSAGES_EACH).collect::<Vec<_>>(),
            "{prefix}: stored in the order sent"
        );
    }
    let seqs: Vec<i64> = rows.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=rows.len() as i64).collect::<Vec<_>>(),
        "no gaps in seq"
    );

    // Received: both sides hold exactly what is stored, and saw it in order.
    let stored: BTreeMap<Seq, MessageId> = rows
        .iter()
        .map(|(seq, id, _)| (Seq(*seq), MessageId(*id)))
        .collect();
    for side in &sides {
        assert_eq!(side.held, stored, "{} holds what is stored", side.name);
        assert_eq!(
            side.out_of_order, 0,
            "{}: a message arrived out of order",
            side.name
        );
    }
    println!(
        "crash: killed after {} acks with {in_flight_at_crash} sends in flight; {} messages stored once each",
        acked_before_crash.len(),
        rows.len()
    );
    db.close().await;
}
