//! HTTP plumbing around the Leptos app: the router, cross-site refusal,
//! health checks, request ids and access logs.

pub mod health;
pub mod origin;
pub mod router;
