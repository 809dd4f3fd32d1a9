//! `chat` mode: live conversations between customers and agents, driven at a
//! fixed total rate (open loop: sends are scheduled by the clock, never held
//! back waiting for answers), with every message checked for loss and
//! duplication and timed from send to receipt on the other side.
//!
//! Shape of a run: sign in (or create) the accounts; each customer starts
//! conversations over HTTP; every conversation gets one customer socket and
//! one agent socket (sockets of one account share its cookie), both
//! subscribed to it; each agent answers once so the conversation is active
//! (not measured); then messages go round-robin over the conversations,
//! alternating agent and customer, for the given duration; then the run
//! drains until every send is answered and every committed message has
//! reached both sockets, or the drain time is up.
//!
//! Each message's `client_id` is `run.conversation.<side><n>.<µs>`: the run
//! (so reused accounts never collide with an earlier run's idempotency keys),
//! the conversation's index, who sent it, its number in the conversation, and
//! when it was written to the socket. Receivers need no shared table: the id
//! says whose it is and when it left.

use crate::accounts::{Api, Session};
use crate::report::{self, Summary};
use crate::socket::{self, Ws};
use crate::{procstat, Common};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, Seq};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// Customer accounts (reused when they exist). Conversation k belongs to customer k mod N.
    #[arg(long, default_value_t = 100)]
    pub customers: usize,
    /// Agent accounts (reused when they exist). Conversation k is answered by agent k mod M.
    #[arg(long, default_value_t = 10)]
    pub agents: usize,
    /// Live conversations, each with one customer socket and one agent socket.
    #[arg(long, default_value_t = 100)]
    pub conversations: usize,
    /// Messages per second in total, spread evenly over the conversations.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Bytes in each message body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// How many agent sockets also watch the shared inbox (one list update per message each).
    #[arg(long, default_value_t = 0)]
    pub inbox_watchers: usize,
    /// Longest wait, after sending stops, for the last answers and deliveries.
    #[arg(long, default_value_t = 30.0)]
    pub drain_secs: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Side {
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
    fn of(n: u64) -> Side {
        if n.is_multiple_of(2) {
            Side::Agent
        } else {
            Side::Customer
        }
    }
}

/// What a `client_id` of this run says.
#[derive(Debug, PartialEq, Eq)]
enum Tag {
    /// The unmeasured first answer that makes the conversation active.
    Prime { conv: u32 },
    Measured {
        conv: u32,
        side: Side,
        n: u64,
        sent_us: u64,
    },
}

fn prime_id(run: &str, conv: u32) -> String {
    format!("{run}.{conv}.p")
}

fn message_id(run: &str, conv: u32, side: Side, n: u64, sent_us: u64) -> String {
    format!("{run}.{conv}.{}{n}.{sent_us}", side.letter())
}

/// Reads back an id made by [`prime_id`] or [`message_id`] for `run`.
fn parse_id(run: &str, id: &str) -> Option<Tag> {
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

/// Counters every socket task updates; the driver watches them to know when a run has drained.
struct Shared {
    epoch: Instant,
    run: String,
    body: String,
    /// Send frames written to sockets.
    sent: AtomicU64,
    acked: AtomicU64,
    /// Sends answered with an error frame.
    refused: AtomicU64,
    /// Measured messages received, on any socket, counted once per socket.
    delivered: AtomicU64,
    /// Prime answers (acks or errors).
    primed: AtomicU64,
}

impl Shared {
    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

enum Cmd {
    /// Write message `n` of this socket's conversation; it was due at `due`.
    Send {
        n: u64,
        due: Instant,
    },
    Prime,
}

struct Spec {
    conv: u32,
    conversation: ConversationId,
    side: Side,
    watch_inbox: bool,
    cookie: String,
}

/// What one socket saw.
struct SocketResult {
    conv: u32,
    e2e: Histogram<u64>,
    ack: Histogram<u64>,
    lag: Histogram<u64>,
    /// `n` of this socket's messages the server acknowledged.
    acked: HashSet<u64>,
    /// `n` of every measured message this socket received.
    received: HashSet<u64>,
    duplicates: u64,
    /// Messages of another conversation (never expected).
    misrouted: u64,
    errors: BTreeMap<String, u64>,
    resyncs: u64,
    /// Why the socket ended before it was told to stop, if it did.
    dropped: Option<String>,
}

/// The JSON line of a chat run.
#[derive(Serialize)]
struct ChatReport {
    mode: &'static str,
    url: String,
    run: String,
    customers: usize,
    agents: usize,
    conversations: usize,
    sockets: usize,
    inbox_watchers: usize,
    rate_target: f64,
    duration_s: f64,
    body_bytes: usize,
    setup_s: f64,
    connect_all_s: f64,
    /// Send phase plus the drain: from the first send to the last delivery.
    active_s: f64,
    sent: u64,
    committed: u64,
    refused: BTreeMap<String, u64>,
    /// Sends with neither an ack nor an error by the end of the drain.
    unanswered: u64,
    /// Committed messages received by the other side (once each).
    delivered: u64,
    /// Messages received by every subscribed socket, the sender's echo included.
    deliveries: u64,
    /// Missing deliveries of committed messages, plus unanswered sends.
    lost: u64,
    duplicated: u64,
    misrouted: u64,
    resyncs: u64,
    disconnects: u64,
    sent_per_s: f64,
    committed_per_s: f64,
    delivered_per_s: f64,
    e2e_us: Summary,
    ack_us: Summary,
    send_lag_us: Summary,
    connect_us: Summary,
    server: Option<procstat::Usage>,
    server_cpu_us_per_msg: Option<f64>,
    ok: bool,
}

pub async fn run(common: &Common, args: &ChatArgs) -> Result<bool, String> {
    if args.customers == 0 || args.agents == 0 || args.conversations == 0 {
        return Err("--customers, --agents and --conversations must be at least 1".into());
    }
    if !(args.rate > 0.0 && args.duration > 0.0) {
        return Err("--rate and --duration must be positive".into());
    }
    let conversations = u32::try_from(args.conversations).map_err(|_| "too many conversations")?;
    let api = Api::new(&common.url)?;
    let setup_started = Instant::now();

    eprintln!(
        "signing in {} customers and {} agents at {} ...",
        args.customers, args.agents, api.base
    );
    let customers = crate::sign_in_all(&api, common, "customer", args.customers, false).await?;
    let agents = crate::sign_in_all(&api, common, "agent", args.agents, true).await?;

    let run = crate::run_id();
    eprintln!("starting {} conversations (run {run}) ...", args.conversations);
    let conversation_ids = start_conversations(&api, common, &customers, &run, conversations).await?;

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        body: body_of(args.body_bytes),
        run,
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        primed: AtomicU64::new(0),
    });

    // One customer socket and one agent socket per conversation.
    let mut specs = Vec::with_capacity(args.conversations * 2);
    for (k, id) in conversation_ids.iter().enumerate() {
        let conv = k as u32;
        specs.push(Spec {
            conv,
            conversation: *id,
            side: Side::Customer,
            watch_inbox: false,
            cookie: customers[k % customers.len()].cookie.clone(),
        });
        specs.push(Spec {
            conv,
            conversation: *id,
            side: Side::Agent,
            watch_inbox: k < args.inbox_watchers,
            cookie: agents[k % agents.len()].cookie.clone(),
        });
    }
    eprintln!("opening {} sockets ...", specs.len());
    let connect_started = Instant::now();
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let mut commands = Vec::with_capacity(specs.len());
    let mut readies = Vec::with_capacity(specs.len());
    let mut tasks = Vec::with_capacity(specs.len());
    let ws_url = api.ws_url();
    for spec in specs {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        commands.push(cmd_tx);
        readies.push(ready_rx);
        tasks.push(tokio::spawn(socket_task(
            spec,
            ws_url.clone(),
            api.base.clone(),
            permits.clone(),
            cmd_rx,
            ready_tx,
            shared.clone(),
        )));
    }
    let mut connect = report::histogram();
    for ready in readies {
        let connect_time = ready
            .await
            .map_err(|_| "a socket task ended before it was ready".to_owned())??;
        report::record(&mut connect, connect_time);
    }
    let connect_all = connect_started.elapsed();
    eprintln!(
        "{} sockets open and subscribed in {:.2} s",
        commands.len(),
        connect_all.as_secs_f64()
    );

    // The agents' first answers make every conversation active (a status
    // change, an assignment and a system message): done before measuring.
    for k in 0..args.conversations {
        send_cmd(&commands, k, Side::Agent, Cmd::Prime)?;
    }
    wait_until(Duration::from_secs(120), || {
        shared.primed.load(Ordering::Relaxed) >= args.conversations as u64
    })
    .await
    .map_err(|_| "the agents' first answers were not all acknowledged within 120 s".to_owned())?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let setup = setup_started.elapsed();

    let watcher = match common.server_pid {
        Some(pid) => Some(procstat::Watcher::start(pid)?),
        None => None,
    };
    eprintln!(
        "sending {:.0} messages/s for {} s over {} conversations ...",
        args.rate, args.duration, args.conversations
    );
    let started = Instant::now();
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
            send_cmd(&commands, k, Side::of(n), Cmd::Send { n, due })?;
            issued += 1;
        }
    }
    let send_phase = started.elapsed();

    // Drain: every send answered, every committed message at both sockets.
    let drained = wait_until(Duration::from_secs_f64(args.drain_secs), || {
        let acked = shared.acked.load(Ordering::Relaxed);
        shared.sent.load(Ordering::Relaxed) >= issued
            && acked + shared.refused.load(Ordering::Relaxed) >= issued
            && shared.delivered.load(Ordering::Relaxed) >= 2 * acked
    })
    .await
    .is_ok();
    let active = started.elapsed();
    let server = match watcher {
        Some(w) => Some(w.finish()?),
        None => None,
    };
    if !drained {
        eprintln!("warning: the run did not drain within {} s", args.drain_secs);
    }

    // Closing the command channels ends the socket tasks.
    drop(commands);
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| format!("socket task: {e}"))?);
    }

    let mut e2e = report::histogram();
    let mut ack = report::histogram();
    let mut lag = report::histogram();
    let mut refused = BTreeMap::new();
    let (mut duplicated, mut misrouted, mut resyncs, mut disconnects) = (0, 0, 0, 0);
    // Per conversation: what was committed, and what each of its sockets received.
    let mut committed: Vec<HashSet<u64>> = vec![HashSet::new(); args.conversations];
    let mut received: Vec<Vec<HashSet<u64>>> = vec![Vec::new(); args.conversations];
    for r in results {
        e2e.add(&r.e2e).map_err(|e| format!("histogram: {e}"))?;
        ack.add(&r.ack).map_err(|e| format!("histogram: {e}"))?;
        lag.add(&r.lag).map_err(|e| format!("histogram: {e}"))?;
        for (code, count) in r.errors {
            *refused.entry(code).or_insert(0) += count;
        }
        duplicated += r.duplicates;
        misrouted += r.misrouted;
        resyncs += r.resyncs;
        if let Some(why) = &r.dropped {
            disconnects += 1;
            if disconnects <= 5 {
                eprintln!("socket of conversation {} ended early: {why}", r.conv);
            }
        }
        let k = r.conv as usize;
        committed[k].extend(r.acked);
        received[k].push(r.received);
    }
    let committed_total: u64 = committed.iter().map(|c| c.len() as u64).sum();
    let mut missing = 0u64;
    let mut delivered_other = 0u64;
    let mut deliveries = 0u64;
    for (k, acked) in committed.iter().enumerate() {
        for got in &received[k] {
            missing += acked.difference(got).count() as u64;
            deliveries += got.len() as u64;
        }
        // Each committed message once at the other side.
        delivered_other += acked
            .iter()
            .filter(|n| received[k].iter().filter(|got| got.contains(n)).count() >= 2)
            .count() as u64;
    }
    let refused_total: u64 = refused.values().sum();
    let sent = shared.sent.load(Ordering::Relaxed);
    let unanswered = issued.saturating_sub(committed_total + refused_total);
    let lost = missing + unanswered;
    let secs = active.as_secs_f64().max(1e-9);
    let ok = lost == 0 && duplicated == 0 && refused_total == 0 && misrouted == 0;
    let report = ChatReport {
        mode: "chat",
        url: api.base.clone(),
        run: shared.run.clone(),
        customers: args.customers,
        agents: args.agents,
        conversations: args.conversations,
        sockets: args.conversations * 2,
        inbox_watchers: args.inbox_watchers.min(args.conversations),
        rate_target: args.rate,
        duration_s: args.duration,
        body_bytes: args.body_bytes,
        setup_s: round3(setup.as_secs_f64()),
        connect_all_s: round3(connect_all.as_secs_f64()),
        active_s: round3(active.as_secs_f64()),
        sent,
        committed: committed_total,
        refused,
        unanswered,
        delivered: delivered_other,
        deliveries,
        lost,
        duplicated,
        misrouted,
        resyncs,
        disconnects,
        sent_per_s: round3(sent as f64 / send_phase.as_secs_f64().max(1e-9)),
        committed_per_s: round3(committed_total as f64 / secs),
        delivered_per_s: round3(delivered_other as f64 / secs),
        e2e_us: Summary::of(&e2e),
        ack_us: Summary::of(&ack),
        send_lag_us: Summary::of(&lag),
        connect_us: Summary::of(&connect),
        server_cpu_us_per_msg: server
            .filter(|_| committed_total > 0)
            .map(|s| round3(s.cpu_s * 1e6 / committed_total as f64)),
        server,
        ok,
    };
    print_chat(&report);
    Ok(ok)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn body_of(bytes: usize) -> String {
    let mut body = String::from("load test message ");
    body.truncate(bytes.max(1));
    while body.len() < bytes {
        body.push('x');
    }
    body
}

fn send_cmd(commands: &[mpsc::UnboundedSender<Cmd>], k: usize, side: Side, cmd: Cmd) -> Result<(), String> {
    let index = k * 2 + usize::from(side == Side::Agent);
    commands[index]
        .send(cmd)
        .map_err(|_| format!("the {side:?} socket of conversation {k} has ended"))
}

/// Polls `done` every 5 ms until it holds or `limit` passes.
async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return Err(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn start_conversations(
    api: &Api,
    common: &Common,
    customers: &[Session],
    run: &str,
    count: u32,
) -> Result<Vec<ConversationId>, String> {
    let results: Vec<Result<(u32, ConversationId), String>> = futures::stream::iter(0..count)
        .map(|k| {
            let customer = &customers[k as usize % customers.len()];
            async move {
                let subject = format!("Load test {run} #{k}");
                let id = api
                    .start_conversation(customer, &subject, "Hello, I need help with my order.")
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

type Sink = SplitSink<Ws, WsMessage>;

async fn write(sink: &mut Sink, frame: &ClientFrame) -> Result<(), String> {
    sink.send(WsMessage::Text(frame.to_json().into()))
        .await
        .map_err(|e| format!("socket write: {e}"))
}

/// One socket: open, subscribe, say it is ready, then send what it is told
/// and record what it receives until its command channel closes.
async fn socket_task(
    spec: Spec,
    ws_url: String,
    origin: String,
    permits: Arc<Semaphore>,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    ready: oneshot::Sender<Result<Duration, String>>,
    shared: Arc<Shared>,
) -> SocketResult {
    let mut result = SocketResult {
        conv: spec.conv,
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
    };
    let opened = {
        let _permit = permits.acquire().await;
        match open_and_subscribe(&spec, &ws_url, &origin).await {
            Ok(opened) => opened,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "{:?} socket of conversation {}: {e}",
                    spec.side, spec.conv
                )));
                result.dropped = Some(e);
                return result;
            }
        }
    };
    let _ = ready.send(Ok(opened.connect_time));
    let (mut sink, mut stream) = opened.ws.split();
    let mut ping = tokio::time::interval(opened.heartbeat / 2);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let outcome = match command {
                    None => break,
                    Some(Cmd::Prime) => {
                        write(&mut sink, &send_frame(&spec, prime_id(&shared.run, spec.conv), &shared.body)).await
                    }
                    Some(Cmd::Send { n, due }) => {
                        let now = Instant::now();
                        report::record(&mut result.lag, now.saturating_duration_since(due));
                        let id = message_id(&shared.run, spec.conv, spec.side, n, shared.now_us());
                        let outcome = write(&mut sink, &send_frame(&spec, id, &shared.body)).await;
                        shared.sent.fetch_add(1, Ordering::Relaxed);
                        outcome
                    }
                };
                if let Err(e) = outcome {
                    result.dropped = Some(e);
                    break;
                }
            }
            _ = ping.tick() => {
                if let Err(e) = write(&mut sink, &ClientFrame::Ping).await {
                    result.dropped = Some(e);
                    break;
                }
            }
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Close(close))) => {
                        result.dropped = Some(format!("closed by the server: {close:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        result.dropped = Some(format!("socket read: {e}"));
                        break;
                    }
                    None => {
                        result.dropped = Some("socket ended".into());
                        break;
                    }
                };
                match serde_json::from_str::<ServerFrame>(text.as_str()) {
                    Ok(frame) => on_frame(frame, &spec, &shared, &mut result),
                    Err(e) => {
                        *result.errors.entry(format!("undecodable frame: {e}")).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    if result.dropped.is_none() {
        let _ = sink.send(WsMessage::Close(None)).await;
    }
    result
}

fn send_frame(spec: &Spec, client_id: String, body: &str) -> ClientFrame {
    ClientFrame::Send {
        conversation_id: spec.conversation,
        client_id,
        body: body.to_owned(),
        note: false,
    }
}

async fn open_and_subscribe(spec: &Spec, ws_url: &str, origin: &str) -> Result<socket::Opened, String> {
    let mut opened = socket::open(ws_url, origin, &spec.cookie).await?;
    let subscribe = ClientFrame::Subscribe {
        conversation_id: spec.conversation,
        after: Seq(0),
    };
    opened
        .ws
        .send(WsMessage::Text(subscribe.to_json().into()))
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    if spec.watch_inbox {
        let watch = ClientFrame::WatchInbox { on: true };
        opened
            .ws
            .send(WsMessage::Text(watch.to_json().into()))
            .await
            .map_err(|e| format!("watch_inbox: {e}"))?;
    }
    loop {
        match socket::next_frame(&mut opened.ws).await? {
            ServerFrame::Subscribed { conversation_id, .. } if conversation_id == spec.conversation => {
                return Ok(opened)
            }
            ServerFrame::Error { code, message, .. } => {
                return Err(format!("subscribe refused: {} ({message})", code.as_str()))
            }
            _ => {}
        }
    }
}

fn on_frame(frame: ServerFrame, spec: &Spec, shared: &Shared, result: &mut SocketResult) {
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
            if conv != spec.conv {
                result.misrouted += 1;
                return;
            }
            if !result.received.insert(n) {
                result.duplicates += 1;
                return;
            }
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            if side != spec.side {
                let latency = shared.now_us().saturating_sub(sent_us);
                report::record(&mut result.e2e, Duration::from_micros(latency));
            }
        }
        ServerFrame::Ack { client_id, .. } => match parse_id(&shared.run, &client_id) {
            Some(Tag::Prime { .. }) => {
                shared.primed.fetch_add(1, Ordering::Relaxed);
            }
            Some(Tag::Measured { n, sent_us, .. }) => {
                let latency = shared.now_us().saturating_sub(sent_us);
                report::record(&mut result.ack, Duration::from_micros(latency));
                if result.acked.insert(n) {
                    shared.acked.fetch_add(1, Ordering::Relaxed);
                } else {
                    result.duplicates += 1;
                }
            }
            None => {}
        },
        ServerFrame::Error { code, client_id, .. } => {
            let tag = client_id.as_deref().and_then(|id| parse_id(&shared.run, id));
            *result.errors.entry(code.as_str().to_owned()).or_insert(0) += 1;
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
        ServerFrame::Resync => result.resyncs += 1,
        _ => {}
    }
}

fn print_chat(r: &ChatReport) {
    println!();
    println!(
        "parley-loadgen chat: {} conversations, {} sockets, target {} msg/s for {} s, {} B bodies, {} inbox watchers",
        r.conversations, r.sockets, r.rate_target, r.duration_s, r.body_bytes, r.inbox_watchers
    );
    println!();
    print!(
        "{}",
        report::latency_table(&[
            ("send → receive (other side)", r.e2e_us),
            ("send → ack (committed)", r.ack_us),
            ("send lag (behind schedule)", r.send_lag_us),
            ("connect (upgrade → hello)", r.connect_us),
        ])
    );
    println!();
    let mut rows = vec![
        ("sent", format!("{} ({:.1}/s)", r.sent, r.sent_per_s)),
        (
            "committed (acked)",
            format!("{} ({:.1}/s)", r.committed, r.committed_per_s),
        ),
        (
            "delivered (other side)",
            format!("{} ({:.1}/s)", r.delivered, r.delivered_per_s),
        ),
        ("deliveries (all sockets)", r.deliveries.to_string()),
        ("lost", r.lost.to_string()),
        ("duplicated", r.duplicated.to_string()),
        ("refused", format!("{:?}", r.refused)),
        ("unanswered", r.unanswered.to_string()),
        (
            "resyncs / disconnects",
            format!("{} / {}", r.resyncs, r.disconnects),
        ),
        (
            "setup / connect all / active",
            format!(
                "{:.1} s / {:.2} s / {:.2} s",
                r.setup_s, r.connect_all_s, r.active_s
            ),
        ),
    ];
    if let Some(s) = &r.server {
        rows.push((
            "server RSS start / peak / end",
            format!(
                "{} / {} / {} (VmHWM {})",
                report::kib(s.rss_start_kib),
                report::kib(s.rss_peak_kib),
                report::kib(s.rss_end_kib),
                report::kib(s.hwm_end_kib)
            ),
        ));
        rows.push((
            "server CPU",
            format!(
                "{:.2} s ({:.0} µs per committed message)",
                s.cpu_s,
                r.server_cpu_us_per_msg.unwrap_or(0.0)
            ),
        ));
    }
    rows.push(("result", if r.ok { "OK".into() } else { "FAILED".into() }));
    print!("{}", report::facts(&rows));
    println!(
        "{}",
        serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    );
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
