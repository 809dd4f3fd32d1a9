//! The real account flow, over HTTP: the same server functions the browser
//! calls (`/api/login`, `/api/register`, `/api/conversations/start`), so a
//! load run pays for what users pay for and holds real session cookies.
//!
//! Accounts are reused across runs: each one is signed in first and only
//! created when that fails. Customers register publicly. Agents cannot (public
//! registration only makes customers), so a missing agent is created with the
//! server's own CLI, `parley create-user --role agent --password-stdin`,
//! against the same database (`--parley-bin` and `--database-url`); agents
//! that already exist need neither.

use parley::model::CurrentUser;
use parley::{ConversationId, Role};
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The session cookie's name (see docs/architecture.md, "Accounts and sessions").
pub const SESSION_COOKIE: &str = "parley_session";

/// Talks to one Parley base URL.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// `http://host:port`, without a trailing slash; also sent as `Origin`.
    pub base: String,
}

/// A signed-in account: who it is and the cookie that proves it.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: CurrentUser,
    /// `parley_session=…`, ready for a `Cookie` header.
    pub cookie: String,
}

/// How to create agents that do not exist yet.
#[derive(Clone, Debug, Default)]
pub struct AgentMaker {
    pub parley_bin: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `ws://host:port/ws` (or `wss://` for https).
    pub fn ws_url(&self) -> String {
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| self.base.strip_prefix("http://").map(|r| format!("ws://{r}")))
            .unwrap_or_else(|| format!("ws://{}", self.base));
        format!("{rest}/ws")
    }

    /// POSTs a form to a server function; returns the status, the body and
    /// the session cookie if the response set one.
    async fn call(
        &self,
        endpoint: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Result<(StatusCode, String, Option<String>), String> {
        let mut request = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header(ORIGIN, &self.base)
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("POST /api/{endpoint}: {e}"))?;
        let status = response.status();
        let cookie = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{SESSION_COOKIE}=")))
            .map(str::to_owned);
        let body = response
            .text()
            .await
            .map_err(|e| format!("POST /api/{endpoint}: reading the body: {e}"))?;
        Ok((status, body, cookie))
    }

    /// Signs in; `Ok(None)` when the email or password is not accepted.
    pub async fn login(&self, email: &str, password: &str) -> Result<Option<Session>, String> {
        let (status, body, cookie) = self
            .call("login", None, &[("email", email), ("password", password)])
            .await?;
        match status {
            StatusCode::OK => session_from(&body, cookie, "login").map(Some),
            StatusCode::UNAUTHORIZED | StatusCode::UNPROCESSABLE_ENTITY => Ok(None),
            other => Err(format!("login {email}: HTTP {other}: {body}")),
        }
    }

    /// Registers a customer (and signs them in).
    pub async fn register(&self, email: &str, name: &str, password: &str) -> Result<Session, String> {
        let (status, body, cookie) = self
            .call(
                "register",
                None,
                &[("email", email), ("name", name), ("password", password)],
            )
            .await?;
        if status != StatusCode::OK {
            return Err(format!("register {email}: HTTP {status}: {body}"));
        }
        session_from(&body, cookie, "register")
    }

    /// A customer signed in: reused when it exists, registered when not.
    pub async fn customer(&self, email: &str, name: &str, password: &str) -> Result<Session, String> {
        let session = match self.login(email, password).await? {
            Some(session) => session,
            None => self.register(email, name, password).await?,
        };
        if session.user.role != Role::Customer {
            return Err(format!(
                "{email} is a {} here, not a customer: pick another --prefix",
                session.user.role
            ));
        }
        Ok(session)
    }

    /// An agent signed in: reused when it exists, created with the CLI when not.
    pub async fn agent(
        &self,
        email: &str,
        name: &str,
        password: &str,
        maker: &AgentMaker,
    ) -> Result<Session, String> {
        let session = match self.login(email, password).await? {
            Some(session) => session,
            None => {
                create_agent(maker, email, name, password).await?;
                self.login(email, password)
                    .await?
                    .ok_or_else(|| format!("{email} was created but cannot sign in"))?
            }
        };
        if !session.user.role.is_staff() {
            return Err(format!(
                "{email} is a {} here, not an agent: pick another --prefix",
                session.user.role
            ));
        }
        Ok(session)
    }

    /// A customer starts a conversation with its first message.
    pub async fn start_conversation(
        &self,
        session: &Session,
        subject: &str,
        body: &str,
    ) -> Result<ConversationId, String> {
        let (status, text, _) = self
            .call(
                "conversations/start",
                Some(&session.cookie),
                &[("subject", subject), ("body", body)],
            )
            .await?;
        if status != StatusCode::OK {
            return Err(format!("conversations/start: HTTP {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("conversations/start: {e}: {text}"))
    }
}

fn session_from(body: &str, cookie: Option<String>, what: &str) -> Result<Session, String> {
    let user: CurrentUser =
        serde_json::from_str(body).map_err(|e| format!("{what}: unexpected answer ({e}): {body}"))?;
    let cookie = cookie.ok_or_else(|| format!("{what}: no {SESSION_COOKIE} cookie in the answer"))?;
    Ok(Session { user, cookie })
}

/// Runs `parley create-user --role agent --password-stdin` against the database.
async fn create_agent(maker: &AgentMaker, email: &str, name: &str, password: &str) -> Result<(), String> {
    let (Some(bin), Some(url)) = (&maker.parley_bin, &maker.database_url) else {
        return Err(format!(
            "agent {email} does not exist and cannot be registered over HTTP (registration makes \
             customers): pass --parley-bin and --database-url so the load generator can create it \
             with `parley create-user --role agent`, or create it yourself"
        ));
    };
    let (bin, url) = (bin.clone(), url.clone());
    let (email, name, password) = (email.to_owned(), name.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&bin)
            .args(["create-user", "--email", &email, "--name", &name])
            .args(["--role", "agent", "--password-stdin"])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{password}").map_err(|e| format!("writing the password: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for {}: {e}", bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`parley create-user` for {email} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    })
    .await
    .map_err(|e| format!("create-user task: {e}"))?
}
