//! Cross-site request refusal. Browsers always send `Origin` on cross-origin
//! requests, on WebSocket upgrades and on POSTs; we compare it with the
//! configured public origin (or, when none is configured, with the request's
//! own `Host`). Cookies are also SameSite=Lax; this is the second lock.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether `origin` (the header's value) is the allowed one for this request.
pub fn origin_allowed(allowed: Option<&str>, origin: &str, headers: &HeaderMap) -> bool {
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    match allowed {
        Some(allowed) => origin == allowed,
        None => {
            // Same-origin: the Origin's host[:port] must be the Host we were asked for.
            let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
                return false;
            };
            let host = host.to_ascii_lowercase();
            origin == format!("http://{host}") || origin == format!("https://{host}")
        }
    }
}

/// For state-changing requests (anything but GET, HEAD, OPTIONS): an `Origin`
/// that is present must be allowed. Requests without one come from non-browser
/// clients, which carry no ambient cookies to abuse.
pub async fn refuse_cross_site(
    State(allowed): State<Option<String>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| origin_allowed(allowed.as_deref(), o, request.headers()));
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
    fn same_origin_by_default() {
        assert!(origin_allowed(
            None,
            "http://127.0.0.1:3000",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(
            None,
            "http://evil.example",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(
            None,
            "http://127.0.0.1:3001",
            &host("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(None, "null", &host("127.0.0.1:3000")));
        assert!(!origin_allowed(None, "http://127.0.0.1:3000", &HeaderMap::new()));
    }

    #[test]
    fn configured_origin_wins() {
        let allowed = Some("https://support.example.com");
        assert!(origin_allowed(
            allowed,
            "https://support.example.com",
            &host("internal:3000")
        ));
        assert!(!origin_allowed(
            allowed,
            "http://internal:3000",
            &host("internal:3000")
        ));
    }
}
