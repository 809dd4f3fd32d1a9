//! What a change to a conversation stores and announces: its audit rows
//! and system messages, seqs without gaps in commit order on the bus,
//! nothing at all when it is refused, and one message per `client_id` —
//! for a resend and for two attempts that race.

use crate::helpers::{store, store_with_limit, Store};
use backend::conversations::{self, Sent};
use backend::db::PoolSet;
use backend::limits::SendLimiter;
use backend::{Backend, Db, Event, ServiceError};
use parley::model::{CurrentUser, Message, MessageKind};
use parley::{ClientId, ConversationId, ConversationStatus, ErrorKind, MessageId, Role, Seq};
use sqlx::sqlite::SqlitePoolOptions;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::broadcast::Receiver;

fn client_id(raw: &str) -> ClientId {
    ClientId::parse(raw).expect("client id")
}

/// The audit trail as `action from->to` lines (`-` for nobody).
async fn trail(store: &Store, admin: &CurrentUser, id: ConversationId) -> Vec<String> {
    conversations::audit_trail(store.db(), admin, id)
        .await
        .expect("audit trail")
        .into_iter()
        .map(|e| {
            format!(
                "{} {} {}->{}",
                e.actor.map(|a| a.name).unwrap_or_default(),
                e.action,
                e.from_value.as_deref().unwrap_or("-"),
                e.to_value.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

/// The whole thread as staff see it, oldest first.
async fn thread(store: &Store, staff: &CurrentUser, id: ConversationId) -> Vec<Message> {
    conversations::history(store.db(), staff, id, None)
        .await
        .expect("history")
        .messages
}

async fn send(store: &Store, who: &CurrentUser, id: ConversationId, body: &str, note: bool) -> Message {
    conversations::send(&store.backend, who, id, body, None, note)
        .await
        .expect("send")
        .message
}

#[tokio::test]
async fn every_change_writes_its_audit_rows_and_system_messages() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let bo = store.user("Bo", Role::Agent).await;
    let ada = store.user("Ada", Role::Admin).await;
    let backend = &store.backend;

    let (id, _) = conversations::start(backend, &ann, "Refund", "My order arrived broken.", None)
        .await
        .expect("start");
    send(&store, &avery, id, "Sorry! Let me look.", false).await;
    send(&store, &avery, id, "Customer sounds upset.", true).await;
    conversations::change_status(backend, &avery, id, ConversationStatus::Resolved)
        .await
        .expect("resolve");
    send(&store, &ann, id, "It is still broken.", false).await;
    conversations::assign(backend, &ada, id, Some(ada.id))
        .await
        .expect("take");
    conversations::assign(backend, &ada, id, None)
        .await
        .expect("unassign");
    conversations::assign(backend, &ada, id, Some(bo.id))
        .await
        .expect("assign");
    conversations::change_status(backend, &ada, id, ConversationStatus::Closed)
        .await
        .expect("close");

    assert_eq!(
        trail(&store, &ada, id).await,
        vec![
            "Ann created -->open",
            "Avery status open->active",
            "Avery assignee -->Avery",
            "Avery status active->resolved",
            "Ann status resolved->active",
            "Ada assignee Avery->Ada",
            "Ada assignee Ada->-",
            "Ada assignee -->Bo",
            "Ada status active->closed",
        ]
    );
    let messages = thread(&store, &ada, id).await;
    let seqs: Vec<i64> = messages.iter().map(|m| m.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=messages.len() as i64).collect::<Vec<_>>(),
        "seqs without gaps"
    );
    let lines: Vec<(MessageKind, &str)> = messages.iter().map(|m| (m.kind, m.body.as_str())).collect();
    assert_eq!(
        lines,
        vec![
            (MessageKind::Text, "My order arrived broken."),
            (MessageKind::Text, "Sorry! Let me look."),
            (MessageKind::System, "Avery replied and took the conversation."),
            (MessageKind::Note, "Customer sounds upset."),
            (MessageKind::System, "Avery marked the conversation as resolved."),
            (MessageKind::Text, "It is still broken."),
            (
                MessageKind::System,
                "Ann wrote again, so the conversation is open again."
            ),
            (MessageKind::System, "Ada took the conversation."),
            (MessageKind::System, "Ada unassigned the conversation."),
            (MessageKind::System, "Ada assigned the conversation to Bo."),
            (MessageKind::System, "Ada closed the conversation for good."),
        ]
    );

    // Assigning an open conversation makes it active: the assignee first, then the status.
    let (other, _) = conversations::start(backend, &ann, "", "Another thing", None)
        .await
        .expect("start");
    conversations::assign(backend, &avery, other, Some(bo.id))
        .await
        .expect("assign");
    assert_eq!(
        trail(&store, &ada, other).await,
        vec![
            "Ann created -->open",
            "Avery assignee -->Bo",
            "Avery status open->active"
        ]
    );
    let summary = conversations::summary_for(store.db(), &avery, other)
        .await
        .expect("summary");
    assert_eq!(
        (summary.status, summary.assignee.map(|a| a.id)),
        (ConversationStatus::Active, Some(bo.id))
    );
}

/// Everything announced so far, without waiting.
fn drain(bus: &mut Receiver<Arc<Event>>) -> Vec<Arc<Event>> {
    let mut events = Vec::new();
    loop {
        match bus.try_recv() {
            Ok(event) => events.push(event),
            Err(TryRecvError::Empty) => return events,
            Err(other) => panic!("bus: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_refused_change_stores_and_announces_nothing() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let bob = store.user("Bob", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let ada = store.user("Ada", Role::Admin).await;
    let backend = &store.backend;
    let (id, _) = conversations::start(backend, &ann, "", "Hello", None)
        .await
        .expect("start");
    let before = (thread(&store, &ada, id).await, trail(&store, &ada, id).await);
    let mut bus = backend.bus.subscribe();

    let refusals = [
        conversations::change_status(backend, &avery, id, ConversationStatus::Closed)
            .await
            .map(drop),
        conversations::change_status(backend, &avery, id, ConversationStatus::Open)
            .await
            .map(drop),
        conversations::assign(backend, &avery, id, None).await.map(drop),
        conversations::assign(backend, &avery, id, Some(ann.id))
            .await
            .map(drop),
        conversations::send(backend, &bob, id, "Not mine", None, false)
            .await
            .map(drop),
        conversations::send(backend, &ann, id, "A note?", None, true)
            .await
            .map(drop),
    ];
    let kinds: Vec<ErrorKind> = refusals
        .iter()
        .map(|r| r.as_ref().expect_err("refused").kind())
        .collect();
    assert_eq!(
        kinds,
        vec![
            ErrorKind::Forbidden,
            ErrorKind::Conflict,
            ErrorKind::Conflict,
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
        ]
    );
    assert_eq!(
        (thread(&store, &ada, id).await, trail(&store, &ada, id).await),
        before
    );
    assert!(drain(&mut bus).is_empty());

    conversations::change_status(backend, &ada, id, ConversationStatus::Closed)
        .await
        .expect("close");
    let closed = conversations::send(backend, &ann, id, "Hello?", None, false).await;
    assert_eq!(closed.expect_err("closed").kind(), ErrorKind::Closed);
}

/// Concurrent writers to one conversation: seqs have no gaps, and the bus
/// carries the messages in seq order (they are published while the writer
/// is still held, so the next commit cannot overtake them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seqs_follow_commit_order_on_the_bus() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let avery = store.user("Avery", Role::Agent).await;
    let id = store.start(&ann, "Hello").await;
    let mut bus = store.backend.bus.subscribe();

    let mut writers = Vec::new();
    for i in 0..30 {
        let backend = store.backend.clone();
        let (who, note) = match i % 3 {
            0 => (ann.clone(), false),
            1 => (avery.clone(), false),
            _ => (avery.clone(), true),
        };
        writers.push(tokio::spawn(async move {
            let client_id = client_id(&format!("w-{i}"));
            conversations::send(
                &backend,
                &who,
                id,
                &format!("message {i}"),
                Some(&client_id),
                note,
            )
            .await
        }));
    }
    for writer in writers {
        writer.await.expect("join").expect("send");
    }

    let announced: Vec<Seq> = drain(&mut bus)
        .iter()
        .filter_map(|event| match event.as_ref() {
            Event::Messages { messages, .. } => {
                Some(messages.iter().map(|m| m.message.seq).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    let stored: Vec<Seq> = conversations::history(store.db(), &avery, id, None)
        .await
        .expect("history")
        .messages
        .iter()
        .map(|m| m.seq)
        .collect();
    // 1 is the first message (before subscribing); the agent's first reply
    // adds a system message.
    assert_eq!(stored, (1..=32).map(Seq).collect::<Vec<_>>());
    assert_eq!(announced, stored[1..].to_vec());
}

/// Writers to different conversations run at once (a turn per
/// conversation; several writer connections on PostgreSQL), and each
/// conversation's messages still reach the bus in seq order, gap-free.
#[tokio::test]
async fn many_conversations_written_at_once_each_announce_in_seq_order() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(store.start(&ann, &format!("Conversation {n}")).await);
    }
    let mut bus = store.backend.bus.subscribe();
    let mut writers = Vec::new();
    for i in 0..80 {
        let backend = store.backend.clone();
        let (ann, id) = (ann.clone(), ids[i % ids.len()]);
        writers.push(tokio::spawn(async move {
            let client_id = client_id(&format!("p-{i}"));
            conversations::send(
                &backend,
                &ann,
                id,
                &format!("message {i}"),
                Some(&client_id),
                false,
            )
            .await
        }));
    }
    for writer in writers {
        writer.await.expect("join").expect("send");
    }
    let mut announced: std::collections::HashMap<ConversationId, Vec<Seq>> = Default::default();
    for event in drain(&mut bus) {
        if let Event::Messages {
            conversation_id,
            messages,
            ..
        } = event.as_ref()
        {
            let seqs = announced.entry(*conversation_id).or_default();
            seqs.extend(messages.iter().map(|m| m.message.seq));
        }
    }
    for id in &ids {
        // Each conversation: its first message, then ten more.
        assert_eq!(
            announced.get(id),
            Some(&(2..=11).map(Seq).collect::<Vec<_>>()),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_resend_returns_the_stored_message_and_spends_no_allowance() {
    let store = store_with_limit(3).await;
    let ann = store.user("Ann", Role::Customer).await;
    let backend = &store.backend;
    let (id, _) = conversations::start(backend, &ann, "", "Hello", None)
        .await
        .expect("start"); // 1 of 3
    let (other, _) = conversations::start(backend, &ann, "", "Another", None)
        .await
        .expect("start"); // 2 of 3
    let c1 = client_id("c-1");
    let first = conversations::send(backend, &ann, id, "Are you there?", Some(&c1), false)
        .await
        .expect("send"); // 3 of 3
    assert!(!first.duplicate);
    for _ in 0..3 {
        let again = conversations::send(backend, &ann, id, "Are you there?", Some(&c1), false)
            .await
            .expect("a resend is free");
        assert!(again.duplicate);
        assert_eq!(again.message, first.message);
    }
    let elsewhere = conversations::send(backend, &ann, other, "Are you there?", Some(&c1), false).await;
    assert!(
        matches!(&elsewhere, Err(ServiceError::Validation(v)) if v.field == "client_id"),
        "{elsewhere:?}"
    );
    let new = conversations::send(backend, &ann, id, "Hello??", Some(&client_id("c-2")), false).await;
    assert_eq!(new.expect_err("over the limit").kind(), ErrorKind::RateLimited);
    let stored = thread(&store, &store.user("Ada", Role::Admin).await, id).await;
    assert_eq!(stored.len(), 2);
}

/// Two attempts with one `client_id` both look it up, find nothing and
/// queue for the writer; the first commits. The second must then answer
/// with the first's message (the unique index refuses its insert) and leave
/// nothing behind.
///
/// To make that order certain, this test holds the writer itself and plays
/// the first attempt with plain SQL; it lets the send go only once the send
/// has looked its `client_id` up — which it sees in the read pool: the
/// send's backend reads through a pool of two connections, one held here,
/// so the lookup opens the second and hands it back.
#[tokio::test]
async fn a_client_id_race_is_answered_like_a_resend() {
    let store = store().await;
    let ann = store.user("Ann", Role::Customer).await;
    let id = store.start(&ann, "Hello").await;

    // Held connections make the race certain; the pools are SQLite's.
    let Some(pools) = store.sqlite() else { return };
    let read = SqlitePoolOptions::new()
        .max_connections(2)
        .connect(&store.url)
        .await
        .expect("read pool");
    let held_read = read.acquire().await.expect("hold a reader");
    let pools = PoolSet {
        read: read.clone(),
        ..pools.clone()
    };
    let mut writer = pools.write.acquire().await.expect("hold the writer");
    let backend = Backend::new(
        Db::Sqlite(pools),
        store.backend.bus.clone(),
        SendLimiter::per_minute(100),
    );
    let mut bus = backend.bus.subscribe();

    let racing = tokio::spawn({
        let backend = backend.clone();
        let ann = ann.clone();
        async move { conversations::send(&backend, &ann, id, "Hello?", Some(&client_id("c-race")), false).await }
    });
    tokio::time::timeout(Duration::from_secs(10), async {
        while (read.size(), read.num_idle()) != (2, 1) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the send looked its client id up");

    // The first attempt wins while the send waits for the writer (a text,
    // so it takes a seq and a public seq; here both are 2).
    let (seq, public_seq): (Seq, Seq) = sqlx::query_as(
        "UPDATE conversations SET last_seq = last_seq + 1, last_public_seq = last_public_seq + 1 \
         WHERE id = $1 RETURNING last_seq, last_public_seq",
    )
    .bind(id)
    .fetch_one(&mut *writer)
    .await
    .expect("take a seq");
    assert_eq!(seq, public_seq);
    let winner: MessageId = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, seq, public_seq, sender_id, kind, body, client_id, created_at) \
         VALUES ($1, $2, $2, $3, 'text', 'Hello?', 'c-race', 0) RETURNING id",
    )
    .bind(id)
    .bind(seq)
    .bind(ann.id)
    .fetch_one(&mut *writer)
    .await
    .expect("the first attempt");
    drop(writer);

    let sent: Sent = racing.await.expect("join").expect("answered like a resend");
    assert!(sent.duplicate);
    assert_eq!((sent.message.id, sent.message.seq), (winner, seq));
    // The loser's transaction left nothing: no seq taken, nothing announced.
    let last_seq: Seq = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = $1")
        .bind(id)
        .fetch_one(&read)
        .await
        .expect("last seq");
    assert_eq!(last_seq, seq);
    assert!(drain(&mut bus).is_empty());
    drop(held_read);
}
