//! Messages both ways, acknowledged after commit; resends stored once;
//! customers hear only their own conversations and never notes; typing and
//! read receipts; list updates for staff watching the inbox and customers.

use super::{ack, message_with, send_text, start, subscribe};
use crate::helpers::{expect_frame, expect_no_frame, live, send_frame, spawn_app};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{Role, Seq};
use reqwest::StatusCode;
use std::time::Duration;

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
