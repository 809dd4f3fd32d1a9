//! Opening one live socket the way the browser does: `GET /ws` with the
//! session cookie and an `Origin` equal to the base URL, then the server's
//! `hello` and `presence`. The time until `hello` is the connect time the
//! load generator reports (TCP, upgrade, session lookup, first frame).

use futures::StreamExt;
use parley::protocol::ServerFrame;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open socket past `hello` and `presence`.
pub struct Opened {
    pub ws: Ws,
    /// How often the server wants to hear from us (`hello.heartbeat_ms`).
    pub heartbeat: Duration,
    /// From the TCP connect to `hello`.
    pub connect_time: Duration,
}

/// How long one connect (upgrade plus the first two frames) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn open(ws_url: &str, origin: &str, cookie: &str) -> Result<Opened, String> {
    let started = Instant::now();
    let mut request = ws_url
        .into_client_request()
        .map_err(|e| format!("bad websocket url {ws_url}: {e}"))?;
    let headers = request.headers_mut();
    headers.insert(
        "Origin",
        HeaderValue::from_str(origin).map_err(|e| format!("origin header: {e}"))?,
    );
    headers.insert(
        "Cookie",
        HeaderValue::from_str(cookie).map_err(|e| format!("cookie header: {e}"))?,
    );
    let opened = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("websocket upgrade: {e}"))?;
        let heartbeat = match next_frame(&mut ws).await? {
            ServerFrame::Hello { heartbeat_ms, .. } => Duration::from_millis(heartbeat_ms),
            other => return Err(format!("expected hello, got {other:?}")),
        };
        let connect_time = started.elapsed();
        match next_frame(&mut ws).await? {
            ServerFrame::Presence { .. } => {}
            other => return Err(format!("expected presence, got {other:?}")),
        }
        Ok(Opened {
            ws,
            heartbeat,
            connect_time,
        })
    })
    .await
    .map_err(|_| format!("no hello within {} s", CONNECT_TIMEOUT.as_secs()))??;
    Ok(opened)
}

/// The next JSON frame, skipping WebSocket pings and pongs.
pub async fn next_frame(ws: &mut Ws) -> Result<ServerFrame, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str()).map_err(|e| format!("bad frame {text}: {e}"))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => return Err("unexpected binary frame".into()),
            Some(Ok(Message::Close(close))) => return Err(format!("closed by the server: {close:?}")),
            Some(Err(e)) => return Err(format!("socket read: {e}")),
            None => return Err("socket ended".into()),
        }
    }
}
