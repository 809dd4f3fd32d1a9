//! The pages that load on demand: every page behind an account is its own
//! lazily loaded route, so the first visit (home, sign in, register) downloads
//! only the frame around the pages and the forms it shows.
//!
//! With `cargo leptos build --split` each `view` below is cut out of the main
//! WASM into its own chunk (code the chunks share goes into a shared one),
//! fetched when the route is first shown: on a client-side navigation before
//! the router swaps the page, on a server-rendered page before it hydrates
//! (`hydrate_lazy` in the frontend crate). Without `--split` they are
//! ordinary routes. Each route's data loads inside its page, as before: the
//! server already rendered it on a first load, so only client-side
//! navigations wait for the chunk and then the data.

use crate::{admin, canned, inbox, messages};
use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// Declares a lazily loaded route for a page component.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:path) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// The customer's conversations (`/messages`).
    Messages => messages::MessagesPage
);
lazy_page!(
    /// A new conversation (`/messages/new`).
    NewConversation => messages::NewConversationPage
);
lazy_page!(
    /// The customer's thread (`/messages/:id`).
    CustomerThread => messages::CustomerThreadPage
);
lazy_page!(
    /// The staff inbox (`/inbox`).
    Inbox => inbox::InboxPage
);
lazy_page!(
    /// A thread in the inbox (`/inbox/:id`).
    StaffThread => inbox::StaffThreadPage
);
lazy_page!(
    /// User and role management (`/admin/users`).
    Users => admin::UsersPage
);
lazy_page!(
    /// Canned responses (`/admin/canned`).
    Canned => canned::CannedPage
);
