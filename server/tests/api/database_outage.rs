//! PostgreSQL going away under a running instance (issue 10): sends fail
//! with a clear `internal` error and nothing is acknowledged that is not
//! stored; `/healthz` says the database is down; when the database is back
//! the same instance serves again by itself, and the refused message, sent
//! again with its `client_id`, is stored once.
//!
//! The outage is a cut network path: the real `parley serve` reaches the
//! test's PostgreSQL through a TCP relay in this test that can drop every
//! connection and refuse new ones (stopping the shared test server would end
//! the other tests' databases). PostgreSQL runs only: SQLite is a file in
//! the process, with no connection to lose.

use crate::helpers::{client_at, live, send_frame, PASSWORD};
use crate::live_messages::{ack, start, subscribe};
use crate::process::{free_addr, Scratch};
use parley::protocol::{ClientFrame, ErrorCode, ServerFrame};
use parley::validate::{DisplayName, Email, Password};
use parley::Role;
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP relay to `upstream` that can be cut (every connection dropped, new
/// ones refused) and restored.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn to(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay listens");
        let addr = listener.local_addr().expect("relay address");
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (cut, connections) = (cut.clone(), connections.clone());
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused
                    }
                    let relay = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().expect("relay connections").push(relay);
                }
            }
        });
        Relay {
            addr,
            cut,
            connections,
            accept,
        }
    }

    /// The database is gone: open connections break, new ones are refused.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().expect("relay connections").drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn health(addr: SocketAddr) -> StatusCode {
    reqwest::get(format!("http://{addr}/healthz"))
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::BAD_GATEWAY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_fail_clearly_while_postgres_is_away_and_resume_when_it_is_back() {
    if backend::scratch::engine() != backend::db::Engine::Postgres {
        eprintln!("skipped on SQLite: the database outage is a PostgreSQL one");
        return;
    }
    let scratch = Scratch::new().await;
    let db = backend::Db::connect(&scratch.db_url)
        .await
        .expect("open database");
    backend::accounts::create_user(
        &db,
        &Email::parse("casey@example.com").expect("email"),
        &DisplayName::parse("Casey").expect("name"),
        Role::Customer,
        &Password::parse(PASSWORD).expect("password"),
    )
    .await
    .expect("create user");
    db.close().await;

    // The server reaches PostgreSQL only through the relay.
    let mut url = reqwest::Url::parse(&scratch.db_url).expect("database URL");
    let upstream = SocketAddr::new(
        url.host_str().expect("host").parse().expect("an IP host"),
        url.port().unwrap_or(5432),
    );
    let relay = Relay::to(upstream).await;
    url.set_port(Some(relay.addr.port())).expect("port");
    let addr = free_addr();
    let mut command = scratch.command(addr, &["serve"]);
    command.env("DATABASE_URL", url.as_str());
    let _server = scratch.serve(command, addr).await;

    let customer = client_at(addr);
    let (status, body) = customer
        .call("login", &[("email", "casey@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = start(&customer, "Hello").await;
    let mut socket = live(&customer).await;
    subscribe(&mut socket, id, 1).await;
    let send = |client_id: &str| ClientFrame::Send {
        conversation_id: id,
        client_id: client_id.into(),
        body: format!("message {client_id}"),
        note: false,
    };
    send_frame(&mut socket, &send("before")).await;
    ack(&mut socket, "before").await;

    // PostgreSQL is away: the send is answered with `internal`, not acknowledged.
    relay.cut();
    send_frame(&mut socket, &send("during")).await;
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match testkit::read_frame(&mut socket).await.expect("a frame") {
                frame @ (ServerFrame::Ack { .. } | ServerFrame::Error { .. }) => return frame,
                _ => continue,
            }
        }
    })
    .await
    .expect("the send is answered while the database is away");
    match answer {
        ServerFrame::Error {
            code,
            client_id,
            message,
            ..
        } => {
            assert_eq!(code, ErrorCode::Internal, "{message}");
            assert_eq!(client_id.as_deref(), Some("during"));
        }
        other => panic!("acknowledged without a database: {other:?}"),
    }
    assert_eq!(health(addr).await, StatusCode::SERVICE_UNAVAILABLE);

    // Back: the same instance serves again by itself; the resend is stored once.
    relay.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while health(addr).await != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "healthz never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    send_frame(&mut socket, &send("during")).await;
    let stored = ack(&mut socket, "during").await;
    send_frame(&mut socket, &send("during")).await;
    assert_eq!(
        ack(&mut socket, "during").await.id,
        stored.id,
        "one message, not two"
    );
}
