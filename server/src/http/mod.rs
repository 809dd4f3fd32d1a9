//! HTTP plumbing around the Leptos app: the router, cross-site refusal,
//! security headers, health checks, request ids and access logs, and the
//! accept loop with its limits.

pub mod headers;
pub mod health;
pub mod origin;
pub mod router;
pub mod serve;
