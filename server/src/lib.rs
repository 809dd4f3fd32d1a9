//! # The Parley server
//!
//! Wires the parts together and runs them: configuration and CLI, the HTTP
//! router (Leptos pages and server functions, `/ws`, `/healthz`), sessions,
//! and the live hub. Rules and storage live in the `backend` crate; pages
//! and server functions in `app`; this crate only connects and serves.
//!
//! # Layout
//! - [`cli`] and [`config`]: flags, environment, validated settings.
//! - [`http`]: router, cross-site refusal, security headers, health, and
//!   the accept loop with its limits (`http::serve`).
//! - [`live`]: the WebSocket hub.
//! - [`seed`]: demo accounts, and the check that keeps them out of a real
//!   instance.
//! - [`state`]: what handlers share.

// Leptos view types nest deeply; the page types exceed the default limit of 128.
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod http;
pub mod live;
pub mod seed;
pub mod state;

use backend::sessions::SessionStore;
use backend::{Backend, Db};
use config::Config;
use leptos::prelude::LeptosOptions;
use state::AppState;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("session store: {0}")]
    Sessions(#[from] sqlx::Error),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    /// Redis is configured but cannot be reached (at start).
    #[error("{0}")]
    Redis(#[from] backend::cluster::ClusterError),
}

/// Serves Parley on `listener` until `shutdown` completes, then lets open
/// requests finish. The database must be migrated already. With
/// `config.redis`, Redis must answer first (else [`ServeError::Redis`]).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    db: Db,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    // First, so that an unreachable Redis stops the start before anything runs.
    let cluster = match &config.redis {
        Some(redis) => {
            let cluster = backend::cluster::Cluster::connect_in(&redis.url, &redis.namespace).await?;
            tracing::info!(
                redis = cluster.url(),
                instance = cluster.instance(),
                "sharing live events, presence and limits with other instances through Redis"
            );
            Some(cluster)
        }
        None => None,
    };
    let bus = match &cluster {
        Some(cluster) => backend::Bus::with_redis(cluster).await?,
        None => backend::Bus::new(),
    };
    let session_store = SessionStore::open(&db).await?;
    let expired_sessions = tokio::spawn(
        tower_sessions::session_store::ExpiredDeletion::continuously_delete_expired(
            session_store.clone(),
            tokio::time::Duration::from_secs(3600),
        ),
    );

    let planner_stats = tokio::spawn({
        let db = db.clone();
        async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(e) = db.refresh_planner_stats().await {
                    tracing::warn!(error = %e, "could not refresh the query planner's statistics");
                }
            }
        }
    });

    let site_addr = listener.local_addr()?;
    let leptos_options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .build();

    let mut send_limit = backend::limits::SendLimiter::per_minute(config.messages_per_minute);
    let mut auth_limits = backend::limits::AuthLimiter::new(
        config.auth_quotas,
        backend::limits::TrustedProxies::new(config.trusted_proxies.clone()),
    );
    if let Some(cluster) = &cluster {
        send_limit = send_limit.shared(cluster);
        auth_limits = auth_limits.shared(cluster);
    }
    let backend = Backend::new(db, bus, send_limit).with_auth_limits(auth_limits);
    let hub = live::Hub::start(
        backend.clone(),
        config.heartbeat,
        config.presence_grace,
        config.sockets,
        cluster,
    )
    .await;
    let limits = backend.clone();
    let forget_idle_limits = tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.forget_idle_limits();
        }
    });
    let http_limits = config.http;
    let state = AppState {
        leptos_options,
        backend,
        hub: hub.clone(),
        config: Arc::new(config),
    };
    let router = http::router::build(state, session_store);

    tracing::info!(addr = %site_addr, "Parley is listening on http://{site_addr}");
    let signal_hub = hub.clone();
    let shutdown = async move {
        shutdown.await;
        // Tell live sockets to reconnect (to another instance, or to us
        // after the restart) before the HTTP side drains.
        signal_hub.shut_down();
    };
    http::serve::serve(listener, router, http_limits, shutdown).await?;
    // Upgraded sockets are not HTTP connections any more, so the graceful
    // shutdown above does not wait for them. A socket may be committing a
    // message right now; let it finish and announce it before we return.
    hub.drained(std::time::Duration::from_secs(10)).await;
    expired_sessions.abort();
    planner_stats.abort();
    forget_idle_limits.abort();
    Ok(())
}
