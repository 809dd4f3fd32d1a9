//! Everything Parley asks of the browser, in one place: the clock, message
//! ids, page visibility, scrolling, window listeners tied to a component's
//! life, the hydration mark, local storage, desktop notifications and the
//! alert sound.
//!
//! Components call these small functions whichever side renders them. In
//! the browser (feature `hydrate`) they reach `web_sys` through
//! `in_browser`; on the server `inert` stands in, which does nothing or
//! answers the neutral value (a server render never scrolls, listens or
//! notifies). So no other module needs `#[cfg(feature = "hydrate")]`; the
//! one exception is the live socket's connection loop (`live`), which only
//! exists in the browser.
//!
//! Functions that run later (after an animation frame) check that what they
//! touch still exists: the component that asked may be gone by then.

use leptos::ev::EventDescriptor;
use leptos::html;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;
use parley::Timestamp;

#[cfg(feature = "hydrate")]
use in_browser as side;
#[cfg(not(feature = "hydrate"))]
use inert as side;

/// The time now, from whichever clock this side has.
pub fn now() -> Timestamp {
    side::now()
}

/// A random id for a message about to be sent (its idempotency key). Only
/// the browser sends messages; the server answers an empty string.
pub fn new_client_id() -> String {
    side::new_client_id()
}

/// Whether the page is in front of the user (a hidden tab reads nothing).
/// `false` on the server.
pub fn page_visible() -> bool {
    side::page_visible()
}

/// Whether the tab is hidden (desktop notifications are for a tab nobody
/// can see). `false` on the server.
pub fn tab_hidden() -> bool {
    side::tab_hidden()
}

/// Calls `handler` for every `event` on the window until the calling
/// component (the current reactive owner) is cleaned up, then removes the
/// listener: a listener that outlived its component would run with that
/// component's signals disposed, and reading one panics.
///
/// `visibilitychange` is fired at the document and bubbles to the window,
/// so a window listener hears it too.
pub fn on_window_event<E>(event: E, handler: impl Fn(E::EventType) + 'static)
where
    E: EventDescriptor + 'static,
    E::EventType: JsCast,
{
    // A no-op handle during server rendering.
    let handle = window_event_listener(event, handler);
    on_cleanup(move || handle.remove());
}

/// On the next frame, scrolls `scroller` to its end (if it still exists).
pub fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
    side::scroll_to_bottom(scroller);
}

/// On the next frame, scrolls `scroller` down by what its content grew
/// since it was `height_before` high: after older messages were put above,
/// the reader keeps looking at the same message.
pub fn keep_scroll_position(scroller: NodeRef<html::Div>, height_before: i32) {
    side::keep_scroll_position(scroller, height_before);
}

/// Sets an attribute on `<body>` (e.g. the `data-hydrated` mark tests wait for).
pub fn set_body_attribute(name: &str, value: &str) {
    side::set_body_attribute(name, value);
}

/// Whether the whole page has hydrated, lazily loaded routes included
/// (tracked: an effect reading it runs again when it turns true). Never
/// true on the server.
pub fn hydrated() -> bool {
    HYDRATED.get()
}

/// Called once by the frontend's entry point when hydration has finished:
/// marks `<body>` with `data-hydrated` (what tests wait for) and lets what
/// waits on [`hydrated`] start.
pub fn mark_hydrated() {
    set_body_attribute("data-hydrated", "true");
    HYDRATED.set(true);
}

/// One flag per page (one per process on the server, where nothing sets it).
static HYDRATED: std::sync::LazyLock<ArcRwSignal<bool>> =
    std::sync::LazyLock::new(|| ArcRwSignal::new(false));

/// The value stored under `key` in this origin's local storage, if any
/// (`None` too when storage is unavailable, e.g. disabled by the user).
pub fn local_storage_get(key: &str) -> Option<String> {
    side::local_storage_get(key)
}

/// Stores `value` under `key`; `false` if it could not be stored (storage
/// unavailable or full).
pub fn local_storage_set(key: &str, value: &str) -> bool {
    side::local_storage_set(key, value)
}

/// Forgets `key`.
pub fn local_storage_remove(key: &str) {
    side::local_storage_remove(key);
}

/// Forgets every key that starts with `prefix`.
pub fn local_storage_remove_prefix(prefix: &str) {
    side::local_storage_remove_prefix(prefix);
}

/// Whether the user has answered the browser's notification question
/// (granted or denied). `true` on the server: nothing to ask there.
pub fn notifications_decided() -> bool {
    side::notifications_decided()
}

/// Asks the browser for permission to show desktop notifications.
pub fn ask_notification_permission() {
    side::ask_notification_permission();
}

/// Shows a desktop notification if the user allowed them; one per `tag`
/// (a newer one with the same tag replaces the older).
pub fn notify(title: &str, body: &str, tag: &str) {
    side::notify(title, body, tag);
}

/// A short, quiet two-tone chime made on the spot (no audio file to load).
pub fn chime() {
    side::chime();
}

#[cfg(feature = "hydrate")]
mod in_browser {
    use leptos::html;
    use leptos::prelude::*;
    use parley::Timestamp;
    use web_sys::{Notification, NotificationOptions, NotificationPermission, Storage, VisibilityState};

    pub fn now() -> Timestamp {
        Timestamp(js_sys::Date::now() as i64)
    }

    pub fn new_client_id() -> String {
        let a = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        let b = (js_sys::Math::random() * 4_294_967_296.0) as u64;
        format!("c-{:x}-{a:08x}{b:08x}", js_sys::Date::now() as u64)
    }

    fn visibility() -> Option<VisibilityState> {
        Some(web_sys::window()?.document()?.visibility_state())
    }

    pub fn page_visible() -> bool {
        visibility().is_none_or(|v| v == VisibilityState::Visible)
    }

    pub fn tab_hidden() -> bool {
        visibility() == Some(VisibilityState::Hidden)
    }

    pub fn scroll_to_bottom(scroller: NodeRef<html::Div>) {
        request_animation_frame(move || {
            if let Some(el) = scroller.try_get_untracked().flatten() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }

    pub fn keep_scroll_position(scroller: NodeRef<html::Div>, height_before: i32) {
        request_animation_frame(move || {
            if let Some(el) = scroller.try_get_untracked().flatten() {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - height_before);
            }
        });
    }

    pub fn set_body_attribute(name: &str, value: &str) {
        if let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        {
            let _ = body.set_attribute(name, value);
        }
    }

    fn storage() -> Option<Storage> {
        web_sys::window()?.local_storage().ok().flatten()
    }

    pub fn local_storage_get(key: &str) -> Option<String> {
        storage()?.get_item(key).ok().flatten()
    }

    pub fn local_storage_set(key: &str, value: &str) -> bool {
        storage().is_some_and(|s| s.set_item(key, value).is_ok())
    }

    pub fn local_storage_remove(key: &str) {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(key);
        }
    }

    pub fn local_storage_remove_prefix(prefix: &str) {
        let Some(storage) = storage() else { return };
        let count = storage.length().unwrap_or(0);
        // Collected first: removing while walking the indexes would skip keys.
        let keys: Vec<String> = (0..count)
            .filter_map(|i| storage.key(i).ok().flatten())
            .filter(|key| key.starts_with(prefix))
            .collect();
        for key in keys {
            let _ = storage.remove_item(&key);
        }
    }

    pub fn notifications_decided() -> bool {
        Notification::permission() != NotificationPermission::Default
    }

    pub fn ask_notification_permission() {
        let _ = Notification::request_permission();
    }

    pub fn notify(title: &str, body: &str, tag: &str) {
        if Notification::permission() != NotificationPermission::Granted {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        let _ = Notification::new_with_options(title, &options);
    }

    pub fn chime() {
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

/// The server's side of every function above: nothing to do, neutral answers.
#[cfg(not(feature = "hydrate"))]
mod inert {
    use leptos::html;
    use leptos::prelude::NodeRef;
    use parley::Timestamp;

    pub fn now() -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        Timestamp(millis)
    }

    pub fn new_client_id() -> String {
        String::new()
    }

    pub fn page_visible() -> bool {
        false
    }

    pub fn tab_hidden() -> bool {
        false
    }

    pub fn scroll_to_bottom(_scroller: NodeRef<html::Div>) {}

    pub fn keep_scroll_position(_scroller: NodeRef<html::Div>, _height_before: i32) {}

    pub fn set_body_attribute(_name: &str, _value: &str) {}

    pub fn local_storage_get(_key: &str) -> Option<String> {
        None
    }

    pub fn local_storage_set(_key: &str, _value: &str) -> bool {
        false
    }

    pub fn local_storage_remove(_key: &str) {}

    pub fn local_storage_remove_prefix(_prefix: &str) {}

    pub fn notifications_decided() -> bool {
        true
    }

    pub fn ask_notification_permission() {}

    pub fn notify(_title: &str, _body: &str, _tag: &str) {}

    pub fn chime() {}
}
