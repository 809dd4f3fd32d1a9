//! `chat` mode: live conversations between customers and agents, driven at a
//! fixed total rate (open loop: sends are scheduled by the clock, never held
//! back waiting for answers), with every message checked for loss and
//! duplication and timed from send to receipt on the other side.
//!
//! Shape of a run (this module is the driver): sign in (or create) the
//! accounts; each customer starts conversations over HTTP; every conversation
//! gets one customer socket and one agent socket (sockets of one account
//! share its cookie), both subscribed to it; each agent answers once so the
//! conversation is active (not measured); then messages go round-robin over
//! the conversations, alternating agent and customer, for the given duration;
//! then the run drains until every send is answered and every committed
//! message has reached both sockets, or the drain time is up.
//!
//! # Layout
//! - [`plan`]: the workload: sockets, who sends what when, the `client_id`s;
//! - [`sockets`]: the senders, one task per socket;
//! - [`receive`]: what one socket makes of the frames it receives;
//! - [`tally`]: loss and duplicate accounting across sockets;
//! - [`outcome`]: the table and the JSON line.

pub(crate) mod outcome;
mod plan;
mod receive;
mod sockets;
mod tally;

use crate::Common;
use plan::{Cmd, Side};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Counters every socket task updates; the driver watches them to know when a run has drained.
pub struct Shared {
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

/// One chat run at `args.rate`: its table printed, its report returned.
pub async fn run(common: &Common, args: &ChatArgs) -> Result<bool, String> {
    Ok(run_once(common, args).await?.ok)
}

/// One chat run, measured; the report (also printed).
pub(crate) async fn run_once(common: &Common, args: &ChatArgs) -> Result<outcome::ChatReport, String> {
    if args.customers == 0 || args.agents == 0 || args.conversations == 0 {
        return Err("--customers, --agents and --conversations must be at least 1".into());
    }
    if !(args.rate > 0.0 && args.duration > 0.0) {
        return Err("--rate and --duration must be positive".into());
    }
    let conversations = u32::try_from(args.conversations).map_err(|_| "too many conversations")?;
    let setup_started = Instant::now();

    eprintln!(
        "signing in {} customers and {} agents at {} ...",
        args.customers,
        args.agents,
        common.base()
    );
    let customers = crate::sign_in_all(common, "customer", args.customers, false).await?;
    let agents = crate::sign_in_all(common, "agent", args.agents, true).await?;

    let run = crate::run_id();
    eprintln!("starting {} conversations (run {run}) ...", args.conversations);
    let conversation_ids = plan::start_conversations(common, &customers, &run, conversations).await?;

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        body: plan::body_of(args.body_bytes),
        run,
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        primed: AtomicU64::new(0),
    });

    let specs = plan::sockets(&conversation_ids, &customers, &agents, args.inbox_watchers);
    eprintln!("opening {} sockets ...", specs.len());
    let fleet = sockets::open_all(specs, common.connect_concurrency, &shared).await?;
    eprintln!(
        "{} sockets open and subscribed in {:.2} s",
        fleet.commands.len(),
        fleet.connect_all.as_secs_f64()
    );

    // The agents' first answers make every conversation active (a status
    // change, an assignment and a system message): done before measuring.
    for k in 0..args.conversations {
        plan::command(&fleet.commands, k, Side::Agent, Cmd::Prime)?;
    }
    wait_until(Duration::from_secs(120), || {
        shared.primed.load(Ordering::Relaxed) >= args.conversations as u64
    })
    .await
    .map_err(|_| "the agents' first answers were not all acknowledged within 120 s".to_owned())?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let setup = setup_started.elapsed();

    let watcher = match common.server_pid.as_slice() {
        [] => None,
        pids => Some(crate::procstat::Watcher::start(pids)?),
    };
    eprintln!(
        "sending {:.0} messages/s for {} s over {} conversations ...",
        args.rate, args.duration, args.conversations
    );
    let started = Instant::now();
    let issued = plan::send_on_schedule(&fleet.commands, args, started).await?;
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
    let sockets::Fleet {
        commands,
        tasks,
        connect,
        connect_all,
    } = fleet;
    drop(commands);
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.map_err(|e| format!("socket task: {e}"))?);
    }
    let tally = tally::Tally::of(results, args.conversations)?;
    for (conv, why) in &tally.early_ends {
        eprintln!("socket of conversation {conv} ended early: {why}");
    }

    let timings = outcome::Timings {
        setup,
        connect_all,
        send_phase,
        active,
        connect,
        issued,
        sent: shared.sent.load(Ordering::Relaxed),
        server,
    };
    let report = outcome::ChatReport::new(common.base(), shared.run.clone(), args, timings, tally);
    outcome::print(&report);
    Ok(report)
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
