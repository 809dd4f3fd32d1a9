//! A fresh store per test, and the people a test needs.

use backend::limits::SendLimiter;
use backend::{accounts, conversations, Backend, Bus, Db};
use parley::model::CurrentUser;
use parley::validate::{DisplayName, Email, Password};
use parley::{ConversationId, Role};
use tempfile::TempDir;

/// A migrated SQLite file in a temporary folder (removed when dropped) and
/// the backend over it.
pub struct Store {
    pub backend: Backend,
    /// The database's URL, for a test that opens pools of its own.
    pub url: String,
    _dir: TempDir,
}

/// A store whose users may each send `per_minute` messages a minute.
pub async fn store_with_limit(per_minute: u32) -> Store {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("parley.db").display());
    let db = Db::connect(&url).await.expect("open the database");
    db.migrate().await.expect("migrate");
    Store {
        backend: Backend::new(db, Bus::new(), SendLimiter::per_minute(per_minute)),
        url,
        _dir: dir,
    }
}

pub async fn store() -> Store {
    store_with_limit(1_000).await
}

impl Store {
    pub fn db(&self) -> &Db {
        &self.backend.db
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
}
