//! A conversation's life: status changes with their system messages and
//! audit rows, assignment and the inbox filters, private notes, and sends
//! that are stored once however often they are retried.

use super::{bodies, cast, kinds, send, start, thread};
use parley::Role;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn the_whole_lifecycle_with_system_messages_and_audit() {
    let c = cast().await;
    let id = start(&c.alice, "Broken", "It does not work").await;
    let ids = id.to_string();

    // The inbox shows it, unanswered and unassigned.
    let (status, inbox) = c.agent.call("inbox", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let row = &inbox["rows"][0];
    assert_eq!(row["id"], id);
    assert_eq!(row["unanswered"], true);
    assert_eq!(row["assignee"], Value::Null);
    assert_eq!(row["unread"], 1);
    assert_eq!(row["customer"]["name"], "alice");

    // First reply: active, assigned to the agent, no longer unanswered.
    let (status, reply) = send(&c.agent, id, "Have you tried turning it off and on?").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (_, summary) = c.agent.call("inbox", &[("tab", "mine")]).await;
    assert_eq!(summary["rows"][0]["status"], "active");
    assert_eq!(summary["rows"][0]["assignee"]["id"], c.agent_id);
    assert_eq!(summary["rows"][0]["unanswered"], false);

    // The customer sees the reply as unread, with the agent's name.
    let (_, mine) = c.alice.call("conversations/mine", &[]).await;
    assert_eq!(mine["rows"][0]["unread"], 1);
    assert_eq!(mine["rows"][0]["last_message"]["sender_name"], "avery");
    let (_, badge) = c.alice.call("badge", &[]).await;
    assert_eq!(badge, 1);
    let (_, opened) = thread(&c.alice, id).await;
    assert_eq!(opened["summary"]["unread"], 0, "opening the thread marks it read");
    let (_, badge) = c.alice.call("badge", &[]).await;
    assert_eq!(badge, 0);
    assert_eq!(kinds(&opened), vec!["text", "text", "system"]);

    // Resolve; the customer writes again and it reopens.
    let (status, to) = c
        .agent
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "resolved")],
        )
        .await;
    assert_eq!((status, to.as_str()), (StatusCode::OK, Some("resolved")));
    let (status, _) = send(&c.alice, id, "Still broken").await;
    assert_eq!(status, StatusCode::OK);
    let (_, opened) = thread(&c.alice, id).await;
    assert_eq!(opened["summary"]["status"], "active");

    // Illegal moves are refused with a sentence; agents cannot close.
    let (status, body) = c
        .agent
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "open")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("cannot become"));
    let (status, _) = c
        .agent
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "closed")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c
        .agent
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "bogus")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The admin closes it for good; nobody can write any more.
    let (status, _) = c
        .admin
        .call(
            "conversations/status",
            &[("conversation_id", &ids), ("status", "closed")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(&c.alice, id, "Hello?").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("closed"));
    let (status, _) = send(&c.agent, id, "Late reply").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, opened) = thread(&c.alice, id).await;
    assert!(!bodies(&opened).iter().any(|b| b == "Hello?" || b == "Late reply"));
    // Starting a new one works.
    start(&c.alice, "New", "Another problem").await;

    // The audit trail has every change, for admins only.
    let (status, trail) = c
        .admin
        .call("conversations/audit", &[("conversation_id", &ids)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<String> = trail
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            format!(
                "{} {}->{}",
                e["action"].as_str().unwrap_or_default(),
                e["from_value"].as_str().unwrap_or("-"),
                e["to_value"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            "created -->open",
            "status open->active",
            "assignee -->avery",
            "status active->resolved",
            "status resolved->active",
            "status active->closed",
        ]
    );
    let (status, _) = c
        .agent
        .call("conversations/audit", &[("conversation_id", &ids)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn assignment_and_inbox_filters() {
    let c = cast().await;
    let a = start(&c.alice, "A", "first").await;
    let b = start(&c.bob, "B", "second").await;
    let (status, who) = c
        .agent
        .call(
            "conversations/assign",
            &[("conversation_id", &a.to_string()), ("assignee", "me")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{who}");
    assert_eq!(who["id"], c.agent_id);
    let (status, who) = c
        .agent
        .call(
            "conversations/assign",
            &[
                ("conversation_id", &b.to_string()),
                ("assignee", &c.other_agent_id.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(who["name"], "blake");

    let ids = |page: &Value| -> Vec<i64> {
        page["rows"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let (_, mine) = c.agent.call("inbox", &[("tab", "mine")]).await;
    assert_eq!(ids(&mine), vec![a]);
    let (_, unassigned) = c.agent.call("inbox", &[("tab", "unassigned")]).await;
    assert!(ids(&unassigned).is_empty());
    let (_, active) = c.agent.call("inbox", &[("status", "active")]).await;
    assert_eq!(
        ids(&active),
        vec![b, a],
        "assigning an open conversation makes it active"
    );
    let (_, open) = c.agent.call("inbox", &[("status", "open")]).await;
    assert!(ids(&open).is_empty());
    let (_, unanswered) = c.agent.call("inbox", &[("unanswered", "1")]).await;
    assert_eq!(ids(&unanswered), vec![b, a]);
    send(&c.agent, a, "answer").await;
    let (_, unanswered) = c.agent.call("inbox", &[("unanswered", "1")]).await;
    assert_eq!(ids(&unanswered), vec![b]);

    // Assigning to a customer, or to the same person again, is refused.
    let alice_id = c.app.create_user("carol@example.com", Role::Customer).await.id.0;
    let (status, body) = c
        .agent
        .call(
            "conversations/assign",
            &[
                ("conversation_id", &a.to_string()),
                ("assignee", &alice_id.to_string()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = c
        .agent
        .call(
            "conversations/assign",
            &[("conversation_id", &a.to_string()), ("assignee", "me")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = c.agent.call("inbox", &[("tab", "everything")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, staff) = c.agent.call("staff", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        staff.as_array().map(Vec::len),
        Some(3),
        "two agents and the admin: {staff}"
    );
}

#[tokio::test]
async fn notes_never_reach_the_customer() {
    let c = cast().await;
    let id = start(&c.alice, "Refund", "I want a refund").await;
    let (status, note) = c
        .agent
        .call(
            "conversations/send",
            &[
                ("conversation_id", &id.to_string()),
                ("body", "NOTE: customer is difficult"),
                ("note", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{note}");
    assert_eq!(note["kind"], "note");

    // Not in the thread, the history, the list preview, the unread count or the badge.
    let (_, opened) = thread(&c.alice, id).await;
    assert!(!opened.to_string().contains("difficult"), "{opened}");
    let (_, history) = c
        .alice
        .call(
            "conversations/history",
            &[("id", &id.to_string()), ("before", "100")],
        )
        .await;
    assert!(!history.to_string().contains("difficult"));
    let (_, mine) = c.alice.call("conversations/mine", &[]).await;
    assert!(!mine.to_string().contains("difficult"));
    assert_eq!(mine["rows"][0]["unread"], 0);
    let (_, badge) = c.alice.call("badge", &[]).await;
    assert_eq!(badge, 0);
    let (_, page) = c.alice.get(&format!("/messages/{id}")).await;
    assert!(!page.contains("difficult"));
    // A note does not answer the customer, nor move the status.
    let (_, inbox) = c.agent.call("inbox", &[]).await;
    assert_eq!(inbox["rows"][0]["unanswered"], true);
    assert_eq!(inbox["rows"][0]["status"], "open");
    // Staff see it.
    let (_, staff_view) = thread(&c.admin, id).await;
    assert!(staff_view.to_string().contains("difficult"));
}

#[tokio::test]
async fn resending_the_same_client_id_stores_one_message() {
    let c = cast().await;
    let id = start(&c.alice, "Dup", "first").await.to_string();
    let form = [
        ("conversation_id", id.as_str()),
        ("body", "only once"),
        ("client_id", "abc-123"),
    ];
    let (status, first) = c.alice.call("conversations/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = c.alice.call("conversations/send", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["seq"], again["seq"]);
    let (_, opened) = thread(&c.alice, id.parse().expect("id")).await;
    assert_eq!(bodies(&opened), vec!["first", "only once"]);
    // The same id for another conversation is refused.
    let other = start(&c.alice, "Other", "x").await.to_string();
    let (status, body) = c
        .alice
        .call(
            "conversations/send",
            &[
                ("conversation_id", other.as_str()),
                ("body", "only once"),
                ("client_id", "abc-123"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = c
        .alice
        .call(
            "conversations/send",
            &[
                ("conversation_id", id.as_str()),
                ("body", "x"),
                ("client_id", "has space"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
