//! The SQLite database: one file in WAL mode, reached through two pools.
//!
//! SQLite allows one writer at a time. Rather than let writers collide and
//! spin on `SQLITE_BUSY`, every write transaction goes through a pool of
//! exactly one connection (callers queue fairly in the pool instead), while
//! reads use a pool of several connections that WAL lets run beside the
//! writer. Every query is written in SQL that Postgres also accepts
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT`), see docs/architecture.md.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Embedded migrations (`migrations/sqlite/`), applied at start-up and by `parley migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Clone, Debug)]
pub struct Db {
    /// Exactly one connection: the single SQLite writer.
    pub write: SqlitePool,
    /// Several connections for reads, which WAL runs beside the writer.
    pub read: SqlitePool,
    /// For the session store (tower-sessions): its loads and saves should not
    /// queue behind message writes.
    pub sessions: SqlitePool,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://path/to/file.db")]
    UnsupportedUrl(String),
    #[error("could not create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens (creating if needed) the SQLite file named by `url`.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if !url.starts_with("sqlite:") {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        }
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
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        let readers = std::thread::available_parallelism().map_or(4, |n| n.get().clamp(2, 8) * 2);
        let read = SqlitePoolOptions::new()
            .max_connections(readers as u32)
            .connect_with(options.clone())
            .await?;
        let sessions = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(Db {
            write,
            read,
            sessions,
        })
    }

    /// Applies pending migrations. Safe to call at every start.
    pub async fn migrate(&self) -> Result<(), DbError> {
        MIGRATOR.run(&self.write).await?;
        Ok(())
    }

    /// Refreshes the statistics SQLite's query planner chooses indexes by.
    /// Without them it guesses, and guesses wrong for the inbox's partial
    /// "waiting" index (a status index and a sort instead: 6.7 ms instead of
    /// well under 1 ms at 1M messages). `analysis_limit` samples each index,
    /// so this takes ~0.1 s even on a million messages. The server runs it
    /// at start and then every hour, as data grows.
    pub async fn refresh_planner_stats(&self) -> Result<(), sqlx::Error> {
        let mut writer = self.write.acquire().await?;
        sqlx::query("PRAGMA analysis_limit = 1000")
            .execute(&mut *writer)
            .await?;
        sqlx::query("ANALYZE").execute(&mut *writer).await?;
        Ok(())
    }

    /// A cheap query on each pool: for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        sqlx::query("SELECT 1").execute(&self.write).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.sessions.close().await;
        self.write.close().await;
    }
}
