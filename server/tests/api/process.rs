//! The real `parley` binary as a child process, for tests that need what
//! an in-process server cannot show: a crash (SIGKILL), the exit status and
//! message of a refused start, flags and environment variables.

use reqwest::StatusCode;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A folder of its own for one `parley` process (or several in turn): its
/// site folder and its `server.log`, and a database of its own on the
/// engine of this test run (`backend::scratch`).
pub struct Scratch {
    dir: tempfile::TempDir,
    _db: backend::scratch::Scratch,
    /// The database's URL, as `DATABASE_URL`.
    pub db_url: String,
}

impl Scratch {
    pub async fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = backend::scratch::Scratch::new().await;
        Scratch {
            dir,
            db_url: db.url.clone(),
            _db: db,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `parley <args>` on this folder's database, serving at `addr`.
    pub fn command(&self, addr: SocketAddr, args: &[&str]) -> Command {
        parley_command(self.path(), &self.db_url, addr, args)
    }

    /// Starts `command` and waits until it answers at `addr`.
    pub async fn serve(&self, command: Command, addr: SocketAddr) -> Child {
        start_serving(command, self.path(), addr).await
    }

    /// `parley <args>` on a free port, once it answers `/healthz`.
    pub async fn serve_with(&self, args: &[&str]) -> (Child, SocketAddr) {
        let addr = free_addr();
        (self.serve(self.command(addr, args), addr).await, addr)
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        server_log(self.path())
    }
}

/// `parley <args>` with only the environment set here: the database, the
/// address, an empty site folder and quiet logs. Its output (logs go to
/// stdout, a refusal to stderr) goes to `server.log` in `dir`.
fn parley_command(dir: &Path, db_url: &str, addr: SocketAddr, args: &[&str]) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("server log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
    command
        .args(args)
        .env_clear()
        .env("DATABASE_URL", db_url)
        .env("LEPTOS_SITE_ADDR", addr.to_string())
        .env("LEPTOS_SITE_ROOT", dir.join("site"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("server log"))
        .stderr(log)
        .kill_on_drop(true);
    command
}

/// What the child wrote to stderr so far.
fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// Spawns `command` and waits until it answers `/healthz` at `addr`.
async fn start_serving(mut command: Command, dir: &Path, addr: SocketAddr) -> Child {
    let mut child = command.spawn().expect("start parley");
    let health = format!("http://{addr}/healthz");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!(
                "parley exited with {status} before it was ready:\n{}",
                server_log(dir)
            );
        }
        if let Ok(response) = http.get(&health).send().await {
            if response.status() == StatusCode::OK {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("parley did not answer /healthz within 30 s");
}

/// A free port on 127.0.0.1 (bound and let go: the server binds it next).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}
