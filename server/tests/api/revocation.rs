//! An open socket does not outlive the permission it was opened with. A
//! role change closes the user's sockets with 4003 (they reconnect and are
//! greeted with their new role); a sign-out closes the sockets of that
//! session — or signing in again over it, as anyone — with 4001
//! (reconnecting gets 401, or the new user). Other sessions of the same
//! user, and other users' sockets, stay open.

use crate::helpers::{
    closed_with, expect_frame, live, next_frame, send_frame, spawn_app, Client, Socket, PASSWORD,
};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{ConversationId, Role, Seq};
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::Error as WsError;

async fn still_open(socket: &mut Socket, what: &str) {
    send_frame(socket, &ClientFrame::Ping).await;
    let pong = expect_frame(socket, "pong", |f| matches!(f, ServerFrame::Pong)).await;
    assert_eq!(pong, ServerFrame::Pong, "{what}");
}

async fn error_code(socket: &mut Socket, frame: &ClientFrame) -> ErrorCode {
    send_frame(socket, frame).await;
    match expect_frame(socket, "an error", |f| {
        matches!(
            f,
            ServerFrame::Error { .. } | ServerFrame::Subscribed { .. } | ServerFrame::Ack { .. }
        )
    })
    .await
    {
        ServerFrame::Error { code, .. } => code,
        other => panic!("{frame:?} was accepted: {other:?}"),
    }
}

async fn login(client: &Client, email: &str) {
    let (status, body) = client
        .call("login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_demoted_agents_open_socket_is_closed_and_comes_back_without_staff_rights() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    let (agent, agent_user) = app.signed_in("avery@example.com", Role::Agent).await;
    let (customer, _) = app.signed_in("casey@example.com", Role::Customer).await;
    let (status, id) = customer
        .call("conversations/start", &[("subject", ""), ("body", "help")])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let conversation = ConversationId(id.as_i64().expect("id"));

    let mut bystander = live(&customer).await;
    let mut staff_tab = live(&agent).await;
    send_frame(&mut staff_tab, &ClientFrame::WatchInbox { on: true }).await;
    send_frame(
        &mut staff_tab,
        &ClientFrame::Subscribe {
            conversation_id: conversation,
            after: Seq(0),
        },
    )
    .await;
    expect_frame(&mut staff_tab, "subscribed", |f| {
        matches!(f, ServerFrame::Subscribed { .. })
    })
    .await;

    let (status, body) = admin
        .call(
            "admin/set_role",
            &[("user_id", &agent_user.id.to_string()), ("role", "customer")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        closed_with(&mut staff_tab, "the demoted agent's tab").await,
        Some(4003)
    );

    // Back again: greeted as a customer, and refused what staff may do.
    let mut tab = agent.socket().await.expect("reconnect");
    match next_frame(&mut tab).await {
        ServerFrame::Hello { user, .. } => assert_eq!(user.role, Role::Customer),
        other => panic!("expected hello, got {other:?}"),
    }
    let subscribe = ClientFrame::Subscribe {
        conversation_id: conversation,
        after: Seq(0),
    };
    assert_eq!(error_code(&mut tab, &subscribe).await, ErrorCode::NotFound);
    assert_eq!(
        error_code(&mut tab, &ClientFrame::WatchInbox { on: true }).await,
        ErrorCode::Forbidden
    );
    let note = ClientFrame::Send {
        conversation_id: conversation,
        client_id: "note-after-demotion".into(),
        body: "only staff should see this".into(),
        note: true,
    };
    assert!(matches!(
        error_code(&mut tab, &note).await,
        ErrorCode::NotFound | ErrorCode::Forbidden
    ));

    still_open(&mut bystander, "the customer's socket is untouched").await;
}

#[tokio::test]
async fn signing_out_closes_that_sessions_sockets_and_no_one_elses() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let phone = app.client();
    login(&phone, "ann@example.com").await;
    let (bob, _) = app.signed_in("bob@example.com", Role::Customer).await;

    // Two tabs of one browser share its session.
    let mut tab_one = live(&browser).await;
    let mut tab_two = live(&browser).await;
    let mut on_phone = live(&phone).await;
    let mut bobs = live(&bob).await;

    let (status, _) = browser.call("logout", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        closed_with(&mut tab_one, "the tab that signed out").await,
        Some(4001)
    );
    assert_eq!(closed_with(&mut tab_two, "the other tab").await, Some(4001));
    match browser.socket().await {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        other => panic!("reconnecting after sign-out: {:?}", other.map(|_| "open")),
    }

    still_open(&mut on_phone, "Ann's other session").await;
    still_open(&mut bobs, "another user's socket").await;
}

#[tokio::test]
async fn signing_in_as_someone_else_closes_the_previous_sessions_sockets() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in("ann@example.com", Role::Customer).await;
    app.create_user("bob@example.com", Role::Customer).await;
    let mut anns_tab = live(&browser).await;

    // Another tab of the same browser signs in as Bob: Ann's session is over.
    login(&browser, "bob@example.com").await;
    assert_eq!(closed_with(&mut anns_tab, "Ann's tab").await, Some(4001));
    let mut bobs_tab = browser.socket().await.expect("Bob's socket");
    match next_frame(&mut bobs_tab).await {
        ServerFrame::Hello { user, .. } => assert_eq!(user.email, "bob@example.com"),
        other => panic!("expected hello, got {other:?}"),
    }
}
