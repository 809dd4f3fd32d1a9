//! Notes do not show through the numbers: customers get their own
//! gap-free sequence (`public_seq`), staff keep the full one, and read
//! markers are translated between the two — in history, replay, answers,
//! bus events and thread views. Also: the migration numbers existing rows.

use crate::helpers::{store, Store};
use backend::bus::Committed;
use backend::conversations::{self, Audience};
use backend::{Db, Event};
use parley::model::{CurrentUser, Message, ReadMarker};
use parley::{ConversationId, Role, Seq};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::broadcast::Receiver;

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.seq.0).collect()
}

fn bodies(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

async fn replay(store: &Store, audience: Audience, id: ConversationId, after: i64) -> Vec<Message> {
    conversations::replay(store.db(), audience, id, Seq(after), 1_000)
        .await
        .expect("replay")
}

async fn send(store: &Store, who: &CurrentUser, id: ConversationId, body: &str, note: bool) -> Message {
    conversations::send(&store.backend, who, id, body, None, note)
        .await
        .expect("send")
        .message
}

fn drain(bus: &mut Receiver<std::sync::Arc<Event>>) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        match bus.try_recv() {
            Ok(event) => events.push((*event).clone()),
            Err(TryRecvError::Empty) => return events,
            Err(e) => panic!("bus: {e}"),
        }
    }
}

/// Ann's conversation: her question, a note, Avery's reply (which also
/// assigns it: a system message), two more notes, Ann again.
///
/// | staff seq | 1 | 2 | 3 | 4 | 5 | 6 | 7 |
/// | kind | text | note | text | system | note | note | text |
/// | public seq | 1 | – | 2 | 3 | – | – | 4 |
async fn conversation_with_notes(store: &Store) -> (CurrentUser, CurrentUser, ConversationId) {
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let (id, first) = conversations::start(&store.backend, &ann, "", "Where is my order?", None)
        .await
        .expect("start");
    assert_eq!(first.seq, Seq(1));
    send(store, &avery, id, "She ordered twice last week", true).await;
    send(store, &avery, id, "Let me check.", false).await;
    send(store, &avery, id, "Courier delayed", true).await;
    send(store, &avery, id, "Refund if late", true).await;
    (ann, avery, id)
}

#[tokio::test]
async fn a_customer_counts_only_what_they_see_and_staff_count_everything() {
    let store = store().await;
    let (ann, avery, id) = conversation_with_notes(&store).await;
    // Ann's own send is answered in her sequence.
    let again = send(&store, &ann, id, "Thanks!", false).await;
    assert_eq!(again.seq, Seq(4));

    let staff = replay(&store, Audience::Staff, id, 0).await;
    assert_eq!(seqs(&staff), vec![1, 2, 3, 4, 5, 6, 7]);
    let customer = replay(&store, Audience::Customer, id, 0).await;
    assert_eq!(seqs(&customer), vec![1, 2, 3, 4]);
    assert_eq!(
        bodies(&customer),
        vec![
            "Where is my order?",
            "Let me check.",
            "Avery replied and took the conversation.",
            "Thanks!"
        ]
    );
    // The same message, the same id, each audience's number.
    assert_eq!(staff[6].id, customer[3].id);

    // Replay after a note: from public seq 3 on, only Ann's "Thanks!" (4).
    let after = replay(&store, Audience::Customer, id, 3).await;
    assert_eq!((seqs(&after), bodies(&after)), (vec![4], vec!["Thanks!"]));

    // History pages by each audience's seq.
    let page = conversations::history(store.db(), &ann, id, Some(Seq(3)))
        .await
        .expect("history");
    assert_eq!(seqs(&page.messages), vec![1, 2]);
    let page = conversations::history(store.db(), &avery, id, Some(Seq(3)))
        .await
        .expect("history");
    assert_eq!(seqs(&page.messages), vec![1, 2]);

    let thread = conversations::open_thread(&store.backend, &ann, id)
        .await
        .expect("thread");
    assert_eq!(thread.last_seq, Seq(4));
    let thread = conversations::open_thread(&store.backend, &avery, id)
        .await
        .expect("thread");
    assert_eq!(thread.last_seq, Seq(7));
}

#[tokio::test]
async fn the_bus_numbers_each_message_for_each_audience() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let id = store.start(&ann, "Hello").await;
    let mut bus = store.backend.bus.subscribe();
    send(&store, &avery, id, "a note", true).await;
    send(&store, &avery, id, "Hi Ann", false).await;
    let committed: Vec<Committed> = drain(&mut bus)
        .into_iter()
        .filter_map(|event| match event {
            Event::Messages { messages, .. } => Some(messages),
            _ => None,
        })
        .flatten()
        .collect();
    let for_staff: Vec<i64> = committed
        .iter()
        .filter_map(|c| c.seen_by(Audience::Staff))
        .map(|m| m.seq.0)
        .collect();
    let for_customers: Vec<(i64, String)> = committed
        .iter()
        .filter_map(|c| c.seen_by(Audience::Customer))
        .map(|m| (m.seq.0, m.body))
        .collect();
    assert_eq!(for_staff, vec![2, 3, 4]);
    assert_eq!(
        for_customers,
        vec![
            (2, "Hi Ann".to_owned()),
            (3, "Avery replied and took the conversation.".to_owned())
        ]
    );
}

/// The read marker each side sees of the other.
async fn marker_of(store: &Store, viewer: &CurrentUser, id: ConversationId, of: &CurrentUser) -> Option<Seq> {
    let thread = conversations::open_thread(&store.backend, viewer, id)
        .await
        .expect("thread");
    thread
        .read_markers
        .into_iter()
        .find(|m: &ReadMarker| m.user_id == of.id)
        .map(|m| m.seq)
}

fn reads(events: Vec<Event>) -> Vec<(Seq, Option<Seq>)> {
    events
        .into_iter()
        .filter_map(|event| match event {
            Event::Read {
                up_to, public_up_to, ..
            } => Some((up_to, public_up_to)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn seen_works_both_ways_across_the_two_sequences() {
    let store = store().await;
    let (ann, avery, id) = conversation_with_notes(&store).await;
    let mut bus = store.backend.bus.subscribe();

    // Ann reads up to her public seq 2 ("Let me check."): staff see her
    // marker at that message's staff seq, 3.
    let moved = conversations::mark_read(&store.backend, &ann, id, Seq(2))
        .await
        .expect("read");
    assert_eq!(moved, Some(Seq(2)));
    assert_eq!(reads(drain(&mut bus)), vec![(Seq(3), Some(Seq(2)))]);
    assert_eq!(marker_of(&store, &avery, id, &ann).await, Some(Seq(3)));
    drain(&mut bus); // Avery opening the thread read it all (up to 6).

    // Ann asks for more than there is: clamped to her newest, public 3 (staff 4).
    let moved = conversations::mark_read(&store.backend, &ann, id, Seq(99))
        .await
        .expect("read");
    assert_eq!(moved, Some(Seq(3)));
    assert_eq!(reads(drain(&mut bus)), vec![(Seq(4), Some(Seq(3)))]);
    // Avery had read everything, notes included (staff 6): to Ann that is
    // public 3, the newest message she can see.
    assert_eq!(marker_of(&store, &ann, id, &avery).await, Some(Seq(3)));
    drain(&mut bus);

    // A staff read that only passes notes moves nothing a customer can see:
    // staff hear of it, customers must not (its timing would tell of a note).
    let bo = store.user("Bo", Role::Agent).await;
    conversations::mark_read(&store.backend, &bo, id, Seq(4))
        .await
        .expect("read");
    assert_eq!(reads(drain(&mut bus)), vec![(Seq(4), Some(Seq(3)))]);
    conversations::mark_read(&store.backend, &bo, id, Seq(6))
        .await
        .expect("read");
    assert_eq!(reads(drain(&mut bus)), vec![(Seq(6), None)]);
}

/// The migration gives existing messages their public seqs: visible ones
/// numbered in order per conversation, notes none.
#[tokio::test]
async fn the_migration_numbers_existing_messages() {
    // SQLite's migrations (PostgreSQL's 0003 is the same statement, checked
    // against it by scripts/schema-parity.py).
    if backend::scratch::engine() != backend::db::Engine::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let before = dir.path().join("before-0003");
    std::fs::create_dir(&before).expect("dir");
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    for entry in std::fs::read_dir(&migrations).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.as_str() < "0003" {
            std::fs::copy(&path, before.join(&name)).expect("copy");
        }
    }
    let url = format!("sqlite://{}", dir.path().join("parley.db").display());
    let Db::Sqlite(db) = Db::connect(&url).await.expect("open") else {
        unreachable!("a sqlite:// URL opens SQLite")
    };
    sqlx::migrate::Migrator::new(before.as_path())
        .await
        .expect("old migrations")
        .run(&db.write)
        .await
        .expect("migrate to 0002");
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at) \
         VALUES (1, 'ann@example.com', 'Ann', 'customer', 'x', 0), (2, 'avery@example.com', 'Avery', 'agent', 'x', 0)",
    )
    .execute(&db.write)
    .await
    .expect("users");
    sqlx::query(
        "INSERT INTO conversations (id, customer_id, title, status, last_seq, last_activity_at, last_public_at, created_at) \
         VALUES (1, 1, 'One', 'active', 4, 0, 0, 0), (2, 1, 'Two', 'open', 2, 0, 0, 0)",
    )
    .execute(&db.write)
    .await
    .expect("conversations");
    sqlx::query(
        "INSERT INTO messages (conversation_id, seq, sender_id, kind, body, created_at) VALUES \
         (1, 1, 1, 'text', 'a', 0), (1, 2, 2, 'note', 'b', 0), (1, 3, 2, 'text', 'c', 0), \
         (1, 4, 2, 'system', 'd', 0), (2, 1, 1, 'text', 'e', 0), (2, 2, 2, 'note', 'f', 0)",
    )
    .execute(&db.write)
    .await
    .expect("messages");

    backend::db::SQLITE_MIGRATOR
        .run(&db.write)
        .await
        .expect("migrate to the newest");
    let numbered: Vec<(i64, i64, Option<i64>)> =
        sqlx::query_as("SELECT conversation_id, seq, public_seq FROM messages ORDER BY conversation_id, seq")
            .fetch_all(&db.read)
            .await
            .expect("messages");
    assert_eq!(
        numbered,
        vec![
            (1, 1, Some(1)),
            (1, 2, None),
            (1, 3, Some(2)),
            (1, 4, Some(3)),
            (2, 1, Some(1)),
            (2, 2, None)
        ]
    );
    let last: Vec<(i64, i64)> = sqlx::query_as("SELECT id, last_public_seq FROM conversations ORDER BY id")
        .fetch_all(&db.read)
        .await
        .expect("conversations");
    assert_eq!(last, vec![(1, 3), (2, 1)]);
}
