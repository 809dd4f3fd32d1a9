//! Admin pages: the people who use Parley, their roles, and deactivating
//! an account that should no longer get in.
//!
//! Each row's controls are named for the row ("Change role for Ann",
//! "Deactivate Ann"), so a screen reader's list of buttons is not a column
//! of identical names ([`VisuallyHidden`], or an `aria-label`).

use crate::auth::{Gate, GatedPage};
use crate::error::AppError;
use crate::parts::VisuallyHidden;
use leptos::prelude::*;
use leptos_meta::Title;
use parley::model::UserListItem;
use parley::{Role, UserId};

/// Every account, newest first (admins only).
#[server(endpoint = "admin/users")]
pub async fn list_users() -> Result<Vec<UserListItem>, AppError> {
    use crate::ssr::{backend, require_admin, respond};
    let _admin = require_admin().await?;
    respond(backend::accounts::list_users(&backend()?.db).await)
}

/// Gives a user another role (admins only; not their own).
#[server(endpoint = "admin/set_role")]
pub async fn set_user_role(user_id: UserId, role: Role) -> Result<UserListItem, AppError> {
    use crate::ssr::{backend, require_admin, respond};
    let admin = require_admin().await?;
    let svc = backend()?;
    respond(backend::accounts::set_role(&svc.db, &svc.bus, &admin, user_id, role).await)
}

/// Deactivates an account (`active = false`) or brings it back (admins
/// only; not their own). Deactivating closes its sessions and sockets.
#[server(endpoint = "admin/set_active")]
pub async fn set_user_active(user_id: UserId, active: bool) -> Result<UserListItem, AppError> {
    use crate::ssr::{backend, require_admin, respond};
    let admin = require_admin().await?;
    let svc = backend()?;
    respond(backend::accounts::set_active(&svc.db, &svc.bus, &admin, user_id, active).await)
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let users = Resource::new(
        move || (set_role.version().get(), set_active.version().get()),
        |_| list_users(),
    );
    // One notice: what the latest of the two actions did (before hydration,
    // whichever one the page was posted to).
    let notice = RwSignal::new(
        set_active
            .value()
            .get_untracked()
            .map(activity_notice)
            .or_else(|| set_role.value().get_untracked().map(role_notice)),
    );
    Effect::new(move |_| {
        if let Some(result) = set_role.value().get() {
            notice.set(Some(role_notice(result)));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = set_active.value().get() {
            notice.set(Some(activity_notice(result)));
        }
    });
    view! {
        <GatedPage
            gate=Gate::Admin
            data={move || users}
            page={move |me, users: Vec<UserListItem>| {
                view! {
                    <Title text="Users" />
                    <section class="page">
                        <h1>"Users"</h1>
                        <p class="muted">
                            "Promote customers to agents, or agents to admins. Deactivate an account that should no longer get in: it is signed out everywhere at once, and its messages stay. You cannot change your own account here."
                        </p>
                        {move || match notice.get() {
                            Some(Ok(text)) => {
                                Some(
                                    view! {
                                        <p class="notice ok" role="status">
                                            {text}
                                        </p>
                                    }
                                        .into_any(),
                                )
                            }
                            Some(Err(text)) => {
                                Some(
                                    view! {
                                        <p class="notice error" role="alert">
                                            {text}
                                        </p>
                                    }
                                        .into_any(),
                                )
                            }
                            None => None,
                        }}
                        // On a narrow screen the table scrolls inside its own box.
                        <div class="table-scroll" role="region" aria-label="Users" tabindex="0">
                            <table class="table" data-testid="users">
                                <thead>
                                    <tr>
                                        <th>"Name"</th>
                                        <th>"Email"</th>
                                        <th>"Role"</th>
                                        <th>"Since"</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {users
                                        .into_iter()
                                        .map(|u| {
                                            view! {
                                                <UserRow
                                                    user=u
                                                    me=me.id
                                                    set_role=set_role
                                                    set_active=set_active
                                                />
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }
            }}
        />
    }
}

/// What a role change did, for the notice.
fn role_notice(result: Result<UserListItem, AppError>) -> Result<String, String> {
    result
        .map(|user| format!("{} is now {}.", user.name, user.role.label()))
        .map_err(|e| e.message)
}

/// What deactivating or reactivating did, for the notice.
fn activity_notice(result: Result<UserListItem, AppError>) -> Result<String, String> {
    result
        .map(|user| match user.deactivated_at {
            Some(_) => format!("{} is deactivated and signed out everywhere.", user.name),
            None => format!("{} can sign in again.", user.name),
        })
        .map_err(|e| e.message)
}

#[component]
fn UserRow(
    user: UserListItem,
    me: UserId,
    set_role: ServerAction<SetUserRole>,
    set_active: ServerAction<SetUserActive>,
) -> impl IntoView {
    let is_me = user.id == me;
    let deactivated = user.deactivated_at.is_some();
    let (active_label, active_value) = if deactivated {
        (format!("Reactivate {}", user.name), "true")
    } else {
        (format!("Deactivate {}", user.name), "false")
    };
    let email = user.email.clone();
    let name = user.name.clone();
    view! {
        <tr data-email=email.clone() class:deactivated=deactivated>
            <td>{user.name.clone()}</td>
            <td>{email.clone()}</td>
            <td>
                <span class=format!("role-tag role-{}", user.role.as_str())>{user.role.label()}</span>
                {deactivated
                    .then(|| {
                        view! {
                            " "
                            <span class="role-tag deactivated">"Deactivated"</span>
                        }
                    })}
            </td>
            <td>{user.created_at.month_year()}</td>
            <td>
                {(!is_me)
                    .then(|| {
                        view! {
                            <ActionForm action=set_role attr:class="inline">
                                <input type="hidden" name="user_id" value=user.id.0 />
                                <select name="role" aria-label=format!("Role for {name}")>
                                    {Role::ALL
                                        .into_iter()
                                        .map(|r| {
                                            view! {
                                                <option value=r.as_str() selected=r == user.role>
                                                    {r.label()}
                                                </option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                                <button type="submit" class="small">
                                    "Change role"
                                    <VisuallyHidden text=format!(" for {name}") />
                                </button>
                            </ActionForm>
                            <ActionForm action=set_active attr:class="inline">
                                <input type="hidden" name="user_id" value=user.id.0 />
                                <input type="hidden" name="active" value=active_value />
                                <button type="submit" class="small secondary" aria-label=active_label.clone()>
                                    {if deactivated { "Reactivate" } else { "Deactivate" }}
                                </button>
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}
