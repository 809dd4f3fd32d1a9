//! The `/ws` upgrade guard and the basic frame exchange.

use crate::helpers::{closed_with, live, next_frame, send_frame, send_text, spawn_app};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame, MAX_FRAME_BYTES};
use parley::Role;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn refused_status(result: Result<crate::helpers::Socket, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other:?}"),
        Ok(_) => panic!("the upgrade should have been refused"),
    }
}

#[tokio::test]
async fn upgrade_needs_a_session() {
    let app = spawn_app().await;
    assert_eq!(refused_status(app.client().socket().await), 401);
}

#[tokio::test]
async fn upgrade_needs_an_allowed_origin() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in("ann@example.com", Role::Customer).await;
    assert_eq!(
        refused_status(client.socket_with_origin(Some("http://evil.example")).await),
        403
    );
    assert_eq!(refused_status(client.socket_with_origin(None).await), 403);
}

#[tokio::test]
async fn hello_ping_and_bad_frames() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in("ann@example.com", Role::Customer).await;
    let mut socket = client.socket().await.expect("upgrade");

    match next_frame(&mut socket).await {
        ServerFrame::Hello {
            user: hello,
            heartbeat_ms,
        } => {
            assert_eq!(hello, user);
            assert!(heartbeat_ms > 0);
        }
        other => panic!("expected hello, got {other:?}"),
    }
    match next_frame(&mut socket).await {
        ServerFrame::Presence {
            support_online,
            staff,
        } => {
            assert!(!support_online, "nobody on the team is online");
            assert!(staff.is_none(), "customers are not told who is on the team");
        }
        other => panic!("expected presence, got {other:?}"),
    }

    send_frame(&mut socket, &ClientFrame::Ping).await;
    assert_eq!(next_frame(&mut socket).await, ServerFrame::Pong);

    for garbage in [
        "not json",
        r#"{"type":"launch_rockets"}"#,
        r#"{"type":"subscribe"}"#,
        "[]",
    ] {
        send_text(&mut socket, garbage).await;
        match next_frame(&mut socket).await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::BadFrame, "{garbage}"),
            other => panic!("expected an error frame for {garbage}, got {other:?}"),
        }
    }
    // still up
    send_frame(&mut socket, &ClientFrame::Ping).await;
    assert_eq!(next_frame(&mut socket).await, ServerFrame::Pong);
}

#[tokio::test]
async fn a_client_sending_only_garbage_is_disconnected() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let mut socket = live(&client).await;
    // Exactly the number the server tolerates: sending more could race the
    // close with a connection reset.
    for _ in 0..10 {
        if futures::SinkExt::send(&mut socket, Message::Text("garbage".into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let closed = closed_with(&mut socket, "after ten bad frames").await;
    assert_eq!(closed, Some(1008));
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let mut socket = live(&client).await;
    let huge = format!(
        r#"{{"type":"send","conversation_id":1,"client_id":"x","body":"{}"}}"#,
        "a".repeat(MAX_FRAME_BYTES + 1)
    );
    let _ = futures::SinkExt::send(&mut socket, Message::Text(huge.into())).await;
    let closed = closed_with(&mut socket, "after a frame over the limit").await;
    assert_eq!(closed, Some(1009));
}
