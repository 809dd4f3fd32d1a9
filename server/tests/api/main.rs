//! Integration tests: the real server on a random port with a fresh SQLite
//! file per test, driven over HTTP and WebSocket like a browser would.
//! One test binary (modules below) so the server is linked once.

mod accounts;
mod conversations;
mod crash;
mod database_outage;
mod deactivation;
mod demo;
mod helpers;
mod hidden_text;
mod instances;
mod limits;
mod live_chaos;
mod live_messages;
mod live_socket;
mod notes_unseen;
mod origin_policy;
mod pages;
mod process;
mod revocation;
mod scale_out;
mod security_headers;
mod sign_in_limits;
mod socket_logs;
mod unreachable;
