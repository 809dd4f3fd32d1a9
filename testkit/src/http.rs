//! One browser-like identity over HTTP: a [`Client`] keeps its own cookie
//! jar (so signing in once makes every later call and socket that user's),
//! sends `Origin` like a browser does on a form post, and calls server
//! functions at their stable `/api/...` endpoints form-encoded, as the
//! browser does before and after hydration.
//!
//! Typed calls ([`Client::login`], [`Client::register`],
//! [`Client::start_conversation`]) return [`Error`] for the load generator;
//! [`Client::call`] and [`Client::get`] give tests the raw status and body
//! to assert on, and panic only when the server cannot be reached.

use crate::Error;
use parley::model::CurrentUser;
use parley::ConversationId;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::ORIGIN;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The session cookie's name (see docs/architecture.md, "Accounts and sessions").
pub const SESSION_COOKIE: &str = "parley_session";

/// A request that hangs fails with its URL instead of stalling a whole run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// One identity talking to one Parley base URL. Clones share the cookie jar
/// (they are the same browser); [`Client::new`] again for another person.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    jar: Arc<Jar>,
    /// `http://host:port`, without a trailing slash; also the `Origin` sent.
    base: String,
    base_url: Url,
}

/// A server's answer: the status and the body as text.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Client {
    /// A fresh identity (empty cookie jar) for `base`, e.g. `http://127.0.0.1:3000`.
    /// Redirects are not followed: tests look at them.
    pub fn new(base: &str) -> Result<Client, Error> {
        let base = base.trim_end_matches('/').to_owned();
        let base_url = Url::parse(&base).map_err(|e| Error::BadUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(Error::Build)?;
        Ok(Client {
            http,
            jar,
            base,
            base_url,
        })
    }

    /// The base URL, which is also the `Origin` this client sends.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The `Origin` a page of this server would send.
    pub fn origin(&self) -> &str {
        &self.base
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

    /// POSTs a form to a server function (`endpoint` without `/api/`), the
    /// way the browser does, and returns the answer whatever its status.
    pub async fn post_form(&self, endpoint: &str, form: &[(&str, &str)]) -> Result<Answer, Error> {
        let what = format!("POST /api/{endpoint}");
        let response = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header(ORIGIN, &self.base)
            .form(form)
            .send()
            .await
            .map_err(|source| Error::Request {
                what: what.clone(),
                source,
            })?;
        answer(what, response).await
    }

    /// GETs a path (a page, `/healthz`) with this client's cookies.
    pub async fn fetch(&self, path: &str) -> Result<Answer, Error> {
        let what = format!("GET {path}");
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|source| Error::Request {
                what: what.clone(),
                source,
            })?;
        answer(what, response).await
    }

    /// Signs in; `Ok(None)` when the email or password is not accepted.
    pub async fn login(&self, email: &str, password: &str) -> Result<Option<CurrentUser>, Error> {
        let answer = self
            .post_form("login", &[("email", email), ("password", password)])
            .await?;
        match answer.status {
            StatusCode::OK => self.signed_in_as(answer, "login").map(Some),
            StatusCode::UNAUTHORIZED | StatusCode::UNPROCESSABLE_ENTITY => Ok(None),
            status => Err(Error::Status {
                what: format!("login {email}"),
                status,
                body: answer.body,
            }),
        }
    }

    /// Registers a customer account, which also signs this client in.
    pub async fn register(&self, email: &str, name: &str, password: &str) -> Result<CurrentUser, Error> {
        let answer = self
            .post_form(
                "register",
                &[("email", email), ("name", name), ("password", password)],
            )
            .await?;
        if answer.status != StatusCode::OK {
            return Err(Error::Status {
                what: format!("register {email}"),
                status: answer.status,
                body: answer.body,
            });
        }
        self.signed_in_as(answer, "register")
    }

    /// As a customer, starts a conversation with its first message.
    pub async fn start_conversation(&self, subject: &str, body: &str) -> Result<ConversationId, Error> {
        let answer = self
            .post_form("conversations/start", &[("subject", subject), ("body", body)])
            .await?;
        json(answer, "conversations/start")
    }

    /// The user a sign-in answered with, once the session cookie is held.
    fn signed_in_as(&self, answer: Answer, what: &str) -> Result<CurrentUser, Error> {
        let user = json(answer, what)?;
        if self.session_cookie().is_none() {
            return Err(Error::NoSession { what: what.into() });
        }
        Ok(user)
    }

    /// For tests: calls a server function and returns the status and the
    /// JSON body (a JSON string when the body is not JSON).
    ///
    /// # Panics
    /// When the server cannot be reached or answers nothing readable.
    pub async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let answer = self
            .post_form(endpoint, form)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
        (answer.status, json)
    }

    /// For tests: GETs a path and returns the status and the body.
    ///
    /// # Panics
    /// When the server cannot be reached or answers nothing readable.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = self.fetch(path).await.unwrap_or_else(|e| panic!("{e}"));
        (answer.status, answer.body)
    }

    /// The `Cookie` header this client would send (`name=value; ...`).
    pub fn cookie_header(&self) -> Option<String> {
        self.jar
            .cookies(&self.base_url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// The session cookie's value, if this client holds one.
    pub fn session_cookie(&self) -> Option<String> {
        let prefix = format!("{SESSION_COOKIE}=");
        self.cookie_header()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&prefix).map(str::to_owned))
    }

    /// Adds (or replaces) a cookie, given as `name=value`.
    pub fn set_cookie(&self, name_value: &str) {
        self.jar.add_cookie_str(name_value, &self.base_url);
    }
}

async fn answer(what: String, response: reqwest::Response) -> Result<Answer, Error> {
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|source| Error::Body { what, source })?;
    Ok(Answer { status, body })
}

/// The body of a 200 answer as `T`; any other status is an error.
fn json<T: serde::de::DeserializeOwned>(answer: Answer, what: &str) -> Result<T, Error> {
    if answer.status != StatusCode::OK {
        return Err(Error::Status {
            what: what.into(),
            status: answer.status,
            body: answer.body,
        });
    }
    serde_json::from_str(&answer.body).map_err(|source| Error::Answer {
        what: what.into(),
        body: answer.body,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_follows_the_scheme() {
        let plain = Client::new("http://127.0.0.1:3000/").expect("client");
        assert_eq!(plain.ws_url(), "ws://127.0.0.1:3000/ws");
        assert_eq!(plain.origin(), "http://127.0.0.1:3000");
        let tls = Client::new("https://support.example.com").expect("client");
        assert_eq!(tls.ws_url(), "wss://support.example.com/ws");
    }

    #[test]
    fn cookies_set_by_hand_are_sent_and_read_back() {
        let client = Client::new("http://127.0.0.1:3000").expect("client");
        assert_eq!(client.session_cookie(), None);
        client.set_cookie(&format!("{SESSION_COOKIE}=abc"));
        assert_eq!(client.session_cookie().as_deref(), Some("abc"));
        assert_eq!(client.cookie_header().as_deref(), Some("parley_session=abc"));
    }
}
