//! Guessing passwords is limited: sign-ins per account and per client
//! address, registrations per address — with a clear "Too many attempts.
//! Try again in N s." over HTTP (429, `Retry-After`) and in the form — and
//! registration does not tell whether an email has an account.

use crate::helpers::{spawn_app_with, TestApp, PASSWORD};
use parley::Role;
use reqwest::StatusCode;
use serde_json::Value;
use server::cli::ServeArgs;

/// A login POST as the browser's `fetch` makes it, with an optional
/// `X-Forwarded-For`; the status, the `Retry-After` header and the body.
async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("Origin", app.origin())
        .form(&[("email", email), ("password", password)]);
    if let Some(client) = forwarded_for {
        request = request.header("X-Forwarded-For", client);
    }
    let response = request.send().await.expect("login");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

fn assert_too_many(status: StatusCode, retry_after: Option<String>, body: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["kind"], "rate_limited", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Too many attempts. Try again in "),
        "{message}"
    );
    assert!(body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{body}");
    let seconds: u64 = retry_after
        .and_then(|s| s.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        message.contains(&format!("in {seconds} s")),
        "{message} / Retry-After {seconds}"
    );
}

#[tokio::test]
async fn sign_ins_to_one_account_are_limited_even_with_the_right_password() {
    let app = spawn_app_with(ServeArgs {
        sign_ins_per_account_per_hour: 3,
        ..ServeArgs::default()
    })
    .await;
    app.create_user("ann@example.com", Role::Customer).await;
    for _ in 0..3 {
        let (status, _, body) = login(&app, "ann@example.com", "a wrong guess", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, retry_after, body) = login(&app, "ANN@example.com", PASSWORD, None).await;
    assert_too_many(status, retry_after, &body);
    // Another account is not affected.
    app.create_user("bob@example.com", Role::Customer).await;
    let (status, _, body) = login(&app, "bob@example.com", PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn sign_ins_from_one_address_are_limited_across_accounts() {
    let app = spawn_app_with(ServeArgs {
        sign_ins_per_address_per_minute: 4,
        ..ServeArgs::default()
    })
    .await;
    for i in 0..4 {
        let (status, _, body) = login(&app, &format!("guess{i}@example.com"), "password guess", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let (status, retry_after, body) = login(&app, "guess9@example.com", "password guess", None).await;
    assert_too_many(status, retry_after, &body);
}

#[tokio::test]
async fn registrations_from_one_address_are_limited() {
    let app = spawn_app_with(ServeArgs {
        registrations_per_address_per_hour: 2,
        ..ServeArgs::default()
    })
    .await;
    for i in 0..2 {
        let (status, body) = app
            .client()
            .call(
                "register",
                &[
                    ("email", &format!("new{i}@example.com")),
                    ("name", "New"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .client()
        .call(
            "register",
            &[
                ("email", "new9@example.com"),
                ("name", "New"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Too many attempts.")),
        "{body}"
    );
}

/// `X-Forwarded-For` names the client only when a configured proxy sent it;
/// from anyone else it is ignored, so it cannot dodge the limit.
#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let limits = ServeArgs {
        sign_ins_per_address_per_minute: 2,
        ..ServeArgs::default()
    };
    let behind_proxy = spawn_app_with(ServeArgs {
        trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
        ..limits.clone()
    })
    .await;
    for _ in 0..2 {
        let (status, _, _) = login(
            &behind_proxy,
            "x@example.com",
            "password guess",
            Some("198.51.100.1"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, retry_after, body) = login(
        &behind_proxy,
        "x@example.com",
        "password guess",
        Some("198.51.100.1"),
    )
    .await;
    assert_too_many(status, retry_after, &body);
    // Another client behind the same proxy has its own allowance.
    let (status, _, body) = login(
        &behind_proxy,
        "y@example.com",
        "password guess",
        Some("198.51.100.2"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let direct = spawn_app_with(limits).await;
    for client in ["198.51.100.1", "198.51.100.2"] {
        let (status, _, _) = login(&direct, "x@example.com", "password guess", Some(client)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, retry_after, body) =
        login(&direct, "x@example.com", "password guess", Some("198.51.100.3")).await;
    assert_too_many(status, retry_after, &body);
}

/// Without JavaScript the sign-in form is a plain post; the refusal comes
/// back to the form, which shows it.
#[tokio::test]
async fn the_form_shows_the_wait() {
    let app = spawn_app_with(ServeArgs {
        sign_ins_per_address_per_minute: 1,
        ..ServeArgs::default()
    })
    .await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let mut page = String::new();
    for _ in 0..2 {
        let response = browser
            .post(app.url("/api/login"))
            .header("Origin", app.origin())
            .header("Accept", "text/html")
            .header("Referer", app.url("/login"))
            .form(&[("email", "ann@example.com"), ("password", "password guess")])
            .send()
            .await
            .expect("form post");
        page = response.text().await.expect("page");
    }
    assert!(page.contains("Too many attempts. Try again in "), "{page}");
}

/// Registration answers a taken email with a sentence that names neither
/// the email nor a reason, after the same work (the password is hashed
/// either way).
#[tokio::test]
async fn registration_does_not_say_the_email_has_an_account() {
    let app = spawn_app_with(ServeArgs::default()).await;
    app.create_user("ann@example.com", Role::Customer).await;
    let (status, body) = app
        .client()
        .call(
            "register",
            &[
                ("email", "ANN@example.com"),
                ("name", "Other Ann"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["field"].is_null(), "{body}");
    assert_eq!(
        body["message"].as_str(),
        Some(backend::accounts::REGISTRATION_REFUSED),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("exist") && !message.contains("already"),
        "{message}"
    );
}
