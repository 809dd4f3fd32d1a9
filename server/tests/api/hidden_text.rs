//! Text that hides itself (direction overrides, only invisible characters,
//! NUL) is refused by every door: registration, starting a conversation and
//! sending over HTTP, and `send` on the socket — and nothing is stored or
//! announced. Emoji sequences and line breaks still go through.

use crate::helpers::{expect_frame, expect_no_frame, live, spawn_app, PASSWORD};
use crate::live_messages::{ack, message_with, send_text, start, subscribe};
use parley::protocol::{ErrorCode, ServerFrame};
use parley::Role;
use reqwest::StatusCode;
use std::time::Duration;

const OVERRIDE: &str = "Refund for invoice \u{202E}fdp.exe";
const ISOLATE: &str = "pay \u{2066}now\u{2069}";
const INVISIBLE: &str = "\u{200B}\u{200D}\u{2060}\u{FEFF}";
const NUL: &str = "hello\0world";

#[tokio::test]
async fn http_refuses_hidden_text_in_names_subjects_and_messages() {
    let app = spawn_app().await;
    let guest = app.client();
    for name in [OVERRIDE, INVISIBLE, NUL] {
        let (status, body) = guest
            .call(
                "register",
                &[
                    ("email", "ann@example.com"),
                    ("name", name),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {body}");
        assert_eq!(body["field"], "name", "{body}");
    }

    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    for subject in [OVERRIDE, ISOLATE, INVISIBLE, NUL] {
        let (status, body) = alice
            .call("conversations/start", &[("subject", subject), ("body", "Hello")])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{subject:?}: {body}");
        assert_eq!(body["field"], "subject", "{body}");
    }
    let id = start(&alice, "Hello").await.to_string();
    for text in [OVERRIDE, ISOLATE, INVISIBLE, NUL] {
        let (status, body) = alice
            .call("conversations/start", &[("subject", ""), ("body", text)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text:?}: {body}");
        assert_eq!(body["field"], "body", "{body}");
        let (status, body) = alice
            .call("conversations/send", &[("conversation_id", &id), ("body", text)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text:?}: {body}");
        assert_eq!(body["field"], "body", "{body}");
    }

    // What people really write still goes through.
    let fine = "Thanks 👩\u{200D}💻 🏳\u{FE0F}\u{200D}🌈\r\n\tsee you";
    let (status, body) = alice
        .call("conversations/send", &[("conversation_id", &id), ("body", fine)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, thread) = alice.call("conversations/thread", &[("id", &id)]).await;
    let bodies: Vec<&str> = thread["history"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(bodies, vec!["Hello", fine.trim()]);
}

#[tokio::test]
async fn the_socket_refuses_hidden_text_and_announces_nothing() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "Hello").await;
    let mut customer = live(&alice).await;
    let mut staff = live(&agent).await;
    subscribe(&mut customer, id, 0).await;
    subscribe(&mut staff, id, 0).await;

    for (i, text) in [OVERRIDE, ISOLATE, INVISIBLE, NUL].into_iter().enumerate() {
        let client_id = format!("hidden-{i}");
        send_text(&mut customer, id, &client_id, text, false).await;
        let refusal = expect_frame(&mut customer, "refusal", |f| {
            matches!(f, ServerFrame::Error { client_id: Some(c), .. } | ServerFrame::Ack { client_id: c, .. } if *c == client_id)
        })
        .await;
        match refusal {
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::Invalid, "{text:?}");
                assert!(!message.is_empty());
            }
            other => panic!("{text:?} was accepted: {other:?}"),
        }
    }
    expect_no_frame(&mut staff, Duration::from_millis(300), "a hidden message", |f| {
        matches!(f, ServerFrame::Message { .. })
    })
    .await;

    let fine = "On my way 🏃\u{200D}♀\u{FE0F}\nbye";
    send_text(&mut customer, id, "fine-1", fine, false).await;
    ack(&mut customer, "fine-1").await;
    message_with(&mut staff, fine).await;
}
