//! Two real `parley serve` processes on one database and one Redis, as a
//! deployment behind a load balancer runs them (issue 10): a customer on
//! instance A and two agents on instance B talk live; then B is killed with
//! SIGKILL in the middle of the agent's burst. Nothing runs at exit: no
//! socket is told to reconnect, B's presence entries stay in Redis until
//! they expire. The agent's client reconnects to A (its session is in the
//! shared database), resumes from the last seq it received and resends what
//! was never acknowledged, with the same client ids.
//!
//! What must hold: every message is stored once and reaches the customer on
//! A once, in seq order; the agent that moved to A stays online for the
//! customer; the agent that stayed on the dead B drops out of the team's
//! presence within the grace period.
//!
//! Needs `PARLEY_TEST_REDIS_URL`; runs on whichever database the run uses
//! (the `postgres` stage: both processes on one PostgreSQL database).

use crate::helpers::{client_at, expect_frame, live, send_frame, Client, Socket, PASSWORD};
use crate::live_messages::{ack, send_text, start, subscribe};
use crate::process::{free_addr, Scratch};
use parley::protocol::{ClientFrame, ServerFrame};
use parley::validate::{DisplayName, Email, Password};
use parley::{ConversationId, Role, Seq, UserId};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use testkit::read_frame;
use testkit::{fresh_namespace, test_redis_url, SESSION_COOKIE};
use tokio::process::Child;

/// How long an agent counts as present after their last socket (or their
/// instance) went away.
const GRACE_SECS: u64 = 2;
/// Messages the agent sends in all; B dies after `KILL_AFTER` are acknowledged.
const MESSAGES: usize = 30;
const KILL_AFTER: usize = 12;

/// `parley serve` on `addr`, in the deployment `namespace` of `redis`.
async fn instance(scratch: &Scratch, addr: SocketAddr, redis: &str, namespace: &str) -> Child {
    let mut command = scratch.command(addr, &["serve"]);
    command
        .env("REDIS_URL", redis)
        .env("PARLEY_REDIS_NAMESPACE", namespace)
        .env("PARLEY_PRESENCE_GRACE_SECS", GRACE_SECS.to_string())
        .env("PARLEY_RATE_PER_MINUTE", "100000");
    scratch.serve(command, addr).await
}

async fn account(db: &backend::Db, email: &str, role: Role) -> UserId {
    backend::accounts::create_user(
        db,
        &Email::parse(email).expect("email"),
        &DisplayName::parse(email.split('@').next().unwrap_or("someone")).expect("name"),
        role,
        &Password::parse(PASSWORD).expect("password"),
    )
    .await
    .expect("create user")
    .id
}

async fn sign_in(addr: SocketAddr, email: &str) -> Client {
    let client = client_at(addr);
    let (status, body) = client
        .call("login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "login {email}: {body}");
    client
}

/// The same browser (its cookies) talking to another instance.
fn moved_to(client: &Client, addr: SocketAddr) -> Client {
    let moved = client_at(addr);
    let session = client.session_cookie().expect("a session cookie");
    moved.set_cookie(&format!("{SESSION_COOKIE}={session}"));
    moved
}

async fn go_online(agent: &Client) {
    let (status, body) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// What a socket opened now is told first: who on the team is online (for
/// staff), whether support is online (for everyone).
async fn presence_now(client: &Client) -> (bool, Vec<(UserId, bool)>) {
    let mut socket = client.socket().await.expect("open a socket");
    let hello = read_frame(&mut socket).await.expect("hello");
    assert!(matches!(hello, ServerFrame::Hello { .. }), "{hello:?}");
    match read_frame(&mut socket).await.expect("presence") {
        ServerFrame::Presence {
            support_online,
            staff,
        } => (
            support_online,
            staff
                .unwrap_or_default()
                .into_iter()
                .map(|s| (s.user.id, s.online))
                .collect(),
        ),
        other => panic!("expected presence, got {other:?}"),
    }
}

/// Asks [`presence_now`] until `holds`, for at most a few grace periods.
async fn presence_until(client: &Client, what: &str, holds: impl Fn(bool, &[(UserId, bool)]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(GRACE_SECS * 5 + 5);
    loop {
        let (support, staff) = presence_now(client).await;
        if holds(support, &staff) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: presence says {support} {staff:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads the customer's socket as a client must: each seq once and in
/// order from `cursor` on. A seq more than one past the cursor means a
/// message was committed on an instance that died before it could publish
/// it: the client resubscribes from its cursor and the server replays it
/// (the protocol's gap rule). Returns every message's client id by seq.
async fn customer_hears(
    socket: &mut Socket,
    conversation: ConversationId,
    mut cursor: Seq,
    expected: usize,
) -> BTreeMap<Seq, Option<String>> {
    let mut held = BTreeMap::new();
    let agents = |held: &BTreeMap<Seq, Option<String>>| {
        held.values()
            .filter(|c: &&Option<String>| c.as_deref().is_some_and(|c| c.starts_with("agt-")))
            .count()
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while agents(&held) < expected {
            let frame = expect_frame(socket, "the agent's messages on A", |f| {
                matches!(f, ServerFrame::Message { .. })
            })
            .await;
            let ServerFrame::Message { message } = frame else {
                continue;
            };
            if message.seq <= cursor {
                // A replayed frame the client already holds: dropped by seq.
                continue;
            }
            if message.seq.0 > cursor.0 + 1 {
                send_frame(
                    socket,
                    &ClientFrame::Subscribe {
                        conversation_id: conversation,
                        after: cursor,
                    },
                )
                .await;
                continue;
            }
            cursor = message.seq;
            held.insert(message.seq, message.client_id);
        }
    })
    .await
    .expect("the customer hears every message");
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_conversation_loses_and_doubles_nothing() {
    let Some(redis) = test_redis_url() else { return };
    let namespace = fresh_namespace();
    let scratch = Scratch::new().await;
    let db = backend::Db::connect(&scratch.db_url)
        .await
        .expect("open database");
    account(&db, "casey@example.com", Role::Customer).await;
    let avery = account(&db, "avery@example.com", Role::Agent).await;
    let bo = account(&db, "bo@example.com", Role::Agent).await;
    db.close().await;

    let (a, b) = (free_addr(), free_addr());
    let _instance_a = instance(&scratch, a, &redis, &namespace).await;
    let mut instance_b = instance(&scratch, b, &redis, &namespace).await;

    // The customer on A; both agents on B, online, watching the inbox.
    let customer = sign_in(a, "casey@example.com").await;
    let agent = sign_in(b, "avery@example.com").await;
    let other = sign_in(b, "bo@example.com").await;
    go_online(&agent).await;
    go_online(&other).await;
    let other_socket = live(&other).await;
    let mut agent_socket = live(&agent).await;
    send_frame(&mut agent_socket, &ClientFrame::WatchInbox { on: true }).await;
    presence_until(&customer, "support online for the customer on A", |support, _| {
        support
    })
    .await;
    let mut customer_socket = live(&customer).await;

    // A conversation started on A reaches B's inbox; both follow it.
    let id: ConversationId = start(&customer, "Hello from A").await;
    expect_frame(
        &mut agent_socket,
        "the new conversation in B's inbox",
        |f| matches!(f, ServerFrame::Conversation { summary } if summary.id == id),
    )
    .await;
    let customer_cursor = subscribe(&mut customer_socket, id, 0)
        .await
        .last()
        .map_or(Seq(0), |m| m.seq);
    let replayed = subscribe(&mut agent_socket, id, 0).await;
    let mut agent_cursor = replayed.last().map_or(Seq(0), |m| m.seq);

    // Typing crosses too.
    send_frame(&mut customer_socket, &ClientFrame::Typing { conversation_id: id }).await;
    expect_frame(
        &mut agent_socket,
        "the customer typing, on B",
        |f| matches!(f, ServerFrame::Typing { conversation_id, .. } if *conversation_id == id),
    )
    .await;

    // The agent's burst on B, one in flight at a time; B dies with one
    // more written but not acknowledged.
    let client_ids: Vec<String> = (0..MESSAGES).map(|n| format!("agt-{n}")).collect();
    for client_id in &client_ids[..KILL_AFTER] {
        send_text(
            &mut agent_socket,
            id,
            client_id,
            &format!("answer {client_id}"),
            false,
        )
        .await;
        agent_cursor = agent_cursor.max(ack(&mut agent_socket, client_id).await.seq);
    }
    let in_flight = &client_ids[KILL_AFTER];
    send_text(
        &mut agent_socket,
        id,
        in_flight,
        &format!("answer {in_flight}"),
        false,
    )
    .await;
    instance_b.kill().await.expect("SIGKILL instance B");
    drop(agent_socket);
    drop(other_socket);

    // The agent's browser reconnects to A with the same session, resumes
    // from its cursor and resends the unacknowledged message, then the rest.
    let agent_on_a = moved_to(&agent, a);
    let mut agent_socket = live(&agent_on_a).await;
    let missed = subscribe(&mut agent_socket, id, agent_cursor.0).await;
    for message in &missed {
        assert!(message.seq > agent_cursor, "replay starts after the cursor");
    }
    for client_id in &client_ids[KILL_AFTER..] {
        send_text(
            &mut agent_socket,
            id,
            client_id,
            &format!("answer {client_id}"),
            false,
        )
        .await;
        ack(&mut agent_socket, client_id).await;
    }
    let held = customer_hears(&mut customer_socket, id, customer_cursor, MESSAGES).await;

    // Each once on the customer's side, and each stored once.
    let heard: Vec<&str> = held
        .values()
        .filter_map(|c| c.as_deref())
        .filter(|c| c.starts_with("agt-"))
        .collect();
    let mut unique = heard.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        heard.len(),
        MESSAGES,
        "the customer heard each message once: {heard:?}"
    );
    assert_eq!(unique.len(), MESSAGES);
    let db = backend::Db::connect(&scratch.db_url)
        .await
        .expect("open database");
    let stored: Vec<(String, i64)> = backend::with_pools!(&db, |pools| {
        sqlx::query_as(
            "SELECT client_id, COUNT(*) FROM messages WHERE conversation_id = $1 AND client_id LIKE 'agt-%' \
             GROUP BY client_id",
        )
        .bind(id.0)
        .fetch_all(&pools.read)
        .await
    })
    .expect("stored messages");
    assert_eq!(stored.len(), MESSAGES, "every message stored");
    assert!(
        stored.iter().all(|(_, n)| *n == 1),
        "a message stored twice: {stored:?}"
    );

    // Presence: Avery (now on A) stays online; Bo, whose only instance
    // died, is offline once the grace has run out — for the team and, with
    // Avery still there, support stays online for the customer.
    presence_until(
        &agent_on_a,
        "Bo offline after B died, Avery online",
        |_, staff| staff.contains(&(bo, false)) && staff.contains(&(avery, true)),
    )
    .await;
    presence_until(&customer, "support online for the customer", |support, _| support).await;
    drop(agent_socket);
}
