//! Who may call which conversation function: customers see only their own
//! (a foreign id reads as missing), staff-only functions refuse customers.

use super::{bodies, cast, start, thread};
use reqwest::StatusCode;

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
