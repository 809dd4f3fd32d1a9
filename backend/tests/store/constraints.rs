//! Unique violations on SQLite: each known constraint is recognised by what
//! SQLite reports (it names no constraint), no other violation is mistaken
//! for one, and each turns into the refusal it means.

use crate::helpers::store;
use backend::constraints::Unique;
use backend::db::Engine;
use backend::{accounts, canned, conversations, ServiceError};
use parley::validate::{DisplayName, Email, Password};
use parley::{ClientId, Role};

/// The constraints `err` violates, of the known ones.
fn violated(err: &sqlx::Error) -> Vec<Unique> {
    Unique::ALL.into_iter().filter(|u| u.violated_by(err)).collect()
}

#[tokio::test]
async fn each_known_constraint_is_recognised_by_the_engines_report() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let engine = store.db().engine();
    // The same statements on either engine (compiled once for each).
    backend::with_pools!(store.db(), |pools| {
        let db = &pools.write;

        let duplicate_email = sqlx::query(
        "INSERT INTO users (email, name, role, password_hash, created_at) VALUES ($1, 'Other', 'customer', 'x', 0)",
    )
    .bind(&ann.email)
    .execute(db)
    .await
    .expect_err("the email is taken");
        // SQLite names no constraint: matching must not rely on it. PostgreSQL does.
        let reported = duplicate_email.as_database_error().expect("a database error");
        match engine {
            Engine::Sqlite => assert_eq!(reported.constraint(), None),
            Engine::Postgres => assert_eq!(reported.constraint(), Some("users_email_key")),
        }
        assert_eq!(violated(&duplicate_email), vec![Unique::UserEmail]);

        let insert_shortcut = || {
            sqlx::query(
                "INSERT INTO canned_responses (shortcut, title, body, created_at, updated_at) \
             VALUES ('hi', 'Hi', 'Hello!', 0, 0)",
            )
            .execute(db)
        };
        insert_shortcut().await.expect("a new shortcut");
        let taken = insert_shortcut().await.expect_err("the shortcut is taken");
        assert_eq!(violated(&taken), vec![Unique::CannedShortcut]);

        let (id, first) = conversations::start(
            &store.backend,
            &ann,
            "",
            "Hello",
            Some(&ClientId::parse("c-1").expect("client id")),
        )
        .await
        .expect("start");
        let reused = sqlx::query(
            "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, client_id, created_at) \
         VALUES ($1, 99, $2, 'text', 'again', 'c-1', 0)",
        )
        .bind(id)
        .bind(ann.id)
        .execute(db)
        .await
        .expect_err("the client id is taken");
        assert_eq!(violated(&reused), vec![Unique::MessageClientId]);

        // A seq taken twice is another index: never mistaken for a resend.
        let same_seq = sqlx::query(
            "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, created_at) \
         VALUES ($1, $2, $3, 'text', 'clash', 0)",
        )
        .bind(id)
        .bind(first.seq)
        .bind(ann.id)
        .execute(db)
        .await
        .expect_err("the seq is taken");
        assert!(same_seq
            .as_database_error()
            .is_some_and(|e| e.is_unique_violation()));
        assert_eq!(violated(&same_seq), vec![]);
    });
}

/// The refusal each violation becomes, through the functions that hit it.
#[tokio::test]
async fn each_violation_becomes_its_refusal() {
    let store = store().await;
    let db = store.db();
    let ada = store.user("Ada", Role::Admin).await;
    let ann = store.user("Ann", Role::Customer).await;

    let again = accounts::create_user(
        db,
        &Email::parse(&ann.email).expect("email"),
        &DisplayName::parse("Ann Again").expect("name"),
        Role::Customer,
        &Password::parse("correct horse battery").expect("password"),
    )
    .await;
    assert!(
        matches!(&again, Err(ServiceError::Validation(v)) if v.field == "email"),
        "{again:?}"
    );

    canned::save(db, &ada, None, "hi", "Hi", "Hello!")
        .await
        .expect("save");
    let taken = canned::save(db, &ada, None, "hi", "Hi again", "Hello again!").await;
    assert!(
        matches!(&taken, Err(ServiceError::Validation(v)) if v.field == "shortcut"),
        "{taken:?}"
    );

    let client_id = ClientId::parse("c-1").expect("client id");
    conversations::start(&store.backend, &ann, "", "Hello", Some(&client_id))
        .await
        .expect("start");
    let reused = conversations::start(&store.backend, &ann, "", "Hello again", Some(&client_id)).await;
    assert!(
        matches!(&reused, Err(ServiceError::Validation(v)) if v.field == "client_id"),
        "{reused:?}"
    );
}
