//! The store's hot paths against SQLite files of realistic size: writing a
//! message (`conversations::send`, the whole transaction plus the list rows
//! it announces), the staff inbox's first page (`conversations::inbox`) and a
//! conversation's history page (`conversations::history`), at 1k, 100k and 1M
//! messages, to show whether the cost stays flat as the data grows.
//!
//! Datasets are written with bulk SQL (recursive CTEs, one statement per
//! table), not through the API, and cached under `target/bench-data/` so a
//! rerun does not rebuild the 1M one. Shape: 1,000 customers, 10 agents, and
//! `min(10,000, messages)` conversations (every conversation has at least its
//! first message, so the 1k set has 1,000 conversations of one message; 100k
//! and 1M have 10,000 conversations of 10 and 100). Messages of different
//! conversations are interleaved in id order, as concurrent chats write
//! them. 70 % of conversations are active, 20 % open (unassigned), 10 %
//! resolved; the viewing agent (user 1) has 10 % of them and has read those
//! up to the last message but one.
//!
//! Run: `cargo bench -p backend --bench store` (first run builds the data,
//! about a minute for the 1M set).

use backend::conversations::{self, LIST_PAGE};
use backend::db::SQLITE_MIGRATOR as MIGRATOR;
use backend::limits::SendLimiter;
use backend::{Backend, Bus, Db};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use parley::model::{CurrentUser, InboxCursor, InboxFilter, InboxTab};
use parley::{ClientId, ConversationId, Role, Seq, Timestamp, UserId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Bumped whenever the generated data changes shape.
const DATASET_VERSION: u32 = 2;
const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];
const CUSTOMERS: u64 = 1_000;
const AGENTS: u64 = 10;
const MAX_CONVERSATIONS: u64 = 10_000;
/// Message times start here and step by 100 ms.
const T0: i64 = 1_700_000_000_000;
const BODY: &str =
    "Hello! My order #48213 arrived damaged; could you send a replacement or refund it? Thanks, Ann.";

struct Dataset {
    messages: u64,
    conversations: u64,
    per_conversation: u64,
    path: PathBuf,
}

impl Dataset {
    fn new(messages: u64) -> Dataset {
        let conversations = messages.min(MAX_CONVERSATIONS);
        Dataset {
            messages,
            conversations,
            per_conversation: messages / conversations,
            path: bench_data_dir().join(format!(
                "store-v{DATASET_VERSION}-{:016x}-{messages}.db",
                schema_hash()
            )),
        }
    }

    fn url(path: &Path) -> String {
        format!("sqlite://{}", path.display())
    }

    /// Builds the file unless a finished one is cached.
    async fn ensure(&self) {
        if self.path.exists() {
            return;
        }
        let started = Instant::now();
        eprintln!(
            "building {} ({} messages in {} conversations) ...",
            self.path.display(),
            self.messages,
            self.conversations
        );
        std::fs::create_dir_all(bench_data_dir()).expect("create target/bench-data");
        let partial = self.path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let mut conn = SqliteConnectOptions::from_str(&Dataset::url(&partial))
            .expect("sqlite url")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Off)
            .synchronous(SqliteSynchronous::Off)
            .connect()
            .await
            .expect("open the dataset file");
        MIGRATOR.run(&mut conn).await.expect("migrate the dataset");
        let (c, per, m) = (
            self.conversations as i64,
            self.per_conversation as i64,
            self.messages as i64,
        );
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO users (id, email, name, role, password_hash, created_at) \
             SELECT i, 'user' || i || '@bench.test', \
                    CASE WHEN i <= $2 THEN 'Agent ' || i ELSE 'Customer ' || i END, \
                    CASE WHEN i <= $2 THEN 'agent' ELSE 'customer' END, 'not-a-hash', $3 FROM n",
        )
        .bind((AGENTS + CUSTOMERS) as i64)
        .bind(AGENTS as i64)
        .bind(T0)
        .execute(&mut *tx)
        .await
        .expect("insert users");
        // Conversation c (0-based) has id c + 1; its last message is the
        // (per - 1)th round's, id (per - 1) * C + c + 1.
        sqlx::query(
            "WITH RECURSIVE n(c) AS (SELECT 0 UNION ALL SELECT c + 1 FROM n WHERE c + 1 < $1) \
             INSERT INTO conversations (id, customer_id, subject, title, status, assignee_id, last_seq, \
                 last_public_seq, last_message_id, last_public_message_id, last_activity_at, last_public_at, \
                 awaiting_reply, created_at, staff_tally, public_tally) \
             SELECT c + 1, $3 + 1 + (c % $4), 'Order question ' || c, 'Order question ' || c, \
                    CASE WHEN c % 10 < 7 THEN 'active' WHEN c % 10 < 9 THEN 'open' ELSE 'resolved' END, \
                    CASE WHEN c % 10 IN (7, 8) THEN NULL ELSE 1 + (c % $3) END, \
                    $2, $2, ($2 - 1) * $1 + c + 1, ($2 - 1) * $1 + c + 1, \
                    $5 + (($2 - 1) * $1 + c) * 100, $5 + (($2 - 1) * $1 + c) * 100, \
                    CASE WHEN c % 3 = 0 AND c % 10 < 9 THEN 1 ELSE 0 END, $5 + c * 100, $2, $2 \
             FROM n",
        )
        .bind(c)
        .bind(per)
        .bind(AGENTS as i64)
        .bind(CUSTOMERS as i64)
        .bind(T0)
        .execute(&mut *tx)
        .await
        .expect("insert conversations");
        // Message j: conversation j mod C, seq j div C + 1 (all texts, so
        // the public seq is the same); odd seqs are the customer's, even
        // ones the agent's.
        sqlx::query(
            "WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j + 1 < $1) \
             INSERT INTO messages (id, conversation_id, seq, public_seq, sender_id, kind, body, client_id, \
                 created_at, staff_tally, public_tally) \
             SELECT j + 1, (j % $2) + 1, j / $2 + 1, j / $2 + 1, \
                    CASE WHEN (j / $2) % 2 = 0 THEN $3 + 1 + ((j % $2) % $4) ELSE 1 + ((j % $2) % $3) END, \
                    'text', $5, 'bench-' || j, $6 + j * 100, j / $2 + 1, j / $2 + 1 \
             FROM n",
        )
        .bind(m)
        .bind(c)
        .bind(AGENTS as i64)
        .bind(CUSTOMERS as i64)
        .bind(BODY)
        .bind(T0)
        .execute(&mut *tx)
        .await
        .expect("insert messages");
        sqlx::query(
            "INSERT INTO read_markers (conversation_id, user_id, last_read_seq, staff_tally, public_tally, updated_at) \
             SELECT id, 1, last_seq - 1, last_seq - 1, last_seq - 1, last_activity_at FROM conversations \
             WHERE assignee_id = 1",
        )
        .execute(&mut *tx)
        .await
        .expect("insert read markers");
        tx.commit().await.expect("commit the dataset");
        sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(&mut conn)
            .await
            .expect("journal mode");
        conn.close().await.expect("close the dataset");
        std::fs::rename(&partial, &self.path).expect("move the dataset into place");
        eprintln!("built in {:.1} s", started.elapsed().as_secs_f64());
    }
}

/// FNV-1a over the migrations' checksums: a changed migration means a new
/// cached file (sqlx would refuse an old one as modified).
fn schema_hash() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in MIGRATOR.iter() {
        for byte in migration.checksum.iter() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// `$CARGO_TARGET_DIR/bench-data`, or `target/bench-data` at the workspace root.
fn bench_data_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"))
        .join("bench-data")
}

/// The agent every query is made as (user 1, an agent with 10 % of the conversations).
fn viewer() -> CurrentUser {
    CurrentUser {
        id: UserId(1),
        name: "Agent 1".into(),
        email: "user1@bench.test".into(),
        role: Role::Agent,
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn queries(c: &mut Criterion) {
    let rt = runtime();
    let datasets: Vec<Dataset> = SIZES.iter().map(|m| Dataset::new(*m)).collect();
    let dbs: Vec<Db> = datasets
        .iter()
        .map(|d| {
            rt.block_on(async {
                d.ensure().await;
                let db = Db::connect(&Dataset::url(&d.path)).await.expect("open dataset");
                // As the server does at start (see Db::refresh_planner_stats).
                db.refresh_planner_stats().await.expect("planner statistics");
                db
            })
        })
        .collect();
    let me = viewer();

    let mut group = c.benchmark_group("inbox");
    for (d, db) in datasets.iter().zip(&dbs) {
        let filters = [
            ("all", InboxFilter::default()),
            (
                "mine",
                InboxFilter {
                    tab: InboxTab::Mine,
                    ..InboxFilter::default()
                },
            ),
            (
                "unassigned",
                InboxFilter {
                    tab: InboxTab::Unassigned,
                    ..InboxFilter::default()
                },
            ),
            (
                "unanswered",
                InboxFilter {
                    unanswered: true,
                    ..InboxFilter::default()
                },
            ),
            (
                "status_open",
                InboxFilter {
                    status: Some(parley::ConversationStatus::Open),
                    ..InboxFilter::default()
                },
            ),
        ];
        for (name, filter) in filters {
            let page = rt
                .block_on(conversations::inbox(db, &me, filter, None))
                .expect("inbox page");
            assert!(!page.rows.is_empty(), "{name} is empty at {}", d.messages);
            group.bench_with_input(BenchmarkId::new(name, d.messages), &filter, |b, filter| {
                b.to_async(&rt)
                    .iter(|| async { conversations::inbox(db, &me, *filter, None).await.expect("inbox") })
            });
        }
        // A page from the middle of the list (keyset paging: should cost the same).
        let middle = d.conversations / 2;
        let cursor = InboxCursor {
            at: Timestamp(T0 + (((d.per_conversation - 1) * d.conversations + middle) * 100) as i64),
            id: ConversationId(middle as i64 + 1),
        };
        let page = rt
            .block_on(conversations::inbox(
                db,
                &me,
                InboxFilter::default(),
                Some(cursor),
            ))
            .expect("inbox page");
        assert_eq!(page.rows.len() as i64, LIST_PAGE.min(middle as i64));
        group.bench_with_input(
            BenchmarkId::new("all_middle_page", d.messages),
            &cursor,
            |b, cursor| {
                b.to_async(&rt).iter(|| async {
                    conversations::inbox(db, &me, InboxFilter::default(), Some(*cursor))
                        .await
                        .expect("inbox")
                })
            },
        );
    }
    group.finish();

    let mut group = c.benchmark_group("history");
    for (d, db) in datasets.iter().zip(&dbs) {
        let conversation = ConversationId(d.conversations as i64 / 2 + 1);
        let page = rt
            .block_on(conversations::history(db, &me, conversation, None))
            .expect("history page");
        assert_eq!(page.messages.len() as u64, d.per_conversation.min(50));
        group.bench_with_input(BenchmarkId::new("newest", d.messages), &conversation, |b, id| {
            b.to_async(&rt)
                .iter(|| async { conversations::history(db, &me, *id, None).await.expect("history") })
        });
        let before = Some(Seq((d.per_conversation / 2 + 1) as i64));
        group.bench_with_input(BenchmarkId::new("older", d.messages), &conversation, |b, id| {
            b.to_async(&rt).iter(|| async {
                conversations::history(db, &me, *id, before)
                    .await
                    .expect("history")
            })
        });
    }
    group.finish();

    for db in dbs {
        rt.block_on(db.close());
    }
}

/// Sends at once in the `burst` bench: what group commit writes together.
const BURST: usize = 64;

/// `conversations::send` into a copy of the 1k and the 1M dataset: the
/// socket path's transaction (idempotency lookup, seq, insert, row update,
/// read marker, commit) plus the two list rows read for the announcement.
/// `message` is one send at a time (a transaction each); `burst-64` is 64
/// sends to 64 conversations at once, which the group committer writes in a
/// few shared transactions (criterion reports it per message).
fn send(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("send");
    group.measurement_time(Duration::from_secs(5));
    for messages in [SIZES[0], SIZES[2]] {
        let d = Dataset::new(messages);
        rt.block_on(d.ensure());
        let dir = tempfile::tempdir().expect("temp dir");
        let copy = dir.path().join("send.db");
        std::fs::copy(&d.path, &copy).expect("copy the dataset");
        let db = rt.block_on(Db::connect(&Dataset::url(&copy))).expect("open copy");
        let backend = Backend::new(db.clone(), Bus::new(), SendLimiter::per_minute(u32::MAX));
        let me = viewer();
        // The viewer's own active conversations: a reply changes no status.
        let mine: Vec<ConversationId> = (0..d.conversations)
            .filter(|c| c % 10 == 0)
            .map(|c| ConversationId(c as i64 + 1))
            .collect();
        let counter = AtomicU64::new(0);
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("message", messages), |b| {
            b.to_async(&rt).iter(|| async {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let conversation = mine[(n as usize) % mine.len()];
                let client_id = ClientId::parse(&format!("send-bench-{n}")).expect("client id");
                let sent = conversations::send(&backend, &me, conversation, BODY, Some(&client_id), false)
                    .await
                    .expect("send");
                assert!(!sent.duplicate);
            })
        });
        group.throughput(Throughput::Elements(BURST as u64));
        group.bench_function(BenchmarkId::new("burst-64", messages), |b| {
            b.to_async(&rt).iter(|| async {
                let sends = (0..BURST).map(|k| {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let conversation = mine[k % mine.len()];
                    let backend = &backend;
                    let me = &me;
                    async move {
                        let client_id = ClientId::parse(&format!("send-bench-{n}")).expect("client id");
                        conversations::send(backend, me, conversation, BODY, Some(&client_id), false).await
                    }
                });
                for sent in futures::future::join_all(sends).await {
                    assert!(!sent.expect("send").duplicate);
                }
            })
        });
        rt.block_on(db.close());
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = queries, send
}
criterion_main!(benches);
