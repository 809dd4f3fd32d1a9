//! A change that commits is announced, even when whoever asked for it goes
//! away. An HTTP request's future is dropped when its client disconnects;
//! if that happened between COMMIT and the announcement, the message was
//! stored but live viewers never heard of it. Here the caller's future is
//! dropped at many points along a send, and every message that got stored
//! must have been announced — its messages and its list row.

use crate::helpers::store_with_limit;
use backend::conversations;
use backend::Event;
use parley::{ClientId, ConversationId, Role};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::TryRecvError;

/// Completes at `deadline`, checking as often as the runtime lets it (a
/// tokio timer would only fire on whole milliseconds, too coarse to land
/// between the statements of one transaction).
async fn until(deadline: Instant) {
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// The client ids stored in the conversation.
async fn stored(store: &crate::helpers::Store, id: ConversationId) -> HashSet<String> {
    store
        .all_messages(id)
        .await
        .into_iter()
        .filter_map(|m| m.client_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_dropped_at_any_point_is_announced_whenever_it_is_stored() {
    const ATTEMPTS: u64 = 150;
    let store = store_with_limit(100_000).await;
    let ann = store.user("Ann", Role::Customer).await;
    let id = store.start(&ann, "Hello").await;
    let mut bus = store.backend.bus.subscribe();

    // How long one send takes here, to spread the drops over it.
    let started = Instant::now();
    conversations::send(&store.backend, &ann, id, "timing", None, false)
        .await
        .expect("send");
    let one_send = started.elapsed().max(Duration::from_micros(200));

    let mut dropped = 0;
    for attempt in 0..ATTEMPTS {
        let client_id = ClientId::parse(&format!("c-{attempt}")).expect("client id");
        // From before the first statement to a little past the whole send.
        let cut = one_send.mul_f64(attempt as f64 * 1.5 / ATTEMPTS as f64);
        let body = format!("message {attempt}");
        let sending = conversations::send(&store.backend, &ann, id, &body, Some(&client_id), false);
        tokio::select! {
            biased;
            sent = sending => { sent.expect("send"); }
            () = until(Instant::now() + cut) => { dropped += 1; }
        }
    }
    assert!(dropped > 0, "no send was cut short; the test proves nothing");

    // Whatever is still committing finishes on its own; then everything
    // stored must have been announced (with a little time for the tail).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut announced = HashSet::new();
    let mut list_rows = 0usize;
    let mut messages_events = 0usize;
    loop {
        match bus.try_recv() {
            Ok(event) => match &*event {
                Event::Messages { messages, .. } => {
                    messages_events += 1;
                    announced.extend(messages.iter().filter_map(|m| m.message.client_id.clone()));
                }
                Event::Conversation { .. } => list_rows += 1,
                _ => {}
            },
            Err(TryRecvError::Empty) => {
                let stored = stored(&store, id).await;
                // One event of each kind per committed send (the timing one has no client id).
                if stored == announced && list_rows == messages_events {
                    break;
                }
                if Instant::now() > deadline {
                    let missing: Vec<_> = stored.difference(&announced).collect();
                    panic!(
                        "stored but never announced: {missing:?}; {messages_events} message events \
                         but {list_rows} list rows ({dropped} of {ATTEMPTS} sends cut short)"
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("bus: {e}"),
        }
    }
}
