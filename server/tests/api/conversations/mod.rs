//! Conversation server functions: for each, the happy path, a wrong role and
//! a foreign id; plus the lifecycle, notes, idempotency and escaping. The
//! cast (a customer pair, an agent, an admin) and the calls every file uses
//! are here; the tests are grouped by what they check.
//!
//! - [`access`]: who may call what (foreign ids, wrong roles, missing ids).
//! - [`lifecycle`]: status, assignment, notes, idempotent sends.
//! - [`reading`]: history, panels, read markers, list rows, escaping.
//! - [`canned`]: canned responses.

mod access;
mod canned;
mod lifecycle;
mod reading;

use crate::helpers::{spawn_app_with, Client, TestApp};
use parley::Role;
use reqwest::StatusCode;
use serde_json::Value;
use server::cli::ServeArgs;

pub(super) async fn start(client: &Client, subject: &str, body: &str) -> i64 {
    let (status, id) = client
        .call("conversations/start", &[("subject", subject), ("body", body)])
        .await;
    assert_eq!(status, StatusCode::OK, "start: {id}");
    id.as_i64().expect("an id")
}

pub(super) async fn send(client: &Client, id: i64, body: &str) -> (StatusCode, Value) {
    client
        .call(
            "conversations/send",
            &[("conversation_id", &id.to_string()), ("body", body)],
        )
        .await
}

pub(super) async fn thread(client: &Client, id: i64) -> (StatusCode, Value) {
    client
        .call("conversations/thread", &[("id", &id.to_string())])
        .await
}

pub(super) fn bodies(thread: &Value) -> Vec<String> {
    thread["history"]["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn kinds(thread: &Value) -> Vec<String> {
    thread["history"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["kind"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) struct Cast {
    pub(super) app: TestApp,
    pub(super) alice: Client,
    pub(super) bob: Client,
    pub(super) agent: Client,
    pub(super) agent_id: i64,
    pub(super) other_agent_id: i64,
    pub(super) admin: Client,
}

pub(super) async fn cast() -> Cast {
    cast_with(ServeArgs::default()).await
}

pub(super) async fn cast_with(args: ServeArgs) -> Cast {
    let app = spawn_app_with(args).await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (bob, _) = app.signed_in("bob@example.com", Role::Customer).await;
    let (agent, agent_user) = app.signed_in("avery@example.com", Role::Agent).await;
    let other = app.create_user("blake@example.com", Role::Agent).await;
    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    Cast {
        app,
        alice,
        bob,
        agent,
        agent_id: agent_user.id.0,
        other_agent_id: other.id.0,
        admin,
    }
}
