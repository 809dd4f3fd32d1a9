//! `idle` mode: many open sockets that only keep their heartbeat, to measure
//! what an idle connection costs the server in memory. Server RSS is read
//! after signing in (so sessions and pools are warm) and again once every
//! socket is open and settled; the difference divided by the socket count
//! is the memory per idle socket. Several sockets share an account's
//! cookie, as a user's tabs do. The accounts are customers, or staff
//! (`--staff`: agents, created with `--parley-bin` when missing); one staff
//! account holding thousands of sockets is the case to check.
//!
//! One client address has one ephemeral port range (about 28,000 ports on
//! Linux), so beyond that the sockets are spread over several loopback
//! source addresses (`--source-addresses`, 127.0.0.1, 127.0.0.2, …).

use crate::report::{self, Summary};
use crate::{procstat, Common, CONNECT_TIMEOUT};
use futures::{SinkExt, StreamExt};
use parley::protocol::ClientFrame;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{read_frame, write_frame, Client};
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[derive(Debug, Clone, clap::Args)]
pub struct IdleArgs {
    /// Sockets to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// Accounts the sockets share (socket i uses account i mod N).
    #[arg(long, default_value_t = 100)]
    pub accounts: usize,
    /// Hold the sockets with staff (agent) accounts instead of customers.
    /// Missing agents are created with `--parley-bin` and `--database-url`.
    #[arg(long)]
    pub staff: bool,
    /// Loopback source addresses to spread the sockets over (socket i
    /// connects from 127.0.0.(1 + i mod N)), each with its own ephemeral
    /// ports; the server must be on loopback. Default: one per 20,000
    /// sockets (1: the system picks, nothing is bound).
    #[arg(long)]
    pub source_addresses: Option<usize>,
    /// Seconds to wait after the last socket opened before reading memory.
    #[arg(long, default_value_t = 3.0)]
    pub settle_secs: f64,
    /// Seconds to hold the sockets open (pinging) after the reading.
    #[arg(long, default_value_t = 5.0)]
    pub hold_secs: f64,
}

#[derive(Serialize)]
struct IdleReport {
    mode: &'static str,
    url: String,
    sockets: usize,
    accounts: usize,
    role: &'static str,
    source_addresses: usize,
    opened: usize,
    /// Sockets that ended before they were closed by us.
    disconnects: usize,
    connect_all_s: f64,
    connect_us: Summary,
    server_rss_before_kib: Option<u64>,
    server_rss_open_kib: Option<u64>,
    server_rss_closed_kib: Option<u64>,
    server_hwm_kib: Option<u64>,
    /// (RSS with the sockets open − RSS before) / sockets.
    kib_per_socket: Option<f64>,
    /// RSS when half the sockets were open.
    server_rss_half_kib: Option<u64>,
    /// (RSS with all open − RSS with half open) / the second half's sockets.
    marginal_kib_per_socket: Option<f64>,
    /// Server CPU seconds from the first connect to the reading.
    server_cpu_s: Option<f64>,
    ok: bool,
}

pub async fn run(common: &Common, args: &IdleArgs) -> Result<bool, String> {
    if args.sockets == 0 || args.accounts == 0 {
        return Err("--sockets and --accounts must be at least 1".into());
    }
    let sources = args
        .source_addresses
        .unwrap_or_else(|| args.sockets.div_ceil(SOCKETS_PER_SOURCE))
        .max(1);
    if sources > 1 && !common.url.iter().all(|u| is_loopback_url(u)) {
        return Err("--source-addresses above 1 needs a server on 127.0.0.1 or localhost".into());
    }
    if sources > 254 {
        return Err("--source-addresses is at most 254 (127.0.0.1 to 127.0.0.254)".into());
    }
    let role = if args.staff { "staff" } else { "customer" };
    eprintln!(
        "signing in {} {role} accounts at {} ...",
        args.accounts,
        common.base()
    );
    let kind = if args.staff { "idle-agent" } else { "idle" };
    let accounts = crate::sign_in_all(common, kind, args.accounts, args.staff).await?;

    // Let the sign-ins' memory settle before the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids = common.server_pid.as_slice();
    let before = match pids {
        [] => None,
        pids => Some(procstat::sample_all(pids)?),
    };

    eprintln!(
        "opening {} idle sockets from {sources} source address(es) ...",
        args.sockets
    );
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readies = Vec::with_capacity(args.sockets);
    let mut tasks = Vec::with_capacity(args.sockets);
    for i in 0..args.sockets {
        let (ready_tx, ready_rx) = oneshot::channel();
        readies.push(ready_rx);
        let from = (sources > 1).then(|| source_address(i % sources));
        tasks.push(tokio::spawn(idle_socket(
            accounts[i % accounts.len()].clone(),
            from,
            permits.clone(),
            ready_tx,
            stop_rx.clone(),
        )));
    }
    let mut connect = report::histogram();
    let mut opened = 0usize;
    let mut first_error = None;
    // A reading when half the sockets are open: the second half's cost
    // (the marginal cost) does not depend on how much freed memory the
    // baseline held for the first half to reuse.
    let mut half_sample = None;
    for (i, ready) in readies.into_iter().enumerate() {
        if i == args.sockets / 2 && !pids.is_empty() {
            half_sample = Some((opened, procstat::sample_all(pids)?));
        }
        match ready.await {
            Ok(Ok(time)) => {
                opened += 1;
                report::record(&mut connect, time);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert("a socket task ended early".into());
            }
        }
    }
    let connect_all = started.elapsed();
    if let Some(e) = &first_error {
        eprintln!(
            "{} of {} sockets failed to open; first: {e}",
            args.sockets - opened,
            args.sockets
        );
    }
    eprintln!(
        "{opened} sockets open in {:.2} s; settling {} s ...",
        connect_all.as_secs_f64(),
        args.settle_secs
    );
    tokio::time::sleep(Duration::from_secs_f64(args.settle_secs)).await;
    let open_sample = match pids {
        [] => None,
        pids => Some(procstat::sample_all(pids)?),
    };
    tokio::time::sleep(Duration::from_secs_f64(args.hold_secs)).await;

    let _ = stop_tx.send(true);
    let mut disconnects = 0usize;
    for task in tasks {
        if task.await.map_err(|e| format!("socket task: {e}"))? {
            disconnects += 1;
        }
    }
    let closed_sample = match pids {
        [] => None,
        pids => {
            // Give the server a moment to drop the closed sockets.
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(procstat::sample_all(pids)?)
        }
    };

    let kib_per_socket = match (before, open_sample) {
        (Some(b), Some(o)) if opened > 0 => {
            Some(((o.rss_kib as f64 - b.rss_kib as f64) / opened as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let marginal_kib_per_socket = match (half_sample, open_sample) {
        (Some((half_opened, h)), Some(o)) if opened > half_opened => Some(
            ((o.rss_kib as f64 - h.rss_kib as f64) / (opened - half_opened) as f64 * 100.0).round() / 100.0,
        ),
        _ => None,
    };
    let ok = opened == args.sockets && disconnects == 0;
    let report = IdleReport {
        mode: "idle",
        url: common.base(),
        sockets: args.sockets,
        accounts: args.accounts,
        role,
        source_addresses: sources,
        opened,
        disconnects,
        connect_all_s: (connect_all.as_secs_f64() * 1000.0).round() / 1000.0,
        connect_us: Summary::of(&connect),
        server_rss_before_kib: before.map(|s| s.rss_kib),
        server_rss_open_kib: open_sample.map(|s| s.rss_kib),
        server_rss_closed_kib: closed_sample.map(|s| s.rss_kib),
        server_hwm_kib: closed_sample.or(open_sample).map(|s| s.hwm_kib),
        kib_per_socket,
        server_rss_half_kib: half_sample.map(|(_, h)| h.rss_kib),
        marginal_kib_per_socket,
        server_cpu_s: match (before, open_sample) {
            (Some(b), Some(o)) => Some(((o.cpu_s - b.cpu_s) * 1000.0).round() / 1000.0),
            _ => None,
        },
        ok,
    };
    print_idle(&report);
    Ok(ok)
}

/// Opens one socket and keeps it alive until told to stop; `true` if it
/// ended on its own (closed by the server, or never opened).
async fn idle_socket(
    client: Client,
    from: Option<IpAddr>,
    permits: Arc<Semaphore>,
    ready: oneshot::Sender<Result<Duration, String>>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let opened = {
        let _permit = permits.acquire().await;
        client.open_live_from(CONNECT_TIMEOUT, from).await
    };
    let opened = match opened {
        Ok(opened) => opened,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return true;
        }
    };
    let _ = ready.send(Ok(opened.connect_time));
    let (mut sink, mut stream) = opened.ws.split();
    let mut ping = tokio::time::interval(opened.heartbeat / 2);
    ping.tick().await;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return false;
            }
            _ = ping.tick() => {
                if write_frame(&mut sink, &ClientFrame::Ping).await.is_err() {
                    return true;
                }
            }
            incoming = read_frame(&mut stream) => match incoming {
                Ok(_) | Err(testkit::Error::BadFrame { .. } | testkit::Error::Binary) => {}
                Err(_) => return true,
            }
        }
    }
}

/// Sockets per source address by default: fewer than one ephemeral port
/// range (32768–60999 on Linux) holds.
const SOCKETS_PER_SOURCE: usize = 20_000;

/// The `k`th loopback source address: 127.0.0.1, 127.0.0.2, …
fn source_address(k: usize) -> IpAddr {
    let last = u8::try_from(k + 1).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.starts_with("127.") || rest.starts_with("localhost")
}

/// Completes once `stop` turns true (the guard `wait_for` returns is not
/// `Send`, so it must not live in the task across an await).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

fn print_idle(r: &IdleReport) {
    println!();
    println!(
        "parley-loadgen idle: {} sockets over {} {} accounts, from {} source address(es)",
        r.sockets, r.accounts, r.role, r.source_addresses
    );
    println!();
    print!(
        "{}",
        report::latency_table(&[("connect (upgrade → hello)", r.connect_us)])
    );
    println!();
    let kib = |v: Option<u64>| v.map_or("-".to_owned(), report::kib);
    let rows = vec![
        ("opened", format!("{} of {}", r.opened, r.sockets)),
        ("disconnects", r.disconnects.to_string()),
        ("connect all", format!("{:.2} s", r.connect_all_s)),
        ("server RSS before", kib(r.server_rss_before_kib)),
        ("server RSS with half open", kib(r.server_rss_half_kib)),
        ("server RSS with sockets open", kib(r.server_rss_open_kib)),
        ("server RSS after closing", kib(r.server_rss_closed_kib)),
        ("server peak RSS (VmHWM)", kib(r.server_hwm_kib)),
        (
            "memory per idle socket",
            r.kib_per_socket.map_or("-".to_owned(), |k| format!("{k:.2} KiB")),
        ),
        (
            "marginal (second half)",
            r.marginal_kib_per_socket
                .map_or("-".to_owned(), |k| format!("{k:.2} KiB")),
        ),
        (
            "server CPU while connecting",
            r.server_cpu_s.map_or("-".to_owned(), |c| format!("{c:.2} s")),
        ),
        ("result", if r.ok { "OK".into() } else { "FAILED".into() }),
    ];
    print!("{}", report::facts(&rows));
    println!(
        "{}",
        serde_json::to_string(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    );
}
