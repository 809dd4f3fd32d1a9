//! Writing in a thread: the composer form (Enter sends, Shift+Enter is a
//! newline), the private-note switch and the canned-response menu for staff
//! (`/word` at the start), "typing" announcements, and the notice that
//! replaces the composer once the conversation is closed.
//!
//! The form posts to the `post_message` server function, so it works before
//! the WASM loads: it carries a `client_id` made for this render (the same
//! post sent twice stores one message), and a refusal comes back in the URL
//! and shows under the box, server-rendered. Once hydrated, a message goes
//! into the thread's outbox with a fresh `client_id` and over the live
//! socket (see `follow`).
//!
//! For screen readers the canned-response menu is a listbox named "Canned
//! responses", controlled by the message box (`aria-controls`), with the
//! highlighted response as its active descendant; an error describes the box.

use super::send::send_outbox;
use super::state::{Pending, ThreadState};
use crate::browser;
use crate::conversations::PostMessage;
use crate::live::use_live;
use crate::parts::failure;
use leptos::html;
use leptos::prelude::*;
use parley::model::CannedResponse;
use parley::protocol::{ClientFrame, TYPING_THROTTLE_MS};
use parley::validate::MessageBody;

/// How many canned responses the menu offers at once.
const CANNED_MENU_SIZE: usize = 8;

/// Ids the message box refers to (one composer per page).
const CANNED_MENU_ID: &str = "canned-menu";
const COMPOSER_ERROR_ID: &str = "composer-error";

/// The id of the `index`th option of the canned-response menu.
fn canned_option_id(index: usize) -> String {
    format!("canned-option-{index}")
}

/// The `client_id` the plain form posts before the WASM loads: made on the
/// server for each render, so posting the same page's form again (a retry
/// after a lost answer) stores one message, and the next page gets a new
/// one. Once hydrated the form is never posted natively.
fn form_client_id() -> String {
    #[cfg(feature = "ssr")]
    return format!("form-{}", uuid::Uuid::new_v4());
    #[cfg(not(feature = "ssr"))]
    browser::new_client_id()
}

/// The canned responses that `text` asks for: `/query` (no spaces) matches
/// shortcuts starting with the query and titles containing it.
fn canned_matches(text: &str, canned: &[CannedResponse]) -> Vec<CannedResponse> {
    let Some(query) = text.strip_prefix('/') else {
        return Vec::new();
    };
    if query.contains(char::is_whitespace) {
        return Vec::new();
    }
    let query = query.to_lowercase();
    canned
        .iter()
        .filter(|c| c.shortcut.starts_with(&query) || c.title.to_lowercase().contains(&query))
        .take(CANNED_MENU_SIZE)
        .cloned()
        .collect()
}

#[component]
pub(super) fn Composer(
    state: ThreadState,
    staff: bool,
    canned: Option<Signal<Vec<CannedResponse>>>,
    draft: Option<String>,
) -> impl IntoView {
    let live = use_live();
    let textarea = NodeRef::<html::Textarea>::new();
    // A plain post's refusal comes back in the URL; the action reads it.
    let refused = failure(ServerAction::<PostMessage>::new());
    let error = RwSignal::new(refused.get_untracked().map(|e| e.message));
    let note = RwSignal::new(false);
    let text = RwSignal::new(draft.clone().unwrap_or_default());
    let selected = RwSignal::new(0usize);
    let last_typing_sent = StoredValue::new(0i64);

    let matches = Memo::new(move |_| match canned {
        Some(canned) => canned.with(|canned| text.with(|text| canned_matches(text, canned))),
        None => Vec::new(),
    });

    // The highlighted option (the index stays within the menu).
    let active = move || matches.with(|m| (!m.is_empty()).then(|| selected.get().min(m.len() - 1)));

    let insert = move |response: CannedResponse| {
        if let Some(el) = textarea.get_untracked() {
            el.set_value(&response.body);
            let _ = el.focus();
        }
        text.set(response.body);
        selected.set(0);
    };

    let submit = move || {
        let Some(el) = textarea.get_untracked() else {
            return;
        };
        let body = match MessageBody::parse(&el.value()) {
            Ok(body) => body,
            Err(e) => {
                error.set(Some(e.message));
                return;
            }
        };
        error.set(None);
        el.set_value("");
        text.set(String::new());
        let pending = Pending {
            client_id: browser::new_client_id(),
            body: body.into_inner(),
            note: staff && note.get_untracked(),
            failed: None,
        };
        state.queue(pending);
        // If the socket is down, it waits and goes out after the next `subscribed`.
        send_outbox(live, state);
    };

    // "typing" at most every 2 s, never while writing a private note (the
    // customer would see that someone is writing).
    let announce_typing = move || {
        if note.get_untracked() {
            return;
        }
        let now = browser::now().0;
        if now - last_typing_sent.get_value() >= TYPING_THROTTLE_MS as i64 {
            last_typing_sent.set_value(now);
            live.send(&ClientFrame::Typing {
                conversation_id: state.id,
            });
        }
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let options = matches.get_untracked();
        if !options.is_empty() {
            match ev.key().as_str() {
                "ArrowDown" => {
                    ev.prevent_default();
                    selected.update(|i| *i = (*i + 1) % options.len());
                    return;
                }
                "ArrowUp" => {
                    ev.prevent_default();
                    selected.update(|i| *i = (*i + options.len() - 1) % options.len());
                    return;
                }
                "Enter" | "Tab" => {
                    ev.prevent_default();
                    let index = selected.get_untracked().min(options.len() - 1);
                    insert(options[index].clone());
                    return;
                }
                "Escape" => {
                    text.set(String::new());
                    return;
                }
                _ => {}
            }
        }
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };

    view! {
        <form
            class="composer"
            class:note-mode=move || note.get()
            method="post"
            action="/api/conversations/send"
            on:submit=on_submit
            data-testid="composer"
        >
            {move || {
                let options = matches.get();
                (!options.is_empty())
                    .then(|| {
                        view! { <CannedMenu options=options active=Signal::derive(active) insert=insert /> }
                    })
            }}
            <input type="hidden" name="conversation_id" value=state.id.0 />
            <input type="hidden" name="client_id" value=form_client_id() />
            {staff
                .then(|| {
                    view! {
                        <div class="mode">
                            <label>
                                <input
                                    type="checkbox"
                                    name="note"
                                    value="on"
                                    prop:checked=move || note.get()
                                    on:change=move |ev| note.set(event_target_checked(&ev))
                                />
                                " Private note (only the team sees it)"
                            </label>
                            <span class="muted">"Type / for canned responses"</span>
                        </div>
                    }
                })}
            <div class="composer-row">
                <textarea
                    name="body"
                    rows="2"
                    node_ref=textarea
                    placeholder=if staff { "Reply to the customer…" } else { "Write a message…" }
                    aria-label="Message"
                    aria-invalid=move || error.with(Option::is_some).then_some("true")
                    aria-describedby=move || error.with(Option::is_some).then_some(COMPOSER_ERROR_ID)
                    aria-autocomplete=staff.then_some("list")
                    aria-controls=move || active().map(|_| CANNED_MENU_ID)
                    aria-activedescendant=move || active().map(canned_option_id)
                    on:keydown=on_keydown
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        announce_typing();
                    }
                >
                    {draft}
                </textarea>
                <button type="submit">"Send"</button>
            </div>
            <p class="field-error" id=COMPOSER_ERROR_ID role="alert" data-testid="composer-error">
                {move || error.get()}
            </p>
        </form>
    }
}

/// The canned responses matching what was typed; a click (or Enter / Tab
/// on the highlighted one) puts its text into the composer.
#[component]
fn CannedMenu(
    options: Vec<CannedResponse>,
    /// The highlighted option.
    active: Signal<Option<usize>>,
    insert: impl Fn(CannedResponse) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <ul
            class="canned-menu"
            id=CANNED_MENU_ID
            role="listbox"
            aria-label="Canned responses"
            data-testid="canned-menu"
        >
            {options
                .into_iter()
                .enumerate()
                .map(|(i, response)| {
                    let chosen = response.clone();
                    let highlighted = move || active.get() == Some(i);
                    view! {
                        <li
                            role="option"
                            id=canned_option_id(i)
                            aria-selected=move || highlighted().to_string()
                            class:selected=highlighted
                            on:mousedown=move |ev| {
                                ev.prevent_default();
                                insert(chosen.clone());
                            }
                        >
                            <span class="shortcut">{format!("/{}", response.shortcut)}</span>
                            {response.title.clone()}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// In place of the composer once the conversation is closed for good.
#[component]
pub(super) fn ClosedNotice(staff: bool) -> impl IntoView {
    view! {
        <div class="composer-closed" data-testid="closed">
            <p>"This conversation is closed."</p>
            {(!staff)
                .then(|| {
                    view! {
                        <p>
                            <a class="button" href="/messages/new">
                                "Start a new conversation"
                            </a>
                        </p>
                    }
                })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley::CannedResponseId;

    fn canned(id: i64, shortcut: &str, title: &str) -> CannedResponse {
        CannedResponse {
            id: CannedResponseId(id),
            shortcut: shortcut.to_owned(),
            title: title.to_owned(),
            body: format!("{title}, in full."),
        }
    }

    fn shortcuts(found: Vec<CannedResponse>) -> Vec<String> {
        found.into_iter().map(|c| c.shortcut).collect()
    }

    #[test]
    fn a_slash_word_finds_shortcuts_and_titles() {
        let all = [
            canned(1, "refund", "Refund policy"),
            canned(2, "hours", "Opening hours"),
            canned(3, "ship", "Shipping times and refunds"),
        ];
        assert_eq!(shortcuts(canned_matches("/ho", &all)), ["hours"]);
        assert_eq!(shortcuts(canned_matches("/REFUND", &all)), ["refund", "ship"]);
        assert_eq!(shortcuts(canned_matches("/", &all)), ["refund", "hours", "ship"]);
    }

    #[test]
    fn plain_text_and_a_finished_word_offer_nothing() {
        let all = [canned(1, "refund", "Refund policy")];
        assert!(canned_matches("refund", &all).is_empty());
        assert!(canned_matches("/refund please", &all).is_empty());
        assert!(canned_matches("", &all).is_empty());
    }

    #[test]
    fn the_menu_is_short() {
        let all: Vec<CannedResponse> = (0..20).map(|i| canned(i, &format!("r{i}"), "Reply")).collect();
        assert_eq!(canned_matches("/r", &all).len(), CANNED_MENU_SIZE);
    }
}
