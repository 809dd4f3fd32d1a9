//! Accounts in the UI: register, sign in, sign out, the signed-in user in
//! context, and the gate that keeps pages to the roles they are for.

use crate::error::AppError;
use crate::layout::{ErrorNotice, Forbidden};
use leptos::prelude::*;
use leptos_router::components::A;
use parley::model::CurrentUser;
use parley::Role;

/// Where each role starts after signing in.
pub fn home_for(role: Role) -> &'static str {
    if role.is_staff() {
        "/inbox"
    } else {
        "/messages"
    }
}

/// Creates a customer account and signs it in.
#[server(endpoint = "register")]
pub async fn register(email: String, name: String, password: String) -> Result<CurrentUser, AppError> {
    use crate::ssr::{backend, respond, session};
    let svc = backend()?;
    let session = session().await?;
    let user = respond(backend::accounts::register(&svc.db, &email, &name, &password).await)?;
    respond(backend::accounts::sign_in(&svc.bus, &session, &user).await)?;
    leptos_axum::redirect(home_for(user.role));
    Ok(user)
}

/// Signs in with email and password; the session id is rotated.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<CurrentUser, AppError> {
    use crate::ssr::{backend, respond, session};
    let svc = backend()?;
    let session = session().await?;
    let user = respond(backend::accounts::authenticate(&svc.db, &email, &password).await)?;
    respond(backend::accounts::sign_in(&svc.bus, &session, &user).await)?;
    leptos_axum::redirect(home_for(user.role));
    Ok(user)
}

/// Ends the session.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::ssr::{backend, respond, session};
    let session = session().await?;
    respond(backend::accounts::sign_out(&backend()?.bus, &session).await)?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Who is signed in (`None` for a guest).
#[server(endpoint = "me")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    crate::ssr::current_user().await
}

/// The signed-in user and sign-out, shared through context.
///
/// The sign-in and registration actions belong to their pages: only actions
/// created inside `<Routes>` pick up the error that a no-JavaScript form post
/// brings back in the URL. They refresh the user when they succeed.
#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
    pub logout: ServerAction<Logout>,
}

impl Auth {
    /// Creates the context; the user is refetched after sign-out.
    pub fn provide() -> Auth {
        let logout = ServerAction::<Logout>::new();
        let user = Resource::new(move || logout.version().get(), |_| get_current_user());
        let auth = Auth { user, logout };
        provide_context(auth);
        auth
    }

    /// Fetches the user again whenever a sign-in action with this outcome succeeds.
    fn refresh_after(&self, outcome: Outcome) {
        let user = self.user;
        Effect::new(move |_| {
            if matches!(outcome.get(), Some(Ok(_))) {
                user.refetch();
            }
        });
    }
}

pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// Which roles a page is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    SignedIn,
    Customer,
    Staff,
    Admin,
}

impl Gate {
    fn admits(self, role: Role) -> bool {
        match self {
            Gate::SignedIn => true,
            Gate::Customer => role == Role::Customer,
            Gate::Staff => role.is_staff(),
            Gate::Admin => role.is_admin(),
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Gate::SignedIn => "",
            Gate::Customer => "This page is for customers. The support team works from the inbox.",
            Gate::Staff => "This page is for the support team.",
            Gate::Admin => "This page is for admins.",
        }
    }
}

/// Awaits the signed-in user and checks `gate`: the user, or the view to
/// show instead (sign-in prompt, refusal, error). For use inside a page's
/// one `Suspend`, so each page has a single suspense boundary.
pub async fn admit(gate: Gate) -> Result<CurrentUser, AnyView> {
    match use_auth().user.await {
        Ok(Some(user)) if gate.admits(user.role) => Ok(user),
        Ok(Some(_)) => Err(view! { <Forbidden message=gate.refusal()/> }.into_any()),
        Ok(None) => Err(view! { <SignInPrompt/> }.into_any()),
        Err(e) => Err(view! { <ErrorNotice error=e/> }.into_any()),
    }
}

/// [`admit`], then the page's data: the user and the data, or what to show
/// instead (the refusal, or the error loading the data). The data's
/// resource is created with the page, so it loads while the user is checked.
pub async fn admit_with<T>(
    gate: Gate,
    data: impl std::future::IntoFuture<Output = Result<T, AppError>>,
) -> Result<(CurrentUser, T), AnyView> {
    let me = admit(gate).await?;
    match data.await {
        Ok(data) => Ok((me, data)),
        Err(e) => Err(view! { <ErrorNotice error=e/> }.into_any()),
    }
}

/// For guests on a page that needs an account.
#[component]
pub fn SignInPrompt() -> impl IntoView {
    crate::layout::set_status(401);
    view! {
        <section class="card narrow">
            <h1>"Please sign in"</h1>
            <p>"You need an account to see this page."</p>
            <p>
                <A href="/login" attr:class="button">"Sign in"</A>
                " or "
                <A href="/register">"create an account"</A>
            </p>
        </section>
    }
}

type Outcome = Signal<Option<Result<CurrentUser, AppError>>>;

/// The last submission's error about `field`, to show under that input.
fn field_error(outcome: Outcome, field: &'static str) -> impl Fn() -> Option<String> + Copy {
    move || {
        outcome
            .get()
            .and_then(|r| r.err())
            .and_then(|e| e.for_field(field))
    }
}

/// The last submission's error about no particular field, to show above the form.
fn general_error(outcome: Outcome) -> impl Fn() -> Option<String> + Copy {
    move || outcome.get().and_then(|r| r.err()).and_then(|e| e.general())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let action = ServerAction::<Login>::new();
    let outcome: Outcome = Signal::derive(move || action.value().get());
    auth.refresh_after(outcome);
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:class="form" attr:novalidate=true attr:data-testid="login-form">
                <p class="form-error" role="alert">{general_error(outcome)}</p>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="email"/>
                </label>
                <p class="field-error" data-field="email">{field_error(outcome, "email")}</p>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password"/>
                </label>
                <p class="field-error" data-field="password">{field_error(outcome, "password")}</p>
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
            <p class="muted">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let auth = use_auth();
    let action = ServerAction::<Register>::new();
    let outcome: Outcome = Signal::derive(move || action.value().get());
    auth.refresh_after(outcome);
    view! {
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <p class="muted">"An account lets you talk to our support team and keep your conversations."</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true attr:data-testid="register-form">
                <p class="form-error" role="alert">{general_error(outcome)}</p>
                <label>
                    "Name"
                    <input type="text" name="name" autocomplete="name"/>
                </label>
                <p class="field-error" data-field="name">{field_error(outcome, "name")}</p>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="email"/>
                </label>
                <p class="field-error" data-field="email">{field_error(outcome, "email")}</p>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="new-password"/>
                    <span class="hint">"At least 8 characters."</span>
                </label>
                <p class="field-error" data-field="password">{field_error(outcome, "password")}</p>
                <button type="submit" disabled=move || action.pending().get()>"Create account"</button>
            </ActionForm>
            <p class="muted">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}

/// The sign-out button in the top bar.
#[component]
pub fn LogoutButton() -> impl IntoView {
    let action = use_auth().logout;
    view! {
        <ActionForm action=action attr:class="inline">
            <button type="submit" class="link-button" data-testid="logout">"Log out"</button>
        </ActionForm>
    }
}
