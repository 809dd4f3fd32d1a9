//! The senders: one task per socket opens it (a few at a time), subscribes
//! to its conversation, says it is ready, then writes the sends the driver
//! commands (stamping each `client_id` with the moment it leaves), pings on
//! the server's heartbeat, and hands every incoming frame to its
//! [`SocketResult`] until its command channel closes.

use super::plan::{message_id, prime_id, Cmd, Spec};
use super::receive::SocketResult;
use super::Shared;
use crate::{report, CONNECT_TIMEOUT};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::Seq;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::{read_frame, write_frame, Opened};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Every socket of a run, open and subscribed.
pub struct Fleet {
    /// One command channel per socket, in the order of the specs; dropping
    /// them ends the tasks.
    pub commands: Vec<mpsc::UnboundedSender<Cmd>>,
    pub tasks: Vec<JoinHandle<SocketResult>>,
    /// Upgrade → `hello`, per socket.
    pub connect: Histogram<u64>,
    /// From the first upgrade to the last `subscribed`.
    pub connect_all: Duration,
}

/// Opens every socket, `concurrency` upgrades at a time, and waits until
/// all are subscribed; the first failure ends the run.
pub async fn open_all(specs: Vec<Spec>, concurrency: usize, shared: &Arc<Shared>) -> Result<Fleet, String> {
    let connect_started = Instant::now();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut commands = Vec::with_capacity(specs.len());
    let mut readies = Vec::with_capacity(specs.len());
    let mut tasks = Vec::with_capacity(specs.len());
    for spec in specs {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        commands.push(cmd_tx);
        readies.push(ready_rx);
        tasks.push(tokio::spawn(socket_task(
            spec,
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
    Ok(Fleet {
        commands,
        tasks,
        connect,
        connect_all: connect_started.elapsed(),
    })
}

/// One socket: open, subscribe, say it is ready, then send what it is told
/// and record what it receives until its command channel closes.
async fn socket_task(
    spec: Spec,
    permits: Arc<Semaphore>,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    ready: oneshot::Sender<Result<Duration, String>>,
    shared: Arc<Shared>,
) -> SocketResult {
    let mut result = SocketResult::new(spec.conv);
    let opened = {
        let _permit = permits.acquire().await;
        match open_and_subscribe(&spec).await {
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
                let (frame, measured) = match command {
                    None => break,
                    Some(Cmd::Prime) => (send_frame(&spec, prime_id(&shared.run, spec.conv), &shared.body), false),
                    Some(Cmd::Send { n, due }) => {
                        let now = Instant::now();
                        report::record(&mut result.lag, now.saturating_duration_since(due));
                        let id = message_id(&shared.run, spec.conv, spec.side, n, shared.now_us());
                        (send_frame(&spec, id, &shared.body), true)
                    }
                };
                let outcome = write_frame(&mut sink, &frame).await;
                if measured {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = outcome {
                    result.dropped = Some(e.to_string());
                    break;
                }
            }
            _ = ping.tick() => {
                if let Err(e) = write_frame(&mut sink, &ClientFrame::Ping).await {
                    result.dropped = Some(e.to_string());
                    break;
                }
            }
            incoming = read_frame(&mut stream) => match incoming {
                Ok(frame) => result.on_frame(frame, &spec, &shared),
                Err(testkit::Error::BadFrame { source, .. }) => {
                    result.count_error(format!("undecodable frame: {source}"));
                }
                // Not ours to read (the protocol is text only): skipped.
                Err(testkit::Error::Binary) => {}
                Err(e) => {
                    result.dropped = Some(e.to_string());
                    break;
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

async fn open_and_subscribe(spec: &Spec) -> Result<Opened, String> {
    let mut opened = spec.client.open_live(CONNECT_TIMEOUT).await?;
    let subscribe = ClientFrame::Subscribe {
        conversation_id: spec.conversation,
        after: Seq(0),
    };
    write_frame(&mut opened.ws, &subscribe)
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    if spec.watch_inbox {
        write_frame(&mut opened.ws, &ClientFrame::WatchInbox { on: true })
            .await
            .map_err(|e| format!("watch_inbox: {e}"))?;
    }
    loop {
        match read_frame(&mut opened.ws).await? {
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
