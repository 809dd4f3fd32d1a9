//! `/ws` the way the browser opens it: `GET /ws` with the identity's cookie
//! and an `Origin` header, then the server's `hello` and `presence`. Frames
//! are typed both ways ([`ClientFrame`] out, [`ServerFrame`] in); WebSocket
//! pings and pongs are skipped. The readers and writers are generic over
//! `Stream`/`Sink`, so they work on a whole [`Socket`] and on its split halves.
//!
//! The time until `hello` is the connect time the load generator reports
//! (TCP, upgrade, session lookup, first frame).

use crate::{Client, Error};
use futures::{Sink, SinkExt, Stream, StreamExt};
use parley::protocol::{ClientFrame, ServerFrame};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An open `/ws` connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the test shorthands wait for a frame before failing the test.
const TEST_FRAME_LIMIT: Duration = Duration::from_secs(5);

/// A socket past `hello` and `presence`.
pub struct Opened {
    pub ws: Socket,
    /// How often the server wants to hear from us (`hello.heartbeat_ms`).
    pub heartbeat: Duration,
    /// From the TCP connect to `hello`.
    pub connect_time: Duration,
}

impl Client {
    /// Opens `/ws` with this client's cookies and its own `Origin`. The
    /// upgrade's own error is returned so tests can look at a refusal's status.
    pub async fn socket(&self) -> Result<Socket, WsError> {
        self.socket_with_origin(Some(self.origin())).await
    }

    /// Opens `/ws` with this client's cookies and the given `Origin` (or none).
    pub async fn socket_with_origin(&self, origin: Option<&str>) -> Result<Socket, WsError> {
        self.socket_from(origin, None).await
    }

    /// Opens `/ws` from the local address `from` (port chosen by the
    /// system), or from whichever one the system picks for `None`. Several
    /// loopback sources (127.0.0.2, 127.0.0.3, …) give a load generator an
    /// ephemeral port range each, so it can hold more sockets to one server
    /// port than one range has ports. Only for `ws://`.
    pub async fn socket_from(&self, origin: Option<&str>, from: Option<IpAddr>) -> Result<Socket, WsError> {
        let mut request = self.ws_url().into_client_request()?;
        let headers = request.headers_mut();
        if let Some(origin) = origin {
            headers.insert("Origin", header(origin)?);
        }
        if let Some(cookie) = self.cookie_header() {
            headers.insert("Cookie", header(&cookie)?);
        }
        let Some(from) = from else {
            let (socket, _) = tokio_tungstenite::connect_async(request).await?;
            return Ok(socket);
        };
        let uri = request.uri();
        let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
        let port = uri.port_u16().unwrap_or(80);
        let to = tokio::net::lookup_host((host, port))
            .await?
            .find(|addr| addr.is_ipv4() == from.is_ipv4())
            .ok_or_else(|| WsError::Url(UrlError::UnableToConnect(format!("{host}:{port}"))))?;
        let tcp = if from.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        tcp.bind(SocketAddr::new(from, 0))?;
        let stream = tcp.connect(to).await?;
        stream.set_nodelay(true)?;
        let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await?;
        Ok(socket)
    }

    /// Opens `/ws` and reads `hello` and the first `presence`, all within `limit`.
    pub async fn open_live(&self, limit: Duration) -> Result<Opened, Error> {
        self.open_live_from(limit, None).await
    }

    /// [`Client::open_live`] from the local address `from` (see [`Client::socket_from`]).
    pub async fn open_live_from(&self, limit: Duration, from: Option<IpAddr>) -> Result<Opened, Error> {
        let started = Instant::now();
        let opening = async {
            let mut ws = self
                .socket_from(Some(self.origin()), from)
                .await
                .map_err(Error::Upgrade)?;
            let heartbeat = match read_frame(&mut ws).await? {
                ServerFrame::Hello { heartbeat_ms, .. } => Duration::from_millis(heartbeat_ms),
                other => return Err(unexpected("hello", other)),
            };
            let connect_time = started.elapsed();
            match read_frame(&mut ws).await? {
                ServerFrame::Presence { .. } => {}
                other => return Err(unexpected("presence", other)),
            }
            Ok(Opened {
                ws,
                heartbeat,
                connect_time,
            })
        };
        tokio::time::timeout(limit, opening)
            .await
            .map_err(|_| Error::Timeout {
                what: "hello".into(),
                limit,
            })?
    }
}

fn header(value: &str) -> Result<HeaderValue, WsError> {
    HeaderValue::from_str(value).map_err(|e| WsError::HttpFormat(e.into()))
}

fn unexpected(expected: &'static str, got: ServerFrame) -> Error {
    Error::Unexpected {
        expected,
        got: Box::new(got),
    }
}

/// The next server frame, skipping WebSocket pings and pongs. A close, the
/// end of the stream, a binary message or undecodable text is an error.
pub async fn read_frame<S>(stream: &mut S) -> Result<ServerFrame, Error>
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(text.as_str()).map_err(|source| Error::BadFrame {
                    text: text.as_str().to_owned(),
                    source,
                })
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => return Err(Error::Binary),
            Some(Ok(Message::Close(close))) => return Err(Error::Closed(close)),
            Some(Err(e)) => return Err(Error::Read(e)),
            None => return Err(Error::Ended),
        }
    }
}

/// Writes one client frame as a text message.
pub async fn write_frame<S>(sink: &mut S, frame: &ClientFrame) -> Result<(), Error>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    sink.send(Message::Text(frame.to_json().into()))
        .await
        .map_err(Error::Write)
}

/// Reads frames until one `matches` (returning it), skipping the others;
/// [`Error::Timeout`] naming `what` after `limit`.
pub async fn wait_for<S>(
    stream: &mut S,
    limit: Duration,
    what: &str,
    mut matches: impl FnMut(&ServerFrame) -> bool,
) -> Result<ServerFrame, Error>
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
{
    let waiting = async {
        loop {
            let frame = read_frame(stream).await?;
            if matches(&frame) {
                return Ok(frame);
            }
        }
    };
    tokio::time::timeout(limit, waiting)
        .await
        .map_err(|_| Error::Timeout {
            what: what.into(),
            limit,
        })?
}

/// For tests: opens `/ws` and reads past `hello` and the first `presence`.
///
/// # Panics
/// When the upgrade is refused or the first frames do not come within 10 s.
pub async fn live(client: &Client) -> Socket {
    match client.open_live(2 * TEST_FRAME_LIMIT).await {
        Ok(opened) => opened.ws,
        Err(e) => panic!("{e}"),
    }
}

/// For tests: the next server frame.
///
/// # Panics
/// After 5 s without one, or when the socket closes or sends something else.
pub async fn next_frame(socket: &mut Socket) -> ServerFrame {
    wait_for(socket, TEST_FRAME_LIMIT, "frame", |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// For tests: reads frames until one matches, skipping others.
///
/// # Panics
/// After 5 s without one, or when the socket closes.
pub async fn expect_frame(
    socket: &mut Socket,
    what: &str,
    matches: impl Fn(&ServerFrame) -> bool,
) -> ServerFrame {
    wait_for(socket, TEST_FRAME_LIMIT, what, matches)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// For tests: asserts that no frame matching arrives within `wait` (or
/// before the socket ends).
///
/// # Panics
/// On a matching frame, or text that is not a server frame.
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
        match tokio::time::timeout(remaining, read_frame(socket)).await {
            Err(_) => return,
            Ok(Ok(frame)) => assert!(!matches(&frame), "unexpected {what}: {frame:?}"),
            Ok(Err(e @ Error::BadFrame { .. })) => panic!("{e}"),
            Ok(Err(Error::Binary)) => {}
            Ok(Err(_)) => return,
        }
    }
}

/// For tests: writes one client frame.
///
/// # Panics
/// When the socket is closed.
pub async fn send_frame(socket: &mut Socket, frame: &ClientFrame) {
    write_frame(socket, frame)
        .await
        .unwrap_or_else(|e| panic!("send frame: {e}"));
}

/// For tests: writes raw text (a malformed or oversized frame).
///
/// # Panics
/// When the socket is closed.
pub async fn send_text(socket: &mut Socket, text: &str) {
    socket
        .send(Message::Text(text.to_owned().into()))
        .await
        .unwrap_or_else(|e| panic!("send text: {e}"));
}

/// For tests: waits for the server to close `socket` (skipping frames
/// before it) and returns the close code; `None` when the connection ended
/// without a close frame.
///
/// # Panics
/// When the socket is still open after 5 s.
pub async fn closed_with(socket: &mut Socket, what: &str) -> Option<u16> {
    tokio::time::timeout(TEST_FRAME_LIMIT, async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: the socket stayed open"))
}
