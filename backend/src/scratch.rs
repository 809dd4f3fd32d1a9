//! A migrated database of its own for each test, bench or tool run, on the
//! engine the run asks for, so the same suites run on SQLite and PostgreSQL:
//!
//! - `PARLEY_TEST_DATABASE` unset or `sqlite`: a fresh SQLite file in a
//!   temporary folder (removed with the [`Scratch`]).
//! - `PARLEY_TEST_DATABASE=postgres`: a fresh database on the PostgreSQL
//!   server `PARLEY_TEST_POSTGRES_URL` names (`scripts/services.sh` starts
//!   a private one and sets it). Each is a copy of a template migrated once
//!   per run (`CREATE DATABASE … TEMPLATE`: a few milliseconds, where
//!   migrating each would take tens). The databases are left for the
//!   private server to take with it when the run ends.
//!
//! Everything here panics on failure: it only sets up tests.

use crate::db::Engine;
use crate::Db;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use tempfile::TempDir;

/// Which engine tests run on (`PARLEY_TEST_DATABASE`).
pub fn engine() -> Engine {
    match std::env::var("PARLEY_TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") => Engine::Postgres,
        Ok("") | Ok("sqlite") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("PARLEY_TEST_DATABASE={other:?}: use sqlite or postgres"),
    }
}

/// A database for one test: its URL (for a second connection, or a server
/// process started on it) and what must live as long as it.
pub struct Scratch {
    pub url: String,
    /// The SQLite file's folder; `None` on PostgreSQL.
    pub dir: Option<TempDir>,
}

impl Scratch {
    /// A fresh, migrated database on the engine of this run.
    pub async fn new() -> Scratch {
        match engine() {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir for the database");
                let url = format!("sqlite://{}", dir.path().join("parley.db").display());
                let db = Db::connect(&url).await.expect("open the SQLite database");
                db.migrate().await.expect("migrate");
                db.close().await;
                Scratch { url, dir: Some(dir) }
            }
            Engine::Postgres => Scratch {
                url: fresh_postgres_database().await,
                dir: None,
            },
        }
    }

    /// The database, opened as the server opens it.
    pub async fn open(&self) -> Db {
        Db::connect(&self.url).await.expect("open the test database")
    }
}

/// The template's name carries a digest of the migrations, so a run never
/// copies a template migrated by older ones.
fn template_name() -> String {
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in crate::db::POSTGRES_MIGRATOR.iter() {
        for byte in migration.checksum.iter() {
            digest = (digest ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("parley_template_{digest:016x}")
}

/// Any constant of ours: test processes make the template one at a time.
const TEMPLATE_LOCK: i64 = 0x7061_726c_6579_7401;

async fn fresh_postgres_database() -> String {
    let server = std::env::var("PARLEY_TEST_POSTGRES_URL").expect(
        "PARLEY_TEST_DATABASE=postgres needs PARLEY_TEST_POSTGRES_URL \
         (run the tests through scripts/services.sh run -- …)",
    );
    let options = PgConnectOptions::from_str(&server).expect("PARLEY_TEST_POSTGRES_URL");
    let mut admin = PgConnection::connect_with(&options)
        .await
        .expect("connect to the test PostgreSQL");
    let template = template_name();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .expect("template lock");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut admin)
        .await
        .expect("look for the template");
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE {template}"))
            .execute(&mut admin)
            .await
            .expect("create the template database");
        let url = options.clone().database(&template).to_url_lossy().to_string();
        let db = Db::connect(&url).await.expect("open the template");
        db.migrate().await.expect("migrate the template");
        // A template may not be copied while anyone is connected to it.
        db.close().await;
    }
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut admin)
        .await
        .expect("template unlock");
    let name = format!("parley_test_{}", uuid_like());
    sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut admin)
        .await
        .expect("copy the template");
    let _ = admin.close().await;
    options.database(&name).to_url_lossy().to_string()
}

/// 128 random bits in hex, for a database name nobody else picks.
fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for _ in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}
