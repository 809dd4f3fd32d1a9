//! A server restart closes sockets with 1012 and loses nothing; a client
//! that stops reading is dropped instead of buffered forever.

use super::{ack, send_text, start, subscribe};
use crate::helpers::{live, spawn_app, spawn_app_with};
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::time::Duration;

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
