//! The store, tested directly below HTTP: a real SQLite file per test, the
//! real migrations, and `backend`'s public functions — no server, no
//! sockets. What the HTTP and socket tests in `server/tests/api` cannot see
//! as clearly lives here: what a write transaction stores (audit rows, seqs,
//! list pointers), idempotent `client_id`s including the race, which unique
//! constraint a violation was, and that typed columns round-trip.
//!
//! One binary (`cargo test -p backend --test store`) so it links once.

mod accounts;
mod cancel;
mod constraints;
mod group_commit;
mod helpers;
mod public_seq;
mod scale_out;
mod sign_in;
mod typed;
mod unread;
mod write;
