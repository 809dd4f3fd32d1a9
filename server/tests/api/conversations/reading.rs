//! Reading a conversation: history pages, the customer panel, read markers,
//! list rows with the reader's unread count, and user text escaped in pages.

use super::{bodies, cast, cast_with, send, start, thread};
use reqwest::StatusCode;
use server::cli::ServeArgs;

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
