//! Accepting and serving HTTP connections, with limits `axum::serve` cannot
//! set. Without them a client that opens connections and sends its headers
//! a byte at a time (slowloris), or never, holds each connection forever.
//!
//! - **Header-read timeout**: a connection has `header_read_timeout` to send
//!   a request's headers (hyper's HTTP/1 option), from the moment it opens
//!   or finishes its previous request; after that it is closed. This also
//!   ends idle keep-alive connections.
//! - **Connection cap**: at most `max_connections` are served at once. At
//!   the cap the server stops accepting; new connections wait in the
//!   kernel's accept queue until one closes (nothing is refused in a way a
//!   browser would show). A connection upgraded to a WebSocket leaves the
//!   count when the upgrade completes: sockets have their own caps
//!   (`live::limits`).
//! - **Graceful shutdown**: stop accepting, let every connection finish the
//!   request it is serving and close, wait up to [`SHUTDOWN_LIMIT`].
//!
//! HTTP/1.1 only: what browsers speak to a server without TLS, and what
//! reverse proxies speak to their backends. Each request carries the
//! client's address as axum's `ConnectInfo<SocketAddr>`.

use crate::config::HttpLimits;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long shutdown waits for open requests to finish.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let (closing, closing_signal) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let service = router.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            request
        });
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut closing = closing_signal.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = closing_time(&mut closing) => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    closing.send_replace(true);
    connections.close();
    if tokio::time::timeout(SHUTDOWN_LIMIT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "HTTP connections still open after the shutdown grace"
        );
    }
    Ok(())
}

/// Completes when shutdown begins.
async fn closing_time(signal: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (it is not Send).
    let _ = signal.wait_for(|closing| *closing).await.map(|_| ());
}

/// A failed accept: a connection that died in the queue is nothing; running
/// out of file descriptors is worth a pause instead of a busy loop.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
