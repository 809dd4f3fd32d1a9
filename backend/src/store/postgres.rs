//! PostgreSQL: one database that every instance of a deployment shares.
//!
//! Unlike SQLite, PostgreSQL runs many writers at once: writers to one
//! conversation queue on its row lock (the first statement of every change
//! is an `UPDATE` of that row), writers to different conversations commit in
//! parallel. The pools are sized for one instance of several; the server's
//! `max_connections` (100 by default) must cover every instance's pools.
//! The database itself must exist; the migrations make its tables.

use crate::db::{DbError, PoolSet};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Postgres;
use std::str::FromStr;
use std::time::Duration;

/// PostgreSQL's planner picks the partial "waiting" index by itself (an
/// index-only scan), so the "unanswered" inbox needs no hint here.
pub(crate) const WAITING_INDEX_HINT: &str = "";

/// Text sorted by its bytes, as SQLite sorts it, whatever the database's
/// own collation: lists come out in the same order on both engines.
pub(crate) const BYTE_ORDER: &str = "COLLATE \"C\"";

/// Connections per instance: writes, reads, sessions.
const WRITERS: u32 = 8;
const READERS: u32 = 16;
const SESSION_CONNECTIONS: u32 = 4;

/// Group commit lanes (`conversations/write/commit.rs`): one per writer
/// connection, so changes to different conversations commit in parallel.
pub(crate) const WRITE_LANES: usize = WRITERS as usize;

/// This engine's committer in a backend's [`Committers`](crate::store::Committers).
pub(crate) fn committer_slot(
    committers: &crate::store::Committers,
) -> &std::sync::OnceLock<super::conversations::Committer> {
    &committers.postgres
}

/// Connects to the database named by `url` and checks that it answers.
pub(crate) async fn connect(url: &str) -> Result<PoolSet<Postgres>, DbError> {
    let options = PgConnectOptions::from_str(url)?.application_name("parley");
    let at = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    );
    let pool = |size: u32| {
        PgPoolOptions::new()
            .max_connections(size)
            // A database that stopped answering fails requests within
            // seconds ("internal" errors) instead of queueing them for long.
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(options.clone())
    };
    let pools = PoolSet {
        write: pool(WRITERS),
        read: pool(READERS),
        sessions: pool(SESSION_CONNECTIONS),
    };
    // Lazy pools connect on first use: ask once now, so an unreachable
    // server is an error at start, not at the first request.
    if let Err(source) = sqlx::query("SELECT 1").execute(&pools.write).await {
        return Err(DbError::Unreachable { at, source });
    }
    Ok(pools)
}

/// Autovacuum keeps PostgreSQL's statistics fresh on its own; an explicit
/// `ANALYZE` (sampled: 30,000 rows a table by default) makes a freshly
/// loaded database plan well at once.
pub(crate) async fn refresh_planner_stats(pools: &PoolSet<Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("ANALYZE").execute(&pools.write).await?;
    Ok(())
}
