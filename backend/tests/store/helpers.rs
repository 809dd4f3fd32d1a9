//! A fresh store per test, and the people a test needs.

use backend::db::PoolSet;
use backend::limits::SendLimiter;
use backend::scratch::Scratch;
use backend::{accounts, conversations, Backend, Bus, Db};
use parley::model::{CurrentUser, Message};
use parley::validate::{DisplayName, Email, Password};
use parley::{ConversationId, Role, Seq};

/// A fresh migrated database (`backend::scratch`: SQLite, or PostgreSQL
/// with `PARLEY_TEST_DATABASE=postgres`) and the backend over it.
pub struct Store {
    pub backend: Backend,
    /// The database's URL, for a test that opens pools of its own.
    pub url: String,
    _scratch: Scratch,
}

/// A store whose users may each send `per_minute` messages a minute.
pub async fn store_with_limit(per_minute: u32) -> Store {
    let scratch = Scratch::new().await;
    let db = scratch.open().await;
    Store {
        backend: Backend::new(db, Bus::new(), SendLimiter::per_minute(per_minute)),
        url: scratch.url.clone(),
        _scratch: scratch,
    }
}

pub async fn store() -> Store {
    store_with_limit(1_000).await
}

impl Store {
    pub fn db(&self) -> &Db {
        &self.backend.db
    }

    /// The SQLite pools, for a test of SQLite's own behaviour; `None` (and
    /// a note on stderr) when this run is on PostgreSQL.
    pub fn sqlite(&self) -> Option<&PoolSet<sqlx::Sqlite>> {
        match self.db() {
            Db::Sqlite(pools) => Some(pools),
            Db::Postgres(_) => {
                eprintln!("skipped on PostgreSQL: this test is about SQLite's own behaviour");
                None
            }
        }
    }

    /// A new account (its email is `<name in lower case>@example.com`).
    pub async fn user(&self, name: &str, role: Role) -> CurrentUser {
        let email = format!("{}@example.com", name.to_lowercase());
        accounts::create_user(
            self.db(),
            &Email::parse(&email).expect("email"),
            &DisplayName::parse(name).expect("name"),
            role,
            &Password::parse("correct horse battery").expect("password"),
        )
        .await
        .expect("create user")
    }

    /// `customer` starts a conversation with `body`: its id.
    pub async fn start(&self, customer: &CurrentUser, body: &str) -> ConversationId {
        let (id, _) = conversations::start(&self.backend, customer, "", body, None)
            .await
            .expect("start a conversation");
        id
    }

    /// Every message stored in `id`, oldest first, as staff see them (all
    /// of it, not a page).
    pub async fn all_messages(&self, id: ConversationId) -> Vec<Message> {
        conversations::replay(self.db(), conversations::Audience::Staff, id, Seq(0), 100_000)
            .await
            .expect("replay")
    }
}
