//! What the socket refuses and how: the same error kinds as over HTTP, the
//! send limit with its wait, and presence with its grace period.

use super::{ack, send_text, start};
use crate::helpers::{expect_frame, expect_no_frame, live, send_frame, spawn_app, spawn_app_with};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::time::Duration;

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
