//! Cross-site request refusal. Browsers always send `Origin` on cross-origin
//! requests, on WebSocket upgrades and on POSTs; we compare it with what the
//! [`OriginPolicy`] allows: the configured public origin, or the request's
//! own `Host` (a loopback one only, with `--local-only`; any, in debug
//! builds without a public URL). Cookies are also SameSite=Lax; this is the
//! second lock.

use crate::config::OriginPolicy;
use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// Whether `origin` (the header's value) is the allowed one for this request.
pub fn origin_allowed(policy: &OriginPolicy, origin: &str, headers: &HeaderMap) -> bool {
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let host = || {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    // Same-origin: the Origin's host[:port] must be the Host we were asked for.
    let same_host = |host: &str| origin == format!("http://{host}") || origin == format!("https://{host}");
    match policy {
        OriginPolicy::Public(allowed) => origin == *allowed,
        OriginPolicy::SameHost => host().is_some_and(|host| same_host(&host)),
        OriginPolicy::LocalOnly => host().is_some_and(|host| is_loopback_host(&host) && same_host(&host)),
    }
}

/// `localhost`, `127.0.0.1`, `[::1]` (with or without a port): a name that
/// cannot be another site's pointing at this machine.
fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<Authority>() else {
        return false;
    };
    let name = authority.host();
    name.eq_ignore_ascii_case("localhost")
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// For state-changing requests (anything but GET, HEAD, OPTIONS): an `Origin`
/// that is present must be allowed. Requests without one come from non-browser
/// clients, which carry no ambient cookies to abuse.
pub async fn refuse_cross_site(State(policy): State<OriginPolicy>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| origin_allowed(&policy, o, request.headers()));
            if !ok {
                tracing::warn!(origin = ?origin, path = %request.uri().path(), "cross-site request refused");
                return (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response();
            }
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn host(h: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(h).expect("header"));
        headers
    }

    #[test]
    fn same_host_in_debug_builds() {
        let policy = OriginPolicy::SameHost;
        assert!(origin_allowed(
            &policy,
            "http://127.0.0.1:3000",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(
            &policy,
            "http://evil.example",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(
            &policy,
            "http://127.0.0.1:3001",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(&policy, "null", &host("127.0.0.1:3000")));
        assert!(!origin_allowed(
            &policy,
            "http://127.0.0.1:3000",
            &HeaderMap::new()
        ));
        // What trusting Host means: a rebound name passes.
        assert!(origin_allowed(
            &policy,
            "http://evil.example:3000",
            &host("evil.example:3000")
        ));
    }

    #[test]
    fn local_only_needs_a_loopback_host() {
        let policy = OriginPolicy::LocalOnly;
        for local in [
            "127.0.0.1:3000",
            "localhost:3000",
            "LOCALHOST:3000",
            "[::1]:3000",
            "127.0.0.2:8080",
        ] {
            let origin = format!("http://{}", local.to_ascii_lowercase());
            assert!(origin_allowed(&policy, &origin, &host(local)), "{local}");
        }
        // DNS rebinding: evil.example resolves to 127.0.0.1; Origin and Host agree.
        assert!(!origin_allowed(
            &policy,
            "http://evil.example:3000",
            &host("evil.example:3000")
        ));
        assert!(!origin_allowed(
            &policy,
            "http://192.168.1.5:3000",
            &host("192.168.1.5:3000")
        ));
        assert!(!origin_allowed(
            &policy,
            "http://localhost:3001",
            &host("localhost:3000")
        ));
    }

    #[test]
    fn configured_origin_wins() {
        let policy = OriginPolicy::Public("https://support.example.com".into());
        assert!(origin_allowed(
            &policy,
            "https://support.example.com",
            &host("internal:3000")
        ));
        assert!(!origin_allowed(
            &policy,
            "http://internal:3000",
            &host("internal:3000")
        ));
    }
}
