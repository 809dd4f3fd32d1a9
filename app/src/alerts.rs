//! Desktop notifications and a short sound for staff when a customer writes
//! (or a new conversation arrives) while the Parley tab is hidden. Asking
//! for permission is the user's choice, from a button in the inbox.

use crate::browser;
use crate::live::use_live;
use leptos::prelude::*;
use parley::model::{ConversationSummary, CurrentUser, MessageKind};
use parley::protocol::ServerFrame;
use parley::Timestamp;
use std::collections::HashMap;

/// A customer's new text message is what staff are alerted to.
fn from_customer(summary: &ConversationSummary) -> bool {
    summary
        .last_message
        .as_ref()
        .is_some_and(|m| m.kind == MessageKind::Text && m.sender_id == Some(summary.customer.id))
}

/// Listens for customer messages and alerts the (staff) user while the tab is hidden.
pub fn alert_staff(me: &CurrentUser) {
    if !me.role.is_staff() {
        return;
    }
    let live = use_live();
    // The newest message time alerted per conversation, so that one message
    // announced twice (rows can repeat) alerts once.
    let alerted: StoredValue<HashMap<parley::ConversationId, Timestamp>, LocalStorage> =
        StoredValue::new_local(HashMap::new());
    live.on_frame(move |frame| {
        let ServerFrame::Conversation { summary } = frame else {
            return;
        };
        let Some(at) = summary.last_message.as_ref().map(|m| m.at) else {
            return;
        };
        if !from_customer(summary) {
            return;
        }
        let fresh = alerted
            .try_update_value(|seen| {
                let newer = seen.get(&summary.id).is_none_or(|prev| at > *prev);
                if newer {
                    seen.insert(summary.id, at);
                }
                newer
            })
            .unwrap_or(false);
        if fresh && browser::tab_hidden() {
            let title = if summary.created_at == at {
                format!("New conversation from {}", summary.customer.name)
            } else {
                format!("{} wrote", summary.customer.name)
            };
            let body = summary
                .last_message
                .as_ref()
                .map(|m| m.body.clone())
                .unwrap_or_default();
            browser::notify(&title, &body, &format!("parley-{}", summary.id.0));
            browser::chime();
        }
    });
}

/// "Enable desktop notifications", shown while the browser has not been asked.
#[component]
pub fn EnableNotifications() -> impl IntoView {
    let asked = RwSignal::new(true);
    // Browser state only: decided after hydration so server and browser render alike.
    Effect::new(move |_| asked.set(browser::notifications_decided()));
    let ask = move |_| {
        browser::ask_notification_permission();
        asked.set(true);
    };
    move || {
        (!asked.get()).then(|| {
            view! {
                <button class="secondary small" on:click=ask data-testid="enable-notifications">
                    "Enable desktop notifications"
                </button>
            }
        })
    }
}
