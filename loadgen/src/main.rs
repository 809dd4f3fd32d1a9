//! `parley-loadgen`: drives a running Parley server the way real users do —
//! accounts through the HTTP server functions, sessions in cookies, live
//! WebSockets — and measures what it takes: latency, throughput, loss,
//! duplication, and the server process's memory and CPU.
//!
//! It only needs a base URL, so it can drive one instance or several behind
//! a load balancer. Two modes:
//! - `chat` ([`chat`]): conversations between customers and agents at a fixed rate;
//! - `idle` ([`idle`]): many idle sockets, for memory per connection;
//! - `step` ([`step`]): chat at rising rates until p99 or loss gives out.
//!
//! Accounts, server-function calls and sockets go through the test kit
//! (`testkit`, without its `spawn` feature: nothing of the server is linked).
//!
//! Output: a table on stdout, then one JSON line (the last line). The exit
//! status is 0 for a clean run, 1 when messages were lost, duplicated or
//! refused (or sockets failed), 2 when the run could not be carried out.
//! See docs/performance.md for how the numbers there were measured.

mod accounts;
mod chat;
mod idle;
mod procstat;
mod report;
mod step;

use accounts::AgentMaker;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How long one connect (upgrade plus `hello` and `presence`) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "parley-loadgen",
    version,
    about = "Load generator for Parley: real accounts, sessions and WebSockets, measured end to end"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Live conversations at a fixed message rate: latency, throughput, loss, duplication.
    Chat(chat::ChatArgs),
    /// Many idle sockets: server memory per connection.
    Idle(idle::IdleArgs),
    /// Chat at rising offered rates until p99 exceeds the limit or anything is lost.
    Step(step::StepArgs),
}

/// Settings every mode shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Base URL of the server, of the load balancer in front of several, or
    /// of each instance (repeat `--url`, or separate with commas): customer
    /// `i` then uses instance `i mod n` and agent `i` instance `(i + 1) mod
    /// n`, so (with even counts) the two sides of a conversation are on
    /// different instances and every message crosses between them.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000"
    )]
    pub url: Vec<String>,
    /// The server's process id (repeat for several instances), to report
    /// their memory (VmRSS, VmHWM) and CPU time from /proc, summed.
    #[arg(long, global = true, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Accounts are named `<prefix>-<kind>-<i>@loadgen.test`; runs with the same prefix reuse them.
    #[arg(long, global = true, default_value = "lg")]
    pub prefix: String,
    /// Password of every load-test account.
    #[arg(long, global = true, default_value = "loadgen-password")]
    pub password: String,
    /// Sign-ins and conversation starts in flight at once (each sign-in hashes a password).
    #[arg(long, global = true, default_value_t = 8)]
    pub setup_concurrency: usize,
    /// WebSocket upgrades in flight at once.
    #[arg(long, global = true, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// The `parley` binary, to create missing agents with `parley create-user` (chat mode).
    #[arg(long, global = true)]
    pub parley_bin: Option<PathBuf>,
    /// The server's DATABASE_URL, for `parley create-user`.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
}

impl Common {
    /// The base URLs as reports print them (no trailing slash, comma-separated).
    pub fn base(&self) -> String {
        self.url
            .iter()
            .map(|u| u.trim_end_matches('/'))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The instance account `i` talks to.
    pub fn url_for(&self, i: usize) -> &str {
        match self.url.len() {
            0 => "http://127.0.0.1:3000",
            n => &self.url[i % n],
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("parley-loadgen: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        match &cli.mode {
            Mode::Chat(args) => chat::run(&cli.common, args).await,
            Mode::Idle(args) => idle::run(&cli.common, args).await,
            Mode::Step(args) => step::run(&cli.common, args).await,
        }
    });
    // Socket tasks may still be closing; do not wait for them.
    runtime.shutdown_background();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("parley-loadgen: the run was not clean (see the table above)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("parley-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

/// Signs in (creating when missing) `count` accounts of one kind, a few at a
/// time; each client holds its account's session.
pub(crate) async fn sign_in_all(
    common: &Common,
    kind: &str,
    count: usize,
    agents: bool,
) -> Result<Vec<testkit::Client>, String> {
    let maker = AgentMaker {
        parley_bin: common.parley_bin.clone(),
        database_url: common.database_url.clone(),
    };
    let maker = &maker;
    let results: Vec<Result<(usize, testkit::Client), String>> = futures::stream::iter(0..count)
        .map(|i| async move {
            let email = format!("{}-{kind}-{i}@loadgen.test", common.prefix);
            let name = format!("Load {kind} {i}");
            let session = if agents {
                accounts::agent(common.url_for(i + 1), &email, &name, &common.password, maker).await?
            } else {
                accounts::customer(common.url_for(i), &email, &name, &common.password).await?
            };
            Ok((i, session))
        })
        .buffer_unordered(common.setup_concurrency.max(1))
        .collect()
        .await;
    let mut sessions: Vec<Option<testkit::Client>> = vec![None; count];
    for result in results {
        let (i, session) = result?;
        sessions[i] = Some(session);
    }
    Ok(sessions.into_iter().flatten().collect())
}

/// A short id for this run (base-36 milliseconds since the epoch), so that
/// message ids never collide with an earlier run's on reused accounts.
pub(crate) fn run_id() -> String {
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    while n > 0 {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_else(|_| "run".into())
}
