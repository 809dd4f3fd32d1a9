//! Small pieces of markup that several pages show the same way: a form's
//! errors (the one under an input, tied to it for screen readers, and the
//! general one above the form), a conversation's status tag and its
//! assignee line, text only screen readers read. One definition each, so
//! their look, test ids and accessibility change in one place.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use parley::model::PersonRef;
use parley::ConversationStatus;

/// The error of `action`'s last submission, if it failed (also the error a
/// form post without JavaScript brought back in the URL).
pub fn failure<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    Signal::derive(move || {
        action
            .value()
            .with(|outcome| outcome.as_ref().and_then(|r| r.as_ref().err().cloned()))
    })
}

/// The id of the [`FieldError`] under `field`'s input (one form per page
/// has fields, so the field's name is unique on the page).
fn field_error_id(field: &str) -> String {
    format!("{field}-error")
}

/// Whether the last submission had an error about `field`.
fn has_error(error: Signal<Option<AppError>>, field: &'static str) -> bool {
    error.with(|e| e.as_ref().is_some_and(|e| e.field.as_deref() == Some(field)))
}

/// `aria-invalid` for `field`'s input: `"true"` while its error shows.
fn invalid(error: Signal<Option<AppError>>, field: &'static str) -> impl Fn() -> Option<&'static str> + Copy {
    move || has_error(error, field).then_some("true")
}

/// `aria-describedby` for `field`'s input: its [`FieldError`] while that
/// shows (so a screen reader reads the error with the input), and its hint
/// if it has one.
fn described_by(
    error: Signal<Option<AppError>>,
    field: &'static str,
    hint_id: Option<String>,
) -> impl Fn() -> Option<String> {
    move || {
        let error_id = has_error(error, field).then(|| field_error_id(field));
        match (error_id, hint_id.clone()) {
            (Some(error_id), Some(hint_id)) => Some(format!("{error_id} {hint_id}")),
            (error_id, hint_id) => error_id.or(hint_id),
        }
    }
}

/// One labelled form field: the input (a textarea when `rows` is given),
/// tied to the server's error about it (`aria-invalid`, `aria-describedby`)
/// and that error under it, and a hint the input is described by too.
#[component]
pub fn Field(
    /// The visible label, which also names the input.
    label: &'static str,
    /// The input's form name: also the server's name for it (`AppError::field`).
    name: &'static str,
    /// The form's last error (see [`failure`]).
    error: Signal<Option<AppError>>,
    /// The input's `type`.
    #[prop(default = "text")]
    kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] maxlength: Option<u32>,
    /// Set for a multi-line field (a textarea of this many rows).
    #[prop(optional)]
    rows: Option<u32>,
    /// After the label, smaller: "(optional)".
    #[prop(optional)]
    label_note: Option<&'static str>,
    /// Under the input, and read with it: what a valid value looks like.
    #[prop(optional)]
    hint: Option<&'static str>,
) -> impl IntoView {
    let hint_id = hint.map(|_| format!("{name}-hint"));
    let aria_invalid = invalid(error, name);
    let aria_describedby = described_by(error, name, hint_id.clone());
    let control = match rows {
        Some(rows) => view! {
            <textarea
                name=name
                rows=rows
                placeholder=placeholder
                maxlength=maxlength
                aria-invalid=aria_invalid
                aria-describedby=aria_describedby
            ></textarea>
        }
        .into_any(),
        None => view! {
            <input
                type=kind
                name=name
                autocomplete=autocomplete
                placeholder=placeholder
                maxlength=maxlength
                aria-invalid=aria_invalid
                aria-describedby=aria_describedby
            />
        }
        .into_any(),
    };
    view! {
        <label>
            {label}
            {label_note
                .map(|note| {
                    view! {
                        " "
                        <span class="hint">{note}</span>
                    }
                })} {control}
        </label>
        {hint
            .map(|hint| {
                view! {
                    <p class="hint" id=hint_id>
                        {hint}
                    </p>
                }
            })}
        <FieldError error=error field=name />
    }
}

/// Under an input: the error about `field`, if the last submission had one.
/// [`Field`] shows it; a hand-made input gives itself `aria-invalid` and
/// `aria-describedby` for the same field.
#[component]
pub fn FieldError(
    /// The form's last error (see [`failure`]).
    error: Signal<Option<AppError>>,
    /// The server's name for the input (`AppError::field`).
    field: &'static str,
) -> impl IntoView {
    let message = move || error.with(|e| e.as_ref().and_then(|e| e.for_field(field)));
    view! {
        <p class="field-error" id=field_error_id(field) data-field=field>
            {message}
        </p>
    }
}

/// Above a form: the error about no particular field, if the last
/// submission had one.
#[component]
pub fn FormError(
    /// The form's last error (see [`failure`]).
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let message = move || error.with(|e| e.as_ref().and_then(AppError::general));
    view! {
        <p class="form-error" role="alert">
            {message}
        </p>
    }
}

/// Text for screen readers only: what a control is for when its visible
/// label relies on where it stands. Per-row controls say which row they act
/// on: `"Change role"<VisuallyHidden text=format!(" for {name}")/>` is
/// named "Change role for Ann".
#[component]
pub fn VisuallyHidden(#[prop(into)] text: String) -> impl IntoView {
    view! { <span class="visually-hidden">{text}</span> }
}

/// The status of the open conversation, in its header: a live region named
/// "Conversation status", so a change is announced and it can be found.
#[component]
pub fn ThreadStatus(#[prop(into)] status: Signal<ConversationStatus>) -> impl IntoView {
    view! {
        <span role="status" aria-label="Conversation status" class="thread-status">
            <StatusTag status=status attr:data-testid="status" />
        </span>
    }
}

/// A conversation's status as a coloured tag ("Open", "Resolved", …); live
/// when given a signal.
#[component]
pub fn StatusTag(#[prop(into)] status: Signal<ConversationStatus>) -> impl IntoView {
    view! {
        <span class=move || {
            format!("status status-{}", status.get().as_str())
        }>{move || status.get().label()}</span>
    }
}

/// "Assigned to Avery" or "Unassigned", for staff.
pub fn assignee_line(assignee: Option<&PersonRef>) -> String {
    match assignee {
        Some(a) => format!("Assigned to {}", a.name),
        None => "Unassigned".to_owned(),
    }
}
