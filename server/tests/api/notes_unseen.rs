//! Private notes leave no trace a customer can count: over the socket and
//! HTTP a customer's seqs have no gaps (live messages, acks, replay,
//! `subscribed`, history, the thread view), and read markers cross between
//! the two sequences so that "Seen" works both ways — while a staff read
//! that only passes notes never reaches the customer.

use crate::helpers::{expect_frame, expect_no_frame, live, send_frame, spawn_app, Socket};
use crate::live_messages::{ack, message_with, send_text, start, subscribe};
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, Role, Seq};
use reqwest::StatusCode;
use std::time::Duration;

async fn read(socket: &mut Socket, conversation: ConversationId, up_to: i64) {
    send_frame(
        socket,
        &ClientFrame::Read {
            conversation_id: conversation,
            up_to: Seq(up_to),
        },
    )
    .await;
}

async fn read_frame(socket: &mut Socket) -> Seq {
    match expect_frame(socket, "read", |f| matches!(f, ServerFrame::Read { .. })).await {
        ServerFrame::Read { up_to, .. } => up_to,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_customer_never_sees_a_gap_and_seen_works_both_ways() {
    let app = spawn_app().await;
    let (alice, _) = app.signed_in("alice@example.com", Role::Customer).await;
    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let id = start(&alice, "Where is my order?").await; // staff 1, public 1
    let mut customer = live(&alice).await;
    let mut staff = live(&agent).await;
    subscribe(&mut customer, id, 1).await;
    subscribe(&mut staff, id, 1).await;

    // A note (staff 2), then a reply (staff 3) that assigns it (staff 4).
    send_text(&mut staff, id, "n-1", "Customer ordered twice", true).await;
    assert_eq!(ack(&mut staff, "n-1").await.seq, Seq(2));
    send_text(&mut staff, id, "a-1", "Let me check.", false).await;
    assert_eq!(ack(&mut staff, "a-1").await.seq, Seq(3));
    let reply = message_with(&mut customer, "Let me check.").await;
    assert_eq!(reply.seq, Seq(2), "the note left no gap");
    let system = message_with(&mut customer, "agent replied and took the conversation.").await;
    assert_eq!(system.seq, Seq(3));

    // Alice reads her public 2 ("Let me check."): staff see staff 3.
    read(&mut customer, id, 2).await;
    assert_eq!(read_frame(&mut staff).await, Seq(3));

    // Alice's own send is acknowledged in her sequence; staff see it in theirs.
    send_text(&mut customer, id, "c-1", "Thanks!", false).await;
    assert_eq!(ack(&mut customer, "c-1").await.seq, Seq(4));
    assert_eq!(message_with(&mut staff, "Thanks!").await.seq, Seq(5));

    // Another agent reads it all (staff 5): Alice sees public 4 read.
    let (colleague, _) = app.signed_in("colleague@example.com", Role::Agent).await;
    let mut colleague = live(&colleague).await;
    read(&mut colleague, id, 5).await;
    assert_eq!(read_frame(&mut customer).await, Seq(4));

    // Then a note, and the colleague reads it: nothing moves that Alice can
    // see, so she hears nothing (its timing would tell of the note).
    send_text(&mut staff, id, "n-2", "Refund if late", true).await;
    assert_eq!(ack(&mut staff, "n-2").await.seq, Seq(6));
    read(&mut colleague, id, 6).await;
    assert_eq!(read_frame(&mut staff).await, Seq(6), "staff hear it");
    expect_no_frame(
        &mut customer,
        Duration::from_millis(400),
        "a note or its read",
        |f| matches!(f, ServerFrame::Read { .. } | ServerFrame::Message { .. }),
    )
    .await;

    // Reconnecting after the note: the replay continues at 5, no gap.
    send_text(&mut staff, id, "a-2", "It ships today.", false).await;
    ack(&mut staff, "a-2").await;
    let mut again = live(&alice).await;
    let replayed = subscribe(&mut again, id, 4).await;
    let seqs: Vec<Seq> = replayed.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![Seq(5)]);
    assert_eq!(replayed[0].body, "It ships today.");
    let full: Vec<Seq> = subscribe(&mut again, id, 0).await.iter().map(|m| m.seq).collect();
    assert_eq!(full, (1..=5).map(Seq).collect::<Vec<_>>());

    // Over HTTP: the thread view in each sequence, markers translated.
    let (status, view) = alice
        .call("conversations/thread", &[("id", &id.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let history: Vec<i64> = view["history"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    assert_eq!(history, vec![1, 2, 3, 4, 5]);
    assert_eq!(view["last_seq"], 5);
    // The colleague read up to staff 6 (a note): to Alice, public 4
    // ("Thanks!"), so it shows "Seen". The agent wrote staff 7: public 5.
    let mut markers: Vec<i64> = view["read_markers"]
        .as_array()
        .expect("markers")
        .iter()
        .filter_map(|m| m["seq"].as_i64())
        .collect();
    markers.sort();
    assert_eq!(markers, vec![4, 5], "{view}");

    let (_, view) = agent
        .call("conversations/thread", &[("id", &id.to_string())])
        .await;
    assert_eq!(view["last_seq"], 7);
    // Alice's marker (opening the thread read it all, public 5) is staff 7.
    let markers = view["read_markers"].as_array().expect("markers");
    assert!(
        markers.iter().any(|m| m["seq"] == 7 && m["role"] == "customer"),
        "{view}"
    );

    // The HTTP read answers in the reader's sequence too.
    let (status, moved) = alice
        .call(
            "conversations/read",
            &[("conversation_id", &id.to_string()), ("up_to", "5")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert!(moved.is_null(), "already read: {moved}");
}
