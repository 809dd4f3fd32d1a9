//! SQLite: one file in WAL mode, reached through three pools.
//!
//! SQLite allows one writer at a time. Rather than let writers collide and
//! spin on `SQLITE_BUSY`, every write goes through a pool of exactly one
//! connection (callers queue fairly in the pool instead), while reads use a
//! pool of several connections that WAL lets run beside the writer.

use crate::db::{DbError, PoolSet};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The "unanswered" inbox names its partial index: SQLite 3.46 prefers the
/// status index and a sort over every open and active conversation, even
/// with fresh statistics (8.5 ms instead of well under 1 ms at 1M
/// messages). The query spells the index's predicate exactly, which
/// `INDEXED BY` needs.
pub(crate) const WAITING_INDEX_HINT: &str = "INDEXED BY conversations_waiting_idx";

/// Text sorted by its bytes: SQLite's own default, said out loud so both
/// engines sort names and shortcuts alike.
pub(crate) const BYTE_ORDER: &str = "COLLATE BINARY";

/// Group commit lanes (`conversations/write/commit.rs`): one, since SQLite
/// has one writer.
pub(crate) const WRITE_LANES: usize = 1;

/// This engine's committer in a backend's [`Committers`](crate::store::Committers).
pub(crate) fn committer_slot(
    committers: &crate::store::Committers,
) -> &std::sync::OnceLock<super::conversations::Committer> {
    &committers.sqlite
}

/// Opens (creating if needed) the SQLite file named by `url`.
pub(crate) async fn connect(url: &str) -> Result<PoolSet<Sqlite>, DbError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // In WAL mode NORMAL is safe against corruption and loses no
        // committed transaction on an application crash; only a power
        // loss can drop the last commits. FULL would fsync each commit.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-16000");
    if let Some(parent) = Path::new(options.get_filename()).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
                path: parent.display().to_string(),
                source,
            })?;
        }
    }
    // An embedded database's connection cannot go stale: no ping (a round
    // trip to SQLite's worker thread) before each checkout.
    let write = SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get().clamp(2, 8) * 2);
    let read = SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(readers as u32)
        .connect_with(options.clone())
        .await?;
    let sessions = SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(2)
        .connect_with(options)
        .await?;
    Ok(PoolSet {
        write,
        read,
        sessions,
    })
}

/// Without statistics SQLite's planner guesses, and guesses wrong for the
/// inbox's partial "waiting" index. `analysis_limit` samples each index,
/// so this takes ~0.1 s even on a million messages.
pub(crate) async fn refresh_planner_stats(pools: &PoolSet<Sqlite>) -> Result<(), sqlx::Error> {
    let mut writer = pools.write.acquire().await?;
    sqlx::query("PRAGMA analysis_limit = 1000")
        .execute(&mut *writer)
        .await?;
    sqlx::query("ANALYZE").execute(&mut *writer).await?;
    Ok(())
}
