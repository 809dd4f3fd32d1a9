//! The staff inbox: every conversation, for agents and admins.

use crate::auth::{Gate, RequireRole};
use leptos::prelude::*;
use parley::model::CurrentUser;

#[component]
pub fn InboxPage() -> impl IntoView {
    view! {
        <RequireRole gate=Gate::Staff children=|me: CurrentUser| view! {
            <section class="page" data-testid="inbox">
                <h1>"Inbox"</h1>
                <p class="muted">{format!("Signed in as {} ({}).", me.name, me.role.label())}</p>
            </section>
        }/>
    }
}
