//! Resource limits: no client can take more than its share of the server.
//! Sockets are capped per user (429) and in all (503); a socket's frames are
//! read no faster than its rate; a client that never reads is dropped when
//! a write times out; a connection that never finishes its headers is
//! closed; and at most so many HTTP connections are served at once, while
//! upgraded sockets do not count against that cap.

use crate::helpers::{live, next_frame, send_frame, spawn_app_with, Socket};
use futures::StreamExt;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::{ConversationId, Role, Seq};
use reqwest::StatusCode;
use server::cli::ServeArgs;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn refused_status(result: Result<Socket, WsError>) -> u16 {
    match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other:?}"),
        Ok(_) => panic!("the upgrade should have been refused"),
    }
}

#[tokio::test]
async fn sockets_are_capped_per_user_with_429_and_in_all_with_503() {
    let app = spawn_app_with(ServeArgs {
        max_sockets_per_user: 2,
        max_sockets: 3,
        ..ServeArgs::default()
    })
    .await;
    let (ann, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let (bob, _) = app.signed_in("bob@example.com", Role::Customer).await;
    let (cyd, _) = app.signed_in("cyd@example.com", Role::Agent).await;

    let first = live(&ann).await;
    let _second = live(&ann).await;
    assert_eq!(refused_status(ann.socket().await), 429, "Ann's third tab");
    let _bobs = live(&bob).await;
    assert_eq!(refused_status(cyd.socket().await), 503, "the server is full");

    // A closed socket gives its place back.
    drop(first);
    let mut reopened = None;
    for _ in 0..100 {
        if let Ok(socket) = ann.socket().await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "Ann's closed tab freed a place");
}

#[tokio::test]
async fn a_socket_is_read_no_faster_than_its_frame_rate_and_loses_nothing() {
    let app = spawn_app_with(ServeArgs {
        socket_frames_per_sec: 5,
        socket_frame_burst: 5,
        ..ServeArgs::default()
    })
    .await;
    let (ann, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let mut socket = live(&ann).await;
    const SENT: usize = 30;
    for _ in 0..SENT {
        send_frame(&mut socket, &ClientFrame::Ping).await;
    }
    // In one second: the burst, one per 200 ms, and the frame that went over.
    let mut answered = 0;
    let window = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(frame) = tokio::time::timeout_at(window, next_frame(&mut socket)).await {
        assert_eq!(frame, ServerFrame::Pong);
        answered += 1;
    }
    assert!(
        answered <= 5 + 5 + 1,
        "{answered} frames handled in the first second at 5 a second (burst 5)"
    );
    // None is dropped: the rest are answered as the rate allows.
    while answered < SENT {
        let frame = tokio::time::timeout(Duration::from_secs(2), next_frame(&mut socket))
            .await
            .unwrap_or_else(|_| panic!("only {answered} of {SENT} pings answered"));
        assert_eq!(frame, ServerFrame::Pong);
        answered += 1;
    }
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_when_a_write_times_out() {
    let app = spawn_app_with(ServeArgs {
        socket_write_timeout_secs: 1,
        ..ServeArgs::default()
    })
    .await;
    let (ann, user) = app.signed_in("ann@example.com", Role::Customer).await;
    let (status, id) = ann
        .call("conversations/start", &[("subject", ""), ("body", "hello")])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let conversation = ConversationId(id.as_i64().expect("id"));
    // 5,000 messages of 4,000 characters: a 20 MB replay, far more than
    // the sockets' buffers hold, so the server's writes block.
    backend::with_pools!(&app.db, |pools| {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 5001) \
             INSERT INTO messages (conversation_id, seq, public_seq, sender_id, kind, body, created_at) \
             SELECT $1, i, i, $2, 'text', $3, 0 FROM n",
        )
        .bind(conversation.0)
        .bind(user.id.0)
        .bind("x".repeat(4_000))
        .execute(&pools.write)
        .await
        .map(drop)
    })
    .expect("bulk insert");

    let mut socket = live(&ann).await;
    send_frame(
        &mut socket,
        &ClientFrame::Subscribe {
            conversation_id: conversation,
            after: Seq(0),
        },
    )
    .await;
    // Not reading: the replay's writes stall, and time out after 1 s.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // Reading now: what was already in the buffers, then the end — the
    // server gave up on this socket instead of waiting for it forever.
    let mut replayed = 0usize;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ServerFrame>(text.as_str()).expect("frame") {
                        ServerFrame::Message { .. } => replayed += 1,
                        ServerFrame::Subscribed { .. } => {
                            panic!("the whole replay was written to a client that did not read")
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket ended");
    assert!(
        replayed < 5_001,
        "{replayed} of 5,001 messages reached the socket"
    );
    // The server is fine, and the client catches up on a new socket.
    assert_eq!(app.client().get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let app = spawn_app_with(ServeArgs {
        header_read_timeout_secs: 1,
        ..ServeArgs::default()
    })
    .await;
    let mut slow = TcpStream::connect(app.addr).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: parley\r\nX-Slow: ")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(app.addr).await.expect("connect");
    for (name, stream) in [("half a request", &mut slow), ("nothing at all", &mut silent)] {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("a connection that sent {name} was kept open"));
        // Closed: end of stream, or a reset, or at most an error status.
        if let Ok(n) = read {
            let answer = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || !answer.contains("200 OK"), "{name}: {answer}");
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_and_sockets_do_not_count() {
    let app = spawn_app_with(ServeArgs {
        max_connections: 2,
        header_read_timeout_secs: 60,
        ..ServeArgs::default()
    })
    .await;
    let (ann, _) = app.signed_in("ann@example.com", Role::Customer).await;
    // Three upgraded sockets: upgrades leave the HTTP count.
    let _sockets = [live(&ann).await, live(&ann).await, live(&ann).await];
    assert!(healthz(&app).await, "served");

    // Two idle connections take both places (with Ann's keep-alive
    // connection, if it is still open, one waits in the queue): the next
    // request waits.
    let idle_one = TcpStream::connect(app.addr).await.expect("connect");
    let idle_two = TcpStream::connect(app.addr).await.expect("connect");
    assert!(
        !healthz(&app).await,
        "a third connection is not served while two are open"
    );
    // They go away: requests are served again.
    drop((idle_one, idle_two, ann));
    let mut served = false;
    for _ in 0..10 {
        if healthz(&app).await {
            served = true;
            break;
        }
    }
    assert!(served, "a freed place is used");
}

/// `GET /healthz` on a connection of its own (closed after the answer, or
/// at once when none comes within a second): whether it was answered 200.
async fn healthz(app: &crate::helpers::TestApp) -> bool {
    let mut stream = TcpStream::connect(app.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut answer)).await;
    read.is_ok() && String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200")
}
