//! Admin pages: the people who use Parley and their roles.
//!
//! Each row's controls are named for the row ("Change role for Ann"), so a
//! screen reader's list of buttons is not a column of identical names; a
//! further per-row control follows the same pattern ([`VisuallyHidden`]).

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

#[component]
pub fn UsersPage() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let users = Resource::new(move || set_role.version().get(), |_| list_users());
    let result = move || set_role.value().get();
    view! {
        <GatedPage gate=Gate::Admin data={move || users} page={move |me, users: Vec<UserListItem>| view! {
            <Title text="Users"/>
            <section class="page">
                <h1>"Users"</h1>
                <p class="muted">"Promote customers to agents, or agents to admins. You cannot change your own role."</p>
                {move || match result() {
                    Some(Ok(user)) => Some(view! {
                        <p class="notice ok" role="status">{format!("{} is now {}.", user.name, user.role.label())}</p>
                    }.into_any()),
                    Some(Err(e)) => Some(view! { <p class="notice error" role="alert">{e.message}</p> }.into_any()),
                    None => None,
                }}
                // On a narrow screen the table scrolls inside its own box.
                <div class="table-scroll" role="region" aria-label="Users" tabindex="0">
                <table class="table" data-testid="users">
                    <thead>
                        <tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th>"Since"</th><th></th></tr>
                    </thead>
                    <tbody>
                        {users.into_iter().map(|u| view! { <UserRow user=u me=me.id set_role=set_role/> }).collect_view()}
                    </tbody>
                </table>
                </div>
            </section>
        }}/>
    }
}

#[component]
fn UserRow(user: UserListItem, me: UserId, set_role: ServerAction<SetUserRole>) -> impl IntoView {
    let is_me = user.id == me;
    let email = user.email.clone();
    let name = user.name.clone();
    view! {
        <tr data-email=email.clone()>
            <td>{user.name.clone()}</td>
            <td>{email.clone()}</td>
            <td><span class=format!("role-tag role-{}", user.role.as_str())>{user.role.label()}</span></td>
            <td>{user.created_at.month_year()}</td>
            <td>
                {(!is_me).then(|| view! {
                    <ActionForm action=set_role attr:class="inline">
                        <input type="hidden" name="user_id" value=user.id.0/>
                        <select name="role" aria-label=format!("Role for {name}")>
                            {Role::ALL.into_iter().map(|r| view! {
                                <option value=r.as_str() selected=r == user.role>{r.label()}</option>
                            }).collect_view()}
                        </select>
                        <button type="submit" class="small">
                            "Change role"<VisuallyHidden text=format!(" for {name}")/>
                        </button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
}
