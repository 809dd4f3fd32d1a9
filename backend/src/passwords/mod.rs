//! Passwords: what a new one must not be, and hashing them without letting
//! a flood of sign-ins starve everyone else.
//!
//! # Layout
//! - [`policy`]: the rule every new password passes (not common, not the
//!   person's own email or name), with the bundled common-passwords list.
//! - [`hashing`]: argon2id on the blocking pool, in turns, with a bounded line.

mod hashing;
mod policy;

pub use hashing::{Hasher, WAITING_PER_CORE};
pub use policy::{check_new_password, is_common};
