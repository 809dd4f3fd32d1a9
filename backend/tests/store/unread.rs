//! Unread counts from tallies (migration 0005): what counts for whom —
//! texts for everyone, notes for staff only, system messages for nobody,
//! one's own messages never — through the list row, the badge and a read
//! marker in the middle of a conversation; and the migration's backfill of
//! rows written before it.

use crate::helpers::store;
use backend::conversations;
use backend::Db;
use parley::model::CurrentUser;
use parley::{ConversationId, Role, Seq};

async fn unread(db: &Db, viewer: &CurrentUser, id: ConversationId) -> i64 {
    conversations::summary_for(db, viewer, id)
        .await
        .expect("list row")
        .unread
}

#[tokio::test]
async fn each_viewer_counts_what_is_unread_for_them() {
    let store = store().await;
    let (db, backend) = (store.db(), &store.backend);
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let bo = store.user("Bo", Role::Agent).await;

    // 1 Ann's text; 2 Avery's reply and 3 the system message it brings; 4 a note.
    let id = store.start(&ann, "Hello").await;
    conversations::send(backend, &avery, id, "Hi Ann", None, false)
        .await
        .expect("reply");
    conversations::send(backend, &avery, id, "VIP customer", None, true)
        .await
        .expect("note");
    assert_eq!(
        unread(db, &ann, id).await,
        1,
        "the reply; not the system message, never the note"
    );
    assert_eq!(conversations::badge_count(db, &ann).await.expect("badge"), 1);
    assert_eq!(unread(db, &avery, id).await, 0, "her own reply and note");
    assert_eq!(
        unread(db, &bo, id).await,
        3,
        "never opened: Ann's text, the reply, the note"
    );

    // 5 Ann writes again: her own text is not unread for her, and her
    // marker passed the reply.
    conversations::send(backend, &ann, id, "Thanks!", None, false)
        .await
        .expect("send");
    assert_eq!(unread(db, &ann, id).await, 0);
    assert_eq!(conversations::badge_count(db, &ann).await.expect("badge"), 0);
    assert_eq!(unread(db, &avery, id).await, 1, "Ann's new text");

    // Bo reads up to the reply (seq 2): the note and Ann's new text remain.
    conversations::mark_read(backend, &bo, id, Seq(2))
        .await
        .expect("read");
    assert_eq!(unread(db, &bo, id).await, 2);
    conversations::mark_read(backend, &bo, id, Seq(99))
        .await
        .expect("read");
    assert_eq!(unread(db, &bo, id).await, 0);
}

/// Rows written before migration 0005 get their tallies from it: the
/// counts afterwards are what the old COUNT said.
#[tokio::test]
async fn the_migration_tallies_existing_rows() {
    // SQLite's migrations (PostgreSQL's 0005 is the same statements,
    // checked against it by scripts/schema-parity.py).
    if backend::scratch::engine() != backend::db::Engine::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let before = dir.path().join("before-0005");
    std::fs::create_dir(&before).expect("dir");
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    for entry in std::fs::read_dir(&migrations).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.as_str() < "0005" {
            std::fs::copy(&path, before.join(&name)).expect("copy");
        }
    }
    let url = format!("sqlite://{}", dir.path().join("parley.db").display());
    let db = Db::connect(&url).await.expect("open");
    let Db::Sqlite(pools) = &db else {
        unreachable!("a sqlite:// URL opens SQLite")
    };
    sqlx::migrate::Migrator::new(before.as_path())
        .await
        .expect("old migrations")
        .run(&pools.write)
        .await
        .expect("migrate to 0004");
    for statement in [
        "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES \
         (1, 'ann@example.com', 'Ann', 'customer', 'x', 0), (2, 'avery@example.com', 'Avery', 'agent', 'x', 0), \
         (3, 'bo@example.com', 'Bo', 'agent', 'x', 0)",
        "INSERT INTO conversations (id, customer_id, title, status, last_seq, last_public_seq, last_activity_at, \
         last_public_at, created_at) VALUES (1, 1, 'One', 'active', 5, 4, 0, 0, 0)",
        "INSERT INTO messages (conversation_id, seq, public_seq, sender_id, kind, body, created_at) VALUES \
         (1, 1, 1, 1, 'text', 'a', 0), (1, 2, 2, 2, 'text', 'b', 0), (1, 3, 3, 2, 'system', 'c', 0), \
         (1, 4, NULL, 2, 'note', 'd', 0), (1, 5, 4, 1, 'text', 'e', 0)",
        "INSERT INTO read_markers (conversation_id, user_id, last_read_seq, updated_at) VALUES \
         (1, 1, 5, 0), (1, 2, 4, 0), (1, 3, 2, 0)",
    ] {
        sqlx::query(statement).execute(&pools.write).await.expect("old rows");
    }
    db.migrate().await.expect("migrate to the newest");
    let person = |id, name: &str, role| CurrentUser {
        id: parley::UserId(id),
        email: format!("{}@example.com", name.to_lowercase()),
        name: name.into(),
        role,
    };
    let id = ConversationId(1);
    assert_eq!(unread(&db, &person(1, "Ann", Role::Customer), id).await, 0);
    assert_eq!(unread(&db, &person(2, "Avery", Role::Agent), id).await, 1);
    assert_eq!(unread(&db, &person(3, "Bo", Role::Agent), id).await, 2);
}
