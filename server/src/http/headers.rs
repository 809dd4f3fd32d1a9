//! Security headers. Every response refuses to be framed
//! (`X-Frame-Options: DENY`), to be sniffed as another type than it says
//! (`nosniff`), and keeps its URL from other sites (`Referrer-Policy:
//! same-origin`: conversation URLs stay ours when someone follows a link
//! from a message).
//!
//! Pages also get a Content-Security-Policy. Scripts run only from our own
//! files or with this response's nonce: leptos_axum makes a fresh one per
//! render (its `nonce` feature) and `HydrationScripts` and the resource
//! scripts carry it, so no inline script needs `'unsafe-inline'`; an
//! injected `<script>` has no nonce and does not run. `'wasm-unsafe-eval'`
//! lets the page compile its WebAssembly. Styles come from our stylesheet
//! only (no `style` attributes in the markup).

use crate::config::OriginPolicy;
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::response::Response;
use leptos::nonce::use_nonce;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// Adds the headers every response carries (unless a handler set its own).
pub async fn every_response(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (X_FRAME_OPTIONS, "DENY"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "same-origin"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Sets the page's Content-Security-Policy on the response being rendered.
/// Runs in the Leptos context of a page (where leptos_axum has provided
/// this render's nonce); anywhere else it does nothing.
pub fn page_policy(origin: &OriginPolicy) {
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    match HeaderValue::from_str(&content_security_policy(&nonce, origin)) {
        Ok(value) => response.insert_header(CONTENT_SECURITY_POLICY, value),
        // A nonce is URL-safe base64 and the origin a parsed URL: unreachable.
        Err(e) => tracing::error!(error = %e, "could not build the Content-Security-Policy"),
    }
}

/// The policy for one page render.
pub fn content_security_policy(nonce: &str, origin: &OriginPolicy) -> String {
    // 'self' covers the socket of the page's own origin (CSP 3); with a public
    // URL, name its ws(s):// origin as well, for browsers that do not.
    let socket = match origin {
        OriginPolicy::Public(public) => public
            .strip_prefix("https://")
            .map(|host| format!(" wss://{host}"))
            .or_else(|| public.strip_prefix("http://").map(|host| format!(" ws://{host}")))
            .unwrap_or_default(),
        OriginPolicy::LocalOnly | OriginPolicy::SameHost => String::new(),
    };
    format!(
        "default-src 'self'; \
         script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; \
         img-src 'self' data:; \
         connect-src 'self'{socket}; \
         object-src 'none'; \
         base-uri 'none'; \
         form-action 'self'; \
         frame-ancestors 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_need_the_nonce_and_the_public_socket_is_allowed() {
        let policy = content_security_policy("abc", &OriginPolicy::Public("https://chat.example".into()));
        assert!(policy.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("connect-src 'self' wss://chat.example;"));
        let local = content_security_policy("abc", &OriginPolicy::LocalOnly);
        assert!(local.contains("connect-src 'self';"));
    }
}
