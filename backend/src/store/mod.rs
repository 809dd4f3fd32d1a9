//! The store: every SQL statement Parley runs, written once and compiled
//! once per database engine — [`sqlite`] (the default, one file, no other
//! server) and [`postgres`] (for any number of instances, issue 10).
//!
//! # Why compiled twice
//! sqlx's generic API (a function over `DB: Database`) needs, on every
//! query, bounds for each bound and decoded type and a higher-ranked bound
//! on the connection (`for<'c> &'c mut DB::Connection: Executor<'c, …>`);
//! Rust does not carry such where-clauses through a trait, so every
//! function would repeat them. `sqlx::Any` avoids that but converts every
//! value through `AnyValue` (an allocation per value) on the hot path.
//! Instead, the files under `sql/` are the children of two modules, one per
//! engine (`#[path = "sql"]`): each defines `Engine`, `Conn` and `Db` as its
//! engine's types, and the same files compile against them. Inside,
//! everything is monomorphic: the compiler checks each engine's types and
//! the code is as fast as if it were written for that engine alone.
//!
//! The public modules outside (`crate::accounts`, `crate::conversations`,
//! `crate::canned`, `crate::presence`) keep the API and its types; each of
//! their functions picks the engine the [`crate::Db`] holds with
//! [`on_engine!`] and calls the same function in that engine's module,
//! with that engine's pools first.
//!
//! # Rules for the files under `sql/`
//! - Name the engine only through `Engine`, `Conn` and `Db` from the
//!   engine module (reached with `super::`), never `sqlx::Sqlite`.
//! - Reach other store files by relative paths (`super::rows::…`); types
//!   that cross the boundary (answers, errors, bus events) live outside
//!   `store/`, so both engines return the same types.
//! - SQL both engines accept (`$N` placeholders, `RETURNING`, `ON
//!   CONFLICT`, row values, `CAST(… AS BIGINT)` for literals). Where the
//!   engines differ, the engine module says how in a named constant
//!   ([`sqlite::setup`], [`postgres::setup`]), never by string surgery.
//! - Every engine runs the same tests: `PARLEY_TEST_DATABASE=postgres`
//!   runs the store and API suites on PostgreSQL (`scripts/test.sh`).

/// Runs the store function at `path` on the engine `db` holds, with that
/// engine's pools as the first argument: `on_engine!(db, canned::list(viewer))`
/// calls `store::sqlite::canned::list(pools, viewer)` or the Postgres one.
macro_rules! on_engine {
    ($db:expr, $($path:ident)::+ ( $($arg:expr),* $(,)? )) => {
        match $db {
            $crate::Db::Sqlite(pools) => $crate::store::sqlite::$($path)::+(pools, $($arg),*).await,
            $crate::Db::Postgres(pools) => $crate::store::postgres::$($path)::+(pools, $($arg),*).await,
        }
    };
}
pub(crate) use on_engine;

/// Each engine's group committer (`sql/conversations/write/commit.rs`),
/// started by a backend's first change; shared by its clones.
#[derive(Clone, Default)]
pub(crate) struct Committers {
    pub(crate) sqlite: std::sync::Arc<std::sync::OnceLock<sqlite::conversations::Committer>>,
    pub(crate) postgres: std::sync::Arc<std::sync::OnceLock<postgres::conversations::Committer>>,
}

/// The store on SQLite: one file in WAL mode, one writer.
#[path = "sql"]
pub(crate) mod sqlite {
    pub(crate) type Engine = sqlx::Sqlite;
    pub(crate) type Conn = sqlx::SqliteConnection;
    pub(crate) type Db = crate::db::PoolSet<Engine>;

    #[path = "../sqlite.rs"]
    pub(crate) mod setup;
    pub(crate) use setup::{BYTE_ORDER, WAITING_INDEX_HINT};

    pub(crate) mod accounts;
    pub(crate) mod canned;
    pub(crate) mod conversations;
    pub(crate) mod presence;
}

/// The store on PostgreSQL: shared by every instance of a deployment.
#[path = "sql"]
pub(crate) mod postgres {
    pub(crate) type Engine = sqlx::Postgres;
    pub(crate) type Conn = sqlx::PgConnection;
    pub(crate) type Db = crate::db::PoolSet<Engine>;

    #[path = "../postgres.rs"]
    pub(crate) mod setup;
    pub(crate) use setup::{BYTE_ORDER, WAITING_INDEX_HINT};

    pub(crate) mod accounts;
    pub(crate) mod canned;
    pub(crate) mod conversations;
    pub(crate) mod presence;
}
