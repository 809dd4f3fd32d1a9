//! Canned responses: the admin page that manages them, and the server
//! functions the staff composer reads them through.

use crate::auth::{Gate, GatedPage};
use crate::error::AppError;
use crate::parts::{failure, Field, FormError, VisuallyHidden};
use leptos::prelude::*;
use leptos_meta::Title;
use parley::model::CannedResponse;
use parley::CannedResponseId;

/// Every canned response (staff).
#[server(endpoint = "canned/list")]
pub async fn list_canned() -> Result<Vec<CannedResponse>, AppError> {
    use crate::ssr::{backend, require_staff, respond};
    let me = require_staff().await?;
    respond(backend::canned::list(&backend()?.db, &me).await)
}

/// Creates (no `id`) or updates a canned response (admins).
#[server(endpoint = "canned/save")]
pub async fn save_canned(
    id: Option<String>,
    shortcut: String,
    title: String,
    body: String,
) -> Result<CannedResponse, AppError> {
    use crate::error::ErrorKind;
    use crate::ssr::{backend, fail, require_admin, respond};
    let me = require_admin().await?;
    let id = match id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<CannedResponseId>().map_err(|_| {
            fail(AppError::new(
                ErrorKind::Invalid,
                "That response id is not valid.",
            ))
        })?),
    };
    respond(backend::canned::save(&backend()?.db, &me, id, &shortcut, &title, &body).await)
}

/// Deletes a canned response (admins).
#[server(endpoint = "canned/delete")]
pub async fn delete_canned(id: CannedResponseId) -> Result<(), AppError> {
    use crate::ssr::{backend, require_admin, respond};
    let me = require_admin().await?;
    respond(backend::canned::delete(&backend()?.db, &me, id).await)
}

#[component]
pub fn CannedPage() -> impl IntoView {
    let save = ServerAction::<SaveCanned>::new();
    let delete = ServerAction::<DeleteCanned>::new();
    let responses = Resource::new(
        move || (save.version().get(), delete.version().get()),
        |_| list_canned(),
    );
    let error = failure(save);
    let delete_error = failure(delete);
    view! {
        <GatedPage
            gate=Gate::Admin
            data={move || responses}
            page={move |_, list: Vec<CannedResponse>| {
                view! {
                    <Title text="Canned responses" />
                    <section class="page" data-testid="canned">
                        <h1>"Canned responses"</h1>
                        <p class="muted">
                            "Agents type " <code>"/shortcut"</code> " in the composer to insert one."
                        </p>
                        <FormError error=delete_error />
                        {if list.is_empty() {
                            view! { <p class="empty card">"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <div
                                    class="table-scroll"
                                    role="region"
                                    aria-label="Canned responses"
                                    tabindex="0"
                                >
                                    <table class="table" data-testid="canned-table">
                                        <thead>
                                            <tr>
                                                <th>"Shortcut"</th>
                                                <th>"Title"</th>
                                                <th>"Text"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list
                                                .into_iter()
                                                .map(|c| {
                                                    let names = format!(" /{}", c.shortcut);
                                                    view! {
                                                        <tr data-shortcut=c.shortcut.clone()>
                                                            <td>
                                                                <code>{format!("/{}", c.shortcut)}</code>
                                                            </td>
                                                            <td>{c.title.clone()}</td>
                                                            <td>{parley::validate::preview(&c.body, 80)}</td>
                                                            <td>
                                                                <ActionForm action=delete attr:class="inline">
                                                                    <input type="hidden" name="id" value=c.id.0 />
                                                                    <button type="submit" class="secondary small">
                                                                        "Delete"
                                                                        <VisuallyHidden text=names.clone() />
                                                                    </button>
                                                                </ActionForm>
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }}
                        <h2>"Add a response"</h2>
                        <ActionForm
                            action=save
                            attr:class="form card"
                            attr:novalidate=true
                            attr:data-testid="canned-form"
                        >
                            <FormError error=error />
                            <Field label="Shortcut" name="shortcut" placeholder="refund" error=error />
                            <Field label="Title" name="title" placeholder="Refund policy" error=error />
                            <Field label="Text" name="body" rows=4 error=error />
                            <div class="actions">
                                <button type="submit">"Save"</button>
                            </div>
                        </ActionForm>
                    </section>
                }
            }}
        />
    }
}
