//! The typed SQL boundary: enums are stored under their wire spelling (the
//! values already in every database), ids and times as bare integers, an
//! unknown spelling is a decode error (never a panic, never a default), and
//! the shared row types read back what was written.

use crate::helpers::store;
use backend::db::PoolSet;
use backend::{accounts, canned, conversations, presence};
use parley::model::{CurrentUser, MessageKind};
use parley::{Availability, ConversationId, ConversationStatus, Role, Seq, Timestamp, UserId};

/// `value` bound as a parameter comes back as the text `spelling`, and the
/// text `spelling` decodes as `value`.
async fn assert_stored_as<T>(db: &PoolSet<sqlx::Sqlite>, value: T, spelling: &str)
where
    T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + Copy
        + PartialEq
        + std::fmt::Debug
        + Send
        + Unpin,
{
    let stored: String = sqlx::query_scalar("SELECT $1")
        .bind(value)
        .fetch_one(&db.read)
        .await
        .expect("bind");
    assert_eq!(stored, spelling, "{value:?}");
    let read: T = sqlx::query_scalar("SELECT $1")
        .bind(spelling)
        .fetch_one(&db.read)
        .await
        .expect("decode");
    assert_eq!(read, value, "{spelling}");
}

#[tokio::test]
async fn enums_are_stored_under_their_wire_spelling() {
    let store = store().await;
    let Some(db) = store.sqlite() else { return };
    for role in Role::ALL {
        assert_stored_as(db, role, role.as_str()).await;
    }
    for status in ConversationStatus::ALL {
        assert_stored_as(db, status, status.as_str()).await;
    }
    for kind in [MessageKind::Text, MessageKind::System, MessageKind::Note] {
        assert_stored_as(db, kind, kind.as_str()).await;
    }
    for availability in Availability::ALL {
        assert_stored_as(db, availability, availability.as_str()).await;
    }
}

#[tokio::test]
async fn an_unknown_spelling_is_a_decode_error() {
    let store = store().await;
    let Some(db) = store.sqlite() else { return };
    let read: Result<Role, sqlx::Error> = sqlx::query_scalar("SELECT 'root'").fetch_one(&db.read).await;
    assert!(matches!(read, Err(sqlx::Error::ColumnDecode { .. })), "{read:?}");
    // Spellings are exact, as the CHECK constraints are.
    let read: Result<ConversationStatus, sqlx::Error> =
        sqlx::query_scalar("SELECT 'Open'").fetch_one(&db.read).await;
    assert!(read.is_err(), "{read:?}");
}

#[tokio::test]
async fn ids_and_times_are_bare_integers() {
    let store = store().await;
    let Some(db) = store.sqlite() else { return };
    let (kind, value): (String, i64) = sqlx::query_as("SELECT typeof($1), $1")
        .bind(UserId(7))
        .fetch_one(&db.read)
        .await
        .expect("bind an id");
    assert_eq!((kind.as_str(), value), ("integer", 7));
    let back: (ConversationId, Seq, Timestamp) = sqlx::query_as("SELECT 3, 4, 1700000000000")
        .fetch_one(&db.read)
        .await
        .expect("decode ids");
    assert_eq!(back, (ConversationId(3), Seq(4), Timestamp(1_700_000_000_000)));
}

#[tokio::test]
async fn shared_rows_read_back_what_was_written() {
    let store = store().await;
    let db = store.db();
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let ada = store.user("Ada", Role::Admin).await;

    // Users, through every query that reads them.
    assert_eq!(
        accounts::get_user(db, avery.id).await.expect("get"),
        Some(avery.clone())
    );
    let listed: Vec<(UserId, Role)> = accounts::list_users(db)
        .await
        .expect("list")
        .into_iter()
        .map(|u| (u.id, u.role))
        .collect();
    assert_eq!(
        listed,
        vec![
            (ada.id, Role::Admin),
            (avery.id, Role::Agent),
            (ann.id, Role::Customer)
        ]
    );
    let promoted = accounts::set_role(db, &backend::Bus::new(), &ada, ann.id, Role::Agent)
        .await
        .expect("promote");
    assert_eq!((promoted.id, promoted.role), (ann.id, Role::Agent));
    let ann = CurrentUser {
        role: Role::Agent,
        ..ann
    };

    // Availability: offline until chosen, then what was chosen.
    assert_eq!(
        presence::availability_of(db, avery.id).await.expect("read"),
        Availability::Offline
    );
    presence::set_availability(&store.backend, &avery, Availability::Away)
        .await
        .expect("set");
    let team: Vec<(String, Availability)> = presence::staff_availability(db)
        .await
        .expect("team")
        .into_iter()
        .map(|s| (s.person.name, s.availability))
        .collect();
    assert_eq!(
        team,
        vec![
            ("Ada".to_owned(), Availability::Offline),
            ("Ann".to_owned(), Availability::Offline),
            ("Avery".to_owned(), Availability::Away),
        ]
    );

    // Canned responses.
    let saved = canned::save(db, &ada, None, "thanks", "Thanks", "Thank you for writing!")
        .await
        .expect("save");
    assert_eq!(canned::list(db, &avery).await.expect("list"), vec![saved]);

    // Staff members, as assignment offers them.
    let staff: Vec<(UserId, Role)> = conversations::staff_members(db, &ann)
        .await
        .expect("staff")
        .into_iter()
        .map(|p| (p.id, p.role))
        .collect();
    assert_eq!(
        staff,
        vec![
            (ada.id, Role::Admin),
            (ann.id, Role::Agent),
            (avery.id, Role::Agent)
        ]
    );
}
