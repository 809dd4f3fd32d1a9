//! Accounts in the UI: register, sign in, sign out, the signed-in user in
//! context, and the gate that keeps pages to the roles they are for.

use crate::error::AppError;
use crate::layout::{loading, ErrorNotice, Forbidden};
use crate::parts::{failure, Field, FormError};
use leptos::prelude::*;
use leptos_meta::Title;
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

/// Creates a customer account and signs it in. Limited per client address.
#[server(endpoint = "register")]
pub async fn register(email: String, name: String, password: String) -> Result<CurrentUser, AppError> {
    use crate::ssr::{backend, client_address, respond, session};
    let svc = backend()?;
    let session = session().await?;
    let from = client_address(&svc).await;
    let user = respond(backend::accounts::register(&svc, from, &email, &name, &password).await)?;
    respond(backend::accounts::sign_in(&svc.bus, &session, &user).await)?;
    leptos_axum::redirect(home_for(user.role));
    Ok(user)
}

/// Signs in with email and password; the session id is rotated. Limited per
/// account and per client address.
#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<CurrentUser, AppError> {
    use crate::ssr::{backend, client_address, respond, session};
    let svc = backend()?;
    let session = session().await?;
    let from = client_address(&svc).await;
    let user = respond(backend::accounts::authenticate(&svc, from, &email, &password).await)?;
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
/// show instead (sign-in prompt, refusal, error).
async fn admit(gate: Gate) -> Result<CurrentUser, AnyView> {
    match use_auth().user.await {
        Ok(Some(user)) if gate.admits(user.role) => Ok(user),
        Ok(Some(_)) => Err(view! { <Forbidden message=gate.refusal() /> }.into_any()),
        Ok(None) => Err(view! { <SignInPrompt /> }.into_any()),
        Err(e) => Err(view! { <ErrorNotice error=e /> }.into_any()),
    }
}

/// [`admit`], then the page's data: the user and the data, or what to show
/// instead (the refusal, or the error loading the data).
async fn admit_with<T>(
    gate: Gate,
    data: impl std::future::IntoFuture<Output = Result<T, AppError>>,
) -> Result<(CurrentUser, T), AnyView> {
    let me = admit(gate).await?;
    match data.await {
        Ok(data) => Ok((me, data)),
        Err(e) => Err(view! { <ErrorNotice error=e /> }.into_any()),
    }
}

/// A page for the roles `gate` admits: the page's one suspense boundary,
/// which awaits the signed-in user and the page's data together and shows
/// the page, or instead the sign-in prompt, the refusal (401/403) or the
/// error loading the data (404 for a missing conversation).
///
/// Pages create their resources first (so they load while the user is
/// checked) and await them in `data`. Nothing inside `page` may open a
/// second `<Suspense>`/`<Transition>`: nested boundaries did not hydrate
/// reliably (docs/architecture.md, "Leptos rules").
#[component]
pub fn GatedPage<D, Fut, T, P, V>(
    /// Who may see the page.
    gate: Gate,
    /// Awaits the page's data (`move || resource` for one resource).
    data: D,
    /// The page itself, for the admitted user and the data.
    page: P,
) -> impl IntoView
where
    D: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::IntoFuture<Output = Result<T, AppError>> + Send + 'static,
    Fut::IntoFuture: Send,
    T: 'static,
    P: Fn(CurrentUser, T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=loading>
            {move || {
                let (data, page) = (data.clone(), page.clone());
                Suspend::new(async move {
                    match admit_with(gate, data()).await {
                        Ok((me, data)) => page(me, data).into_any(),
                        Err(shown) => shown,
                    }
                })
            }}
        </Transition>
    }
}

/// For a [`GatedPage`] that needs nothing but the user.
pub async fn no_data() -> Result<(), AppError> {
    Ok(())
}

/// For guests on a page that needs an account.
#[component]
pub fn SignInPrompt() -> impl IntoView {
    crate::layout::set_status(401);
    view! {
        <Title text="Please sign in" />
        <section class="card narrow">
            <h1>"Please sign in"</h1>
            <p>"You need an account to see this page."</p>
            <p>
                <A href="/login" attr:class="button">
                    "Sign in"
                </A>
                " or "
                <A href="/register">"create an account"</A>
            </p>
        </section>
    }
}

type Outcome = Signal<Option<Result<CurrentUser, AppError>>>;

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = use_auth();
    let action = ServerAction::<Login>::new();
    auth.refresh_after(Signal::derive(move || action.value().get()));
    let error = failure(action);
    view! {
        <Title text="Sign in" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:class="form" attr:novalidate=true attr:data-testid="login-form">
                <FormError error=error />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=error />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="current-password"
                    error=error
                />
                <button type="submit" disabled=move || action.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
            <p class="muted">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let auth = use_auth();
    let action = ServerAction::<Register>::new();
    auth.refresh_after(Signal::derive(move || action.value().get()));
    let error = failure(action);
    view! {
        <Title text="Create your account" />
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <p class="muted">"An account lets you talk to our support team and keep your conversations."</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true attr:data-testid="register-form">
                <FormError error=error />
                <Field label="Name" name="name" autocomplete="name" error=error />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=error />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 8 characters; not a common password, your name or your email."
                    error=error
                />
                <button type="submit" disabled=move || action.pending().get()>
                    "Create account"
                </button>
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
            <button type="submit" class="link-button" data-testid="logout">
                "Log out"
            </button>
        </ActionForm>
    }
}
