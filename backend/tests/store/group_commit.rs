//! Group commit (`store/sql/conversations/write/commit.rs`): sends that queue
//! while a transaction is in flight share the next one, each is still
//! answered on its own, each conversation's seqs stay gap-free and in commit
//! order on the bus, and a change that fails in a shared transaction fails
//! alone — including one that had already written (a reused `client_id` is
//! refused by its insert, after the conversation's counter moved: its
//! savepoint must take that back, or the next message would skip a seq).

use crate::helpers::store_with_limit;
use backend::conversations::{self, Sent, WriteStats};
use backend::{Event, ServiceError};
use parley::model::CurrentUser;
use parley::{ClientId, ConversationId, ConversationStatus, ErrorKind, Role, Seq};
use std::collections::HashMap;
use tokio::sync::broadcast::error::TryRecvError;

fn client_id(raw: &str) -> ClientId {
    ClientId::parse(raw).expect("client id")
}

/// Sends `body` as `who` from a task of its own, all started before any is awaited.
fn spawn_send(
    store: &crate::helpers::Store,
    who: &CurrentUser,
    id: ConversationId,
    body: String,
    client: Option<ClientId>,
) -> tokio::task::JoinHandle<Result<Sent, ServiceError>> {
    let backend = store.backend.clone();
    let who = who.clone();
    tokio::spawn(async move { conversations::send(&backend, &who, id, &body, client.as_ref(), false).await })
}

/// Every seq stored in `id`, oldest first (staff numbering).
async fn stored_seqs(store: &crate::helpers::Store, id: ConversationId) -> Vec<Seq> {
    store.all_messages(id).await.iter().map(|m| m.seq).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_that_queue_together_share_a_transaction_and_each_is_answered() {
    const CONVERSATIONS: usize = 8;
    const SENDS: usize = 240;
    let store = store_with_limit(100_000).await;
    let ann = store.user("Ann", Role::Customer).await;
    let mut ids = Vec::new();
    for n in 0..CONVERSATIONS {
        ids.push(store.start(&ann, &format!("Conversation {n}")).await);
    }
    let before = conversations::write_stats(&store.backend);
    let mut bus = store.backend.bus.subscribe();

    let sends: Vec<_> = (0..SENDS)
        .map(|i| {
            let client = client_id(&format!("g-{i}"));
            spawn_send(
                &store,
                &ann,
                ids[i % CONVERSATIONS],
                format!("message {i}"),
                Some(client),
            )
        })
        .collect();
    let mut answered = HashMap::new();
    for (i, send) in sends.into_iter().enumerate() {
        let sent = send.await.expect("join").expect("send");
        assert!(!sent.duplicate);
        assert_eq!(
            sent.message.body,
            format!("message {i}"),
            "each caller hears of its own message"
        );
        answered.insert((sent.message.conversation_id, sent.message.seq), i);
    }
    assert_eq!(answered.len(), SENDS, "no two sends were given one seq");

    let after = conversations::write_stats(&store.backend);
    let changes = after.changes - before.changes;
    let transactions = after.transactions - before.transactions;
    assert_eq!(changes, SENDS as u64);
    assert!(
        transactions < changes,
        "{SENDS} sends at once took {transactions} transactions: none shared one"
    );
    eprintln!("{SENDS} concurrent sends: {transactions} transactions");

    let mut announced: HashMap<ConversationId, Vec<Seq>> = HashMap::new();
    loop {
        match bus.try_recv() {
            Ok(event) => {
                if let Event::Messages {
                    conversation_id,
                    messages,
                    ..
                } = event.as_ref()
                {
                    announced
                        .entry(*conversation_id)
                        .or_default()
                        .extend(messages.iter().map(|m| m.message.seq));
                }
            }
            Err(TryRecvError::Empty) => break,
            Err(e) => panic!("bus: {e}"),
        }
    }
    let per_conversation = SENDS / CONVERSATIONS;
    for id in &ids {
        let expected: Vec<Seq> = (2..=1 + per_conversation as i64).map(Seq).collect();
        assert_eq!(
            announced.get(id),
            Some(&expected),
            "{id}: announced in seq order, gap-free"
        );
        let mut stored = vec![Seq(1)];
        stored.extend(expected);
        assert_eq!(stored_seqs(&store, *id).await, stored, "{id}: stored gap-free");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_fails_in_a_shared_transaction_fails_alone() {
    let store = store_with_limit(100_000).await;
    let ann = store.user("Ann", Role::Customer).await;
    let bo = store.user("Bo", Role::Customer).await;
    let ada = store.user("Ada", Role::Admin).await;
    let open = store.start(&ann, "Hello").await;
    let closed = store.start(&ann, "Old question").await;
    let bos = store.start(&bo, "Bo's own").await;
    conversations::change_status(&store.backend, &ada, closed, ConversationStatus::Closed)
        .await
        .expect("close");
    let before = conversations::write_stats(&store.backend);

    // Rounds of four at once: a good send, one to a closed conversation, one
    // to somebody else's, and one reusing the good send's client id.
    const ROUNDS: usize = 40;
    let mut sends = Vec::new();
    for round in 0..ROUNDS {
        let good = client_id(&format!("ok-{round}"));
        sends.push((
            "good",
            spawn_send(&store, &ann, open, format!("good {round}"), Some(good.clone())),
        ));
        sends.push((
            "closed",
            spawn_send(&store, &ann, closed, format!("late {round}"), None),
        ));
        sends.push((
            "foreign",
            spawn_send(&store, &ann, bos, format!("nosy {round}"), None),
        ));
        sends.push((
            "again",
            spawn_send(&store, &ann, open, format!("good {round}"), Some(good)),
        ));
    }
    let mut by_client_id: HashMap<String, Vec<Sent>> = HashMap::new();
    for (what, send) in sends {
        let result = send.await.expect("join");
        match what {
            "good" | "again" => {
                let sent = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                let key = sent.message.client_id.clone().expect("client id");
                by_client_id.entry(key).or_default().push(sent);
            }
            "closed" => assert_eq!(result.expect_err("closed").kind(), ErrorKind::Closed, "closed"),
            _ => assert_eq!(
                result.expect_err("foreign").kind(),
                ErrorKind::NotFound,
                "foreign"
            ),
        }
    }
    // Each client id: one message, told to one caller as new and to the other as a resend.
    assert_eq!(by_client_id.len(), ROUNDS);
    for (key, answers) in &by_client_id {
        assert_eq!(answers.len(), 2, "{key}");
        assert_eq!(answers[0].message, answers[1].message, "{key}");
        assert_eq!(answers.iter().filter(|a| a.duplicate).count(), 1, "{key}");
    }
    // Nothing of the refused ones was kept; the good ones are gap-free.
    assert_eq!(
        stored_seqs(&store, open).await,
        (1..=1 + ROUNDS as i64).map(Seq).collect::<Vec<_>>()
    );
    let closed_seqs = stored_seqs(&store, closed).await;
    assert_eq!(
        closed_seqs.len(),
        2,
        "the first message and the close: {closed_seqs:?}"
    );
    assert_eq!(stored_seqs(&store, bos).await, vec![Seq(1)]);

    let WriteStats {
        changes,
        transactions,
    } = conversations::write_stats(&store.backend);
    let (changes, transactions) = (changes - before.changes, transactions - before.transactions);
    assert!(changes >= ROUNDS as u64, "{changes}");
    assert!(
        transactions < changes,
        "the refused changes never shared a transaction with good ones ({transactions} for {changes})"
    );
}
