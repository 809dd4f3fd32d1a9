//! HTTP plumbing around the Leptos app: the router, cross-site refusal,
//! security headers, health checks, request ids and access logs.

pub mod headers;
pub mod health;
pub mod origin;
pub mod router;
