//! `spawn_app()` and the clients tests use: a cookie-keeping HTTP client that
//! calls server functions at `/api/...`, and a WebSocket client.

use backend::Db;
use futures::{SinkExt, StreamExt};
use parley::model::CurrentUser;
use parley::protocol::{ClientFrame, ServerFrame};
use parley::Role;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::StatusCode;
use serde_json::Value;
use server::cli::ServeArgs;
use server::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    args: ServeArgs,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: TempDir,
}

/// Starts Parley on 127.0.0.1:0 with a fresh SQLite file.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServeArgs::default()).await
}

pub async fn spawn_app_with(args: ServeArgs) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path: PathBuf = dir.path().join("parley.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let db = Db::connect(&db_url).await.expect("open database");
    db.migrate().await.expect("migrate");
    let mut app = TestApp {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        db,
        args,
        shutdown: None,
        task: None,
        _dir: dir,
    };
    app.start(None).await;
    app
}

impl TestApp {
    async fn start(&mut self, port: Option<u16>) {
        let mut args = self.args.clone();
        args.addr = SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0)));
        args.site_root = self._dir.path().join("site");
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

    /// A browser-like client with its own cookie jar.
    pub fn client(&self) -> Client {
        client_at(self.addr)
    }

    /// Creates an account directly in the database (for staff roles, which
    /// public registration never gives).
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

pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    jar: Arc<Jar>,
    pub base: String,
    pub origin: String,
    pub addr: SocketAddr,
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A browser-like client with its own cookie jar, for a Parley listening at
/// `addr` (one started by [`spawn_app`], or a `parley` process).
pub fn client_at(addr: SocketAddr) -> Client {
    let jar = Arc::new(Jar::default());
    Client {
        http: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            // A request that hangs fails the test with its URL instead
            // of stalling the whole run.
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client"),
        jar,
        base: format!("http://{addr}"),
        origin: format!("http://{addr}"),
        addr,
    }
}

impl Client {
    /// Calls a server function the way the browser does (form-encoded POST)
    /// and returns the status and the JSON body.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("Origin", &self.origin)
            .form(form)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        (
            status,
            response
                .text()
                .await
                .unwrap_or_else(|e| panic!("GET {path} body: {e}")),
        )
    }

    /// The `Cookie` header this client would send (`name=value; ...`).
    pub fn cookie_header(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).expect("base url");
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// The session cookie's value, if this client holds one.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie_header()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("parley_session=").map(str::to_owned))
    }

    /// Replaces this client's cookies with `name=value`.
    pub fn set_cookie(&self, name_value: &str) {
        let url = reqwest::Url::parse(&self.base).expect("base url");
        self.jar.add_cookie_str(name_value, &url);
    }

    /// Opens `/ws` with this client's cookies and the right Origin.
    pub async fn socket(&self) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        self.socket_with_origin(Some(&self.origin)).await
    }

    pub async fn socket_with_origin(
        &self,
        origin: Option<&str>,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}/ws", self.addr).into_client_request()?;
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("Origin", HeaderValue::from_str(origin).expect("origin"));
        }
        if let Some(cookie) = self.cookie_header() {
            request
                .headers_mut()
                .insert("Cookie", HeaderValue::from_str(&cookie).expect("cookie"));
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(socket)
    }
}

/// Opens `/ws` and reads past `hello` and the first `presence`.
pub async fn live(client: &Client) -> Socket {
    let mut socket = client.socket().await.expect("upgrade");
    match next_frame(&mut socket).await {
        ServerFrame::Hello { .. } => {}
        other => panic!("expected hello, got {other:?}"),
    }
    match next_frame(&mut socket).await {
        ServerFrame::Presence { .. } => {}
        other => panic!("expected presence, got {other:?}"),
    }
    socket
}

/// Reads frames until one matches, skipping others; fails after 5 s.
pub async fn expect_frame(
    socket: &mut Socket,
    what: &str,
    matches: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = tokio::time::timeout(remaining, next_frame(socket))
            .await
            .unwrap_or_else(|_| panic!("no {what} within 5 s"));
        if matches(&frame) {
            return frame;
        }
    }
}

/// Asserts that no frame matching arrives within `wait`.
pub async fn expect_no_frame(
    socket: &mut Socket,
    wait: Duration,
    what: &str,
    matches: impl Fn(&ServerFrame) -> bool,
) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return;
        }
        match tokio::time::timeout(remaining, socket.next()).await {
            Err(_) => return,
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: ServerFrame = serde_json::from_str(text.as_str()).expect("a server frame");
                assert!(!matches(&frame), "unexpected {what}: {frame:?}");
            }
            Ok(Some(Ok(_))) => {}
            Ok(_) => return,
        }
    }
}

/// Reads the next server frame, failing the test after 5 s.
pub async fn next_frame(socket: &mut Socket) -> ServerFrame {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("socket read");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("a server frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

pub async fn send_frame(socket: &mut Socket, frame: &ClientFrame) {
    socket
        .send(Message::Text(frame.to_json().into()))
        .await
        .expect("send frame");
}

pub async fn send_text(socket: &mut Socket, text: &str) {
    socket
        .send(Message::Text(text.to_owned().into()))
        .await
        .expect("send text");
}
