//! Live delivery over real WebSockets: messages both ways, acknowledgements
//! after commit, idempotent resends, replay, typing, read receipts, notes,
//! presence, inbox updates, rate limits — and every frame authorized.

use crate::helpers::{
    expect_frame, expect_no_frame, live, send_frame, spawn_app, spawn_app_with, Client, Socket,
};
use parley::model::Message;
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{ConversationId, Role, Seq};
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::time::Duration;

pub(crate) async fn start(client: &Client, body: &str) -> ConversationId {
    let (status, id) = client
        .call("conversations/start", &[("subject", ""), ("body", body)])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    ConversationId(id.as_i64().expect("id"))
}

pub(crate) async fn subscribe(socket: &mut Socket, conversation: ConversationId, after: i64) -> Vec<Message> {
    send_frame(
        socket,
        &ClientFrame::Subscribe {
            conversation_id: conversation,
            after: Seq(after),
        },
    )
    .await;
    let mut replayed = Vec::new();
    loop {
        match expect_frame(socket, "replay or subscribed", |f| {
            matches!(
                f,
                ServerFrame::Message { .. } | ServerFrame::Subscribed { .. } | ServerFrame::Error { .. }
            )
        })
        .await
        {
            ServerFrame::Message { message } => replayed.push(message),
            ServerFrame::Subscribed { conversation_id, .. } => {
                assert_eq!(conversation_id, conversation);
                return replayed;
            }
            other => panic!("subscribe failed: {other:?}"),
        }
    }
}

pub(crate) async fn send_text(
    socket: &mut Socket,
    conversation: ConversationId,
    client_id: &str,
    body: &str,
    note: bool,
) {
    send_frame(
        socket,
        &ClientFrame::Send {
            conversation_id: conversation,
            client_id: client_id.into(),
            body: body.into(),
            note,
        },
    )
    .await;
}

pub(crate) async fn ack(socket: &mut Socket, client_id: &str) -> Message {
    match expect_frame(socket, "ack", |f| {
        matches!(f, ServerFrame::Ack { client_id: c, .. } | ServerFrame::Error { client_id: Some(c), .. } if c == client_id)
    })
    .await
    {
        ServerFrame::Ack { message, .. } => message,
        other => panic!("expected an ack, got {other:?}"),
    }
}

pub(crate) async fn message_with(socket: &mut Socket, body: &str) -> Message {
    match expect_frame(
        socket,
        body,
        |f| matches!(f, ServerFrame::Message { message } if message.body == body),
    )
    .await
    {
        ServerFrame::Message { message } => message,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn messages_flow_both_ways_and_are_acknowledged_after_commit() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "Hello?").await;

    let mut customer = live(&alice).await;
    let mut staff = live(&agent).await;
    let replay = subscribe(&mut customer, id, 0).await;
    assert_eq!(
        replay.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        vec!["Hello?"]
    );
    subscribe(&mut staff, id, 1).await;

    send_text(&mut customer, id, "c-1", "Is anyone there?", false).await;
    let acked = ack(&mut customer, "c-1").await;
    assert_eq!(acked.seq, Seq(2));
    // committed: visible over HTTP the moment it is acknowledged
    let (_, thread) = agent
        .call("conversations/thread", &[("id", &id.to_string())])
        .await;
    assert!(thread.to_string().contains("Is anyone there?"));
    let seen = message_with(&mut staff, "Is anyone there?").await;
    assert_eq!(seen.id, acked.id);

    send_text(&mut staff, id, "a-1", "Yes, hello!", false).await;
    ack(&mut staff, "a-1").await;
    let reply = message_with(&mut customer, "Yes, hello!").await;
    assert_eq!(reply.sender.map(|s| s.name), Some("agent".to_owned()));
    // the first reply also moved the conversation: a system message follows
    expect_frame(
        &mut customer,
        "system message",
        |f| matches!(f, ServerFrame::Message { message } if message.body.contains("took the conversation")),
    )
    .await;
}

#[tokio::test]
async fn resending_a_client_id_never_duplicates() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "first").await;
    let mut customer = live(&alice).await;
    let mut staff = live(&agent).await;
    subscribe(&mut staff, id, 1).await;

    send_text(&mut customer, id, "same-id", "only once please", false).await;
    let first = ack(&mut customer, "same-id").await;
    // as after a reconnect: a new socket, the same client_id
    drop(customer);
    let mut customer = live(&alice).await;
    send_text(&mut customer, id, "same-id", "only once please", false).await;
    let second = ack(&mut customer, "same-id").await;
    assert_eq!(first.id, second.id);
    assert_eq!(first.seq, second.seq);

    message_with(&mut staff, "only once please").await;
    expect_no_frame(
        &mut staff,
        Duration::from_millis(500),
        "a second copy",
        |f| matches!(f, ServerFrame::Message { message } if message.body == "only once please"),
    )
    .await;
    let replay = subscribe(&mut customer, id, 0).await;
    assert_eq!(replay.iter().filter(|m| m.body == "only once please").count(), 1);
}

#[tokio::test]
async fn customers_never_hear_of_other_conversations_or_notes() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (bob, _) = app.signed_in("bob@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let alices = start(&alice, "Alice's").await;
    let bobs = start(&bob, "Bob's").await;

    let mut bob_socket = live(&bob).await;
    // a foreign conversation: an error, and nothing else
    send_frame(
        &mut bob_socket,
        &ClientFrame::Subscribe {
            conversation_id: alices,
            after: Seq(0),
        },
    )
    .await;
    match expect_frame(&mut bob_socket, "error", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await
    {
        ServerFrame::Error {
            code,
            conversation_id,
            ..
        } => {
            assert_eq!(code, ErrorCode::NotFound);
            assert_eq!(conversation_id, Some(alices));
        }
        other => panic!("{other:?}"),
    }
    for frame in [
        ClientFrame::Typing {
            conversation_id: alices,
        },
        ClientFrame::Read {
            conversation_id: alices,
            up_to: Seq(1),
        },
        ClientFrame::Send {
            conversation_id: alices,
            client_id: "x".into(),
            body: "intrusion".into(),
            note: false,
        },
        ClientFrame::WatchInbox { on: true },
    ] {
        send_frame(&mut bob_socket, &frame).await;
        match expect_frame(&mut bob_socket, "error", |f| {
            matches!(f, ServerFrame::Error { .. })
        })
        .await
        {
            ServerFrame::Error { code, .. } => {
                assert!(
                    matches!(code, ErrorCode::NotFound | ErrorCode::Forbidden),
                    "{frame:?}: {code:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    subscribe(&mut bob_socket, bobs, 1).await;

    let mut alice_socket = live(&alice).await;
    subscribe(&mut alice_socket, alices, 1).await;
    let mut staff = live(&agent).await;
    subscribe(&mut staff, alices, 1).await;
    send_text(&mut staff, alices, "n-1", "NOTE: VIP customer", true).await;
    assert_eq!(
        ack(&mut staff, "n-1").await.kind,
        parley::model::MessageKind::Note
    );
    send_text(&mut staff, alices, "a-1", "Public answer", false).await;
    ack(&mut staff, "a-1").await;

    // Alice gets the answer, never the note; Bob gets nothing at all.
    let first = expect_frame(&mut alice_socket, "a message", |f| {
        matches!(f, ServerFrame::Message { .. })
    })
    .await;
    assert!(matches!(first, ServerFrame::Message { message } if message.body == "Public answer"));
    expect_no_frame(&mut alice_socket, Duration::from_millis(400), "the note", |f| {
        f.to_json().contains("VIP customer")
    })
    .await;
    expect_no_frame(
        &mut bob_socket,
        Duration::from_millis(400),
        "anything of Alice's",
        |f| {
            matches!(
                f,
                ServerFrame::Message { .. }
                    | ServerFrame::Typing { .. }
                    | ServerFrame::Read { .. }
                    | ServerFrame::Conversation { .. }
            )
        },
    )
    .await;
    // a replay for Alice skips the note too
    let replay = subscribe(&mut alice_socket, alices, 0).await;
    assert!(replay.iter().all(|m| !m.body.contains("VIP")));
}

#[tokio::test]
async fn typing_and_read_receipts_reach_the_other_side() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, agent_user) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "hi").await;
    let mut customer = live(&alice).await;
    let mut staff = live(&agent).await;
    subscribe(&mut customer, id, 1).await;
    subscribe(&mut staff, id, 1).await;

    send_frame(&mut staff, &ClientFrame::Typing { conversation_id: id }).await;
    match expect_frame(&mut customer, "typing", |f| {
        matches!(f, ServerFrame::Typing { .. })
    })
    .await
    {
        ServerFrame::Typing {
            user,
            conversation_id,
        } => {
            assert_eq!(user.id, agent_user.id);
            assert_eq!(conversation_id, id);
        }
        other => panic!("{other:?}"),
    }
    expect_no_frame(&mut staff, Duration::from_millis(300), "own typing", |f| {
        matches!(f, ServerFrame::Typing { .. })
    })
    .await;

    send_frame(
        &mut staff,
        &ClientFrame::Read {
            conversation_id: id,
            up_to: Seq(1),
        },
    )
    .await;
    match expect_frame(&mut customer, "read", |f| matches!(f, ServerFrame::Read { .. })).await {
        ServerFrame::Read {
            user_id, role, up_to, ..
        } => {
            assert_eq!(user_id, agent_user.id);
            assert_eq!(role, Role::Agent);
            assert_eq!(up_to, Seq(1));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn staff_watching_the_inbox_and_customers_see_list_updates() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let mut staff = live(&agent).await;
    send_frame(&mut staff, &ClientFrame::WatchInbox { on: true }).await;
    let mut customer = live(&alice).await;

    let id = start(&alice, "A brand new question").await;
    match expect_frame(&mut staff, "inbox row", |f| {
        matches!(f, ServerFrame::Conversation { .. })
    })
    .await
    {
        ServerFrame::Conversation { summary } => {
            assert_eq!(summary.id, id);
            assert!(summary.unanswered);
        }
        other => panic!("{other:?}"),
    }
    expect_frame(
        &mut customer,
        "own list row",
        |f| matches!(f, ServerFrame::Conversation { summary } if summary.id == id),
    )
    .await;

    // a note changes the staff row, but tells the customer nothing about it
    let (status, _) = agent
        .call(
            "conversations/send",
            &[
                ("conversation_id", &id.to_string()),
                ("body", "SECRET NOTE"),
                ("note", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    expect_frame(&mut staff, "row with the note", |f| {
        f.to_json().contains("SECRET NOTE")
    })
    .await;
    expect_no_frame(&mut customer, Duration::from_millis(400), "the note", |f| {
        f.to_json().contains("SECRET NOTE")
    })
    .await;

    // stop watching: no more rows
    send_frame(&mut staff, &ClientFrame::WatchInbox { on: false }).await;
    start(&alice, "Another one").await;
    expect_no_frame(
        &mut staff,
        Duration::from_millis(400),
        "rows after unwatching",
        |f| matches!(f, ServerFrame::Conversation { .. }),
    )
    .await;
}

/// One kind decides both paths: what the socket's `code` says is what a
/// server function's `kind` says (and its HTTP status follows from it).
#[tokio::test]
async fn a_refusal_has_the_same_kind_over_http_and_on_the_socket() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    let id = start(&alice, "Please close this").await;
    let ids = id.to_string();
    let (status, _) = admin
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "closed")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = alice
        .call(
            "conversations/send",
            &[
                ("conversation_id", &ids),
                ("body", "Hello?"),
                ("client_id", "http-1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["kind"], "closed", "{body}");

    let mut socket = live(&alice).await;
    send_text(&mut socket, id, "ws-1", "Hello?", false).await;
    match expect_frame(&mut socket, "error", |f| matches!(f, ServerFrame::Error { .. })).await {
        ServerFrame::Error { code, client_id, .. } => {
            assert_eq!(code, ErrorCode::Closed);
            assert_eq!(code.as_str(), body["kind"].as_str().unwrap_or_default());
            assert_eq!(code.http_status(), status.as_u16());
            assert_eq!(client_id.as_deref(), Some("ws-1"));
        }
        other => panic!("{other:?}"),
    }

    // A move the state does not allow is a conflict, and says so by its kind.
    let other = start(&alice, "Still open").await.to_string();
    let (status, body) = admin
        .call(
            "conversations/status",
            &[("conversation_id", &other), ("status", "open")],
        )
        .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "{body}"
    );
}

#[tokio::test]
async fn sending_is_rate_limited_with_a_retry_after() {
    let app = spawn_app_with(ServeArgs {
        messages_per_minute: 3,
        ..ServeArgs::default()
    })
    .await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let id = start(&alice, "one").await; // the first message counts
    let mut socket = live(&alice).await;
    for i in 0..2 {
        send_text(&mut socket, id, &format!("ok-{i}"), "fine", false).await;
        ack(&mut socket, &format!("ok-{i}")).await;
    }
    send_text(&mut socket, id, "too-many", "one too many", false).await;
    match expect_frame(&mut socket, "error", |f| matches!(f, ServerFrame::Error { .. })).await {
        ServerFrame::Error {
            code,
            client_id,
            retry_after_ms,
            message,
            ..
        } => {
            assert_eq!(code, ErrorCode::RateLimited);
            assert_eq!(client_id.as_deref(), Some("too-many"));
            assert!(retry_after_ms.is_some_and(|ms| ms > 0), "{retry_after_ms:?}");
            assert!(message.contains("Try again"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // nothing was stored
    let (_, thread) = alice
        .call("conversations/thread", &[("id", &id.to_string())])
        .await;
    assert!(!thread.to_string().contains("one too many"));
    // the HTTP door shares the same allowance
    let (status, _) = alice
        .call(
            "conversations/send",
            &[("conversation_id", &id.to_string()), ("body", "via http")],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn presence_follows_availability_and_sockets_with_a_grace_period() {
    let app = spawn_app_with(ServeArgs {
        presence_grace_secs: 1,
        ..ServeArgs::default()
    })
    .await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let mut customer = live(&alice).await;

    let (status, _) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK);
    // available but not connected: still away
    expect_no_frame(&mut customer, Duration::from_millis(300), "online", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: true,
                ..
            }
        )
    })
    .await;
    let mut staff = live(&agent).await;
    match expect_frame(&mut customer, "online", |f| {
        matches!(f, ServerFrame::Presence { .. })
    })
    .await
    {
        ServerFrame::Presence {
            support_online,
            staff,
        } => {
            assert!(support_online);
            assert!(staff.is_none(), "customers do not get the team list");
        }
        other => panic!("{other:?}"),
    }
    // staff see the team
    send_frame(&mut staff, &ClientFrame::Ping).await;
    let (status, _) = agent.call("availability", &[("availability", "away")]).await;
    assert_eq!(status, StatusCode::OK);
    expect_frame(&mut customer, "away", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: false,
                ..
            }
        )
    })
    .await;
    expect_frame(&mut staff, "the team list with the agent away", |f| {
        matches!(f, ServerFrame::Presence { staff: Some(team), .. }
            if team.iter().any(|s| s.availability == parley::Availability::Away && !s.online))
    })
    .await;
    let (status, _) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK);
    expect_frame(&mut customer, "online again", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: true,
                ..
            }
        )
    })
    .await;

    // the tab closes: still online during the grace period, offline after
    drop(staff);
    expect_no_frame(
        &mut customer,
        Duration::from_millis(500),
        "offline too early",
        |f| {
            matches!(
                f,
                ServerFrame::Presence {
                    support_online: false,
                    ..
                }
            )
        },
    )
    .await;
    expect_frame(&mut customer, "offline", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: false,
                ..
            }
        )
    })
    .await;

    // customers cannot set an availability
    let (status, _) = alice.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = agent.call("availability", &[("availability", "sleeping")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_server_restart_closes_sockets_with_1012_and_nothing_is_lost() {
    let mut app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "before").await;
    let mut customer = live(&alice).await;
    subscribe(&mut customer, id, 1).await;

    let stop = tokio::spawn(async move {
        app.restart().await;
        app
    });
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut customer)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                break frame.map(|f| u16::from(f.code))
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1012));
    let app = stop.await.expect("restart");

    // while Alice was away, the agent answered
    let (status, _) = agent
        .call(
            "conversations/send",
            &[
                ("conversation_id", &id.to_string()),
                ("body", "while you were away"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut customer = live(&alice).await;
    let replay = subscribe(&mut customer, id, 1).await;
    assert!(
        replay.iter().any(|m| m.body == "while you were away"),
        "{replay:?}"
    );
    drop(app);
}

#[tokio::test]
async fn a_socket_that_stops_reading_is_dropped_not_buffered_forever() {
    let app = spawn_app_with(ServeArgs {
        messages_per_minute: 100_000,
        // 2,500 sends from one socket, as fast as they are acknowledged.
        socket_frames_per_sec: 100_000,
        socket_frame_burst: 100_000,
        // This test is about the queue: a slow machine can take longer than
        // the default 10 s write timeout to send 2,500 messages, and that
        // other limit would then drop the socket first, without a close
        // frame (tested in limits.rs).
        socket_write_timeout_secs: 600,
        ..ServeArgs::default()
    })
    .await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "hi").await;
    // Alice subscribes, then stops reading entirely.
    let mut sleepy = live(&alice).await;
    subscribe(&mut sleepy, id, 1).await;

    let mut staff = live(&agent).await;
    let body = "x".repeat(4_000);
    let mut closed_early = false;
    for i in 0..2_500 {
        send_text(&mut staff, id, &format!("flood-{i}"), &body, false).await;
        ack(&mut staff, &format!("flood-{i}")).await;
        if i % 250 == 249 && app.client().get("/healthz").await.0 != StatusCode::OK {
            closed_early = true;
            break;
        }
    }
    assert!(!closed_early, "the server stays healthy");
    // Reading now: what was buffered in the network, then the close.
    let mut received = 0usize;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut sleepy)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))) => received += 1,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                break frame.map(|f| u16::from(f.code))
            }
            Ok(Some(Ok(_))) => {}
            other => {
                panic!("expected the server to close the slow socket, got {other:?} after {received} frames")
            }
        }
    };
    assert_eq!(code, Some(1013), "closed as too slow after {received} frames");
    assert!(
        received < 2_500,
        "the server did not keep everything for the slow reader"
    );
    // It reconnects and catches up from where it was: nothing lost.
    let mut awake = live(&alice).await;
    let replay = subscribe(&mut awake, id, 1).await;
    assert_eq!(replay.iter().filter(|m| m.body.len() == 4_000).count(), 2_500);
}
