//! The frame around every page (top bar, navigation, account menu) and the
//! small pages and notices shared by all: not found, forbidden, errors.

use crate::auth::{use_auth, LogoutButton};
use crate::conversations::badge_count;
use crate::error::AppError;
use crate::live::use_live;
use crate::parts::VisuallyHidden;
use crate::presence::AvailabilitySwitch;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use parley::model::CurrentUser;
use parley::protocol::ServerFrame;

/// Sets the HTTP status of the server-rendered page (no-op in the browser).
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(code),
    ) {
        response.set_status(status);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

/// What a page shows while its data loads (only on client-side navigation:
/// server-rendered pages arrive complete).
pub fn loading() -> impl IntoView {
    view! { <p class="muted">"Loading…"</p> }
}

/// The count on the navigation badge (and in the document title), shared so
/// pages and live events can ask for a fresh one.
#[derive(Clone, Copy)]
pub struct Badge(pub Resource<Result<i64, AppError>>);

#[component]
pub fn TopBar() -> impl IntoView {
    let auth = use_auth();
    // Refetched on every navigation (and on live events, see the live module).
    let location = leptos_router::hooks::use_location();
    let badge = Resource::new(move || location.pathname.get(), |_| badge_count());
    provide_context(Badge(badge));
    refresh_badge_on_live_events(badge);
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">
                    "◆"
                </span>
                " Parley"
            </A>
            // One suspense boundary for the whole bar: nested ones do not
            // hydrate reliably (see docs/architecture.md).
            <Transition fallback=|| {
                view! { <Title formatter=|page| document_title(0, page) /> }
            }>
                {move || Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(user)) => {
                            let count = badge.await.unwrap_or(0);
                            view! { <SignedInNav user=user count=count /> }.into_any()
                        }
                        _ => {
                            view! {
                                <Title formatter=|page| document_title(0, page) />
                                <nav class="nav" aria-label="Main">
                                    <A href="/login">"Sign in"</A>
                                    <A href="/register" attr:class="button small">
                                        "Create account"
                                    </A>
                                </nav>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </header>
    }
}

/// The document's title: the page's own (each page sets it with
/// `<Title text=…/>`), the app's name, and the badge count in front when
/// there is something to read, e.g. "(2) Inbox · Parley".
///
/// A conversation's subject is user text, and leptos_meta 0.8 writes the
/// server's `<title>` as given, unescaped (`</title><script>…` would end the
/// title). The browser sets `document.title` as plain text, so only the
/// server render escapes.
fn document_title(count: i64, page: String) -> String {
    let title = if count > 0 {
        format!("({count}) {page} · Parley")
    } else {
        format!("{page} · Parley")
    };
    if cfg!(feature = "ssr") {
        escape_text(&title)
    } else {
        title
    }
}

/// `&`, `<` and `>` as entities: text that is safe inside an element.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Asks for a fresh badge count when something that changes it happens
/// live, at most once a second however busy the inbox is, and whenever it
/// may have gone stale (a new socket, a resync, a poll).
fn refresh_badge_on_live_events(badge: Resource<Result<i64, AppError>>) {
    let live = use_live();
    live.on_stale(move || badge.refetch());
    let scheduled = StoredValue::new(false);
    live.on_frame(move |frame| {
        if matches!(frame, ServerFrame::Conversation { .. } | ServerFrame::Read { .. })
            && !scheduled.get_value()
        {
            scheduled.set_value(true);
            set_timeout(
                move || {
                    scheduled.set_value(false);
                    badge.refetch();
                },
                std::time::Duration::from_millis(1_000),
            );
        }
    });
}

#[component]
fn SignedInNav(user: CurrentUser, count: i64) -> impl IntoView {
    let role = user.role;
    // The number alone reads as "Inbox 3": say what it counts.
    let counted = if role.is_staff() { "waiting" } else { "unread" };
    let badge = move || {
        (count > 0).then(|| {
            view! {
                <span class="badge" data-testid="nav-badge" aria-hidden="true">
                    {count}
                </span>
                <VisuallyHidden text=format!("{count} {counted}") />
            }
        })
    };
    view! {
        <Title formatter=move |page| document_title(count, page) />
        <nav class="nav" aria-label="Main" data-testid="nav">
            {(!role.is_staff()).then(|| view! { <A href="/messages">"Messages " {badge()}</A> })}
            {role.is_staff().then(|| view! { <A href="/inbox">"Inbox " {badge()}</A> })}
            {role.is_admin().then(|| view! { <A href="/admin/users">"Users"</A> })}
            {role.is_admin().then(|| view! { <A href="/admin/canned">"Canned responses"</A> })}
        </nav>
        <div class="account">
            {role.is_staff().then(|| view! { <AvailabilitySwitch me=user.id /> })}
            <span class="who" data-testid="whoami">
                {user.name.clone()}
                <span class="role-tag">{role.label()}</span>
            </span> <LogoutButton />
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Not found" />
        <section class="card narrow">
            <h1>"Not found"</h1>
            <p>"There is nothing here, or it is not yours to see."</p>
            <p>
                <A href="/">"Back to the start"</A>
            </p>
        </section>
    }
}

#[component]
pub fn Forbidden(#[prop(into)] message: String) -> impl IntoView {
    set_status(403);
    view! {
        <Title text="Not allowed" />
        <section class="card narrow" data-testid="forbidden">
            <h1>"Not allowed"</h1>
            <p>{message}</p>
            <p>
                <A href="/">"Back to the start"</A>
            </p>
        </section>
    }
}

/// A failed load, in words; a missing thing reads as "not found".
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    use crate::error::ErrorKind;
    match error.kind {
        ErrorKind::NotFound => view! { <NotFound /> }.into_any(),
        ErrorKind::Forbidden => view! { <Forbidden message=error.message /> }.into_any(),
        ErrorKind::Unauthorized => view! { <crate::auth::SignInPrompt /> }.into_any(),
        _ => view! {
            <Title text="Something went wrong" />
            <p class="notice error" role="alert">
                {error.message}
            </p>
        }
        .into_any(),
    }
}
