//! Registration, sign-in, sessions, roles and the cross-site guard.

use crate::helpers::{spawn_app, spawn_app_with, TestApp, PASSWORD};
use parley::Role;
use reqwest::StatusCode;
use server::cli::ServeArgs;

#[tokio::test]
async fn health_check_reports_the_database() {
    let app = spawn_app().await;
    let (status, body) = app.client().get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"database\":\"ok\""), "{body}");
}

#[tokio::test]
async fn register_signs_in_a_customer() {
    let app = spawn_app().await;
    let client = app.client();
    let (status, user) = client
        .call(
            "register",
            &[
                ("email", " Ann@Example.com "),
                ("name", "Ann"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["role"], "customer");

    let (status, me) = client.call("me", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "Ann");
}

#[tokio::test]
async fn bad_registrations_name_the_field() {
    let app = spawn_app().await;
    let client = app.client();
    let cases: [(&str, &str, &str, &str); 5] = [
        ("", "Ann", PASSWORD, "email"),
        ("not-an-email", "Ann", PASSWORD, "email"),
        ("ann@example.com", "Ann", "short", "password"),
        ("ann@example.com", "   ", PASSWORD, "name"),
        ("ann@example.com", "Ann", &"x".repeat(129), "password"),
    ];
    for (email, name, password, field) in cases {
        let (status, body) = client
            .call(
                "register",
                &[("email", email), ("name", name), ("password", password)],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{email}/{name}: {body}");
        assert_eq!(body["kind"], "invalid");
        assert_eq!(body["field"], field, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // nothing was created
    let (_, me) = client.call("me", &[]).await;
    assert!(me.is_null(), "{me}");
}

/// The password rule beyond length, over HTTP: the form names the field
/// and says why.
#[tokio::test]
async fn registration_refuses_common_and_personal_passwords() {
    let app = spawn_app().await;
    let client = app.client();
    for (password, says) in [
        ("iloveyou", "most common"),
        ("Password123", "most common"),
        ("ann.lee.rocks", "email"),
        ("i am ann lee!", "name"),
    ] {
        let (status, body) = client
            .call(
                "register",
                &[
                    ("email", "ann.lee@example.com"),
                    ("name", "Ann Lee"),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{password}: {body}");
        assert_eq!(body["field"], "password", "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(says)),
            "{password}: {body}"
        );
    }
    let (_, me) = client.call("me", &[]).await;
    assert!(me.is_null(), "{me}");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_read_the_same() {
    let app = spawn_app().await;
    app.create_user("ann@example.com", Role::Customer).await;
    let client = app.client();
    let (status, wrong_password) = client
        .call(
            "login",
            &[("email", "ann@example.com"), ("password", "not the password")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, unknown_email) = client
        .call("login", &[("email", "bob@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_password, unknown_email);
    assert_eq!(wrong_password["field"], "password");
    assert!(client.session_cookie().is_none(), "no session for a failed login");
}

#[tokio::test]
async fn login_rotates_the_session_id_and_logout_ends_it() {
    let app = spawn_app().await;
    app.create_user("ann@example.com", Role::Customer).await;
    let client = app.client();

    // A session id planted before login (session fixation) is not kept.
    client.set_cookie("parley_session=planted-by-an-attacker");
    let (status, _) = client
        .call("login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let first = client.session_cookie().expect("a session cookie");
    assert_ne!(first, "planted-by-an-attacker");

    // Signing in again gets yet another id, and the old one is dead.
    let (status, _) = client
        .call("login", &[("email", "ann@example.com"), ("password", PASSWORD)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = client.session_cookie().expect("a session cookie");
    assert_ne!(first, second);
    let replay = app.client();
    replay.set_cookie(&format!("parley_session={first}"));
    let (_, me) = replay.call("me", &[]).await;
    assert!(me.is_null(), "the pre-rotation id must not sign anyone in: {me}");

    // Logout kills the current id for everyone holding it.
    let stolen = app.client();
    stolen.set_cookie(&format!("parley_session={second}"));
    let (_, me) = stolen.call("me", &[]).await;
    assert_eq!(me["email"], "ann@example.com");
    let (status, _) = client.call("logout", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = stolen.call("me", &[]).await;
    assert!(me.is_null(), "{me}");
    let (_, me) = client.call("me", &[]).await;
    assert!(me.is_null(), "{me}");
}

/// The `Set-Cookie` a sign-in as a new customer gets from `app`.
async fn session_cookie(app: &TestApp) -> String {
    app.create_user("ann@example.com", Role::Customer).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/login"))
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_owned()
}

#[tokio::test]
async fn session_cookie_is_http_only_and_lax() {
    let cookie = session_cookie(&spawn_app().await).await;
    assert!(cookie.starts_with("parley_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
}

#[tokio::test]
async fn https_public_url_makes_cookies_secure() {
    let app = spawn_app_with(ServeArgs {
        public_url: Some("https://support.example.com".into()),
        ..ServeArgs::default()
    })
    .await;
    let cookie = session_cookie(&app).await;
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn staff_functions_refuse_guests_and_customers() {
    let app = spawn_app().await;
    let guest = app.client();
    let (status, body) = guest.call("admin/users", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["kind"], "unauthorized");

    let (customer, _) = app.signed_in("cus@example.com", Role::Customer).await;
    let (status, body) = customer.call("admin/users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("admin"));

    let (agent, _) = app.signed_in("agent@example.com", Role::Agent).await;
    let (status, _) = agent.call("admin/users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents are not admins");

    let (admin, _) = app.signed_in("admin@example.com", Role::Admin).await;
    let (status, users) = admin.call("admin/users", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users.as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn an_admin_promotes_a_customer_who_then_reaches_the_staff_pages() {
    let app = spawn_app().await;
    let (customer, cus) = app.signed_in("cus@example.com", Role::Customer).await;
    let (admin, me) = app.signed_in("admin@example.com", Role::Admin).await;

    let (status, page) = customer.get("/inbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("for the support team"), "{page}");

    // A customer cannot promote themselves.
    let id = cus.id.to_string();
    let (status, _) = customer
        .call("admin/set_role", &[("user_id", &id), ("role", "admin")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, updated) = admin
        .call("admin/set_role", &[("user_id", &id), ("role", "agent")])
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["role"], "agent");

    let (status, page) = customer.get("/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Inbox"), "{page}");

    // Admins cannot change their own role, and unknown users are not found.
    let (status, body) = admin
        .call(
            "admin/set_role",
            &[("user_id", &me.id.to_string()), ("role", "agent")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = admin
        .call("admin/set_role", &[("user_id", "999999"), ("role", "agent")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .call("admin/set_role", &[("user_id", &id), ("role", "root")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn guests_get_a_sign_in_page_with_401() {
    let app = spawn_app().await;
    let (status, page) = app.client().get("/admin/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Please sign in"), "{page}");
    let (status, _) = app.client().get("/login").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.client().get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    app.create_user("ann@example.com", Role::Customer).await;
    let response = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("Origin", "http://evil.example")
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn plain_form_posts_redirect_back_with_the_error() {
    // Before the WASM loads, forms are plain HTML posts: the answer must be a
    // redirect back to the form carrying the error, not a bare JSON error.
    let app = spawn_app().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(app.url("/api/login"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/login"))
        .header("Origin", app.origin())
        .form(&[("email", "nobody@example.com"), ("password", "whatever-it-is")])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(location.starts_with(&app.url("/login")), "{location}");
    assert!(location.contains("__err="), "{location}");
}

/// The demo seed goes through the same password rule as everyone, and its
/// published passwords sign in.
#[tokio::test]
async fn demo_accounts_pass_the_password_rule_and_sign_in() {
    let app = spawn_app().await;
    let accounts = server::seed::seed_demo(&app.db).await.expect("seed");
    assert_eq!(accounts.len(), 3);
    for account in accounts {
        let (status, body) = app
            .client()
            .call(
                "login",
                &[("email", account.email), ("password", account.password)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", account.email);
    }
}
