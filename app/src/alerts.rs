//! Desktop notifications and a short sound for staff when a customer writes
//! (or a new conversation arrives) while the Parley tab is hidden. Asking
//! for permission is the user's choice, from a button in the inbox.

use crate::live::use_live;
use leptos::prelude::*;
use parley::model::{ConversationSummary, CurrentUser, MessageKind};
use parley::protocol::ServerFrame;
use parley::Timestamp;
use std::collections::HashMap;

/// Whether the tab is hidden (notifications are only for a tab you cannot see).
fn tab_hidden() -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

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
        if fresh && tab_hidden() {
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
            notify(&title, &body, summary.id.0);
            beep();
        }
    });
}

fn notify(title: &str, body: &str, conversation: i64) {
    #[cfg(feature = "hydrate")]
    {
        use web_sys::{Notification, NotificationOptions, NotificationPermission};
        if Notification::permission() != NotificationPermission::Granted {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag(&format!("parley-{conversation}"));
        let _ = Notification::new_with_options(title, &options);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (title, body, conversation);
}

/// A short, quiet two-tone chime made on the spot (no audio file to load).
fn beep() {
    #[cfg(feature = "hydrate")]
    {
        let Ok(audio) = web_sys::AudioContext::new() else {
            return;
        };
        let now = audio.current_time();
        for (i, frequency) in [880.0_f32, 1320.0].into_iter().enumerate() {
            let (Ok(oscillator), Ok(gain)) = (audio.create_oscillator(), audio.create_gain()) else {
                return;
            };
            let start = now + i as f64 * 0.12;
            oscillator.frequency().set_value(frequency);
            gain.gain().set_value(0.0);
            let _ = gain.gain().linear_ramp_to_value_at_time(0.08, start + 0.01);
            let _ = gain.gain().linear_ramp_to_value_at_time(0.0, start + 0.11);
            let _ = oscillator.connect_with_audio_node(&gain);
            let _ = gain.connect_with_audio_node(&audio.destination());
            let _ = oscillator.start_with_when(start);
            let _ = oscillator.stop_with_when(start + 0.12);
        }
    }
}

/// "Enable desktop notifications", shown while the browser has not been asked.
#[component]
pub fn EnableNotifications() -> impl IntoView {
    let asked = RwSignal::new(true);
    // Browser state only: decided after hydration so server and browser render alike.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        asked.set(web_sys::Notification::permission() != web_sys::NotificationPermission::Default);
    });
    let ask = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = web_sys::Notification::request_permission();
            asked.set(true);
        }
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
