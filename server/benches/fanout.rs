//! Fan-out of one message to K subscribers, through a real server: the
//! server runs in this process (`server::serve`, real SQLite file, real
//! sessions), K WebSocket clients signed in as one agent are subscribed to a
//! conversation, and a customer socket sends messages into it. One
//! iteration is one `send` until all K subscribers hold the `message` frame:
//! commit, bus, the hub's registry lookup, one encode, K queue pushes, K
//! socket writes and K client reads. Subtracting K = 1 from the larger K
//! gives the marginal cost per subscriber.
//!
//! The hub's registry (`server/src/live/registry.rs`) is crate-private, so
//! the in-memory part cannot be measured alone from here; the clients share
//! the two cores with the server, so these figures are an upper bound.
//!
//! The server and its clients come from the test kit (`testkit`, feature
//! `spawn`), as in the integration tests.
//!
//! Run: `cargo bench -p server --bench fanout`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::stream::SplitSink;
use futures::StreamExt;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, Role, Seq};
use server::cli::ServeArgs;
use std::time::{Duration, Instant};
use testkit::{spawn_app_with, wait_for, write_frame, Client, Socket, TestApp};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIBERS: [usize; 4] = [1, 10, 100, 1_000];
const BODY: &str =
    "Hello! My order #48213 arrived damaged; could you send a replacement or refund it? Thanks, Ann.";
/// Setup steps (an upgrade, a subscription) on a busy machine.
const SETUP_LIMIT: Duration = Duration::from_secs(30);

struct Harness {
    agent: Client,
    conversation: ConversationId,
    sender: SplitSink<Socket, Message>,
    /// One `()` per `message` frame any subscriber receives.
    delivered: mpsc::UnboundedReceiver<()>,
    delivered_tx: mpsc::UnboundedSender<()>,
    subscribers: usize,
    sent: u64,
    _app: TestApp,
}

impl Harness {
    async fn start() -> Harness {
        let app = spawn_app_with(ServeArgs {
            messages_per_minute: u32::MAX,
            socket_frames_per_sec: 1_000_000,
            socket_frame_burst: 1_000_000,
            max_sockets_per_user: usize::MAX,
            max_sockets: usize::MAX,
            // Idle subscribers of the small K stay open through the large K.
            heartbeat_secs: 3_600,
            // A bench is an optimised build: it must say whom it serves.
            local_only: true,
            ..ServeArgs::default()
        })
        .await;
        let (customer, _) = app.signed_in("customer@bench.test", Role::Customer).await;
        let (agent, _) = app.signed_in("agent@bench.test", Role::Agent).await;
        let conversation = customer
            .start_conversation("Fan-out", "Hello")
            .await
            .expect("start conversation");

        let customer_socket = customer.open_live(SETUP_LIMIT).await.expect("customer socket");
        let (sender, mut acks) = customer_socket.ws.split();
        // The sender's acks and list updates are read and dropped.
        tokio::spawn(async move { while let Some(Ok(_)) = acks.next().await {} });
        let (delivered_tx, delivered) = mpsc::unbounded_channel();
        Harness {
            agent,
            conversation,
            sender,
            delivered,
            delivered_tx,
            subscribers: 0,
            sent: 0,
            _app: app,
        }
    }

    /// Opens and subscribes agent sockets until there are `k`.
    async fn grow_to(&mut self, k: usize) {
        while self.subscribers < k {
            let mut ws = self.agent.open_live(SETUP_LIMIT).await.expect("agent socket").ws;
            let subscribe = ClientFrame::Subscribe {
                conversation_id: self.conversation,
                after: Seq(i64::MAX / 2),
            };
            write_frame(&mut ws, &subscribe).await.expect("subscribe");
            wait_for(&mut ws, SETUP_LIMIT, "subscribed", |frame| {
                matches!(frame, ServerFrame::Subscribed { .. })
            })
            .await
            .expect("subscribed");
            let tx = self.delivered_tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(frame)) = ws.next().await {
                    // Recognised by its first bytes, not decoded: the
                    // clients share the two cores with the server, and K
                    // decodes per message would weigh on what is measured.
                    if let Message::Text(text) = frame {
                        if text.as_str().starts_with("{\"type\":\"message\"") && tx.send(()).is_err() {
                            break;
                        }
                    }
                }
            });
            self.subscribers += 1;
        }
    }

    /// Sends one message and waits until every subscriber has it.
    async fn one_message(&mut self) -> Duration {
        self.sent += 1;
        let frame = ClientFrame::Send {
            conversation_id: self.conversation,
            client_id: format!("fanout-{}", self.sent),
            body: BODY.into(),
            note: false,
        };
        let started = Instant::now();
        write_frame(&mut self.sender, &frame).await.expect("send");
        for _ in 0..self.subscribers {
            tokio::time::timeout(Duration::from_secs(10), self.delivered.recv())
                .await
                .expect("every subscriber within 10 s")
                .expect("readers alive");
        }
        started.elapsed()
    }
}

fn fanout(c: &mut Criterion) {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut harness = rt.block_on(Harness::start());
    let mut group = c.benchmark_group("fanout");
    group.sample_size(30);
    for k in SUBSCRIBERS {
        rt.block_on(harness.grow_to(k));
        group.throughput(Throughput::Elements(k as u64));
        group.bench_function(BenchmarkId::new("message_to_subscribers", k), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += harness.one_message().await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = fanout
}
criterion_main!(benches);
