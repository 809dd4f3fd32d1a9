//! Which `Origin` is allowed when no public URL is configured. `--local-only`
//! trusts the request's `Host` only when it is a loopback name, so a site
//! whose name resolves to this machine (DNS rebinding) cannot pass the
//! same-origin check by sending its own name in both headers. Debug builds
//! without either setting trust `Host` and say so at start.

use crate::helpers::{spawn_app_with, PASSWORD};
use crate::process::Scratch;
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

#[tokio::test]
async fn local_only_refuses_a_rebound_host_name_on_posts_and_the_socket() {
    let app = spawn_app_with(ServeArgs {
        local_only: true,
        ..ServeArgs::default()
    })
    .await;
    // The real thing still works: 127.0.0.1 in both headers.
    let (client, _) = app.signed_in("ann@example.com", Role::Customer).await;
    client.socket().await.expect("a loopback origin opens the socket");

    let rebound = format!("evil.example:{}", app.addr.port());
    let response = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("Host", &rebound)
        .header("Origin", format!("http://{rebound}"))
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let mut request = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .expect("request");
    let headers = request.headers_mut();
    headers.insert("Host", HeaderValue::from_str(&rebound).expect("host"));
    headers.insert(
        "Origin",
        HeaderValue::from_str(&format!("http://{rebound}")).expect("origin"),
    );
    if let Some(cookie) = client.cookie_header() {
        headers.insert("Cookie", HeaderValue::from_str(&cookie).expect("cookie"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 403),
        Err(other) => panic!("expected 403, got {other:?}"),
        Ok(_) => panic!("a rebound Host opened a socket"),
    }
}

#[tokio::test]
async fn a_debug_build_without_a_public_url_warns_that_it_trusts_host() {
    let scratch = Scratch::new().await;
    let _server = scratch.serve_with(&["serve"]).await;
    let log = scratch.log();
    assert!(
        log.contains("PARLEY_PUBLIC_URL is not set") && log.contains("Host"),
        "{log}"
    );

    // With --local-only there is nothing to warn about.
    let scratch = Scratch::new().await;
    let _server = scratch.serve_with(&["serve", "--local-only"]).await;
    assert!(!scratch.log().contains("PARLEY_PUBLIC_URL is not set"));
}
