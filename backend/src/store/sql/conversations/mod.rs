//! Conversations in the store: the rows and the one list query, reading,
//! and every change (see `crate::conversations` for the rules).
//!
//! # Layout
//! - [`rows`]: the row types and the one list query (list rows, messages, access state).
//! - [`write`]: every change (start, send, status, assignment, read markers),
//!   each one transaction through the one write helper, with a typed audit trail.
//! - [`read`]: lists, threads, history, replay, panels, badges.

mod read;
mod rows;
mod write;

pub(crate) use read::*;
pub(crate) use write::{assign, change_status, mark_read, send, start, Committer};
