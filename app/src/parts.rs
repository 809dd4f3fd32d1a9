//! Small pieces of markup that several pages show the same way: a form's
//! errors (the one under an input, the general one above the form), a
//! conversation's status tag and its assignee line. One definition each, so
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

/// Under an input: the error about `field`, if the last submission had one.
#[component]
pub fn FieldError(
    /// The form's last error (see [`failure`]).
    error: Signal<Option<AppError>>,
    /// The server's name for the input (`AppError::field`).
    field: &'static str,
) -> impl IntoView {
    let message = move || error.with(|e| e.as_ref().and_then(|e| e.for_field(field)));
    view! { <p class="field-error" data-field=field>{message}</p> }
}

/// Above a form: the error about no particular field, if the last
/// submission had one.
#[component]
pub fn FormError(
    /// The form's last error (see [`failure`]).
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let message = move || error.with(|e| e.as_ref().and_then(AppError::general));
    view! { <p class="form-error" role="alert">{message}</p> }
}

/// A conversation's status as a coloured tag ("Open", "Resolved", …); live
/// when given a signal.
#[component]
pub fn StatusTag(#[prop(into)] status: Signal<ConversationStatus>) -> impl IntoView {
    view! {
        <span class=move || format!("status status-{}", status.get().as_str())>
            {move || status.get().label()}
        </span>
    }
}

/// "Assigned to Avery" or "Unassigned", for staff.
pub fn assignee_line(assignee: Option<&PersonRef>) -> String {
    match assignee {
        Some(a) => format!("Assigned to {}", a.name),
        None => "Unassigned".to_owned(),
    }
}
