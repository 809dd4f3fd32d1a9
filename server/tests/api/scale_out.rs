//! Two instances of Parley on one database and one Redis (issue 10): a
//! customer on A and an agent on B hear each other live — messages,
//! typing, read receipts, inbox rows and presence — and a socket whose
//! instance lost its Redis subscription is told to resync, after which
//! events flow again.
//!
//! The instances share one SQLite file here (two pools on one file, which
//! WAL allows); what is under test is the Redis bus, not the database. Needs
//! `PARLEY_TEST_REDIS_URL` (`scripts/services.sh run -- cargo test …`);
//! without it each test prints a note and passes. Each test has a Redis
//! namespace of its own; the one that kills subscriptions runs alone
//! ([`KILLING`]).

use crate::helpers::{expect_frame, expect_no_frame, live, send_frame, Client, Socket, TestApp};
use crate::live_messages::{ack, send_text, start, subscribe};
use parley::protocol::{ClientFrame, ServerFrame};
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::time::Duration;
use testkit::{spawn_instances, test_redis_url};
use tokio::sync::RwLock;

/// `CLIENT KILL TYPE pubsub` drops every instance's subscription on the
/// test Redis: that test takes this for writing, the others for reading.
static KILLING: RwLock<()> = RwLock::const_new(());

/// A customer signed in on A and an agent (online) signed in on B.
async fn customer_on_a_agent_on_b(a: &TestApp, b: &TestApp) -> (Client, Client) {
    let (customer, _) = a.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = b.signed_in("agent@example.com", Role::Agent).await;
    let (status, _) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK);
    (customer, agent)
}

async fn presence_is(socket: &mut Socket, what: &str, online: bool) {
    expect_frame(
        socket,
        what,
        |f| matches!(f, ServerFrame::Presence { support_online, .. } if *support_online == online),
    )
    .await;
}

#[tokio::test]
async fn a_customer_on_one_instance_and_an_agent_on_another_talk_live() {
    let Some(redis) = test_redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = spawn_instances(&redis, ServeArgs::default()).await;
    let (customer, agent) = customer_on_a_agent_on_b(&a, &b).await;
    let mut staff = live(&agent).await;
    send_frame(&mut staff, &ClientFrame::WatchInbox { on: true }).await;

    // A conversation started on A shows up in B's inbox.
    let id = start(&customer, "Hello from A").await;
    expect_frame(
        &mut staff,
        "the inbox row on B",
        |f| matches!(f, ServerFrame::Conversation { summary } if summary.id == id),
    )
    .await;

    let mut on_a = live(&customer).await;
    subscribe(&mut on_a, id, 1).await;
    subscribe(&mut staff, id, 1).await;

    // The agent on B answers; the customer on A hears it, and back.
    // (Seqs as each side numbers them: the answer may come with a system
    // message, which both sides see.)
    send_text(&mut staff, id, "b-1", "Hi, Alice", false).await;
    let hi_for_staff = ack(&mut staff, "b-1").await.seq;
    let hi_for_customer = match expect_frame(
        &mut on_a,
        "the agent's answer on A",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "Hi, Alice"),
    )
    .await
    {
        ServerFrame::Message { message } => message.seq,
        other => panic!("{other:?}"),
    };
    send_text(&mut on_a, id, "a-1", "Thanks!", false).await;
    let thanks_for_customer = ack(&mut on_a, "a-1").await.seq;
    assert!(thanks_for_customer > hi_for_customer);
    let thanks_for_staff = match expect_frame(
        &mut staff,
        "the customer's reply on B",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "Thanks!"),
    )
    .await
    {
        ServerFrame::Message { message } => message.seq,
        other => panic!("{other:?}"),
    };

    // Typing and read receipts, both ways.
    send_frame(&mut staff, &ClientFrame::Typing { conversation_id: id }).await;
    expect_frame(
        &mut on_a,
        "typing on A",
        |f| matches!(f, ServerFrame::Typing { conversation_id, .. } if *conversation_id == id),
    )
    .await;
    send_frame(&mut on_a, &ClientFrame::Typing { conversation_id: id }).await;
    expect_frame(
        &mut staff,
        "typing on B",
        |f| matches!(f, ServerFrame::Typing { conversation_id, .. } if *conversation_id == id),
    )
    .await;
    send_frame(
        &mut staff,
        &ClientFrame::Read {
            conversation_id: id,
            up_to: thanks_for_staff,
        },
    )
    .await;
    expect_frame(
        &mut on_a,
        "the agent's read on A",
        |f| matches!(f, ServerFrame::Read { role: Role::Agent, up_to, .. } if *up_to == thanks_for_customer),
    )
    .await;
    // A note from B reaches nobody on A's customer side, and each message
    // arrives once.
    send_text(&mut staff, id, "b-2", "VIP customer", true).await;
    ack(&mut staff, "b-2").await;
    send_text(&mut staff, id, "b-3", "Anything else?", false).await;
    let else_for_staff = ack(&mut staff, "b-3").await.seq;
    let else_for_customer = match expect_frame(
        &mut on_a,
        "the next public message",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "Anything else?"),
    )
    .await
    {
        ServerFrame::Message { message } => message.seq,
        other => panic!("{other:?}"),
    };
    assert!(else_for_customer > thanks_for_customer && else_for_staff > hi_for_staff);
    expect_no_frame(&mut on_a, Duration::from_millis(400), "a note or a double", |f| {
        matches!(f, ServerFrame::Message { .. })
    })
    .await;

    // The customer's read receipt on A reaches B, in the staff's numbers.
    send_frame(
        &mut on_a,
        &ClientFrame::Read {
            conversation_id: id,
            up_to: else_for_customer,
        },
    )
    .await;
    expect_frame(
        &mut staff,
        "the customer's read on B",
        |f| matches!(f, ServerFrame::Read { role: Role::Customer, up_to, .. } if *up_to == else_for_staff),
    )
    .await;
}

#[tokio::test]
async fn presence_on_one_instance_is_seen_on_the_other_and_ends_with_the_grace() {
    let Some(redis) = test_redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = spawn_instances(
        &redis,
        ServeArgs {
            presence_grace_secs: 1,
            ..ServeArgs::default()
        },
    )
    .await;
    // The agent connects to A only; the customer and a second team member on B.
    let (agent, _) = a.signed_in("agent@example.com", Role::Agent).await;
    let (status, _) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK);
    let (customer, _) = b.signed_in("alice@example.com", Role::Customer).await;
    let (admin, _) = b.signed_in("admin@example.com", Role::Admin).await;
    let mut on_b = live(&customer).await;
    let mut team_on_b = live(&admin).await;

    let agent_socket = live(&agent).await;
    presence_is(&mut on_b, "Support is online, on B", true).await;
    expect_frame(&mut team_on_b, "the agent online in B's team list", |f| {
        matches!(f, ServerFrame::Presence { staff: Some(team), .. }
            if team.iter().any(|s| s.user.name == "agent" && s.online))
    })
    .await;

    // The agent's socket closes: offline everywhere once the grace is over.
    drop(agent_socket);
    presence_is(&mut on_b, "Support is offline, on B", false).await;
}

#[tokio::test]
async fn a_socket_whose_instance_lost_its_subscription_resyncs_and_hears_again() {
    let Some(redis) = test_redis_url() else { return };
    let _alone = KILLING.write().await;
    let (a, b) = spawn_instances(&redis, ServeArgs::default()).await;
    let (customer, agent) = customer_on_a_agent_on_b(&a, &b).await;
    let id = start(&customer, "Hello").await;
    let mut on_a = live(&customer).await;
    let mut staff = live(&agent).await;
    subscribe(&mut on_a, id, 1).await;
    subscribe(&mut staff, id, 1).await;

    let client = redis::Client::open(redis.as_str()).expect("redis url");
    let mut admin = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection of our own");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert!(killed >= 2, "both instances' subscriptions: {killed}");

    expect_frame(&mut staff, "resync on B", |f| matches!(f, ServerFrame::Resync)).await;
    expect_frame(&mut on_a, "resync on A", |f| matches!(f, ServerFrame::Resync)).await;
    // Subscribed again: live events cross instances again.
    send_text(&mut on_a, id, "a-1", "Still there?", false).await;
    ack(&mut on_a, "a-1").await;
    expect_frame(
        &mut staff,
        "the message after the resync",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "Still there?"),
    )
    .await;
    send_text(&mut staff, id, "b-1", "Yes", false).await;
    ack(&mut staff, "b-1").await;
    expect_frame(
        &mut on_a,
        "the answer after the resync",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "Yes"),
    )
    .await;
}

#[tokio::test]
async fn the_send_limit_holds_across_instances() {
    let Some(redis) = test_redis_url() else { return };
    let _shared = KILLING.read().await;
    let (a, b) = spawn_instances(
        &redis,
        ServeArgs {
            messages_per_minute: 2,
            ..ServeArgs::default()
        },
    )
    .await;
    let (on_a, _) = a.signed_in("alice@example.com", Role::Customer).await;
    let on_b = b.client();
    let (status, body) = on_b
        .call(
            "login",
            &[("email", "alice@example.com"), ("password", testkit::PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = start(&on_a, "one").await;
    let (status, _) = on_b
        .call(
            "conversations/send",
            &[("conversation_id", &id.to_string()), ("body", "two")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Two a minute in all, whichever instance takes them.
    for client in [&on_a, &on_b] {
        let (status, body) = client
            .call(
                "conversations/send",
                &[("conversation_id", &id.to_string()), ("body", "three")],
            )
            .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
}

#[tokio::test]
async fn serve_refuses_to_start_when_redis_is_unreachable() {
    // Nothing listens on port 1; no test Redis needed.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = backend::Db::connect(&format!("sqlite://{}", dir.path().join("p.db").display()))
        .await
        .expect("database");
    db.migrate().await.expect("migrate");
    let args = ServeArgs {
        redis_url: Some("redis://127.0.0.1:1".into()),
        ..ServeArgs::default()
    };
    let config = server::config::Config::from_args(&args).expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let result = server::serve(listener, config, db, std::future::pending()).await;
    match result {
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("Redis at redis://127.0.0.1:1 is unreachable"),
                "{message}"
            );
        }
        Ok(()) => panic!("served without its Redis"),
    }
}
