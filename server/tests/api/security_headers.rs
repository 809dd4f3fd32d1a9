//! Pages are sent with a Content-Security-Policy whose `script-src` allows
//! only this response's nonce (which Leptos puts on its hydration scripts),
//! our own files and WebAssembly — never inline script without the nonce —
//! and may not be framed; every response says `nosniff` and keeps the
//! referrer to this site.

use crate::helpers::{spawn_app, spawn_app_with};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use server::cli::ServeArgs;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii header")
}

/// The CSP's directive `name`, e.g. `script-src 'self' 'nonce-…'`.
fn directive<'a>(csp: &'a str, name: &str) -> &'a str {
    csp.split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in {csp}"))
}

fn nonce_of(csp: &str) -> String {
    directive(csp, "script-src")
        .split_whitespace()
        .find_map(|source| source.strip_prefix("'nonce-")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_owned()
}

async fn get(url: &str) -> (StatusCode, HeaderMap, String) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

fn assert_framing_and_sniffing(headers: &HeaderMap, what: &str) {
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    assert_eq!(header(headers, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(headers, "referrer-policy"), "same-origin", "{what}");
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_that_their_scripts_match() {
    let app = spawn_app().await;
    let (status, headers, html) = get(&app.url("/login")).await;
    assert_eq!(status, StatusCode::OK);
    let csp = header(&headers, "content-security-policy");
    let nonce = nonce_of(csp);
    assert!(nonce.len() >= 16, "a nonce of 128 bits: {nonce}");
    let scripts = directive(csp, "script-src");
    assert!(!scripts.contains("unsafe-inline"), "{scripts}");
    assert!(!scripts.contains(" 'unsafe-eval'"), "{scripts}");
    assert!(scripts.contains("'wasm-unsafe-eval'"), "{scripts}");
    assert_eq!(directive(csp, "frame-ancestors"), "frame-ancestors 'none'");
    assert_eq!(directive(csp, "object-src"), "object-src 'none'");
    assert_eq!(directive(csp, "base-uri"), "base-uri 'none'");
    assert_framing_and_sniffing(&headers, "/login");

    // Every inline script on the page carries this response's nonce.
    let inline_scripts = html.matches("<script").count();
    assert!(inline_scripts > 0, "the page has its hydration script");
    assert_eq!(
        html.matches(&format!("<script nonce=\"{nonce}\"")).count()
            + html
                .matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
                .count(),
        inline_scripts,
        "a script without the nonce would not run: {html}"
    );
    // No inline style attributes: style-src does not allow them.
    assert!(!html.contains(" style=\""), "{html}");

    // A fresh nonce per response.
    let (_, again, _) = get(&app.url("/login")).await;
    assert_ne!(nonce_of(header(&again, "content-security-policy")), nonce);

    // The 404 page is a page too.
    let (status, headers, _) = get(&app.url("/no-such-page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    nonce_of(header(&headers, "content-security-policy"));
    assert_framing_and_sniffing(&headers, "404");
}

#[tokio::test]
async fn every_response_refuses_framing_and_sniffing() {
    let app = spawn_app().await;
    let (_, headers, _) = get(&app.url("/healthz")).await;
    assert_framing_and_sniffing(&headers, "/healthz");
    let response = reqwest::Client::new()
        .post(app.url("/api/me"))
        .header("Origin", app.origin())
        .send()
        .await
        .expect("request");
    assert_framing_and_sniffing(response.headers(), "/api/me");
}

#[tokio::test]
async fn the_socket_of_the_public_url_is_an_allowed_connection() {
    let app = spawn_app_with(ServeArgs {
        public_url: Some("https://support.example.com".into()),
        ..ServeArgs::default()
    })
    .await;
    let (_, headers, _) = get(&app.url("/login")).await;
    let connect = directive(header(&headers, "content-security-policy"), "connect-src");
    assert_eq!(connect, "connect-src 'self' wss://support.example.com");
}
