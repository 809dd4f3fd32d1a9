//! Each socket's log lines carry its own span and no other. A span entered
//! with `span.enter()` and held across an `.await` stays entered on the
//! worker thread while the task is parked, so whatever runs there next —
//! another socket, an HTTP request — logs inside it.

use crate::helpers::{live, spawn_app};
use parley::Role;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::Level;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

// One thread: the server, both sockets and the clients take turns on it, as
// tasks do on a busy worker thread.
#[tokio::test(flavor = "current_thread")]
async fn a_sockets_log_lines_carry_only_its_own_span() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = spawn_app().await;
    let (ann, _) = app.signed_in("ann@example.com", Role::Customer).await;
    let (bob, bob_user) = app.signed_in("bob@example.com", Role::Customer).await;
    // Other tests, on other threads without this subscriber, may have hit
    // the socket's log sites first and cached "nobody is interested":
    // ask again now that this thread has a subscriber.
    tracing::callsite::rebuild_interest_cache();
    let _ann_socket = live(&ann).await;
    let _bob_socket = live(&bob).await;
    // An HTTP request while both sockets are parked.
    assert_eq!(app.client().get("/healthz").await.0, reqwest::StatusCode::OK);

    let text = logs.text();
    let bob_opened = text
        .lines()
        .find(|l| l.contains("socket open") && l.contains(&format!("user={}", bob_user.id)))
        .unwrap_or_else(|| panic!("no \"socket open\" line for Bob in:\n{text}"));
    assert_eq!(
        bob_opened.matches("socket{").count(),
        1,
        "Bob's socket logs inside another socket's span: {bob_opened}"
    );
    for line in text.lines().filter(|l| l.contains("request{")) {
        assert!(
            !line.contains("socket{"),
            "an HTTP request logs inside a socket's span: {line}"
        );
    }
}
