//! Conversation server functions: for each, the happy path, a wrong role and
//! a foreign id; plus the lifecycle, notes, idempotency and escaping.

use crate::helpers::{spawn_app_with, Client, TestApp};
use parley::Role;
use reqwest::StatusCode;
use serde_json::Value;
use server::cli::ServeArgs;

async fn start(client: &Client, subject: &str, body: &str) -> i64 {
    let (status, id) = client
        .call("conversations/start", &[("subject", subject), ("body", body)])
        .await;
    assert_eq!(status, StatusCode::OK, "start: {id}");
    id.as_i64().expect("an id")
}

async fn send(client: &Client, id: i64, body: &str) -> (StatusCode, Value) {
    client
        .call(
            "conversations/send",
            &[("conversation_id", &id.to_string()), ("body", body)],
        )
        .await
}

async fn thread(client: &Client, id: i64) -> (StatusCode, Value) {
    client
        .call("conversations/thread", &[("id", &id.to_string())])
        .await
}

fn bodies(thread: &Value) -> Vec<String> {
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

fn kinds(thread: &Value) -> Vec<String> {
    thread["history"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["kind"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

struct Cast {
    app: TestApp,
    alice: Client,
    bob: Client,
    agent: Client,
    agent_id: i64,
    other_agent_id: i64,
    admin: Client,
}

async fn cast() -> Cast {
    cast_with(ServeArgs::default()).await
}

async fn cast_with(args: ServeArgs) -> Cast {
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

#[tokio::test]
async fn customers_start_and_list_only_their_own_conversations() {
    let c = cast().await;
    let first = start(&c.alice, "Where is my order?", "Order 1234 has not arrived.").await;
    let second = start(&c.alice, "", "   Can I change my address? \n").await;
    start(&c.bob, "Bob's question", "Hello").await;

    let (status, page) = c.alice.call("conversations/mine", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let rows = page["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{page}");
    // newest activity first; no subject means the first words are the title
    assert_eq!(rows[0]["id"], second);
    assert_eq!(rows[0]["title"], "Can I change my address?");
    assert_eq!(rows[1]["id"], first);
    assert_eq!(rows[1]["title"], "Where is my order?");
    assert_eq!(rows[1]["status"], "open");
    assert_eq!(rows[1]["last_message"]["body"], "Order 1234 has not arrived.");
    assert_eq!(rows[1]["unread"], 0, "your own message is not unread");

    // wrong role and guests
    let (status, _) = c.agent.call("conversations/mine", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c.app.client().call("conversations/mine", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = c
        .agent
        .call("conversations/start", &[("subject", ""), ("body", "hi")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "staff do not start conversations");
}

#[tokio::test]
async fn starting_validates_and_writes_nothing_on_failure() {
    let c = cast().await;
    let long_subject = "s".repeat(201);
    let long_body = "é".repeat(5001);
    for (subject, body, field) in [
        ("", "   ", "body"),
        (long_subject.as_str(), "hello", "subject"),
        ("ok", long_body.as_str(), "body"),
    ] {
        let (status, error) = c
            .alice
            .call("conversations/start", &[("subject", subject), ("body", body)])
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["field"], field);
    }
    let (_, page) = c.alice.call("conversations/mine", &[]).await;
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(0));
    // exactly 5000 characters (10000 bytes) is fine
    start(&c.alice, "", &"é".repeat(5000)).await;
}

#[tokio::test]
async fn a_foreign_conversation_is_not_found_for_every_function() {
    let c = cast().await;
    let id = start(&c.alice, "Private", "Alice's secret").await;
    let id_s = id.to_string();
    for (endpoint, form) in [
        ("conversations/thread", vec![("id", id_s.as_str())]),
        ("conversations/summary", vec![("id", id_s.as_str())]),
        ("conversations/read_markers", vec![("id", id_s.as_str())]),
        (
            "conversations/history",
            vec![("id", id_s.as_str()), ("before", "99")],
        ),
        (
            "conversations/send",
            vec![("conversation_id", id_s.as_str()), ("body", "hi")],
        ),
        (
            "conversations/read",
            vec![("conversation_id", id_s.as_str()), ("up_to", "1")],
        ),
    ] {
        let (status, body) = c.bob.call(endpoint, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}: {body}");
        assert!(!body.to_string().contains("secret"), "{endpoint} leaked: {body}");
        // a conversation that does not exist reads the same
        let missing: Vec<(&str, &str)> = form
            .iter()
            .map(|(k, v)| if *v == id_s { (*k, "999999") } else { (*k, *v) })
            .collect();
        let (status, _) = c.bob.call(endpoint, &missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint} (missing)");
    }
    // the page itself answers 404 with a "not found" message
    let (status, page) = c.bob.get(&format!("/messages/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Not found") && !page.contains("secret"), "{page}");
    // and nothing was written into it
    let (_, thread) = thread(&c.alice, id).await;
    assert_eq!(bodies(&thread), vec!["Alice's secret"]);
}

#[tokio::test]
async fn staff_only_functions_refuse_customers() {
    let c = cast().await;
    let id = start(&c.alice, "Help", "Please").await.to_string();
    for (endpoint, form) in [
        ("inbox", vec![]),
        (
            "conversations/status",
            vec![("conversation_id", id.as_str()), ("status", "resolved")],
        ),
        (
            "conversations/assign",
            vec![("conversation_id", id.as_str()), ("assignee", "me")],
        ),
        ("conversations/customer", vec![("conversation_id", id.as_str())]),
        ("conversations/audit", vec![("conversation_id", id.as_str())]),
        ("staff", vec![]),
        ("canned/list", vec![]),
        (
            "canned/save",
            vec![("shortcut", "x"), ("title", "X"), ("body", "x")],
        ),
        ("canned/delete", vec![("id", "1")]),
    ] {
        let (status, body) = c.alice.call(endpoint, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
        let (status, _) = c.app.client().call(endpoint, &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{endpoint} as guest");
    }
    // a customer cannot write a private note either
    let (status, _) = c
        .alice
        .call(
            "conversations/send",
            &[("conversation_id", &id), ("body", "x"), ("note", "on")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn staff_functions_answer_404_for_missing_conversations() {
    let c = cast().await;
    for (endpoint, form) in [
        ("conversations/thread", vec![("id", "424242")]),
        (
            "conversations/status",
            vec![("conversation_id", "424242"), ("status", "resolved")],
        ),
        (
            "conversations/assign",
            vec![("conversation_id", "424242"), ("assignee", "me")],
        ),
        ("conversations/customer", vec![("conversation_id", "424242")]),
        ("conversations/audit", vec![("conversation_id", "424242")]),
        (
            "conversations/send",
            vec![("conversation_id", "424242"), ("body", "hello")],
        ),
    ] {
        let (status, body) = c.admin.call(endpoint, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{endpoint}: {body}");
    }
}

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

#[tokio::test]
async fn history_pages_by_seq() {
    let c = cast_with(ServeArgs {
        messages_per_minute: 10_000,
        ..ServeArgs::default()
    })
    .await;
    let id = start(&c.alice, "Long", "message 0").await;
    for i in 1..120 {
        let (status, _) = send(&c.alice, id, &format!("message {i}")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, opened) = thread(&c.alice, id).await;
    let newest = bodies(&opened);
    assert_eq!(newest.len(), 50);
    assert_eq!(newest.first().map(String::as_str), Some("message 70"));
    assert_eq!(newest.last().map(String::as_str), Some("message 119"));
    assert_eq!(opened["history"]["has_older"], true);
    assert_eq!(opened["last_seq"], 120);

    let (status, older) = c
        .alice
        .call(
            "conversations/history",
            &[("id", &id.to_string()), ("before", "71")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let older_bodies: Vec<&str> = older["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(older_bodies.first(), Some(&"message 20"));
    assert_eq!(older_bodies.last(), Some(&"message 69"));
    assert_eq!(older["has_older"], true);
    let (_, oldest) = c
        .alice
        .call(
            "conversations/history",
            &[("id", &id.to_string()), ("before", "21")],
        )
        .await;
    assert_eq!(oldest["messages"].as_array().map(Vec::len), Some(20));
    assert_eq!(oldest["has_older"], false);
}

#[tokio::test]
async fn customer_panel_and_read_markers() {
    let c = cast().await;
    let first = start(&c.alice, "Old one", "x").await;
    let second = start(&c.alice, "New one", "y").await;
    let (status, profile) = c
        .agent
        .call(
            "conversations/customer",
            &[("conversation_id", &second.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], "alice@example.com");
    assert_eq!(profile["other_conversations"][0]["id"], first);
    assert_eq!(profile["other_conversations"].as_array().map(Vec::len), Some(1));

    // Read markers: the agent reads; the customer's thread shows the marker.
    let (status, moved) = c
        .agent
        .call(
            "conversations/read",
            &[("conversation_id", &second.to_string()), ("up_to", "99")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved, 1, "clamped to the newest seq");
    let (_, opened) = thread(&c.alice, second).await;
    let markers = opened["read_markers"].as_array().expect("markers");
    assert!(
        markers.iter().any(|m| m["role"] == "agent" && m["seq"] == 1),
        "{opened}"
    );
}

#[tokio::test]
async fn one_list_row_with_the_readers_own_unread_count() {
    let c = cast().await;
    let id = start(&c.alice, "A row", "Hello").await;
    let (status, _) = send(&c.agent, id, "An answer").await;
    assert_eq!(status, StatusCode::OK);
    let id_s = id.to_string();
    let form = [("id", id_s.as_str())];

    let (status, row) = c.alice.call("conversations/summary", &form).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["id"], id);
    assert_eq!(row["status"], "active");
    assert_eq!(row["assignee"]["id"], c.agent_id);
    assert_eq!(row["unread"], 1, "{row}");
    // reading it (in any tab) is what the row then says
    thread(&c.alice, id).await;
    let (_, row) = c.alice.call("conversations/summary", &form).await;
    assert_eq!(row["unread"], 0, "{row}");
    // staff see any conversation's row; guests none (foreign ids: above)
    let (status, row) = c.admin.call("conversations/summary", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["last_message"]["body"], "An answer");
    let (status, _) = c.app.client().call("conversations/summary", &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn read_markers_say_how_far_the_others_have_read_in_the_readers_seqs() {
    let c = cast().await;
    let id = start(&c.alice, "Seen?", "Hello").await;
    let id_s = id.to_string();
    let form = [("id", id_s.as_str())];
    let (status, markers) = c.alice.call("conversations/read_markers", &form).await;
    assert_eq!(status, StatusCode::OK, "{markers}");
    assert_eq!(markers, serde_json::json!([]), "nobody else has read it yet");

    // the agent opens it (which marks it read) and writes a private note:
    // the customer's seqs skip the note, so the marker reads as message 1
    thread(&c.agent, id).await;
    let (status, _) = c
        .agent
        .call(
            "conversations/send",
            &[
                ("conversation_id", id_s.as_str()),
                ("body", "internal"),
                ("note", "true"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    thread(&c.agent, id).await;
    let (_, markers) = c.alice.call("conversations/read_markers", &form).await;
    let markers = markers.as_array().expect("a list");
    assert_eq!(markers.len(), 1, "{markers:?}");
    assert_eq!(markers[0]["user_id"], c.agent_id);
    assert_eq!(markers[0]["role"], "agent");
    assert_eq!(markers[0]["seq"], 1, "the customer's seq, not the note's");
    // the agent sees the customer's own marker, never their own
    let (_, markers) = c.agent.call("conversations/read_markers", &form).await;
    let markers = markers.as_array().expect("a list");
    assert!(markers.iter().all(|m| m["user_id"] != c.agent_id), "{markers:?}");
    let (status, _) = c.app.client().call("conversations/read_markers", &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn canned_responses_are_admin_managed_and_staff_readable() {
    let c = cast().await;
    let (status, saved) = c
        .admin
        .call(
            "canned/save",
            &[
                ("shortcut", "/Refund"),
                ("title", "Refunds"),
                ("body", "Refunds take 5 days."),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["shortcut"], "refund");
    let (status, body) = c
        .admin
        .call(
            "canned/save",
            &[("shortcut", "refund"), ("title", "Again"), ("body", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "shortcut");
    let (status, list) = c.agent.call("canned/list", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["body"], "Refunds take 5 days.");
    let (status, _) = c
        .agent
        .call("canned/save", &[("shortcut", "x"), ("title", "X"), ("body", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let id = saved["id"].to_string();
    let (status, _) = c.agent.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c.admin.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.admin.call("canned/delete", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn user_text_is_escaped_in_server_rendered_pages() {
    let c = cast().await;
    let id = start(
        &c.alice,
        "<b>bold</b>",
        "<img src=x onerror=alert(1)> and <script>alert(2)</script>",
    )
    .await;
    let (status, page) = c.alice.get(&format!("/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
    assert!(!page.contains("<img src=x"), "raw HTML in the page");
    assert!(!page.contains("<script>alert(2)"), "raw script in the page");
    assert!(!page.contains("<b>bold</b>"), "raw HTML in the title");
    assert!(
        page.contains("<title>&lt;b&gt;bold&lt;/b&gt; · Parley</title>"),
        "{page}"
    );
    let closing = start(&c.alice, "</title><script>alert(3)</script>", "x").await;
    let (_, page) = c.alice.get(&format!("/messages/{closing}")).await;
    assert!(!page.contains("<script>alert(3)"), "a subject ended the title");
    let (_, inbox) = c.agent.get("/inbox").await;
    assert!(
        !inbox.contains("<b>bold</b>") && inbox.contains("&lt;b&gt;bold"),
        "{inbox}"
    );
}
