//! The browser's one WebSocket to `/ws`: connects once a user is signed in,
//! pings on the heartbeat the server announces, and reconnects with
//! exponential backoff and full jitter whenever the socket drops.
//!
//! Pages listen for [`ServerFrame`]s with [`Live::on_frame`] and send with
//! [`Live::send`]. Sending while disconnected returns `false` instead of
//! queueing: whoever needs delivery keeps its own outbox and resends on the
//! next `hello` (see the thread's outbox).
//!
//! What a page shows may have missed events while there was no socket, so
//! pages that show live data register [`Live::on_stale`] and fetch it again:
//! after every `hello` (a new socket), every `resync`, and every poll.
//!
//! When the socket cannot connect at all ([`FALLBACK_AFTER`] attempts in a
//! row never reached `hello`: a proxy that refuses upgrades, say) while the
//! server still answers plain HTTP, the state becomes [`LiveState::Polling`]: pages send with server functions, and
//! `on_stale` fires every [`POLL_MS`] so they fetch what is new. The socket
//! is still tried in the background, and takes over again once it connects.
//!
//! The listener list and the socket exist only in the browser (`socket`);
//! on the server `inert` stands in: nothing to listen to, nothing sent.

use leptos::prelude::*;
use parley::protocol::{ClientFrame, ServerFrame};

#[cfg(not(feature = "hydrate"))]
use inert::Link;
#[cfg(feature = "hydrate")]
use socket::Link;

/// How the socket is doing, for the "Reconnecting…" banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    /// No user, or not started yet (and always during server rendering).
    Idle,
    Connecting,
    Open,
    /// Dropped; the next attempt is scheduled.
    Reconnecting {
        attempt: u32,
    },
    /// The socket could not connect [`FALLBACK_AFTER`] times in a row:
    /// server functions and polling stand in while it is tried again.
    Polling,
}

/// Failed attempts in a row (none reached `hello`) before pages fall back
/// to server functions and polling.
pub const FALLBACK_AFTER: u32 = 3;

/// How often pages poll while the socket cannot connect.
pub const POLL_MS: u32 = 4_000;

/// The live connection, shared through context (it is `Copy`).
#[derive(Clone, Copy)]
pub struct Live {
    pub state: RwSignal<LiveState>,
    /// Bumped on each `hello` (a new socket).
    pub connected_epoch: RwSignal<u64>,
    /// Bumped whenever what pages show may be stale: on every `hello`, every
    /// `resync`, and every poll while polling (see [`Live::on_stale`]).
    stale: RwSignal<u64>,
    /// Bumped when the server closed the socket because the session it was
    /// opened with ended (4001: signed out, here or in another tab) or the
    /// user's role changed (4003): who is signed in must be fetched again.
    pub access_changed: RwSignal<u64>,
    /// The listeners and the open socket's queue.
    link: Link,
}

pub fn use_live() -> Live {
    expect_context::<Live>()
}

impl Live {
    pub fn provide() -> Live {
        let live = Live {
            state: RwSignal::new(LiveState::Idle),
            connected_epoch: RwSignal::new(0),
            stale: RwSignal::new(0),
            access_changed: RwSignal::new(0),
            link: Link::new(),
        };
        provide_context(live);
        live
    }

    /// Calls `listener` for every frame until the current reactive owner
    /// (the component that registered it) is cleaned up.
    pub fn on_frame(&self, listener: impl Fn(&ServerFrame) + 'static) {
        self.link.listen(listener);
    }

    /// Calls `refresh` whenever what the calling component shows may have
    /// gone stale (after a `hello`, a `resync`, a poll), until the component
    /// is cleaned up.
    /// Never during server rendering, nor for the state the page was
    /// created in: only for changes after it.
    pub fn on_stale(&self, refresh: impl Fn() + 'static) {
        let stale = self.stale;
        let created = stale.get_untracked();
        Effect::new(move |seen: Option<u64>| {
            let now = stale.get();
            if now != seen.unwrap_or(created) {
                refresh();
            }
            now
        });
    }

    /// Whether pages should send with server functions and poll (the
    /// socket cannot connect). Tracked.
    pub fn polling(&self) -> bool {
        self.state.get() == LiveState::Polling
    }

    /// Sends a frame if the socket is open; `false` means it was not sent.
    pub fn send(&self, frame: &ClientFrame) -> bool {
        self.state.get_untracked() == LiveState::Open && self.link.send(frame.to_json())
    }

    /// Starts (or restarts, for another user) the connection loop; `None` stops it.
    pub fn run_for(&self, user: Option<parley::UserId>) {
        self.link.run_for(*self, user);
    }
}

/// The server's half: no socket, no listeners.
#[cfg(not(feature = "hydrate"))]
mod inert {
    use super::Live;
    use parley::protocol::ServerFrame;

    #[derive(Clone, Copy)]
    pub(super) struct Link;

    impl Link {
        pub(super) fn new() -> Link {
            Link
        }

        pub(super) fn listen(self, _listener: impl Fn(&ServerFrame) + 'static) {}

        pub(super) fn send(self, _json: String) -> bool {
            false
        }

        pub(super) fn run_for(self, _live: Live, _user: Option<parley::UserId>) {}
    }
}

/// The browser's half: the listener list, the open socket's queue, and the
/// connection loop.
#[cfg(feature = "hydrate")]
mod socket {
    use super::{Live, LiveState, FALLBACK_AFTER, POLL_MS};
    use futures::{FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message, WebSocketError};
    use leptos::prelude::*;
    use parley::protocol::{ClientFrame, ServerFrame};
    use std::rc::Rc;

    type Listener = Rc<dyn Fn(&ServerFrame)>;

    #[derive(Default)]
    struct Inner {
        listeners: Vec<(u64, Listener)>,
        next_listener: u64,
        outgoing: Option<futures::channel::mpsc::UnboundedSender<String>>,
        /// Which connection loop is current; older loops stop when it changes.
        generation: u64,
        /// Which poll loop is current: a socket that connects and fails
        /// again quickly must not leave two of them running.
        poll_round: u64,
    }

    /// Browser-only state, in a local store: listeners hold `Rc`s, which
    /// must never reach the server's multi-threaded runtime.
    #[derive(Clone, Copy)]
    pub(super) struct Link(StoredValue<Inner, LocalStorage>);

    impl Link {
        pub(super) fn new() -> Link {
            Link(StoredValue::new_local(Inner::default()))
        }

        pub(super) fn listen(self, listener: impl Fn(&ServerFrame) + 'static) {
            let id = self
                .0
                .try_update_value(|inner| {
                    inner.next_listener += 1;
                    let id = inner.next_listener;
                    inner.listeners.push((id, Rc::new(listener)));
                    id
                })
                .unwrap_or_default();
            let store = self.0;
            on_cleanup(move || {
                store.try_update_value(|inner| inner.listeners.retain(|(other, _)| *other != id));
            });
        }

        pub(super) fn send(self, json: String) -> bool {
            self.0
                .try_with_value(|inner| {
                    inner
                        .outgoing
                        .as_ref()
                        .is_some_and(|tx| tx.unbounded_send(json).is_ok())
                })
                .unwrap_or(false)
        }

        fn dispatch(self, frame: &ServerFrame) {
            // Clone the list first: a listener may register or drop listeners.
            let listeners: Vec<Listener> = self
                .0
                .try_with_value(|inner| inner.listeners.iter().map(|(_, l)| l.clone()).collect())
                .unwrap_or_default();
            for listener in listeners {
                listener(frame);
            }
        }

        pub(super) fn run_for(self, live: Live, user: Option<parley::UserId>) {
            let generation = self
                .0
                .try_update_value(|inner| {
                    inner.generation += 1;
                    inner.outgoing = None;
                    inner.generation
                })
                .unwrap_or_default();
            match user {
                None => live.state.set(LiveState::Idle),
                Some(_) => leptos::task::spawn_local(run_lazily(live, generation)),
            }
        }

        /// Starts a new poll round; older poll loops stop.
        fn next_poll_round(self) -> u64 {
            self.0
                .try_update_value(|inner| {
                    inner.poll_round += 1;
                    inner.poll_round
                })
                .unwrap_or_default()
        }

        fn is_poll_round(self, round: u64) -> bool {
            self.0
                .try_with_value(|inner| inner.poll_round == round)
                .unwrap_or(false)
        }

        fn is_current(self, generation: u64) -> bool {
            self.0
                .try_with_value(|inner| inner.generation == generation)
                .unwrap_or(false)
        }

        /// Makes `tx` the open socket's queue (after `hello`).
        fn open(self, tx: futures::channel::mpsc::UnboundedSender<String>) {
            self.0.update_value(|inner| inner.outgoing = Some(tx));
        }

        /// Forgets the queue of the connection `generation`, if still current.
        fn close(self, generation: u64) {
            self.0.update_value(|inner| {
                if inner.generation == generation {
                    inner.outgoing = None;
                }
            });
        }
    }

    /// Close codes the server uses when a permission ended (docs/protocol.md).
    const CLOSE_SESSION_ENDED: u16 = 4001;
    const CLOSE_ACCESS_CHANGED: u16 = 4003;
    const FIRST_DELAY_MS: f64 = 500.0;
    const MAX_DELAY_MS: f64 = 15_000.0;
    const DEFAULT_HEARTBEAT_MS: u32 = 20_000;

    fn ws_url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/ws", location.host().ok()?))
    }

    /// Full jitter: a random delay up to the exponential bound, so a server
    /// restart is not met by every tab at the same instant.
    fn backoff_ms(attempt: u32) -> u32 {
        let bound = (FIRST_DELAY_MS * 2f64.powi(attempt.min(10) as i32)).min(MAX_DELAY_MS);
        (bound * (0.5 + js_sys::Math::random() / 2.0)) as u32
    }

    fn is_current(live: Live, generation: u64) -> bool {
        live.link.is_current(generation)
    }

    /// [`run`], in its own chunk of the WASM (`cargo leptos build --split`):
    /// only a signed-in page connects, so a first visit (sign in, register)
    /// does not download the connection loop and the frame decoding.
    #[leptos::lazy]
    async fn run_lazily(live: Live, generation: u64) {
        run(live, generation).await;
    }

    async fn run(live: Live, generation: u64) {
        // Attempts in a row that never reached `hello`.
        let mut failures: u32 = 0;
        while is_current(live, generation) {
            // Once polling, the banner stays until a socket says hello.
            if live.state.get_untracked() != LiveState::Polling {
                live.state.set(if failures == 0 {
                    LiveState::Connecting
                } else {
                    LiveState::Reconnecting { attempt: failures }
                });
            }
            if let Some(url) = ws_url() {
                if let Ok(socket) = WebSocket::open(&url) {
                    if connection(live, generation, socket).await {
                        failures = 0;
                    }
                }
            }
            if !is_current(live, generation) {
                return;
            }
            failures += 1;
            // Polling helps only if plain HTTP gets through (a proxy that
            // blocks upgrades); with the server down, sending over HTTP
            // fails too, and the page says it is reconnecting.
            if failures >= FALLBACK_AFTER && server_reachable().await {
                if live.state.get_untracked() != LiveState::Polling {
                    live.state.set(LiveState::Polling);
                    leptos::task::spawn_local(poll(live, generation));
                }
            } else {
                live.state.set(LiveState::Reconnecting { attempt: failures });
            }
            if !is_current(live, generation) {
                return;
            }
            gloo_timers::future::TimeoutFuture::new(backoff_ms(failures)).await;
        }
    }

    /// Whether the server answers plain HTTP (its health check).
    async fn server_reachable() -> bool {
        gloo_net::http::Request::get("/healthz")
            .send()
            .await
            .is_ok_and(|response| response.ok())
    }

    /// While polling: tells the pages to fetch what is new, now and every
    /// [`POLL_MS`], until a socket connects (or the user changes).
    async fn poll(live: Live, generation: u64) {
        let round = live.link.next_poll_round();
        while is_current(live, generation)
            && live.link.is_poll_round(round)
            && live.state.get_untracked() == LiveState::Polling
        {
            live.stale.update(|n| *n += 1);
            gloo_timers::future::TimeoutFuture::new(POLL_MS).await;
        }
    }

    /// Runs one socket until it drops; `true` if it got as far as `hello`.
    async fn connection(live: Live, generation: u64, socket: WebSocket) -> bool {
        let (mut sink, stream) = socket.split();
        let mut stream = stream.fuse();
        let (tx, rx) = futures::channel::mpsc::unbounded::<String>();
        let mut rx = rx.fuse();
        let mut greeted = false;
        let mut heartbeat_ms = DEFAULT_HEARTBEAT_MS;
        let mut awaiting_pong = false;
        loop {
            let mut tick = gloo_timers::future::TimeoutFuture::new(heartbeat_ms).fuse();
            futures::select! {
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Bytes(_))) => continue,
                        Some(Err(WebSocketError::ConnectionClose(close)))
                            if close.code == CLOSE_SESSION_ENDED || close.code == CLOSE_ACCESS_CHANGED =>
                        {
                            live.access_changed.update(|n| *n += 1);
                            break;
                        }
                        Some(Err(_)) | None => break,
                    };
                    let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else { continue };
                    awaiting_pong = false;
                    if let ServerFrame::Hello { heartbeat_ms: hb, user } = &frame {
                        heartbeat_ms = u32::try_from(*hb).unwrap_or(DEFAULT_HEARTBEAT_MS).max(1_000);
                        greeted = true;
                        live.link.open(tx.clone());
                        live.state.set(LiveState::Open);
                        live.connected_epoch.update(|e| *e += 1);
                        live.stale.update(|n| *n += 1);
                        // Staff tabs follow the whole inbox: lists, badge, alerts.
                        if user.role.is_staff() {
                            live.send(&ClientFrame::WatchInbox { on: true });
                        }
                    }
                    if matches!(frame, ServerFrame::Resync) {
                        live.stale.update(|n| *n += 1);
                    }
                    live.link.dispatch(&frame);
                }
                outgoing = rx.next() => {
                    let Some(json) = outgoing else { break };
                    if sink.send(Message::Text(json)).await.is_err() { break }
                }
                _ = tick => {
                    // No frame for a whole heartbeat after our ping: the
                    // connection is dead even if the browser has not noticed.
                    if awaiting_pong { break }
                    awaiting_pong = true;
                    if sink.send(Message::Text(ClientFrame::Ping.to_json())).await.is_err() { break }
                }
            }
            if !is_current(live, generation) {
                break;
            }
        }
        live.link.close(generation);
        let _ = sink.close().await;
        greeted
    }
}
