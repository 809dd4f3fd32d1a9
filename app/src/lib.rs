//! # Parley's user interface
//!
//! Leptos components, routes and `#[server]` functions. The same code renders
//! on the server (feature `ssr`) and hydrates in the browser (feature
//! `hydrate`); server functions run only on the server and are called over
//! HTTP from the browser, at stable URLs under `/api/`.
//!
//! # Layout
//! - [`auth`]: register, sign in/out, the current user, role gates, and
//!   [`auth::GatedPage`], the one suspense boundary of every gated page.
//! - [`admin`]: user and role management.
//! - [`conversations`]: server functions for conversations (both sides).
//! - [`messages`]: the customer's pages: list, new conversation, thread.
//! - [`inbox`]: the staff pages: inbox, thread with customer panel and actions.
//! - [`thread`]: the thread both sides share: its state, the live follow,
//!   the message list and the composer.
//! - [`canned`]: canned responses (admin page, server functions).
//! - [`routes`]: the pages behind an account, each loaded on demand.
//! - [`layout`]: the top bar and shared notices (not found, forbidden).
//! - [`parts`]: small shared markup: form errors, the status tag.
//! - [`live`]: the browser's WebSocket client (inert on the server).
//! - [`presence`]: availability, "Support is online", the team list.
//! - [`alerts`]: desktop notifications and a sound for staff.
//! - [`browser`]: every browser API the components use (clock, visibility,
//!   scrolling, listeners, storage, notifications), inert on the server.
//! - [`error`]: [`error::AppError`], what a server function can fail with.
//! - `ssr` (server only): context, sessions and role checks for server functions.

// Leptos view types nest deeply; the page types exceed the default limit of 128.
#![recursion_limit = "256"]

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod browser;
pub mod canned;
pub mod conversations;
pub mod error;
pub mod inbox;
pub mod layout;
pub mod live;
pub mod messages;
pub mod parts;
pub mod presence;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod thread;

use auth::{use_auth, Auth, LoginPage, RegisterPage};
use layout::{NotFound, TopBar};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, Lazy, SsrMode,
};
use live::{Live, LiveState};

/// The name cargo-leptos gives the WASM, JS and CSS bundles.
pub const OUTPUT_NAME: &str = "parley";

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                // resizes-content: the on-screen keyboard shrinks the layout viewport
                // (and `dvh`), so a thread's composer stays above it.
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, interactive-widget=resizes-content"
                />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.ico" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let auth = Auth::provide();
    let live = Live::provide();
    presence::Presence::provide();

    // One socket per tab, for whoever is signed in; restarted on a change of
    // user. Not before the page has hydrated: a page behind an account
    // hydrates once its lazily loaded code has arrived, and live events must
    // not change a page that is still being hydrated.
    Effect::new(move |previous: Option<Option<parley::UserId>>| {
        if !browser::hydrated() {
            return None;
        }
        let user = auth.user.get().and_then(|r| r.ok()).flatten();
        let id = user.as_ref().map(|u| u.id);
        if previous.as_ref() != Some(&id) {
            live.run_for(id);
        }
        // The listener lives until this effect runs again.
        if let Some(user) = &user {
            alerts::alert_staff(user);
        }
        id
    });

    // The server closed the socket because the session ended or the role
    // changed: fetch who is signed in again (signed out: the socket stops;
    // another role: pages gate again).
    Effect::new(move |_| {
        if live.access_changed.get() > 0 {
            auth.user.refetch();
        }
    });

    // Whoever signs out (here, in another tab, or by losing the session)
    // leaves no unsent text behind in this browser's storage.
    Effect::new(move |previous: Option<Option<parley::UserId>>| {
        let Some(Ok(user)) = auth.user.get() else {
            return previous.flatten();
        };
        let now = user.map(|u| u.id);
        if let Some(Some(left)) = previous {
            if now != Some(left) {
                browser::local_storage_remove_prefix(&thread::outbox_prefix(left));
            }
        }
        now
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/parley.css" />
        <Router>
            <TopBar />
            <ConnectionBanner />
            <main class="main">
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/messages")
                        view={Lazy::<routes::Messages>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/messages/new")
                        view={Lazy::<routes::NewConversation>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/messages/:id")
                        view={Lazy::<routes::CustomerThread>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/inbox") view={Lazy::<routes::Inbox>::new()} ssr=SsrMode::Async />
                    <Route
                        path=path!("/inbox/:id")
                        view={Lazy::<routes::StaffThread>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/users")
                        view={Lazy::<routes::Users>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/canned")
                        view={Lazy::<routes::Canned>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// "Reconnecting…" while the live socket is down after having been up;
/// while it cannot connect at all, that messages go out and arrive anyway.
#[component]
fn ConnectionBanner() -> impl IntoView {
    let live = live::use_live();
    move || match live.state.get() {
        LiveState::Reconnecting { attempt } => Some(
            view! {
                <div class="banner" role="status" data-testid="reconnecting" data-attempt=attempt>
                    "Reconnecting… messages you write are kept and sent when the connection is back."
                </div>
            }
            .into_any(),
        ),
        LiveState::Polling => Some(
            view! {
                <div class="banner" role="status" data-testid="polling">
                    "No live connection: messages are still sent, and new ones are checked every few seconds."
                </div>
            }
            .into_any(),
        ),
        _ => None,
    }
}

#[component]
fn HomePage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Talk to support" />
        <section class="hero">
            <h1>"Talk to our support team"</h1>
            <p class="lead">
                "Ask a question, follow up on an order, report a problem: start a conversation and we answer right here, live."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(user)) => {
                            let href = auth::home_for(user.role);
                            let label = if user.role.is_staff() {
                                "Open the inbox"
                            } else {
                                "Go to your messages"
                            };
                            view! {
                                <p>{format!("Welcome back, {}.", user.name)}</p>
                                <p>
                                    <A href=href attr:class="button">
                                        {label}
                                    </A>
                                </p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <p>
                                    <A href="/register" attr:class="button">
                                        "Create an account"
                                    </A>
                                    " "
                                    <A href="/login">"or sign in"</A>
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
