//! Encode and decode of every live frame (`parley::protocol`): the CPU a
//! socket spends per frame before any I/O. Server frames are encoded once per
//! audience and shared by every recipient, so `encode/server/*` is paid once
//! per event; `decode/client/*` once per frame a client sends. Bodies are
//! 100 bytes, the size used by the load generator and the workload.
//!
//! Run: `cargo bench -p backend --bench frames`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley::model::{
    ConversationSummary, CurrentUser, Message, MessageKind, MessagePreview, PersonRef, StaffPresence,
};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::{Availability, ConversationId, ConversationStatus, MessageId, Role, Seq, Timestamp, UserId};
use std::hint::black_box;

const BODY: &str =
    "Hello! My order #48213 arrived damaged; could you send a replacement or refund it? Thanks, Ann.";

fn person() -> PersonRef {
    PersonRef {
        id: UserId(4_211),
        name: "Ann Example".into(),
        role: Role::Agent,
    }
}

fn message() -> Message {
    Message {
        id: MessageId(1_234_567),
        conversation_id: ConversationId(9_876),
        seq: Seq(42),
        kind: MessageKind::Text,
        sender: Some(person()),
        body: BODY.into(),
        client_id: Some("4f1c9a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b".into()),
        created_at: Timestamp(1_700_000_000_000),
    }
}

fn client_frames() -> Vec<(&'static str, ClientFrame)> {
    let c = ConversationId(9_876);
    vec![
        (
            "subscribe",
            ClientFrame::Subscribe {
                conversation_id: c,
                after: Seq(41),
            },
        ),
        ("unsubscribe", ClientFrame::Unsubscribe { conversation_id: c }),
        (
            "send",
            ClientFrame::Send {
                conversation_id: c,
                client_id: "4f1c9a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b".into(),
                body: BODY.into(),
                note: false,
            },
        ),
        ("typing", ClientFrame::Typing { conversation_id: c }),
        (
            "read",
            ClientFrame::Read {
                conversation_id: c,
                up_to: Seq(42),
            },
        ),
        ("watch_inbox", ClientFrame::WatchInbox { on: true }),
        ("ping", ClientFrame::Ping),
    ]
}

fn server_frames() -> Vec<(&'static str, ServerFrame)> {
    let c = ConversationId(9_876);
    vec![
        (
            "hello",
            ServerFrame::Hello {
                user: CurrentUser {
                    id: UserId(4_211),
                    name: "Ann Example".into(),
                    email: "ann@example.com".into(),
                    role: Role::Agent,
                },
                heartbeat_ms: 20_000,
            },
        ),
        (
            "subscribed",
            ServerFrame::Subscribed {
                conversation_id: c,
                last_seq: Seq(42),
            },
        ),
        ("message", ServerFrame::Message { message: message() }),
        (
            "ack",
            ServerFrame::Ack {
                client_id: "4f1c9a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b".into(),
                message: message(),
            },
        ),
        (
            "typing",
            ServerFrame::Typing {
                conversation_id: c,
                user: person(),
            },
        ),
        (
            "read",
            ServerFrame::Read {
                conversation_id: c,
                user_id: UserId(17),
                role: Role::Customer,
                up_to: Seq(42),
            },
        ),
        (
            "presence",
            ServerFrame::Presence {
                support_online: true,
                staff: Some(
                    (0..5)
                        .map(|i| StaffPresence {
                            user: PersonRef {
                                id: UserId(i),
                                name: format!("Agent {i}"),
                                role: Role::Agent,
                            },
                            availability: Availability::Online,
                            online: i % 2 == 0,
                        })
                        .collect(),
                ),
            },
        ),
        (
            "conversation",
            ServerFrame::Conversation {
                summary: ConversationSummary {
                    id: c,
                    title: "Damaged order".into(),
                    subject: Some("Damaged order".into()),
                    status: ConversationStatus::Active,
                    customer: PersonRef {
                        id: UserId(17),
                        name: "Bob Customer".into(),
                        role: Role::Customer,
                    },
                    assignee: Some(person()),
                    last_message: Some(MessagePreview {
                        kind: MessageKind::Text,
                        sender_id: Some(UserId(17)),
                        sender_name: Some("Bob Customer".into()),
                        body: BODY.into(),
                        at: Timestamp(1_700_000_000_000),
                    }),
                    last_activity_at: Timestamp(1_700_000_000_000),
                    unread: 0,
                    unanswered: true,
                    created_at: Timestamp(1_699_999_000_000),
                },
            },
        ),
        ("resync", ServerFrame::Resync),
        (
            "error",
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "You are sending messages too quickly; wait a moment.".into(),
                client_id: Some("4f1c9a2e-8b3d-4e6f-9a1b-2c3d4e5f6a7b".into()),
                conversation_id: Some(c),
                retry_after_ms: Some(1_500),
            },
        ),
        ("pong", ServerFrame::Pong),
    ]
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode/client");
    for (name, frame) in client_frames() {
        group.throughput(Throughput::Bytes(frame.to_json().len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &frame, |b, f| {
            b.iter(|| black_box(f).to_json())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode/client");
    for (name, frame) in client_frames() {
        let json = frame.to_json();
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &json, |b, j| {
            b.iter(|| serde_json::from_str::<ClientFrame>(black_box(j)).expect("a client frame"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("encode/server");
    for (name, frame) in server_frames() {
        group.throughput(Throughput::Bytes(frame.to_json().len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &frame, |b, f| {
            b.iter(|| black_box(f).to_json())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode/server");
    for (name, frame) in server_frames() {
        let json = frame.to_json();
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &json, |b, j| {
            b.iter(|| serde_json::from_str::<ServerFrame>(black_box(j)).expect("a server frame"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = frames
}
criterion_main!(benches);
