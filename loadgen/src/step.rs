//! `step` mode: the chat workload at a rising offered rate, one step after
//! another, until a step's send→receive p99 exceeds the limit or anything
//! is lost, duplicated or refused. Reports every step and the highest rate
//! that held: "how far does it go", measured rather than guessed.
//!
//! Each step is a whole chat run (new conversations, new sockets) on the
//! same accounts, so a step does not inherit the previous one's backlog.

use crate::chat::{self, ChatArgs};
use crate::Common;
use serde::Serialize;

#[derive(Debug, Clone, clap::Args)]
pub struct StepArgs {
    #[command(flatten)]
    pub chat: ChatArgs,
    /// Offered rates to try, in msg/s, in order (`--rate` is ignored).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "500,1000,2000,3000,4000,5000,6000,8000"
    )]
    pub rates: Vec<f64>,
    /// A step holds while its send→receive p99 is at most this many milliseconds.
    #[arg(long, default_value_t = 100.0)]
    pub p99_limit_ms: f64,
}

#[derive(Serialize)]
struct StepLine {
    offered: f64,
    committed_per_s: f64,
    p99_ms: f64,
    clean: bool,
    held: bool,
}

#[derive(Serialize)]
struct StepReport {
    mode: &'static str,
    p99_limit_ms: f64,
    steps: Vec<StepLine>,
    /// The highest offered rate that held (`None`: not even the first).
    highest_held: Option<f64>,
}

pub async fn run(common: &Common, args: &StepArgs) -> Result<bool, String> {
    let mut steps = Vec::new();
    let mut highest_held = None;
    for &rate in &args.rates {
        let chat = ChatArgs {
            rate,
            ..args.chat.clone()
        };
        eprintln!("==> step: {rate} msg/s");
        let report = chat::run_once(common, &chat).await?;
        let p99_ms = report.e2e_us.p99 as f64 / 1000.0;
        let held = report.ok && p99_ms <= args.p99_limit_ms;
        steps.push(StepLine {
            offered: rate,
            committed_per_s: report.committed_per_s,
            p99_ms,
            clean: report.ok,
            held,
        });
        if !held {
            break;
        }
        highest_held = Some(rate);
    }
    println!(
        "\n{:>10} {:>14} {:>10} {:>6}",
        "offered", "committed/s", "p99 ms", "held"
    );
    for s in &steps {
        println!(
            "{:>10.0} {:>14.1} {:>10.1} {:>6}",
            s.offered,
            s.committed_per_s,
            s.p99_ms,
            if s.held { "yes" } else { "no" }
        );
    }
    match highest_held {
        Some(rate) => println!(
            "highest rate that held (p99 <= {} ms, clean): {rate} msg/s",
            args.p99_limit_ms
        ),
        None => println!("no step held (p99 <= {} ms, clean)", args.p99_limit_ms),
    }
    let report = StepReport {
        mode: "step",
        p99_limit_ms: args.p99_limit_ms,
        steps,
        highest_held,
    };
    println!(
        "{}",
        serde_json::to_string(&report).map_err(|e| format!("report: {e}"))?
    );
    // A step that does not hold is the answer, not a failure of the run.
    Ok(true)
}
