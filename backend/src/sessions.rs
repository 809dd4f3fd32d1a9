//! The session store (tower-sessions) on the engine the data uses: the
//! `sessions` table beside the other tables, so any instance can serve any
//! signed-in user and a deployment needs no other store.
//!
//! `tower-sessions-sqlx-store` has one store type per engine; the session
//! layer wants one type, so [`SessionStore`] holds either and passes every
//! call through.

use crate::Db;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The sessions table's name on both engines (on PostgreSQL, in the
/// `public` schema beside the others).
const TABLE: &str = "sessions";

/// An advisory lock key (any constant of ours): instances starting at once
/// make the table one at a time. The store's own `CREATE … IF NOT EXISTS`
/// can fail when two run together.
const MIGRATE_LOCK: i64 = 0x7061_726c_6579;

#[derive(Clone, Debug)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionStore {
    /// The store on `db`'s session pool, its table made if missing.
    pub async fn open(db: &Db) -> Result<SessionStore, sqlx::Error> {
        let invalid = |e: String| sqlx::Error::Configuration(e.into());
        match db {
            Db::Sqlite(pools) => {
                let store = SqliteStore::new(pools.sessions.clone())
                    .with_table_name(TABLE)
                    .map_err(invalid)?;
                store.migrate().await?;
                Ok(SessionStore::Sqlite(store))
            }
            Db::Postgres(pools) => {
                let store = PostgresStore::new(pools.sessions.clone())
                    .with_schema_name("public")
                    .and_then(|s| s.with_table_name(TABLE))
                    .map_err(invalid)?;
                let mut lock = pools.write.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATE_LOCK)
                    .execute(&mut *lock)
                    .await?;
                let migrated = store.migrate().await;
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(MIGRATE_LOCK)
                    .execute(&mut *lock)
                    .await?;
                migrated?;
                Ok(SessionStore::Postgres(store))
            }
        }
    }
}

#[async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.create(record).await,
            SessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.save(record).await,
            SessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionStore::Sqlite(s) => s.load(id).await,
            SessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete(id).await,
            SessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete_expired().await,
            SessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}
