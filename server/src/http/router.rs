//! The whole HTTP surface in one place: pages (Leptos SSR), server functions
//! under `/api/` (registered by `leptos_routes`), the live socket at `/ws`,
//! `/healthz`, static files — and the layers every request passes through
//! (outermost first): request id, access log, compression, security headers,
//! error statuses, sessions, cross-site refusal.

use crate::http::{headers, health, origin};
use crate::live;
use crate::state::AppState;
use app::error::AppError;
use app::{shell, App};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use backend::sessions::SessionStore;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Session cookie name.
pub const SESSION_COOKIE: &str = "parley_session";

pub fn build(state: AppState, session_store: SessionStore) -> Router {
    let routes = route_list();
    let leptos_options = state.leptos_options.clone();

    let sessions = SessionManagerLayer::new(session_store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::days(14),
        ));

    let origin_policy = state.config.origin.clone();

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/ws", get(live::upgrade))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_app_context(&state)
            },
            {
                let leptos_options = leptos_options.clone();
                move || shell(leptos_options.clone())
            },
        )
        // Static files, and the 404 page, which renders the same top bar
        // (who is signed in, unread badge) and so needs the same context.
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            {
                let state = state.clone();
                move || provide_app_context(&state)
            },
            shell,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                        let request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            method = %request.method(),
                            path = %request.uri().path(),
                            request_id = %request_id,
                        )
                    }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CompressionLayer::new())
                .layer(axum::middleware::map_response(headers::every_response))
                .layer(axum::middleware::map_response(with_error_status))
                .layer(sessions)
                .layer(axum::middleware::from_fn_with_state(
                    origin_policy,
                    origin::refuse_cross_site,
                )),
        )
        .with_state(state)
}

/// The app's routes, worked out once per process. Leptos finds them by
/// rendering the app with resource loading switched off by a process-wide
/// flag; a page rendering on another thread at that moment would wait
/// forever for its data (leptos-rs/leptos#4773). `parley serve` builds one
/// router, but tests start many servers in one process.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// What server functions and SSR find in Leptos context; for pages, also
/// the Content-Security-Policy with this render's nonce.
fn provide_app_context(state: &AppState) {
    provide_context(state.backend.clone());
    headers::page_policy(&state.config.origin);
}

/// Errors raised before a server function body runs (its arguments did not
/// deserialize) leave the framework's blanket 500; give them the status their
/// [`AppError`] kind means, as errors from inside the body already have.
async fn with_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = error.status();
    }
    Response::from_parts(parts, Body::from(bytes))
}
