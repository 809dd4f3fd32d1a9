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
//! Run: `cargo bench -p server --bench fanout`.

use backend::Db;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use parley::protocol::ClientFrame;
use parley::validate::{DisplayName, Email, Password};
use parley::{ConversationId, Role, Seq};
use server::cli::ServeArgs;
use server::config::Config;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SUBSCRIBERS: [usize; 4] = [1, 10, 100, 1_000];
const PASSWORD: &str = "fan-out bench password";
const BODY: &str =
    "Hello! My order #48213 arrived damaged; could you send a replacement or refund it? Thanks, Ann.";

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Harness {
    addr: SocketAddr,
    origin: String,
    agent_cookie: String,
    conversation: ConversationId,
    sender: SplitSink<Ws, Message>,
    /// One `()` per `message` frame any subscriber receives.
    delivered: mpsc::UnboundedReceiver<()>,
    delivered_tx: mpsc::UnboundedSender<()>,
    subscribers: usize,
    sent: u64,
    _dir: tempfile::TempDir,
}

async fn login(http: &reqwest::Client, origin: &str, email: &str) -> String {
    let response = http
        .post(format!("{origin}/api/login"))
        .header("Origin", origin)
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .expect("login request");
    assert!(
        response.status().is_success(),
        "login {email}: {}",
        response.status()
    );
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with("parley_session="))
        .expect("a session cookie")
        .to_owned()
}

async fn open_socket(addr: SocketAddr, origin: &str, cookie: &str) -> Ws {
    let mut request = format!("ws://{addr}/ws")
        .into_client_request()
        .expect("ws request");
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_str(origin).expect("origin"));
    request
        .headers_mut()
        .insert("Cookie", HeaderValue::from_str(cookie).expect("cookie"));
    let (ws, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    ws
}

/// Reads text frames until one contains `needle`.
async fn read_until(ws: &mut Ws, needle: &str) {
    loop {
        match ws.next().await.expect("socket open").expect("socket read") {
            Message::Text(text) if text.as_str().contains(needle) => return,
            _ => {}
        }
    }
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("fanout.db").display()))
            .await
            .expect("open database");
        db.migrate().await.expect("migrate");
        for (email, role) in [
            ("customer@bench.test", Role::Customer),
            ("agent@bench.test", Role::Agent),
        ] {
            backend::accounts::create_user(
                &db,
                &Email::parse(email).expect("email"),
                &DisplayName::parse(email.split('@').next().unwrap_or("someone")).expect("name"),
                role,
                &Password::parse(PASSWORD).expect("password"),
            )
            .await
            .expect("create user");
        }
        let args = ServeArgs {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_root: dir.path().join("site"),
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
        };
        let config = Config::from_args(&args).expect("config");
        let listener = tokio::net::TcpListener::bind(args.addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            server::serve(listener, config, db, std::future::pending())
                .await
                .expect("server runs");
        });
        let origin = format!("http://{addr}");
        let http = reqwest::Client::new();
        let customer_cookie = login(&http, &origin, "customer@bench.test").await;
        let agent_cookie = login(&http, &origin, "agent@bench.test").await;
        let response = http
            .post(format!("{origin}/api/conversations/start"))
            .header("Origin", &origin)
            .header("Cookie", &customer_cookie)
            .form(&[("subject", "Fan-out"), ("body", "Hello")])
            .send()
            .await
            .expect("start conversation");
        assert!(response.status().is_success(), "start: {}", response.status());
        let conversation: ConversationId =
            serde_json::from_str(&response.text().await.expect("body")).expect("conversation id");

        let mut ws = open_socket(addr, &origin, &customer_cookie).await;
        read_until(&mut ws, "\"type\":\"presence\"").await;
        let (sender, mut acks) = ws.split();
        // The sender's acks and list updates are read and dropped.
        tokio::spawn(async move { while let Some(Ok(_)) = acks.next().await {} });
        let (delivered_tx, delivered) = mpsc::unbounded_channel();
        Harness {
            addr,
            origin,
            agent_cookie,
            conversation,
            sender,
            delivered,
            delivered_tx,
            subscribers: 0,
            sent: 0,
            _dir: dir,
        }
    }

    /// Opens and subscribes agent sockets until there are `k`.
    async fn grow_to(&mut self, k: usize) {
        while self.subscribers < k {
            let mut ws = open_socket(self.addr, &self.origin, &self.agent_cookie).await;
            let subscribe = ClientFrame::Subscribe {
                conversation_id: self.conversation,
                after: Seq(i64::MAX / 2),
            };
            ws.send(Message::Text(subscribe.to_json().into()))
                .await
                .expect("subscribe");
            read_until(&mut ws, "\"type\":\"subscribed\"").await;
            let tx = self.delivered_tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(frame)) = ws.next().await {
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
        self.sender
            .send(Message::Text(frame.to_json().into()))
            .await
            .expect("send");
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
