//! The database: SQLite (the default: one file, no other server) or
//! PostgreSQL (one database that any number of instances share), chosen by
//! the scheme of `DATABASE_URL`. Either way it is reached through the same
//! three pools ([`PoolSet`]): writes, reads, and the session store, so the
//! store code (`crate::store`) reads the same on both engines. How each
//! engine is set up, and why, is in `store/sqlite.rs` and `store/postgres.rs`.

use crate::store::{postgres, sqlite};

/// Migrations for SQLite (`migrations/sqlite/`), embedded in the binary.
pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
/// Migrations for PostgreSQL (`migrations/postgres/`): the same schema,
/// checked against the SQLite one by `scripts/schema-parity.py`.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The pools of one engine. Writes and reads are separate pools so that
/// writes queue fairly among themselves (on SQLite, exactly one writer)
/// while reads run beside them; the session store has its own so its loads
/// and saves never queue behind message writes.
#[derive(Debug)]
pub struct PoolSet<E: sqlx::Database> {
    pub write: sqlx::Pool<E>,
    pub read: sqlx::Pool<E>,
    pub sessions: sqlx::Pool<E>,
}

// By hand: a derive would ask for `E: Clone`, which no engine is.
impl<E: sqlx::Database> Clone for PoolSet<E> {
    fn clone(&self) -> Self {
        PoolSet {
            write: self.write.clone(),
            read: self.read.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl<E: sqlx::Database> PoolSet<E> {
    async fn close(&self) {
        self.read.close().await;
        self.sessions.close().await;
        self.write.close().await;
    }
}

/// Runs `body` with `pools` bound to the [`PoolSet`] of whichever engine
/// `db` is: the body is compiled once per engine, so it may run any SQL
/// both accept, monomorphic on each. For code that checks the database from
/// outside the store (tests, benches, the demo check); the store itself is
/// compiled per engine (`crate::store`).
///
/// ```ignore
/// let n: i64 = backend::with_pools!(&db, |pools| {
///     sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pools.read).await
/// })?;
/// ```
#[macro_export]
macro_rules! with_pools {
    ($db:expr, |$pools:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pools) => $body,
            $crate::Db::Postgres($pools) => $body,
        }
    };
}

/// The database Parley runs on: cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(PoolSet<sqlx::Sqlite>),
    Postgres(PoolSet<sqlx::Postgres>),
}

/// Which engine a [`Db`] is, for logs and for tests that must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://path/to/file.db or postgres://user@host/database")]
    UnsupportedUrl(String),
    #[error("could not create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("PostgreSQL at {at} is unreachable: {source}")]
    Unreachable { at: String, source: sqlx::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Opens the database named by `url`: `sqlite:` (the file is created
    /// if missing) or `postgres:` / `postgresql:` (the database must exist;
    /// an unreachable server is an error that says so).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Db::Sqlite(sqlite::setup::connect(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Db::Postgres(postgres::setup::connect(url).await?))
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Applies pending migrations (`migrations/sqlite/` or
    /// `migrations/postgres/`, embedded in the binary). Safe to call at
    /// every start, from several instances at once.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(pools) => SQLITE_MIGRATOR.run(&pools.write).await?,
            Db::Postgres(pools) => POSTGRES_MIGRATOR.run(&pools.write).await?,
        }
        Ok(())
    }

    /// Refreshes the statistics the query planner chooses indexes by; the
    /// server runs it at start and then every hour, as data grows.
    pub async fn refresh_planner_stats(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pools) => sqlite::setup::refresh_planner_stats(pools).await,
            Db::Postgres(pools) => postgres::setup::refresh_planner_stats(pools).await,
        }
    }

    /// A cheap query on the read and write pools: for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pools) => {
                sqlx::query("SELECT 1").execute(&pools.read).await?;
                sqlx::query("SELECT 1").execute(&pools.write).await?;
            }
            Db::Postgres(pools) => {
                sqlx::query("SELECT 1").execute(&pools.read).await?;
                sqlx::query("SELECT 1").execute(&pools.write).await?;
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pools) => pools.close().await,
            Db::Postgres(pools) => pools.close().await,
        }
    }
}
