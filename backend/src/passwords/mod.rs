//! Passwords: what a new one must not be.
//!
//! # Layout
//! - [`policy`]: the rule every new password passes (not common, not the
//!   person's own email or name), with the bundled common-passwords list.

mod policy;

pub use policy::{check_new_password, is_common};
