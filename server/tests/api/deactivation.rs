//! An admin deactivates an account: it is signed out everywhere at once (its
//! open sockets close with 4003, its sessions answer 401), it cannot sign in
//! again until reactivated, and it leaves the list of assignable staff. Only
//! admins may do it, never to themselves; an unknown id is 404.

use crate::helpers::{closed_with, expect_frame, live, spawn_app, Client, PASSWORD};
use parley::model::{PersonRef, UserListItem};
use parley::protocol::ServerFrame;
use parley::{Role, UserId};
use reqwest::StatusCode;

/// `admin/set_active` for `user`: its status and answer.
async fn set_active(client: &Client, user: UserId, active: bool) -> (StatusCode, serde_json::Value) {
    client
        .call(
            "admin/set_active",
            &[
                ("user_id", &user.to_string()),
                ("active", if active { "true" } else { "false" }),
            ],
        )
        .await
}

#[tokio::test]
async fn a_deactivated_agent_is_signed_out_everywhere_and_cannot_sign_in() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    let (agent, avery) = app.signed_in("avery@example.com", Role::Agent).await;
    let mut tab = live(&agent).await;

    let (status, body) = set_active(&admin, avery.id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row: UserListItem = serde_json::from_value(body).expect("row");
    assert!(row.deactivated_at.is_some());

    // The open tab is closed at once, as for a role change.
    let code = closed_with(&mut tab, "the deactivated agent's tab").await;
    assert_eq!(code, Some(4003));

    // Its session no longer counts, for pages and sockets alike.
    let (status, _) = agent.call("staff", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        agent.socket().await.is_err(),
        "a socket opened for a deactivated account"
    );

    // Signing in again is refused with a sentence that says why.
    let again = app.client();
    let (status, body) = again
        .call("login", &[("email", "avery@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("deactivated"), "{body}");

    // Nobody can assign it conversations any more.
    let (status, staff) = admin.call("staff", &[]).await;
    assert_eq!(status, StatusCode::OK, "{staff}");
    let staff: Vec<PersonRef> = serde_json::from_value(staff).expect("staff");
    assert!(staff.iter().all(|p| p.id != avery.id), "{staff:?}");

    // The admin list shows it deactivated; reactivating lets it back in.
    let (_, users) = admin.call("admin/users", &[]).await;
    let users: Vec<UserListItem> = serde_json::from_value(users).expect("users");
    let listed = users.iter().find(|u| u.id == avery.id).expect("listed");
    assert!(listed.deactivated_at.is_some());
    let (status, body) = set_active(&admin, avery.id, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = again
        .call("login", &[("email", "avery@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn only_admins_deactivate_and_never_themselves() {
    let app = spawn_app().await;
    let (admin, ada) = app.signed_in("admin@example.com", Role::Admin).await;
    let (agent, avery) = app.signed_in("avery@example.com", Role::Agent).await;
    let (customer, casey) = app.signed_in("casey@example.com", Role::Customer).await;

    for (who, client) in [("an agent", &agent), ("a customer", &customer)] {
        let (status, body) = set_active(client, casey.id, false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    let (status, body) = set_active(&admin, ada.id, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = set_active(&admin, UserId(999_999), false).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Nothing changed: everyone still gets in.
    for (client, user) in [(&admin, &ada), (&agent, &avery), (&customer, &casey)] {
        let (status, me) = client.call("me", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["id"], serde_json::json!(user.id.0), "{me}");
    }
}

#[tokio::test]
async fn a_deactivated_agent_stops_counting_as_support_online_at_once() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    let (agent, avery) = app.signed_in("avery@example.com", Role::Agent).await;
    let (customer, _) = app.signed_in("casey@example.com", Role::Customer).await;
    let mut watching = live(&customer).await;
    let (status, _) = agent.call("availability", &[("availability", "online")]).await;
    assert_eq!(status, StatusCode::OK);
    let _agent_tab = live(&agent).await;
    expect_frame(&mut watching, "support online", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: true,
                ..
            }
        )
    })
    .await;

    let (status, body) = set_active(&admin, avery.id, false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Not after the presence grace period (30 s here): now.
    expect_frame(&mut watching, "support offline", |f| {
        matches!(
            f,
            ServerFrame::Presence {
                support_online: false,
                ..
            }
        )
    })
    .await;
}
