//! The test kit (`testkit`, feature `spawn`): `spawn_app()` starts the real
//! server on port 0 with a fresh SQLite file; its `Client` keeps cookies and
//! calls server functions at `/api/...`; the socket helpers read and write
//! typed frames with time limits. The bench and the load generator use the
//! same kit. Re-exported here so every test file says `crate::helpers::…`.

pub use testkit::{
    closed_with, expect_frame, expect_no_frame, live, next_frame, send_frame, send_text, spawn_app,
    spawn_app_with, Client, Socket, TestApp, PASSWORD,
};

/// A browser-like client with its own cookie jar, for a Parley listening at
/// `addr` (one started by [`spawn_app`], or a `parley` process).
pub fn client_at(addr: std::net::SocketAddr) -> Client {
    Client::new(&format!("http://{addr}")).expect("http client")
}
