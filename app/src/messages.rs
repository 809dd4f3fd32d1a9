//! The customer's side: their conversations with the support team.

use crate::auth::{Gate, RequireRole};
use leptos::prelude::*;
use parley::model::CurrentUser;

#[component]
pub fn MessagesPage() -> impl IntoView {
    view! {
        <RequireRole gate=Gate::Customer children=|_me: CurrentUser| view! {
            <section class="page" data-testid="messages">
                <h1>"Messages"</h1>
            </section>
        }/>
    }
}
