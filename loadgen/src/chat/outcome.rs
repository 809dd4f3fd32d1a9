//! What a chat run prints: the table for people and, as the last line, the
//! JSON object scripts read (docs/performance.md quotes its fields).

use super::tally::Tally;
use super::ChatArgs;
use crate::procstat;
use crate::report::{self, Summary};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The JSON line of a chat run.
#[derive(Serialize)]
pub struct ChatReport {
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
    pub(crate) committed_per_s: f64,
    delivered_per_s: f64,
    pub(crate) e2e_us: Summary,
    ack_us: Summary,
    send_lag_us: Summary,
    connect_us: Summary,
    server: Option<procstat::Usage>,
    server_cpu_us_per_msg: Option<f64>,
    pub ok: bool,
}

/// What the driver measured around the sockets' own findings.
pub struct Timings {
    pub setup: Duration,
    pub connect_all: Duration,
    /// The send phase alone.
    pub send_phase: Duration,
    /// Send phase plus drain.
    pub active: Duration,
    /// Upgrade → `hello`, per socket.
    pub connect: Histogram<u64>,
    /// Sends the driver issued and the sockets wrote.
    pub issued: u64,
    pub sent: u64,
    pub server: Option<procstat::Usage>,
}

impl ChatReport {
    /// Judges the run: clean when nothing was lost, duplicated, refused or misrouted.
    pub fn new(url: String, run: String, args: &ChatArgs, timings: Timings, tally: Tally) -> ChatReport {
        let refused_total = tally.refused_total();
        let committed_total = tally.committed;
        let sent = timings.sent;
        let unanswered = timings.issued.saturating_sub(committed_total + refused_total);
        let lost = tally.missing + unanswered;
        let secs = timings.active.as_secs_f64().max(1e-9);
        let ok = lost == 0 && tally.duplicated == 0 && refused_total == 0 && tally.misrouted == 0;
        let server = timings.server;
        ChatReport {
            mode: "chat",
            url,
            run,
            customers: args.customers,
            agents: args.agents,
            conversations: args.conversations,
            sockets: args.conversations * 2,
            inbox_watchers: args.inbox_watchers.min(args.conversations),
            rate_target: args.rate,
            duration_s: args.duration,
            body_bytes: args.body_bytes,
            setup_s: round3(timings.setup.as_secs_f64()),
            connect_all_s: round3(timings.connect_all.as_secs_f64()),
            active_s: round3(timings.active.as_secs_f64()),
            sent,
            committed: committed_total,
            refused: tally.refused,
            unanswered,
            delivered: tally.delivered,
            deliveries: tally.deliveries,
            lost,
            duplicated: tally.duplicated,
            misrouted: tally.misrouted,
            resyncs: tally.resyncs,
            disconnects: tally.disconnects,
            sent_per_s: round3(sent as f64 / timings.send_phase.as_secs_f64().max(1e-9)),
            committed_per_s: round3(committed_total as f64 / secs),
            delivered_per_s: round3(tally.delivered as f64 / secs),
            e2e_us: Summary::of(&tally.e2e),
            ack_us: Summary::of(&tally.ack),
            send_lag_us: Summary::of(&tally.lag),
            connect_us: Summary::of(&timings.connect),
            server_cpu_us_per_msg: server
                .as_ref()
                .filter(|_| committed_total > 0)
                .map(|s| round3(s.cpu_s * 1e6 / committed_total as f64)),
            server,
            ok,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The table for people, then the JSON line (always the last line).
pub fn print(r: &ChatReport) {
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
