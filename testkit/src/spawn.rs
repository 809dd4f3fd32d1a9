//! The real server in this process, one per test: [`spawn_app`] binds
//! `127.0.0.1:0` (so tests run in parallel), opens a fresh database of its
//! own (`backend::scratch`: a SQLite file, or with
//! `PARLEY_TEST_DATABASE=postgres` a PostgreSQL database) and serves with
//! `server::serve`, as `parley serve` does.
//! [`TestApp`] stops it, restarts it on the same port with the same
//! database (live sockets are told 1012, clients reconnect to the same URL),
//! and shuts it down when dropped.
//!
//! Several instances (issue 10): [`test_redis_url`] is the test Redis
//! (`PARLEY_TEST_REDIS_URL`, from `scripts/services.sh`), [`spawn_instances`]
//! starts two servers on one database and one Redis namespace of their
//! own, and [`TestApp::spawn_beside`] one more beside an existing one.
//!
//! Everything here panics on failure: it is only for tests and benches.

use crate::Client;
use backend::scratch::Scratch;
use backend::Db;
use parley::model::CurrentUser;
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;
use server::config::Config;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password of every account [`TestApp::create_user`] makes.
pub const PASSWORD: &str = "correct horse battery";

/// A running Parley and what it owns.
pub struct TestApp {
    /// Where it listens; the port stays the same across [`TestApp::restart`].
    pub addr: SocketAddr,
    /// The same database the server uses, for direct setup and checks.
    pub db: Db,
    args: ServeArgs,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The database's URL (the same for instances beside each other).
    pub db_url: String,
    /// The database (a SQLite file's folder is removed when the last
    /// instance using it drops).
    scratch: Arc<Scratch>,
    /// This instance's (empty) site root.
    site: TempDir,
}

/// Starts Parley on 127.0.0.1:0 with a fresh database and default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServeArgs::default()).await
}

/// Starts Parley on 127.0.0.1:0 with a fresh database and these settings
/// (`addr` and `site_root` are replaced).
pub async fn spawn_app_with(args: ServeArgs) -> TestApp {
    let scratch = Scratch::new().await;
    let db = scratch.open().await;
    start_on(Arc::new(scratch), db, args).await
}

async fn start_on(scratch: Arc<Scratch>, db: Db, args: ServeArgs) -> TestApp {
    let mut app = TestApp {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        db,
        args,
        shutdown: None,
        task: None,
        db_url: scratch.url.clone(),
        scratch,
        site: tempfile::tempdir().expect("temp dir"),
    };
    app.start(None).await;
    app
}

/// The test Redis (`PARLEY_TEST_REDIS_URL`, set by `scripts/services.sh
/// run -- …`), or `None` after printing why the calling test skips.
pub fn test_redis_url() -> Option<String> {
    match std::env::var("PARLEY_TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "note: PARLEY_TEST_REDIS_URL is not set, so this Redis test is skipped \
                 (run it with scripts/services.sh run -- cargo test …)"
            );
            None
        }
    }
}

/// A Redis namespace no other test (or earlier run) uses, so tests that
/// share one Redis do not hear each other.
pub fn fresh_namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "test-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Two instances on one database and one Redis (in a fresh namespace),
/// each with `args` otherwise: what N instances behind a load balancer are.
pub async fn spawn_instances(redis_url: &str, args: ServeArgs) -> (TestApp, TestApp) {
    let args = ServeArgs {
        redis_url: Some(redis_url.to_owned()),
        redis_namespace: fresh_namespace(),
        ..args
    };
    let a = spawn_app_with(args.clone()).await;
    let b = a.spawn_beside(args).await;
    (a, b)
}

impl TestApp {
    /// Another instance on this one's database, with `args` (give it the
    /// same Redis URL and namespace to make it part of the same deployment).
    pub async fn spawn_beside(&self, args: ServeArgs) -> TestApp {
        let db = self.scratch.open().await;
        start_on(self.scratch.clone(), db, args).await
    }

    /// The settings it serves with.
    pub fn args(&self) -> &ServeArgs {
        &self.args
    }

    async fn start(&mut self, port: Option<u16>) {
        let mut args = self.args.clone();
        args.addr = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0)));
        args.site_root = self.site.path().join("site");
        let config = Config::from_args(&args).expect("config");
        // The old listener may take a moment to let go of the port.
        let mut listener = None;
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(args.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let listener = listener.expect("bind");
        self.addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let db = self.db.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            server::serve(listener, config, db, shutdown)
                .await
                .expect("server runs");
        });
        self.shutdown = Some(tx);
        self.task = Some(task);
    }

    /// Stops the server (live sockets are told 1012) and starts it again on
    /// the same port with the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let port = self.addr.port();
        self.start(Some(port)).await;
    }

    /// Stops the server gracefully, waiting up to 10 s before aborting it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), task).await.is_err() {
                abort.abort();
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A browser-like client with its own, empty cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.origin()).expect("http client")
    }

    /// Creates an account directly in the database (for staff roles, which
    /// public registration never gives), with [`PASSWORD`].
    pub async fn create_user(&self, email: &str, role: Role) -> CurrentUser {
        use parley::validate::{DisplayName, Email, Password};
        let name = email.split('@').next().unwrap_or("someone");
        backend::accounts::create_user(
            &self.db,
            &Email::parse(email).expect("email"),
            &DisplayName::parse(name).expect("name"),
            role,
            &Password::parse(PASSWORD).expect("password"),
        )
        .await
        .expect("create user")
    }

    /// A client signed in as a new user with this role.
    pub async fn signed_in(&self, email: &str, role: Role) -> (Client, CurrentUser) {
        let user = self.create_user(email, role).await;
        let client = self.client();
        let (status, body) = client
            .call("login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        (client, user)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
